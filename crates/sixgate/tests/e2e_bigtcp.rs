//! End-to-end BIG TCP through the translator (issue 5): BIG TCP (196608)
//! on every link, links at MTU 1500, 1 GiB over TCP in each direction
//! through `sixgate run`, SHA-256 compared on both ends. The counters must
//! show translated super-packets over 64 KiB and no drops, and
//! `sixgate status` must show the sizes the daemon set on its links.
//! Needs root.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sixgate_netlink::{enable_big_tcp, BIG_TCP_DEFAULT_SIZE};
use sixgate_testnet::{require_root, Gateway, GatewayConfig, Netns, SiitTopology};

const SIXGATE: &str = env!("CARGO_BIN_EXE_sixgate");
const GIB: u64 = 1 << 30;
/// Generous: without BIG TCP handling this collapses to ~20 Mbit/s (over
/// 6 minutes for 1 GiB); working, it takes a few seconds.
const TRANSFER_LIMIT: Duration = Duration::from_secs(90);
const PORT: u16 = 5001;

struct Env {
    gateway: Gateway,
    config: GatewayConfig,
    topo: SiitTopology,
}

fn setup() -> Env {
    if let Err(e) = require_root() {
        panic!("e2e tests cannot run: {e}");
    }
    let topo = SiitTopology::new().expect("build the SIIT topology");
    for (ns, dev) in [
        (&topo.client, SiitTopology::CLIENT_IF),
        (&topo.server, SiitTopology::SERVER_IF),
    ] {
        let out = ns
            .run_in(|| enable_big_tcp(dev, BIG_TCP_DEFAULT_SIZE))
            .expect("enter namespace")
            .unwrap_or_else(|e| panic!("BIG TCP on {} {dev}: {e}", ns.name()));
        assert_eq!(out.after.gso_ipv4_max_size, Some(BIG_TCP_DEFAULT_SIZE));
    }
    // The gateway's own links: the daemon sets them from the config.
    let config = GatewayConfig::from_text_in(|pin, dir| {
        format!(
            "[bpf]\npin_path = \"{}\"\n\n[interfaces]\nipv4 = \"{}\"\nipv6 = \"{}\"\n\
             ipv4_big_tcp = true\nipv6_big_tcp = true\n\n[siit]\npool6 = \"{}\"\n\
             ipv4_prefixes = [\"{}\"]\n{}",
            pin.display(),
            SiitTopology::GW_V4_IF,
            SiitTopology::GW_V6_IF,
            SiitTopology::POOL6,
            SiitTopology::IPV4_PREFIX,
            GatewayConfig::private_api_and_state(dir)
        )
    })
    .expect("write config");
    let gateway = topo
        .start_gateway(Path::new(SIXGATE), &config)
        .expect("start `sixgate run`");
    Env {
        gateway,
        config,
        topo,
    }
}

/// 1 GiB of random bytes in a temp directory, with its SHA-256. Files (in
/// the page cache) rather than pipes from /dev/urandom into sha256sum, so
/// the transfer runs at network speed and TCP builds real super-packets
/// (both tools manage only ~150-270 MB/s here).
struct Payload {
    dir: PathBuf,
    sha256: String,
}

