//! NAT46 services end to end: the real daemon in namespaces
//! (`Nat46Topology`: an IPv4-only client, the gateway, two IPv6-only
//! clusters with three real HTTP backends), curl from the client, and the
//! REST API over its unix socket with `curl --unix-socket`.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sixgate_testnet::{
    file_bytes, parse_log_line, require_root, wait_for_request_logs, Gateway, GatewayConfig,
    HttpServer, Nat46Topology,
};

const SIXGATE: &str = env!("CARGO_BIN_EXE_sixgate");
const BACKEND_PORT: u16 = 8080;
/// Weights of the three backends in the `web` services: 25 / 25 / 50 %.
const WEIGHTS: [u32; 3] = [1, 1, 2];
const WEB: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 80);
const WEB_GW: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 81);
const RESTRICTED: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 82);
const DRAIN: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 90);

/// The services every test's gateway starts with (read-only through the API).
fn declared_services() -> String {
    let backends: Vec<String> = Nat46Topology::BACKENDS
        .iter()
        .zip(WEIGHTS)
        .map(|(a, w)| {
            let cluster = if a.segments()[2] == 0xa { "a" } else { "b" };
            format!("{{ address = \"{a}\", port = {BACKEND_PORT}, weight = {w}, cluster = \"{cluster}\" }}")
        })
        .collect();
    let [a10, a11, _] = Nat46Topology::BACKENDS;
    format!(
        "[[service]]\nname = \"web\"\nvip = \"{WEB}\"\nport = 80\nprotocol = \"tcp\"\n\
         source_mode = \"preserve\"\nbackends = [{}]\n\n\
         [[service]]\nname = \"web-gw\"\nvip = \"{WEB_GW}\"\nport = 80\nprotocol = \"tcp\"\n\
         source_mode = \"gateway\"\nbackends = [{{ address = \"{a10}\", port = {BACKEND_PORT} }}]\n\n\
         [[service]]\nname = \"restricted\"\nvip = \"{RESTRICTED}\"\nport = 80\nprotocol = \"tcp\"\n\
         source_mode = \"preserve\"\nsource_ranges = [\"{}/32\"]\n\
         backends = [{{ address = \"{a11}\", port = {BACKEND_PORT} }}]\n",
        backends.join(", "),
        Nat46Topology::CLIENT_V4,
    )
}

/// Topology, backends, config and daemon. Fields drop in order: servers,
/// daemon (SIGTERM: the data path stays), config (its pin directory goes,
/// which detaches), namespaces.
struct Env {
    servers: Vec<HttpServer>,
    gateway: Option<Gateway>,
    config: GatewayConfig,
    topo: Nat46Topology,
}

impl Env {
    fn new() -> Env {
        require_root().unwrap_or_else(|e| panic!("e2e tests cannot run: {e}"));
        let topo = Nat46Topology::new().expect("build the NAT46 topology");
        let servers = Nat46Topology::BACKENDS
            .iter()
            .map(|a| {
                topo.start_backend(*a, BACKEND_PORT)
                    .expect("start a backend")
            })
            .collect();
        let config = GatewayConfig::from_text_in(|pin, dir| {
            format!(
                "[bpf]\npin_path = \"{}\"\n\n[interfaces]\nipv4 = \"{}\"\nipv6 = \"{}\"\n\n\
                 [siit]\npool6 = \"{}\"\nipv4_prefixes = [\"{}\"]\n\n\
                 [nat46]\nsnat_addresses = [\"{}\"]\npreserve_prefix = \"{}\"\n{}\n{}",
                pin.display(),
                Nat46Topology::GW_V4_IF,
                Nat46Topology::GW_V6_IF,
                Nat46Topology::POOL6,
                Nat46Topology::IPV4_PREFIX,
                Nat46Topology::SNAT_V6,
                Nat46Topology::PRESERVE_PREFIX,
                GatewayConfig::private_api_and_state(dir),
                declared_services(),
            )
        })
        .expect("write the gateway config");
        let gateway =
            Gateway::start(&topo.gw, Path::new(SIXGATE), &config).expect("start `sixgate run`");
        Env {
            servers,
            gateway: Some(gateway),
            config,
            topo,
        }
    }

