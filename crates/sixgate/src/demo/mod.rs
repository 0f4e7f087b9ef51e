//! `sixgate demo`: an IPv4-only client reaching an IPv6-only HTTP server
//! through the gateway (stateless SIIT), then a NAT46 service spreading
//! connections over IPv6-only backends (`nat46.rs`), in network namespaces
//! that the demo creates and removes again (on success, failure and Ctrl-C).

mod nat46;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use sixgate_testnet::{file_bytes, SiitTopology, HTTP_PORT};

/// Size of the file the client downloads.
const DOWNLOAD_BYTES: usize = 1 << 20;
/// Steps of the whole demo: eight of SIIT, four of NAT46.
const STEPS: u32 = 12;

/// Builds the demo topology, shows traffic through the gateway, tears down.
pub fn run(sixgate_exe: &Path) -> anyhow::Result<()> {
    install_signal_handlers();
    let started = Instant::now();
    let result = steps(sixgate_exe).and_then(|()| nat46::steps(sixgate_exe, 9));
    // Everything the steps built has been dropped (and so removed) by now.
    match &result {
        Ok(()) => println!(
            "\nAll steps passed in {:.1} s; namespaces, pin path and processes removed.",
            started.elapsed().as_secs_f64()
        ),
        Err(_) if sixgate_testnet::interrupted() => {
            println!("\nInterrupted: everything the demo created has been removed.")
        }
        Err(_) => println!("\nA step failed: everything the demo created has been removed."),
    }
    if sixgate_testnet::interrupted() {
        bail!("interrupted");
    }
    result
}