impl Payload {
    fn new() -> Payload {
        let dir = std::env::temp_dir().join(format!("sixgate-bigtcp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let data = dir.join("data");
        let ok = Command::new("sh")
            .arg("-c")
            .arg(format!("head -c {GIB} /dev/urandom > {}", data.display()))
            .status()
            .expect("head")
            .success();
        assert!(ok, "writing the payload");
        let sha256 = sha256_file(&data);
        Payload { dir, sha256 }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn received(&self) -> PathBuf {
        self.dir.join("received")
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sha256_file(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Sends the payload from `from` to a socat listener in `to`; returns the
/// SHA-256 of what arrived and how long the transfer took.
fn transfer(
    payload: &Payload,
    from: &Netns,
    to: &Netns,
    listen: &str,
    connect: &str,
) -> (String, Duration) {
    let _ = std::fs::remove_file(payload.received());
    let receiver = to
        .cmd(
            "socat",
            [
                "-u".to_string(),
                format!("{listen},reuseaddr"),
                format!("CREATE:{}", payload.received().display()),
            ],
        )
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the receiver");
    // Give the listener a moment to bind.
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    let sender = from
        .cmd(
            "socat",
            [
                "-u".to_string(),
                format!("OPEN:{}", payload.data().display()),
                connect.to_string(),
            ],
        )
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the sender");
    wait_limited(sender, "sender");
    wait_limited(receiver, "receiver");
    let took = start.elapsed();
    (sha256_file(&payload.received()), took)
}

/// Waits for `child` within TRANSFER_LIMIT; panics if it fails or hangs.
fn wait_limited(mut child: std::process::Child, what: &str) {
    let deadline = Instant::now() + TRANSFER_LIMIT;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let out = child.wait_with_output().expect("output");
            assert!(
                status.success(),
                "{what} failed ({status}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what}: 1 GiB did not get through in {TRANSFER_LIMIT:?} (BIG TCP collapse?)");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn counters(env: &Env) -> serde_json::Value {
    serde_json::from_str(&env.gateway.stats_json().expect("stats")).expect("stats JSON")
}

fn packets_bytes(json: &serde_json::Value, name: &str) -> (u64, u64) {
    let c = &json["counters"][name];
    (c["packets"].as_u64().unwrap(), c["bytes"].as_u64().unwrap())
}

#[test]
fn one_gib_each_way_with_big_tcp_on_all_links() {
    let env = setup();
    let topo = &env.topo;
    let payload = Payload::new();

    // sixgate status shows the sizes the daemon put on its links.
    let out = topo
        .gw
        .cmd_keep_mounts(SIXGATE, ["status", "--pin-path"])
        .arg(&env.config.pin_path)
        .output()
        .expect("sixgate status");
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{status}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for dev in [SiitTopology::GW_V4_IF, SiitTopology::GW_V6_IF] {
        let line = status
            .lines()
            .find(|l| l.starts_with(dev))
            .unwrap_or_else(|| panic!("no {dev} line in status:\n{status}"));
        let sizes: Vec<&str> = line.split_whitespace().skip(1).take(4).collect();
        assert_eq!(sizes, ["196608"; 4], "{line}");
    }

    // IPv4 client -> IPv6 server: the data is translated 4->6.
    let (received, took) = transfer(
        &payload,
        &topo.client,
        &topo.server,
        &format!("TCP6-LISTEN:{PORT}"),
        &format!("TCP4:{}:{PORT}", SiitTopology::SERVER_V4),
    );
    assert_eq!(payload.sha256.len(), 64, "{:?}", payload.sha256);
    assert_eq!(received, payload.sha256, "4->6: 1 GiB arrived altered");
    eprintln!("4->6: 1 GiB in {took:?}");
    let after_up = counters(&env);
    let (_, b46) = packets_bytes(&after_up, "xlat46_redirect");
    assert!(b46 > GIB, "xlat46 carried only {b46} bytes");
    // Super-packets over 64 KiB went through translation.
    let (big46, _) = packets_bytes(&after_up, "bigtcp_xlat46");
    assert!(big46 > 0, "no 4->6 packet over 64 KiB was translated");

    // IPv6 server -> IPv4 client: the data is translated 6->4.
    let (received, took) = transfer(
        &payload,
        &topo.server,
        &topo.client,
        &format!("TCP4-LISTEN:{PORT}"),
        &format!("TCP6:[{}]:{PORT}", SiitTopology::CLIENT_V6),
    );
    assert_eq!(received, payload.sha256, "6->4: 1 GiB arrived altered");
    eprintln!("6->4: 1 GiB in {took:?}");
    let after = counters(&env);
    let (_, b64) = packets_bytes(&after, "xlat64_redirect");
    let (_, b64_before) = packets_bytes(&after_up, "xlat64_redirect");
    assert!(
        b64 - b64_before > GIB,
        "xlat64 carried only {} bytes",
        b64 - b64_before
    );
    let (big64, _) = packets_bytes(&after, "bigtcp_xlat64");
    assert!(big64 > 0, "no 6->4 packet over 64 KiB was translated");
    eprintln!("packets over 64 KiB translated: 4->6 {big46}, 6->4 {big64}");

    // Nothing dropped, and nothing needed the exception path: BIG TCP
    // stays on the fast path.
    for (name, value) in after["counters"].as_object().unwrap() {
        if name.starts_with("drop_") || name.starts_with("exception_") {
            assert_eq!(value["packets"], 0, "{name}: {value}");
        }
    }
}