    fn socket(&self) -> PathBuf {
        self.config.api_socket()
    }

    /// One API request over the unix socket: (HTTP status, body).
    fn api(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "--max-time", "20", "-X", method, "--unix-socket"])
            .arg(self.socket())
            .args(["-w", "\n%{http_code}"]);
        if let Some(b) = body {
            cmd.args(["-H", "Content-Type: application/json", "--data-binary", b]);
        }
        cmd.arg(format!("http://sixgate/v1{path}"));
        let out = cmd.output().expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
        let status = status
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{method} {path}: no status from curl: {text:?}"));
        (status, body.to_string())
    }

    fn api_json(&self, method: &str, path: &str, body: Option<&str>) -> Value {
        let (status, text) = self.api(method, path, body);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {text}"
        );
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
    }

    /// curl in the client namespace; its stdout, or the failure.
    fn curl(&self, args: &[&str]) -> Result<String, String> {
        let out = self
            .topo
            .client
            .cmd("curl", args)
            .output()
            .expect("run curl in the client namespace");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "curl {args:?}: {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// `n` new connections (one request each, the server closes) to `vip`.
    fn connections(&self, vip: Ipv4Addr, n: usize, tag: &str) {
        let url = format!("http://{vip}/?{tag}=[1-{n}]");
        self.curl(&[
            "-s",
            "-o",
            "/dev/null",
            "--fail",
            "--max-time",
            "300",
            "-H",
            "Connection: close",
            &url,
        ])
        .expect("every connection succeeds");
    }

    /// Request log lines whose path has `?tag=`, per backend, once all
    /// `total` of them are logged.
    fn tagged_lines(&self, tag: &str, total: usize) -> Vec<Vec<String>> {
        let servers: Vec<&HttpServer> = self.servers.iter().collect();
        wait_for_request_logs(
            &servers,
            &format!("path=/?{tag}="),
            total,
            Duration::from_secs(10),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn stats(&self, service: &str) -> Value {
        self.api_json("GET", &format!("/services/{service}/stats"), None)
    }

    /// Starts a rate-limited download of `/file/size` from `vip` in the
    /// background, into a file in the config's directory.
    fn start_download(
        &self,
        vip: Ipv4Addr,
        size: usize,
        rate: &str,
    ) -> (sixgate_testnet::Process, PathBuf) {
        let out = self.config.dir().join(format!("download-{vip}-{size}"));
        let cmd = self.topo.client.cmd(
            "curl",
            [
                "-s".as_ref(),
                "--fail".as_ref(),
                "--max-time".as_ref(),
                "120".as_ref(),
                "--limit-rate".as_ref(),
                rate.as_ref(),
                "-o".as_ref(),
                out.as_os_str(),
                format!("http://{vip}/file/{size}").as_ref(),
            ],
        );
        let p = self
            .topo
            .client
            .spawn(format!("download {size} B from {vip}"), cmd)
            .expect("start curl");
        (p, out)
    }

    /// The one established flow to `vip` the API lists: its backend address.
    fn flow_backend(&self, service: &str) -> Ipv6Addr {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let flows = self.api_json("GET", &format!("/conntrack?service={service}"), None);
            let established: Vec<&Value> = flows
                .as_array()
                .expect("conntrack is a list")
                .iter()
                .filter(|f| f["state"] == "established")
                .collect();
            if let [flow] = established[..] {
                let backend = flow["backend"].as_str().expect("backend is a string");
                let addr = backend
                    .trim_start_matches('[')
                    .split(']')
                    .next()
                    .expect("[addr]:port");
                return addr.parse().expect("backend address");
            }
            assert!(
                Instant::now() < deadline,
                "no single established flow of {service}: {flows}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Waits for a background download and checks its bytes.
fn finish_download(p: sixgate_testnet::Process, out: &Path, size: usize, what: &str) {
    let status = p
        .wait_timeout(Duration::from_secs(150))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        status.success(),
        "{what}: curl {status}: {}",
        p.stderr_text()
    );
    let got = std::fs::read(out).expect("read the download");
    assert_eq!(got.len(), size, "{what}: length");
    assert_eq!(
        hex(&Sha256::digest(&got)),
        hex(&Sha256::digest(file_bytes(size))),
        "{what}: SHA-256"
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn client_field(line: &str) -> String {
    parse_log_line(line)
        .into_iter()
        .find(|(k, _)| *k == "client")
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

/// 2,000 new connections spread 25 / 25 / 50 % (weights 1:1:2) within ±3
/// points, counted from each backend's own log; "preserve" shows every
/// backend the client's own IPv4 address inside the preserve prefix.
#[test]
fn weighted_maglev_spreads_new_connections() {
    let env = Env::new();
    const N: usize = 2000;
    env.connections(WEB, N, "spread");
    let spread = env.tagged_lines("spread", N);
    let counts: Vec<usize> = spread.iter().map(Vec::len).collect();
    assert_eq!(
        counts.iter().sum::<usize>(),
        N,
        "requests logged: {counts:?}"
    );
    eprintln!("{N} connections per backend (weights {WEIGHTS:?}): {counts:?}");
    let total: u32 = WEIGHTS.iter().sum();
    for (i, (&c, w)) in counts.iter().zip(WEIGHTS).enumerate() {
        let share = 100.0 * c as f64 / N as f64;
        let want = 100.0 * f64::from(w) / f64::from(total);
        assert!(
            (share - want).abs() <= 3.0,
            "backend {i}: {share:.1} % of new connections, want {want:.0} ± 3 (counts {counts:?})"
        );
    }
    let prefix: sixgate_wire::Rfc6052Prefix = Nat46Topology::PRESERVE_PREFIX.parse().unwrap();
    let client6 = prefix.embed(Nat46Topology::CLIENT_V4).to_string();
    for (i, lines) in spread.iter().enumerate() {
        for line in lines {
            assert_eq!(client_field(line), client6, "backend {i} saw {line}");
        }
    }
    // One new flow per connection, also where the client's kernel reused
    // a source port whose entry is still in its closing timeout (the server
    // closed first, so the client had no TIME_WAIT): a SYN on a closed
    // flow opens a new one.
    let flows = env.stats("web")["new_flows"].as_u64().unwrap();
    assert_eq!(flows, N as u64, "{flows} new flows for {N} connections");
    // Slot counts read back from the kernel follow the weights too.
    let slots = env.api_json("GET", "/services/web/slots", None);
    let slots: Vec<u64> = slots
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["slots"].as_u64().unwrap())
        .collect();
    assert_eq!(slots.iter().sum::<u64>(), 65537, "{slots:?}");
    assert!(slots[2] > slots[0] + slots[1] - 700, "{slots:?}");
}

/// "gateway": the backend sees the gateway's SNAT address, not the client.
#[test]
fn gateway_mode_shows_the_snat_address() {
    let env = Env::new();
    let body = env
        .curl(&[
            "-s",
            "--fail",
            "--max-time",
            "10",
            &format!("http://{WEB_GW}/?gw=1"),
        ])
        .expect("request through the gateway-mode service");
    let snat = Nat46Topology::SNAT_V6.to_string();
    assert!(body.contains(&format!("you are {snat}")), "{body}");
    let logged = env.tagged_lines("gw", 1);
    assert_eq!(logged[0].len(), 1, "web-gw's only backend: {logged:?}");
    assert_eq!(client_field(&logged[0][0]), snat);
}

/// Source ranges: the allowed client gets through; from another address
/// the SYN is dropped and counted, and no backend sees it.
#[test]
fn source_ranges_admit_allowed_clients_only() {
    let env = Env::new();
    env.curl(&[
        "-s",
        "--fail",
        "--max-time",
        "10",
        &format!("http://{RESTRICTED}/?allowed=1"),
    ])
    .expect("the allowed client gets through");
    let other = Nat46Topology::OTHER_CLIENT_V4.to_string();
    let refused = env.curl(&[
        "-s",
        "--max-time",
        "2",
        "--interface",
        &other,
        &format!("http://{RESTRICTED}/?denied=1"),
    ]);
    assert!(refused.is_err(), "a client outside the ranges got through");
    assert_eq!(env.tagged_lines("allowed", 1)[1].len(), 1);
    // Any request that got through would be logged by now, beside the
    // allowed one.
    assert_eq!(env.tagged_lines("denied", 0)[1].len(), 0);
    let drops = env.stats("restricted")["drops"]["source_range"].as_u64();
    assert!(drops.unwrap_or(0) >= 1, "{}", env.stats("restricted"));
}

/// A service made through the API: weight 0 on a backend lets its running
/// download finish (bytes intact) while no new connection reaches it;
/// removing another backend does not disturb the download either.
#[test]
fn drain_and_removal_keep_running_flows() {
    let env = Env::new();
    let backend =
        |a: Ipv6Addr, w: u32| json!({"address": a.to_string(), "port": BACKEND_PORT, "weight": w});
    let b = Nat46Topology::BACKENDS;
    let svc = json!({
        "name": "drain", "vip": DRAIN.to_string(), "port": 80, "protocol": "tcp",
        "source_mode": "preserve",
        "backends": [backend(b[0], 1), backend(b[1], 1), backend(b[2], 2)],
    });
    let (status, text) = env.api("POST", "/services", Some(&svc.to_string()));
    assert_eq!(status, 201, "{text}");

    const SIZE: usize = 48 << 20;
    let (download, out) = env.start_download(DRAIN, SIZE, "12M");
    let pinned = env.flow_backend("drain");
    let pinned_i = b
        .iter()
        .position(|a| *a == pinned)
        .expect("a known backend");

    let (status, text) = env.api(
        "PUT",
        &format!(
            "/services/drain/backends/{}/weight",
            backend_path(pinned, BACKEND_PORT)
        ),
        Some(r#"{"weight": 0}"#),
    );
    assert_eq!(status, 200, "{text}");
    // The CLI, against the real daemon, shows the drained backend.
    let show = Command::new(SIXGATE)
        .args(["service", "show", "drain", "--json", "--socket"])
        .arg(env.socket())
        .output()
        .expect("run sixgate service show");
    assert!(
        show.status.success(),
        "{}",
        String::from_utf8_lossy(&show.stderr)
    );
    let shown: Value = serde_json::from_slice(&show.stdout).expect("JSON from the CLI");
    let weight_of_pinned = shown["service"]["backends"]
        .as_array()
        .expect("backends")
        .iter()
        .find(|b| b["address"] == pinned.to_string())
        .map(|b| b["weight"].clone());
    assert_eq!(weight_of_pinned, Some(json!(0)), "{shown}");
    env.connections(DRAIN, 200, "afterdrain");
    assert_eq!(
        env.tagged_lines("afterdrain", 200)[pinned_i].len(),
        0,
        "a new connection reached the drained backend"
    );

    // Remove one of the other backends altogether.
    let removed = (0..3).find(|&i| i != pinned_i).unwrap();
    let kept: Vec<Value> = (0..3)
        .filter(|&i| i != removed)
        .map(|i| backend(b[i], if i == pinned_i { 0 } else { WEIGHTS[i] }))
        .collect();
    let replaced = json!({
        "name": "drain", "vip": DRAIN.to_string(), "port": 80, "protocol": "tcp",
        "source_mode": "preserve", "backends": kept,
    });
    let (status, text) = env.api("PUT", "/services/drain", Some(&replaced.to_string()));
    assert_eq!(status, 200, "{text}");
    env.connections(DRAIN, 50, "afterremoval");
    let after_removal = env.tagged_lines("afterremoval", 50);
    assert_eq!(after_removal[removed].len(), 0);
    assert_eq!(after_removal[pinned_i].len(), 0);

    finish_download(download, &out, SIZE, "download from the drained backend");
    let served = env.servers[pinned_i]
        .wait_for_log(&format!("path=/file/{SIZE}"), Duration::from_secs(5))
        .expect("the drained backend logs the download");
    assert!(
        served.contains(&format!("status=200 bytes={SIZE}")),
        "the drained backend served the whole download: {served}"
    );
}

/// `backend` as the API's path segment names it.
fn backend_path(addr: Ipv6Addr, port: u16) -> String {
    // `[addr]:port`, percent-encoded.
    format!("%5B{addr}%5D%3A{port}")
}

/// A daemon restart in the middle of a 200 MiB download breaks nothing:
/// the data path and its connection tracking outlive the daemon. The
/// service is in "gateway" mode, where a lost entry would give the flow a
/// new source port and the backend would reset it.
#[test]
fn restart_mid_download_is_hitless() {
    let mut env = Env::new();
    const SIZE: usize = 200 << 20;
    let (download, out) = env.start_download(WEB_GW, SIZE, "40M");
    env.flow_backend("web-gw");
    let flows_before = env.api_json("GET", "/conntrack?service=web-gw", None);
    assert_eq!(env.stats("web-gw")["new_flows"], 1);

    let old = env.gateway.take().expect("running");
    let status = old.stop().expect("daemon exits on SIGTERM");
    assert!(status.success(), "{status}");
    assert!(
        download.try_status().is_none(),
        "the download ended before the restart"
    );
    std::thread::sleep(Duration::from_millis(300));
    env.gateway = Some(
        Gateway::start(&env.topo.gw, Path::new(SIXGATE), &env.config).expect("restart the daemon"),
    );
    assert!(
        download.try_status().is_none(),
        "the download ended during the restart"
    );
    let flows_after = env.api_json("GET", "/conntrack?service=web-gw", None);
    assert_eq!(
        flows_after[0]["source"], flows_before[0]["source"],
        "the flow kept its SNAT address and port"
    );

    finish_download(download, &out, SIZE, "download across a restart");
    assert_eq!(
        env.stats("web-gw")["new_flows"],
        1,
        "the flow was never re-created"
    );
}

/// Bad API input gets the right status and leaves the services as they were.
#[test]
fn bad_api_input_is_refused_and_changes_nothing() {
    let env = Env::new();
    let before = env.api_json("GET", "/services", None);
    let state = env.config.state_file();
    let state_before = std::fs::read(&state).ok();
    let good = |vip: &str| {
        json!({"name": "x", "vip": vip, "port": 80, "protocol": "tcp",
               "backends": [{"address": "2001:db8:a::10", "port": 8080}]})
        .to_string()
    };
    let cases: Vec<(&str, String, String, u16, &str)> = vec![
        ("POST", "/services".into(), "{\"name\": ".into(), 400, ""),
        ("POST", "/services".into(), good("2001:db8::1"), 422, "vip"),
        (
            "POST",
            "/services".into(),
            json!({"name": "x", "vip": "203.0.113.99", "port": 80, "protocol": "tcp",
                   "backends": [{"address": "192.0.2.7", "port": 8080}]})
            .to_string(),
            422,
            "address",
        ),
        (
            "POST",
            "/services".into(),
            good(&WEB.to_string()),
            409,
            "web",
        ),
        ("DELETE", "/services/web".into(), String::new(), 409, "web"),
        (
            "DELETE",
            "/services/nope".into(),
            String::new(),
            404,
            "nope",
        ),
    ];
    for (method, path, body, want, mention) in cases {
        let body = (!body.is_empty()).then_some(body.as_str());
        let (status, text) = env.api(method, &path, body);
        assert_eq!(status, want, "{method} {path} {body:?}: {text}");
        assert!(
            text.contains(mention),
            "{method} {path}: reply does not name {mention:?}: {text}"
        );
    }
    assert_eq!(env.api_json("GET", "/services", None), before);
    assert_eq!(
        std::fs::read(&state).ok(),
        state_before,
        "state file changed"
    );
    // The data path still serves the declared service.
    env.curl(&[
        "-s",
        "--fail",
        "--max-time",
        "10",
        &format!("http://{WEB}/?after=1"),
    ])
    .expect("web still works");
}
