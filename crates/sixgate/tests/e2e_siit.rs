//! End-to-end stateless SIIT: an IPv4-only client talks to an IPv6-only
//! server through the real `sixgate run` daemon, in network namespaces built
//! by `sixgate-testnet`, with real tools (curl, socat, ping) and a real HTTP
//! server. Needs root; without it every test fails with a clear message.
//!
//! Each test builds its own topology (unique namespace names and pin path),
//! so the tests run in parallel and clean up after themselves on failure.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sixgate_testnet::{
    file_bytes, parse_log_line, require_root, Gateway, GatewayConfig, HttpServer, Netns, Process,
    SiitTopology, HTTP_PORT,
};

const SIXGATE: &str = env!("CARGO_BIN_EXE_sixgate");
const MIB: usize = 1 << 20;

/// A topology with a running gateway; fields drop top to bottom: the HTTP
/// server and the daemon stop before the pin path and namespaces go away.
struct Env {
    http: Option<HttpServer>,
    gateway: Gateway,
    config: GatewayConfig,
    topo: SiitTopology,
}

impl Env {
    fn new() -> Env {
        if let Err(e) = require_root() {
            panic!("e2e tests cannot run: {e}");
        }
        let topo = SiitTopology::new().expect("build the SIIT topology");
        let config = topo.gateway_config().expect("write the gateway config");
        let gateway = topo
            .start_gateway(Path::new(SIXGATE), &config)
            .expect("start `sixgate run`");
        Env {
            http: None,
            gateway,
            config,
            topo,
        }
    }

    fn with_http() -> Env {
        let mut env = Env::new();
        env.http = Some(env.topo.start_http_server().expect("start the HTTP server"));
        env
    }

    fn http(&self) -> &HttpServer {
        self.http.as_ref().expect("HTTP server started")
    }

    /// Counters, daemon stderr and the gw's tc state, for failure messages.
    /// `sixgate stats --json`, parsed.
    fn stats(&self) -> serde_json::Value {
        let text = self.gateway.stats_json().expect("sixgate stats --json");
        serde_json::from_str(&text).expect("stats --json is JSON")
    }

    fn diagnostics(&self) -> String {
        let stats = self
            .gateway
            .stats()
            .unwrap_or_else(|e| format!("(stats failed: {e})"));
        let tc = |dev: &str| {
            self.topo
                .gw
                .run("tc", ["filter", "show", "dev", dev, "ingress"])
                .unwrap_or_else(|e| e.to_string())
        };
        format!(
            "--- sixgate stats ({}):\n{stats}--- daemon stderr:\n{}--- tc gw-v4 ingress:\n{}\
             --- tc gw-v6 ingress:\n{}--- config:\n{}",
            self.config.pin_path.display(),
            self.gateway.process().stderr_text(),
            tc(SiitTopology::GW_V4_IF),
            tc(SiitTopology::GW_V6_IF),
            self.config.text(),
        )
    }

    /// Runs a command in the client (or any) namespace; panics with output
    /// and diagnostics unless it exits 0. Returns stdout bytes.
    fn run_ok(&self, what: &str, mut cmd: Command) -> Vec<u8> {
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
        if !out.status.success() {
            panic!(
                "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.diagnostics()
            );
        }
        out.stdout
    }
}

