//! The demo's second part: a NAT46 service. An IPv4 VIP:port served by three
//! IPv6-only backends in two clusters, made through the CLI and the REST
//! API, spread by weighted Maglev, and one backend drained.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context as _};
use sixgate_testnet::{
    parse_log_line, wait_for_request_logs, Gateway, GatewayConfig, HttpServer, Nat46Topology,
};

use super::{check_interrupt, print_indented, run_captured, step};

/// The service's VIP and port.
const VIP: &str = "203.0.113.80";
const BACKEND_PORT: u16 = 8080;
/// Connections per round.
const CONNECTIONS: usize = 200;

/// Steps `first`.. of the demo.
pub fn steps(exe: &Path, first: u32) -> anyhow::Result<()> {
    step(
        first,
        "A NAT46 service: one IPv4 VIP, three IPv6-only backends in two clusters",
    );
    let topo = Nat46Topology::new().context("building the NAT46 topology")?;
    println!(
        "  client {} (IPv4 only) -> gw -> fabric -> cluster-a (2001:db8:a::/64), cluster-b (2001:db8:b::/64)",
        Nat46Topology::CLIENT_V4
    );
    let servers: Vec<HttpServer> = Nat46Topology::BACKENDS
        .iter()
        .map(|a| topo.start_backend(*a, BACKEND_PORT))
        .collect::<Result<_, _>>()
        .context("starting the backends")?;
    for a in Nat46Topology::BACKENDS {
        println!("  backend [{a}]:{BACKEND_PORT} (python3 httpd.py)");
    }
    let config = GatewayConfig::from_text_in(|pin, dir| {
        format!(
            "[bpf]\npin_path = \"{}\"\n\n[interfaces]\nipv4 = \"{}\"\nipv6 = \"{}\"\n\n\
             [siit]\npool6 = \"{}\"\nipv4_prefixes = [\"{}\"]\n\n\
             [nat46]\nsnat_addresses = [\"{}\"]\npreserve_prefix = \"{}\"\n{}",
            pin.display(),
            Nat46Topology::GW_V4_IF,
            Nat46Topology::GW_V6_IF,
            Nat46Topology::POOL6,
            Nat46Topology::IPV4_PREFIX,
            Nat46Topology::SNAT_V6,
            Nat46Topology::PRESERVE_PREFIX,
            GatewayConfig::private_api_and_state(dir),
        )
    })
    .context("writing the gateway config")?;
    let gateway = Gateway::start(&topo.gw, exe, &config).context("starting `sixgate run`")?;
    let socket = config.api_socket();
    println!("  sixgate run: ready, API on {}", socket.display());
    check_interrupt()?;

    step(
        first + 1,
        "Creating the service through the API, with weights 1:1:2",
    );
    let mut add = cli(exe, &socket, &["service", "add"]);
    add.args([
        "--name",
        "web",
        "--vip",
        VIP,
        "--port",
        "80",
        "--source-mode",
        "preserve",
    ]);
    for (a, w) in Nat46Topology::BACKENDS.iter().zip([1, 1, 2]) {
        let cluster = if a.segments()[2] == 0xa { "a" } else { "b" };
        add.arg("--backend")
            .arg(format!("[{a}]:{BACKEND_PORT},weight={w},cluster={cluster}"));
    }
    println!(
        "  $ sixgate service add --name web --vip {VIP} --port 80 --source-mode preserve --backend ... (x3)"
    );
    print_indented(&run_captured("sixgate service add", add)?);
    println!("  $ sixgate service show web");
    print_indented(&run_captured(
        "sixgate service show",
        cli(exe, &socket, &["service", "show", "web"]),
    )?);
    check_interrupt()?;

    step(
        first + 2,
        &format!("{CONNECTIONS} new connections from the IPv4 client"),
    );
    let counts = round(&topo, &servers, "first")?;
    let prefix: sixgate_wire::Rfc6052Prefix = Nat46Topology::PRESERVE_PREFIX
        .parse()
        .context("preserve prefix")?;
    println!(
        "  every backend saw the client as {} = preserve prefix + {} (source mode \"preserve\")",
        prefix.embed(Nat46Topology::CLIENT_V4),
        Nat46Topology::CLIENT_V4
    );
    if counts.values().sum::<usize>() != CONNECTIONS {
        bail!("the backends logged {counts:?}, not {CONNECTIONS} requests");
    }
    check_interrupt()?;

    let drained = Nat46Topology::BACKENDS[2];
    step(
        first + 3,
        &format!("Draining [{drained}]:{BACKEND_PORT} (weight 0)"),
    );
    println!("  $ sixgate backend weight web '[{drained}]:{BACKEND_PORT}' 0");
    print_indented(&run_captured(
        "sixgate backend weight",
        cli(
            exe,
            &socket,
            &[
                "backend",
                "weight",
                "web",
                &format!("[{drained}]:{BACKEND_PORT}"),
                "0",
            ],
        ),
    )?);
    let counts = round(&topo, &servers, "drained")?;
    if counts.get(&drained.to_string()).copied().unwrap_or(0) != 0 {
        bail!("a new connection reached the drained backend: {counts:?}");
    }
    println!("  no new connection reached the drained backend; flows it already had would stay");
    println!("  $ sixgate ct list --service web   (first lines)");
    let ct = run_captured(
        "sixgate ct list",
        cli(
            exe,
            &socket,
            &["ct", "list", "--service", "web", "--limit", "4"],
        ),
    )?;
    print_indented(&ct);

    drop(servers);
    drop(gateway);
    drop(config);
    drop(topo);
    Ok(())
}

/// `sixgate ARGS --socket SOCKET`.
fn cli(exe: &Path, socket: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(exe);
    cmd.args(args).arg("--socket").arg(socket);
    cmd
}

/// Makes CONNECTIONS new connections to the VIP (curl URL globbing, the
/// server closes each) and prints how they spread; returns the counts by
/// backend address.
fn round(
    topo: &Nat46Topology,
    servers: &[HttpServer],
    tag: &str,
) -> anyhow::Result<BTreeMap<String, usize>> {
    let url = format!("http://{VIP}/?{tag}=[1-{CONNECTIONS}]");
    println!("  client$ curl -H 'Connection: close' '{url}'");
    run_captured(
        "curl",
        topo.client.cmd(
            "curl",
            [
                "-sS",
                "--fail",
                "-o",
                "/dev/null",
                "--max-time",
                "120",
                "-H",
                "Connection: close",
                &url,
            ],
        ),
    )?;
    // Every connection succeeded, so each is in some backend's log.
    let logged = wait_for_request_logs(
        &servers.iter().collect::<Vec<_>>(),
        &format!("path=/?{tag}="),
        CONNECTIONS,
        Duration::from_secs(10),
    )?;
    let mut counts = BTreeMap::new();
    for (addr, lines) in Nat46Topology::BACKENDS.iter().zip(logged) {
        let seen_as = lines
            .first()
            .and_then(|l| {
                parse_log_line(l)
                    .into_iter()
                    .find(|(k, _)| *k == "client")
                    .map(|(_, v)| v.to_string())
            })
            .unwrap_or_else(|| "-".into());
        println!(
            "  [{addr}]:{BACKEND_PORT}  {:>4} connections ({:>4.1} %)  client seen as {seen_as}",
            lines.len(),
            100.0 * lines.len() as f64 / CONNECTIONS as f64
        );
        counts.insert(addr.to_string(), lines.len());
    }
    Ok(counts)
}