/// The demo proper; everything it creates lives in locals that clean up on drop.
fn steps(exe: &Path) -> anyhow::Result<()> {
    let t = SiitTopology::CLIENT_V4;
    println!("sixgate demo: an IPv4-only client reaches an IPv6-only web server through");
    println!("sixgate's stateless translator (SIIT, RFC 7915, with RFC 6052 addresses),");
    println!("then a NAT46 service spreads its connections over IPv6-only backends.");
    println!("It builds network namespaces and removes them again at the end.\n");

    step(1, "Building the topology");
    let topo = SiitTopology::new().context("building the namespace topology")?;
    println!(
        "  client  {:<22} IPv4 only: eth0 {t}/{}, default via {}",
        topo.client.name(),
        SiitTopology::V4_LINK_PREFIX_LEN,
        SiitTopology::GW_V4
    );
    println!(
        "  gw      {:<22} gw-v4 {}/{}  |  gw-v6 {}/{}",
        topo.gw.name(),
        SiitTopology::GW_V4,
        SiitTopology::V4_LINK_PREFIX_LEN,
        SiitTopology::GW_V6,
        SiitTopology::V6_LINK_PREFIX_LEN
    );
    println!(
        "  server  {:<22} IPv6 only: eth0 {}/{} and {}/128",
        topo.server.name(),
        SiitTopology::SERVER_LINK_V6,
        SiitTopology::V6_LINK_PREFIX_LEN,
        SiitTopology::SERVER_V6
    );
    println!(
        "  pool6 {} embeds {}: the server's {} is {} for IPv4 clients,",
        SiitTopology::POOL6,
        SiitTopology::IPV4_PREFIX,
        SiitTopology::SERVER_V6,
        SiitTopology::SERVER_V4
    );
    println!(
        "  and the client's {t} appears on the IPv6 side as {}.",
        SiitTopology::CLIENT_V6
    );
    check_interrupt()?;

    step(2, "Starting the gateway in the gw namespace");
    let config = topo
        .gateway_config()
        .context("writing the gateway config")?;
    println!("  config {}:", config.path.display());
    for line in config.text().lines() {
        println!("    {line}");
    }
    println!(
        "  $ nsenter --net=/run/netns/{} -- sixgate run --config {}",
        topo.gw.name(),
        config.path.display()
    );
    let gateway = topo
        .start_gateway(exe, &config)
        .context("starting `sixgate run`")?;
    println!(
        "  the daemon printed `{}`: tc programs attached to gw-v4 and gw-v6",
        sixgate_testnet::READY_LINE
    );
    check_interrupt()?;

    step(
        3,
        "Starting an HTTP server on [::]:8080 in the IPv6-only server namespace",
    );
    let http = topo
        .start_http_server()
        .context("starting the HTTP server")?;
    println!(
        "  python3 httpd.py --port {HTTP_PORT}  (pid {})",
        http.process().pid()
    );
    check_interrupt()?;

    step(
        4,
        "The IPv4 client downloads a file from the server's IPv4 address",
    );
    let url = format!(
        "http://{}:{HTTP_PORT}/file/{DOWNLOAD_BYTES}",
        SiitTopology::SERVER_V4
    );
    println!("  client$ curl -o download {url}");
    let t0 = Instant::now();
    let body = run_captured(
        "curl",
        topo.client.cmd(
            "curl",
            ["-sS", "--fail", "--noproxy", "*", "--max-time", "30", &url],
        ),
    )?;
    let took = t0.elapsed();
    if body != file_bytes(DOWNLOAD_BYTES) {
        bail!(
            "the client received {} bytes that differ from the {DOWNLOAD_BYTES} bytes the server sent",
            body.len()
        );
    }
    println!(
        "  received {} bytes in {:.0} ms, byte for byte what the server generated",
        body.len(),
        took.as_secs_f64() * 1000.0
    );
    check_interrupt()?;

    step(5, "What the IPv6-only server saw");
    let line = http
        .wait_for_log(
            &format!("path=/file/{DOWNLOAD_BYTES}"),
            Duration::from_secs(5),
        )
        .context("waiting for the server's log line")?;
    println!("  server log: {line}");
    let client6 = SiitTopology::CLIENT_V6.to_string();
    if !line.contains(&format!("client={client6} ")) {
        bail!("the server saw another client address than {client6}: {line}");
    }
    let o = t.octets();
    println!(
        "  {client6} = pool6 {} + {t} ({:02x}{:02x}:{:02x}{:02x}):",
        SiitTopology::POOL6,
        o[0],
        o[1],
        o[2],
        o[3]
    );
    println!("  the client's IPv4 address survived translation, no NAT state involved.");
    check_interrupt()?;

    step(
        6,
        "ping in both directions (TTL / hop limit is decremented once, 64 -> 63)",
    );
    let server4 = SiitTopology::SERVER_V4.to_string();
    println!("  client$ ping -c 3 {server4}");
    let out = run_captured(
        "ping",
        topo.client.cmd(
            "ping",
            ["-c", "3", "-i", "0.3", "-W", "2", "-w", "10", &server4],
        ),
    )?;
    print_indented(&out);
    check_interrupt()?;
    println!("  server$ ping -6 -c 3 {client6}");
    let out = run_captured(
        "ping -6",
        topo.server.cmd(
            "ping",
            [
                "-6", "-c", "3", "-i", "0.3", "-W", "2", "-w", "10", &client6,
            ],
        ),
    )?;
    print_indented(&out);
    check_interrupt()?;

    step(
        7,
        "IPv4 options (ping -R): what the eBPF cannot finish, the daemon does",
    );
    println!("  client$ ping -R -c 2 {server4}");
    let out = run_captured(
        "ping -R",
        topo.client.cmd(
            "ping",
            [
                "-R", "-c", "2", "-i", "0.3", "-W", "2", "-w", "10", &server4,
            ],
        ),
    )?;
    print_indented(&out);
    let stats: serde_json::Value = serde_json::from_str(
        &gateway
            .stats_json()
            .context("running `sixgate stats --json`")?,
    )
    .context("parsing `sixgate stats --json`")?;
    let handed = stats["counters"]["exception_ipv4_options"]["packets"]
        .as_u64()
        .unwrap_or(0);
    let forwarded = stats["exception"]["exc_forward"]["packets"]
        .as_u64()
        .unwrap_or(0);
    println!("  exception_ipv4_options = {handed}: requests with options handed to the daemon;");
    println!(
        "  exc_forward = {forwarded}: translated there (options dropped, RFC 7915 4.1) and sent."
    );
    if handed < 2 || forwarded < 2 {
        bail!(
            "ping -R did not go through the exception path ({handed} handed off, {forwarded} sent)"
        );
    }
    check_interrupt()?;

    step(8, "The gateway's counters");
    println!(
        "  $ sixgate stats --pin-path {}",
        gateway.pin_path().display()
    );
    let stats = gateway.stats().context("running `sixgate stats`")?;
    for line in stats.lines() {
        println!("    {line}");
    }
    println!("  xlat46_redirect / xlat64_redirect: packets translated in the kernel and");
    println!("  redirected straight to the other interface.");

    println!("\nCleaning up: stopping the HTTP server and sixgate, removing the namespaces...");
    drop(http);
    let status = gateway.stop().context("stopping the gateway")?;
    if !status.success() {
        bail!("`sixgate run` exited with {status} on SIGTERM");
    }
    drop(config);
    drop(topo);
    Ok(())
}

fn step(n: u32, title: &str) {
    println!("\n[{n}/{STEPS}] {title}");
}

fn print_indented(bytes: &[u8]) {
    for line in String::from_utf8_lossy(bytes).lines() {
        println!("    {line}");
    }
}

/// Runs `cmd` to completion; returns its stdout, or an error with its output.
fn run_captured(what: &str, mut cmd: Command) -> anyhow::Result<Vec<u8>> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {what} (is it installed? see scripts/setup.sh)"))?;
    check_interrupt()?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out.stdout)
}

fn check_interrupt() -> anyhow::Result<()> {
    if sixgate_testnet::interrupted() {
        bail!("interrupted");
    }
    Ok(())
}

extern "C" fn on_signal(_sig: libc::c_int) {
    // Only an atomic store: async-signal-safe. The demo notices between
    // steps (and in every wait), and the values' Drop impls clean up.
    sixgate_testnet::interrupt();
}

/// Routes SIGINT / SIGTERM / SIGHUP to [`sixgate_testnet::interrupt`].
fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: installing a handler that only stores an atomic flag.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}