fn sha256_hex(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn server_url(path: &str) -> String {
    format!("http://{}:{HTTP_PORT}{path}", SiitTopology::SERVER_V4)
}

/// curl with the options every test wants: quiet, fail on HTTP errors, no proxy, bounded.
fn curl_args() -> Vec<String> {
    [
        "-sS",
        "--fail",
        "--noproxy",
        "*",
        "--max-time",
        "30",
        "--connect-timeout",
        "10",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn http_download_1mib_over_ipv4_matches_server_bytes() {
    let env = Env::with_http();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("download");
    let mut args = curl_args();
    args.extend([
        "-o".into(),
        out.display().to_string(),
        server_url(&format!("/file/{MIB}")),
    ]);
    let t = Instant::now();
    env.run_ok("curl download", env.topo.client.cmd("curl", &args));
    let elapsed = t.elapsed();
    let got = std::fs::read(&out).unwrap();
    let expected = file_bytes(MIB);
    assert_eq!(got.len(), MIB, "download size\n{}", env.diagnostics());
    assert_eq!(
        sha256_hex(&got),
        sha256_hex(&expected),
        "downloaded bytes differ from what the server generated\n{}",
        env.diagnostics()
    );
    let line = env
        .http()
        .wait_for_log(&format!("path=/file/{MIB}"), Duration::from_secs(5))
        .unwrap();
    assert!(line.contains(&format!("bytes={MIB}")), "{line}");
    eprintln!("1 MiB download took {elapsed:?}");
    assert_no_exceptions(&env);
}

#[test]
fn http_upload_1mib_over_ipv4_server_reports_same_sha256() {
    let env = Env::with_http();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("upload");
    // Different bytes from any /file/N download: reversed generator output.
    let mut data = file_bytes(MIB + 1);
    data.reverse();
    data.truncate(MIB);
    std::fs::write(&file, &data).unwrap();
    let expected = sha256_hex(&data);

    let mut args = curl_args();
    args.extend([
        "-T".into(),
        file.display().to_string(),
        server_url("/upload"),
    ]);
    let reply = env.run_ok("curl upload", env.topo.client.cmd("curl", &args));
    let reply = String::from_utf8_lossy(&reply);
    assert_eq!(
        reply.trim(),
        expected,
        "server's SHA-256 of the upload differs\n{}",
        env.diagnostics()
    );
    let line = env
        .http()
        .wait_for_log("path=/upload", Duration::from_secs(5))
        .unwrap();
    let fields = parse_log_line(&line);
    assert!(fields.contains(&("method", "PUT")), "{line}");
    assert!(fields.contains(&("bytes", &MIB.to_string())), "{line}");
    assert!(fields.contains(&("sha256", expected.as_str())), "{line}");
}

/// Path MTU discovery through the gateway (RFC 7915 4.1, RFC 1191): the
/// IPv6 path to the server is smaller (a 1400-byte route on the gateway)
/// than the client's IPv4 link. The client's full-size TCP segments (DF
/// set; GSO off so each is a real packet) are answered with ICMP
/// Fragmentation Needed, MTU 1400 - 20 = 1380; the client's kernel takes
/// that path MTU and the 1 MiB upload completes intact.
#[test]
fn path_mtu_discovery_works_through_the_gateway() {
    let env = Env::with_http();
    env.topo
        .client
        .run(
            "ethtool",
            ["-K", SiitTopology::CLIENT_IF, "tso", "off", "gso", "off"],
        )
        .unwrap();
    env.topo
        .gw
        .ip([
            "-6",
            "route",
            "replace",
            SiitTopology::SERVER_ROUTE,
            "via",
            &SiitTopology::SERVER_LINK_V6.to_string(),
            "dev",
            SiitTopology::GW_V6_IF,
            // bpf_fib_lookup honours a route MTU only when it is locked
            // (a smaller link MTU would need no lock).
            "mtu",
            "lock",
            "1400",
        ])
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("upload");
    let data = file_bytes(MIB);
    std::fs::write(&file, &data).unwrap();
    let mut args = curl_args();
    args.extend([
        "-T".into(),
        file.display().to_string(),
        server_url("/upload"),
    ]);
    let reply = env.run_ok("curl upload", env.topo.client.cmd("curl", &args));
    assert_eq!(
        String::from_utf8_lossy(&reply).trim(),
        sha256_hex(&data),
        "upload damaged\n{}",
        env.diagnostics()
    );

    let stats: serde_json::Value =
        serde_json::from_str(&env.gateway.stats_json().expect("sixgate stats --json")).unwrap();
    assert!(
        counter_packets(&stats, "icmp_frag_needed_sent") >= 1,
        "no Fragmentation Needed sent: {stats}"
    );
    let route = env
        .topo
        .client
        .ip(["route", "get", &SiitTopology::SERVER_V4.to_string()])
        .unwrap();
    assert!(
        route.contains("mtu 1380"),
        "the client did not learn the path MTU: {route}"
    );
}

/// ICMP errors cross the gateway both ways with the quoted packet
/// translated (RFC 7915 4.3, 5.3): a UDP datagram to a closed port makes
/// the receiving kernel answer Port Unreachable, and the sender's kernel
/// matches the translated error to its socket by the quote, so a connected
/// socket reports "connection refused" on each side.
#[test]
fn port_unreachable_reaches_the_sender_both_ways() {
    let env = Env::new();
    // Connected UDP socket: send, then the error arrives as ECONNREFUSED.
    let probe = |family: &str, addr: String| {
        format!(
            "import socket, sys\n\
             s = socket.socket(socket.{family}, socket.SOCK_DGRAM)\n\
             s.settimeout(3)\n\
             s.connect(({addr:?}, 9))\n\
             s.send(b'anyone there?')\n\
             try:\n    s.recv(100)\n    print('answered')\n\
             except ConnectionRefusedError:\n    print('refused')\n\
             except socket.timeout:\n    print('timeout')\n"
        )
    };
    let from_client = env.run_ok(
        "UDP probe from the IPv4 client",
        env.topo.client.cmd(
            "python3",
            [
                "-c".to_string(),
                probe("AF_INET", SiitTopology::SERVER_V4.to_string()),
            ],
        ),
    );
    assert_eq!(
        String::from_utf8_lossy(&from_client).trim(),
        "refused",
        "{}",
        env.diagnostics()
    );
    let from_server = env.run_ok(
        "UDP probe from the IPv6 server",
        env.topo.server.cmd(
            "python3",
            [
                "-c".to_string(),
                probe("AF_INET6", SiitTopology::CLIENT_V6.to_string()),
            ],
        ),
    );
    assert_eq!(
        String::from_utf8_lossy(&from_server).trim(),
        "refused",
        "{}",
        env.diagnostics()
    );
}

/// Fragments cross the gateway both ways (RFC 7915 4.1, 5.1, 5.1.1) and
/// the exception path cuts what the programs cannot: 3000-byte UDP
/// datagrams sent with DF=0 are fragmented by the sender's kernel, and
/// reassembled by the receiver.
///
/// IPv4 -> IPv6, every link 1500: the client's 1500-byte fragments are
/// larger than lowest-ipv6-mtu (1280) once translated, so the daemon cuts
/// each into two IPv6 fragments. IPv6 -> IPv4 over a 1000-byte IPv4 link:
/// the server learns 1280 from the gateway's Packet Too Big (its first
/// datagram is lost to that), and its 1280-byte fragments, 1260 bytes of
/// IPv4 once translated, are cut again by the daemon.
#[test]
fn fragmented_udp_datagrams_cross_both_ways() {
    let env = Env::new();
    // Receives for up to 5 s; prints the SHA-256 of each datagram.
    let receiver = |family: &str, bind: &str| {
        format!(
            "import hashlib, socket\n\
             s = socket.socket(socket.{family}, socket.SOCK_DGRAM)\n\
             s.bind(({bind:?}, 9000))\n\
             s.settimeout(5)\n\
             try:\n    while True:\n        d = s.recv(65535)\n        print(len(d), hashlib.sha256(d).hexdigest(), flush=True)\n\
             except socket.timeout:\n    pass\n"
        )
    };
    // Sends the datagram 8 times, 150 ms apart, DF off (IPv4: no PMTUD).
    let sender = |family: &str, to: String| {
        format!(
            "import socket, time\n\
             s = socket.socket(socket.{family}, socket.SOCK_DGRAM)\n\
             if socket.{family} == socket.AF_INET:\n    s.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER = DONT\n\
             d = bytes((i * 7 + 3) % 256 for i in range(3000))\n\
             for _ in range(8):\n    s.sendto(d, ({to:?}, 9000))\n    time.sleep(0.15)\n"
        )
    };
    let data: Vec<u8> = (0..3000).map(|i| ((i * 7 + 3) % 256) as u8).collect();
    let want = format!("3000 {}", sha256_hex(&data));
    let cross = |what: &str, rx_ns: &Netns, rx_family, rx_bind, tx_ns: &Netns, tx_family, to| {
        let rx = rx_ns
            .spawn(
                format!("UDP receiver, {what}"),
                rx_ns.cmd("python3", ["-c".to_string(), receiver(rx_family, rx_bind)]),
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        env.run_ok(
            what,
            tx_ns.cmd("python3", ["-c".to_string(), sender(tx_family, to)]),
        );
        rx.wait_timeout(Duration::from_secs(15)).unwrap();
        let got = rx.stdout_lines();
        assert!(
            got.iter().any(|l| l.trim() == want),
            "{what}: no intact 3000-byte datagram arrived; got {got:?}\n{}",
            env.diagnostics()
        );
        assert!(
            got.iter().all(|l| l.trim() == want),
            "{what}: a damaged datagram arrived: {got:?}"
        );
        got.len() as u64
    };

    let got = cross(
        "IPv4 client -> IPv6 server",
        &env.topo.server,
        "AF_INET6",
        "::",
        &env.topo.client,
        "AF_INET",
        SiitTopology::SERVER_V4.to_string(),
    );
    let stats = env.stats();
    // 8 datagrams of 3 fragments: the two 1500-byte ones of each went to
    // the daemon, each cut in two.
    assert_eq!(got, 8);
    assert_eq!(
        counter_packets(&stats, "exception_fragment46"),
        16,
        "{stats}"
    );
    assert_eq!(exc_packets(&stats, "exc_fragmented"), 16, "{stats}");
    assert_eq!(exc_packets(&stats, "exc_fragments_sent"), 32, "{stats}");
    let fast = counter_packets(&stats, "xlat46_redirect");
    eprintln!(
        "IPv4 -> IPv6: {} of {} translated fragments took the exception path",
        16,
        16 + fast
    );

    for (ns, dev) in [
        (&env.topo.gw, SiitTopology::GW_V4_IF),
        (&env.topo.client, SiitTopology::CLIENT_IF),
    ] {
        ns.ip(["link", "set", dev, "mtu", "1000"]).unwrap();
    }
    cross(
        "IPv6 server -> IPv4 client",
        &env.topo.client,
        "AF_INET",
        "0.0.0.0",
        &env.topo.server,
        "AF_INET6",
        SiitTopology::CLIENT_V6.to_string(),
    );
    let stats = env.stats();
    let slow = counter_packets(&stats, "exception_fragment64");
    assert!(slow > 0, "{stats}");
    assert!(
        exc_packets(&stats, "exc_fragmented") > 16,
        "the daemon cut IPv6 -> IPv4 too: {stats}"
    );
    assert_eq!(exc_packets(&stats, "exc_send_failed"), 0, "{stats}");
    eprintln!(
        "IPv6 -> IPv4 over a 1000-byte link: {slow} of {} translated fragments took the exception path",
        slow + counter_packets(&stats, "xlat64_redirect")
    );
}

/// RFC 7915 4.1: IPv4 options are ignored. `ping -R` (Record Route) goes
/// through the exception path, where the daemon translates it without
/// the option; the replies come back through the fast path.
#[test]
fn ipv4_options_are_translated_by_the_exception_path() {
    let env = Env::new();
    // Record Route (RFC 791 3.1) is an IPv4 option.
    let out = ping_with(
        &env,
        &env.topo.client,
        &["-R"],
        &SiitTopology::SERVER_V4.to_string(),
    );
    assert!(
        out.contains(" 0% packet loss"),
        "{out}\n{}",
        env.diagnostics()
    );
    let stats = env.stats();
    assert_eq!(
        counter_packets(&stats, "exception_ipv4_options"),
        3,
        "{stats}"
    );
    assert_eq!(exc_packets(&stats, "exc_forward"), 3, "{stats}");
    assert!(counter_packets(&stats, "xlat64_redirect") >= 3, "{stats}");
    // sixgate status, in the gateway's namespace, names the device.
    let out = env
        .topo
        .gw
        .cmd_keep_mounts(SIXGATE, ["status", "--pin-path"])
        .arg(&env.config.pin_path)
        .output()
        .expect("sixgate status");
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("exception path sixgate-exc (ifindex ")
                && l.ends_with("at most 10000/s; lowest-ipv6-mtu 1280")),
        "{status}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn server_sees_client_as_pool6_address() {
    let env = Env::with_http();
    let mut args = curl_args();
    args.push(server_url("/"));
    let body = env.run_ok("curl /", env.topo.client.cmd("curl", &args));
    let body = String::from_utf8_lossy(&body);
    let client6 = SiitTopology::CLIENT_V6.to_string();
    assert_eq!(client6, "2001:db8:64::c000:20a");
    assert!(body.contains(&format!("you are {client6}")), "{body}");
    let line = env
        .http()
        .wait_for_log("path=/ ", Duration::from_secs(5))
        .unwrap();
    assert!(
        parse_log_line(&line).contains(&("client", client6.as_str())),
        "server log shows another client address: {line}"
    );
}

/// Waits until a UDP socket listens on `port` in the server namespace.
fn wait_udp_listening(env: &Env, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = env
            .topo
            .server
            .run("ss", ["-H", "-u", "-l", "-n", &format!("sport = :{port}")])
            .unwrap_or_default();
        if !out.trim().is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "socat did not start listening on udp/{port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn udp_echo_over_ipv4_returns_identical_payload() {
    let env = Env::new();
    const PORT: u16 = 7777;
    let server: Process = env
        .topo
        .server
        .spawn(
            "socat udp echo",
            env.topo.server.cmd(
                "socat",
                ["-T", "30", &format!("UDP6-RECVFROM:{PORT},fork"), "PIPE"],
            ),
        )
        .unwrap();
    wait_udp_listening(&env, PORT);

    // 1200 bytes: well under the IPv6 MTU after translation (+20).
    let payload: Vec<u8> = file_bytes(1200).iter().map(|b| b'a' + b % 26).collect();
    let mut child = env
        .topo
        .client
        .cmd(
            "socat",
            [
                "-t",
                "1.5",
                "-T",
                "5",
                "-",
                &format!("UDP4:{}:{PORT}", SiitTopology::SERVER_V4),
            ],
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn socat client");
    child.stdin.take().unwrap().write_all(&payload).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "socat client failed ({}): {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        env.diagnostics()
    );
    assert_eq!(
        out.stdout.len(),
        payload.len(),
        "echo size (server stderr: {})\n{}",
        server.stderr_text(),
        env.diagnostics()
    );
    assert!(out.stdout == payload, "echoed payload differs");
}

/// Runs ping and returns its stdout; panics with diagnostics on failure.
fn ping(env: &Env, ns: &sixgate_testnet::Netns, v6: bool, dst: &str) -> String {
    ping_with(env, ns, if v6 { &["-6"] } else { &[] }, dst)
}

/// Three pings from `ns` to `dst` with `extra` options; the output.
fn ping_with(env: &Env, ns: &sixgate_testnet::Netns, extra: &[&str], dst: &str) -> String {
    let mut args = extra.to_vec();
    args.extend(["-c", "3", "-i", "0.2", "-W", "2", "-w", "10", dst]);
    let out = env.run_ok(
        &format!("ping {} {dst} from {}", extra.join(" "), ns.role()),
        ns.cmd("ping", &args),
    );
    String::from_utf8_lossy(&out).into_owned()
}

/// Pings `dst` from `ns` and checks that every reply came back with TTL /
/// hop limit 63: the peer sends 64 and the gateway decrements exactly once.
fn assert_ping_through_one_hop(env: &Env, ns: &sixgate_testnet::Netns, v6: bool, dst: &str) {
    let out = ping(env, ns, v6, dst);
    assert!(
        out.contains(" 0% packet loss"),
        "{out}\n{}",
        env.diagnostics()
    );
    assert!(
        out.contains("ttl=63"),
        "expected ttl=63:\n{out}\n{}",
        env.diagnostics()
    );
    assert!(!out.contains("ttl=64") && !out.contains("ttl=62"), "{out}");
}

#[test]
fn ping_client_to_server_ipv4_ttl_decremented_once() {
    let env = Env::new();
    assert_ping_through_one_hop(
        &env,
        &env.topo.client,
        false,
        &SiitTopology::SERVER_V4.to_string(),
    );
}

#[test]
fn ping_server_to_client_ipv6_hop_limit_decremented_once() {
    let env = Env::new();
    assert_ping_through_one_hop(
        &env,
        &env.topo.server,
        true,
        &SiitTopology::CLIENT_V6.to_string(),
    );
}

fn counter_packets(json: &serde_json::Value, name: &str) -> u64 {
    json["counters"][name]["packets"]
        .as_u64()
        .unwrap_or_else(|| panic!("counter {name} missing in {json}"))
}

/// A counter of the daemon's side of the exception path.
fn exc_packets(json: &serde_json::Value, name: &str) -> u64 {
    json["exception"][name]["packets"]
        .as_u64()
        .unwrap_or_else(|| panic!("exception counter {name} missing in {json}"))
}

/// Normal traffic never takes the exception path (issue: TCP, UDP and
/// ICMP echo under the path MTU are finished in the programs).
fn assert_no_exceptions(env: &Env) {
    let stats = env.stats();
    let taken: Vec<(&String, u64)> = stats["counters"]
        .as_object()
        .expect("counters")
        .iter()
        .filter(|(k, _)| k.starts_with("exception_"))
        .map(|(k, v)| (k, v["packets"].as_u64().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    assert!(
        taken.is_empty(),
        "normal traffic took the exception path: {taken:?}"
    );
}

#[test]
fn stats_json_counts_translated_packets_both_ways() {
    let env = Env::new();
    let before: serde_json::Value =
        serde_json::from_str(&env.gateway.stats_json().expect("sixgate stats --json"))
            .expect("stats --json is JSON");
    assert_eq!(counter_packets(&before, "xlat46_redirect"), 0, "{before}");
    ping(
        &env,
        &env.topo.client,
        false,
        &SiitTopology::SERVER_V4.to_string(),
    );
    ping(
        &env,
        &env.topo.server,
        true,
        &SiitTopology::CLIENT_V6.to_string(),
    );
    let text = env.gateway.stats_json().expect("sixgate stats --json");
    let after: serde_json::Value = serde_json::from_str(&text).expect("stats --json is JSON");
    // 3 requests + 3 replies in each direction, at least.
    assert!(counter_packets(&after, "xlat46_redirect") >= 6, "{text}");
    assert_no_exceptions(&env);
    assert!(counter_packets(&after, "xlat64_redirect") >= 6, "{text}");
    assert!(
        after["counters"]["xlat46_redirect"]["bytes"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{text}"
    );
    // The plain table names the same counters.
    let table = env.gateway.stats().expect("sixgate stats");
    assert!(
        table.lines().any(|l| l.starts_with("xlat46_redirect ")),
        "{table}"
    );
    assert!(
        table.lines().any(|l| l.starts_with("drop_ttl_expired ")),
        "{table}"
    );
}

/// Every BPF attachment (TCX, tc filter, XDP) on the gw's two interfaces.
fn attached_programs(topo: &SiitTopology) -> String {
    let mut found = String::new();
    for dev in [SiitTopology::GW_V4_IF, SiitTopology::GW_V6_IF] {
        for a in topo.gw.attached_bpf(dev).expect("query BPF attachments") {
            found.push_str(&format!("{dev}: {a}\n"));
        }
    }
    found
}

#[test]
fn bad_config_is_rejected_naming_file_and_key_and_attaches_nothing() {
    require_root().unwrap_or_else(|e| panic!("e2e tests cannot run: {e}"));
    let topo = SiitTopology::new().expect("build the SIIT topology");
    let config = GatewayConfig::from_text(|pin| {
        format!(
            "[bpf]\npin_path = \"{}\"\n\n[interfaces]\nipv4 = \"{}\"\nipv6 = \"{}\"\n\n\
             [siit]\npool6 = \"{}\"\nipv4_prefixes = [\"{}\"]\nbogus_knob = 1\n",
            pin.display(),
            SiitTopology::GW_V4_IF,
            SiitTopology::GW_V6_IF,
            SiitTopology::POOL6,
            SiitTopology::IPV4_PREFIX,
        )
    })
    .unwrap();
    let daemon = topo
        .gw
        .spawn(
            "sixgate run (bad config)",
            topo.gw.cmd_keep_mounts(
                SIXGATE,
                ["run".as_ref(), "--config".as_ref(), config.path.as_os_str()],
            ),
        )
        .unwrap();
    let status = daemon
        .wait_timeout(Duration::from_secs(20))
        .expect("`sixgate run` with a bad config must exit by itself");
    let stderr = daemon.stderr_text();
    assert!(
        !status.success(),
        "exited {status} with a bad config; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains(&config.path.display().to_string()),
        "error does not name the file {}:\n{stderr}",
        config.path.display()
    );
    assert!(
        stderr.contains("bogus_knob"),
        "error does not name the key:\n{stderr}"
    );
    assert!(
        !daemon.stdout_text().contains(sixgate_testnet::READY_LINE),
        "printed ready with a bad config"
    );
    let attached = attached_programs(&topo);
    assert!(attached.is_empty(), "programs left attached:\n{attached}");
    let pinned: Vec<_> = std::fs::read_dir(&config.pin_path)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        pinned.is_empty(),
        "things pinned under {}: {pinned:?}",
        config.pin_path.display()
    );
}

/// A stopped daemon leaves the data path running (so a restart drops
/// nothing); `sixgate detach` then removes it from both interfaces.
#[test]
fn sigterm_keeps_the_data_path_and_detach_removes_it() {
    let env = Env::new();
    let attached = attached_programs(&env.topo);
    assert_eq!(
        attached.lines().count(),
        2,
        "one program per interface:\n{attached}"
    );
    let Env {
        http,
        gateway,
        config,
        topo,
    } = env;
    drop(http);
    let status = gateway.stop().expect("daemon exits on SIGTERM");
    assert!(status.success(), "daemon exited {status} on SIGTERM");
    assert_eq!(
        attached_programs(&topo),
        attached,
        "the data path must outlive the daemon"
    );
    // And it still translates.
    topo.client
        .run(
            "ping",
            ["-c", "1", "-W", "2", &SiitTopology::SERVER_V4.to_string()],
        )
        .expect("ping through the gateway with the daemon stopped");

    let out = topo
        .gw
        .cmd_keep_mounts(
            SIXGATE,
            [
                "detach".as_ref(),
                "--pin-path".as_ref(),
                config.pin_path.as_os_str(),
            ],
        )
        .output()
        .expect("run sixgate detach");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let attached = attached_programs(&topo);
    assert!(
        attached.is_empty(),
        "programs still attached after `sixgate detach`:\n{attached}"
    );
    drop(config);
    drop(topo);
}

/// A first start whose API cannot listen (a regular file where its socket
/// should be) fails naming the path, and leaves nothing attached.
#[test]
fn api_that_cannot_listen_leaves_nothing_attached() {
    require_root().unwrap_or_else(|e| panic!("e2e tests cannot run: {e}"));
    let topo = SiitTopology::new().expect("build the SIIT topology");
    let config = GatewayConfig::from_text_in(|pin, dir| {
        let socket = dir.join("not-a-socket");
        std::fs::write(&socket, b"a file, not a socket").unwrap();
        format!(
            "[bpf]\npin_path = \"{}\"\n\n[interfaces]\nipv4 = \"{}\"\nipv6 = \"{}\"\n\n\
             [siit]\npool6 = \"{}\"\nipv4_prefixes = [\"{}\"]\n\n[api]\nsocket = \"{}\"\n\n\
             [state]\npath = \"{}\"\n",
            pin.display(),
            SiitTopology::GW_V4_IF,
            SiitTopology::GW_V6_IF,
            SiitTopology::POOL6,
            SiitTopology::IPV4_PREFIX,
            socket.display(),
            dir.join("state.json").display(),
        )
    })
    .unwrap();
    let daemon = topo
        .gw
        .spawn(
            "sixgate run (API socket taken)",
            topo.gw.cmd_keep_mounts(
                SIXGATE,
                ["run".as_ref(), "--config".as_ref(), config.path.as_os_str()],
            ),
        )
        .unwrap();
    let status = daemon
        .wait_timeout(Duration::from_secs(20))
        .expect("`sixgate run` must exit by itself");
    let stderr = daemon.stderr_text();
    assert!(!status.success(), "exited {status}; stderr:\n{stderr}");
    assert!(
        stderr.contains("not-a-socket"),
        "error does not name the socket:\n{stderr}"
    );
    let attached = attached_programs(&topo);
    assert!(attached.is_empty(), "programs left attached:\n{attached}");
}

/// `sixgate check` accepts a good config (interfaces looked up in the
/// namespace it runs in), rejects one whose interface is missing there, and
/// attaches or pins nothing either way.
#[test]
fn check_validates_without_touching_anything() {
    require_root().unwrap_or_else(|e| panic!("e2e tests cannot run: {e}"));
    let topo = SiitTopology::new().expect("build the SIIT topology");
    let config = topo.gateway_config().expect("write the gateway config");
    let check = |ns: &sixgate_testnet::Netns| {
        ns.cmd_keep_mounts(
            SIXGATE,
            [
                "check".as_ref(),
                "--config".as_ref(),
                config.path.as_os_str(),
            ],
        )
        .output()
        .expect("run sixgate check")
    };

    let good = check(&topo.gw);
    let stdout = String::from_utf8_lossy(&good.stdout);
    assert!(
        good.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(stdout.trim_end().ends_with(": ok"), "{stdout}");

    // The client namespace has no gw-v4: the error names the file, field and value.
    let bad = check(&topo.client);
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success(), "{stderr}");
    let want = format!(
        "{}: interfaces.ipv4 = \"{}\": no such network interface on this host",
        config.path.display(),
        SiitTopology::GW_V4_IF
    );
    assert!(stderr.contains(&want), "{stderr}");

    assert_eq!(attached_programs(&topo), "", "check attached something");
    assert!(!config.pin_path.exists(), "check created the pin path");
}

/// The EAM of [`eamt_gives_plain_ipv6_addresses_an_ipv4_face_and_hairpins`]:
/// 203.0.113.0-15 are 2001:db8:e::0-f (RFC 7757).
const EAM_V4: &str = "203.0.113.0/28";
const EAM_V6: &str = "2001:db8:e::/124";

/// RFC 7757: server addresses that embed no IPv4 address get IPv4 faces
/// from an EAM. The client pings 203.0.113.5 and the server answers from
/// 2001:db8:e::5; the server pings the client from that address; and a
/// datagram from 2001:db8:e::5 to the pool6 form of 203.0.113.6 is
/// hairpinned (RFC 7757 4.3) and arrives at 2001:db8:e::6, from ::5, also
/// once the daemon has exited.
#[test]
fn eamt_gives_plain_ipv6_addresses_an_ipv4_face_and_hairpins() {
    require_root().unwrap_or_else(|e| panic!("e2e tests cannot run: {e}"));
    let topo = SiitTopology::new().expect("build the SIIT topology");
    for a in ["2001:db8:e::5/128", "2001:db8:e::6/128"] {
        topo.server
            .ip([
                "-6",
                "addr",
                "add",
                a,
                "dev",
                SiitTopology::SERVER_IF,
                "nodad",
            ])
            .unwrap();
    }
    topo.gw
        .ip([
            "-6",
            "route",
            "add",
            EAM_V6,
            "via",
            &SiitTopology::SERVER_LINK_V6.to_string(),
            "dev",
            SiitTopology::GW_V6_IF,
        ])
        .unwrap();
    let config = GatewayConfig::from_text_in(|pin, dir| {
        format!(
            "[bpf]\npin_path = {pin:?}\n\n[interfaces]\nipv4 = {:?}\nipv6 = {:?}\n\n\
             [siit]\npool6 = {:?}\nipv4_prefixes = [{:?}]\n\n\
             [[siit.eamt]]\nipv4_prefix = {EAM_V4:?}\nipv6_prefix = {EAM_V6:?}\n{}",
            SiitTopology::GW_V4_IF,
            SiitTopology::GW_V6_IF,
            SiitTopology::POOL6,
            SiitTopology::IPV4_PREFIX,
            GatewayConfig::private_api_and_state(dir),
        )
    })
    .unwrap();
    let gateway = topo
        .start_gateway(Path::new(SIXGATE), &config)
        .expect("start `sixgate run`");
    let env = Env {
        http: None,
        gateway,
        config,
        topo,
    };

    assert_ping_through_one_hop(&env, &env.topo.client, false, "203.0.113.5");
    let out = ping_with(
        &env,
        &env.topo.server,
        &["-6", "-I", "2001:db8:e::5"],
        &SiitTopology::CLIENT_V6.to_string(),
    );
    assert!(
        out.contains(" 0% packet loss") && out.contains("ttl=63"),
        "{out}"
    );

    // Hairpinning: the listener prints the datagram and where it came from.
    const PORT: u16 = 7778;
    let listener: Process = env
        .topo
        .server
        .spawn(
            "socat hairpin listener",
            env.topo.server.cmd(
                "socat",
                [
                    "-T",
                    "30",
                    "-u",
                    &format!("UDP6-RECVFROM:{PORT},bind=[2001:db8:e::6],fork"),
                    // To stderr: with -u, socat reads nothing back.
                    "SYSTEM:(echo from $SOCAT_PEERADDR; cat) >&2",
                ],
            ),
        )
        .unwrap();
    wait_udp_listening(&env, PORT);
    send_hairpinned(&env.topo, PORT, b"hairpin\n");
    wait_for_stderr(&listener, "hairpin", &|| env.diagnostics());
    // socat writes the peer in full: "from [2001:0db8:000e:...:0005]".
    let got = listener.stderr_text();
    let peer = got
        .split_once("from [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .and_then(|(a, _)| a.parse::<std::net::Ipv6Addr>().ok());
    assert_eq!(peer, "2001:db8:e::5".parse().ok(), "{got}");
    let stats: serde_json::Value =
        serde_json::from_str(&env.gateway.stats_json().unwrap()).unwrap();
    assert!(counter_packets(&stats, "hairpin_redirect") >= 1, "{stats}");

    // The hairpin program's slot is pinned: it outlives the daemon too.
    let Env {
        gateway,
        config,
        topo,
        ..
    } = env;
    let status = gateway.stop().expect("daemon exits on SIGTERM");
    assert!(status.success(), "daemon exited {status} on SIGTERM");
    send_hairpinned(&topo, PORT, b"again\n");
    wait_for_stderr(&listener, "again", &|| config.text());
    drop(listener);
    drop(config);
    drop(topo);
}

/// Sends `data` in one datagram from 2001:db8:e::5 to the pool6 form of
/// 203.0.113.6, `port`, inside the server namespace.
fn send_hairpinned(topo: &SiitTopology, port: u16, data: &[u8]) {
    let mut sender = topo
        .server
        .cmd(
            "socat",
            [
                "-u",
                "-",
                &format!("UDP6-SENDTO:[2001:db8:64::cb00:7106]:{port},bind=[2001:db8:e::5]"),
            ],
        )
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn socat sender");
    sender.stdin.take().unwrap().write_all(data).unwrap();
    assert!(sender.wait().unwrap().success());
}

/// Waits until `process` has written `needle` to its stderr.
fn wait_for_stderr(process: &Process, needle: &str, diagnostics: &dyn Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !process.stderr_text().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "{needle:?} did not arrive: {}\n{}",
            process.stderr_text(),
            diagnostics()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
