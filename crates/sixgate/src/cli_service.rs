//! `sixgate service`, `sixgate backend` and `sixgate ct`: the API's
//! command-line client, over the unix socket.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use axum::http::Method;
use clap::{Args, Subcommand, ValueEnum};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::api::client::{segment, unix_request, Reply};
use crate::api::{ErrorBody, SlotCount};
use crate::dataplane::{CtEntry, ServiceStats};
use crate::store::{Origin, StoredService};
use crate::DEFAULT_API_SOCKET;

/// Options every API command takes.
#[derive(Args, Debug)]
pub struct ApiArgs {
    /// The daemon's API socket (`[api] socket`).
    #[arg(long, global = true, default_value = DEFAULT_API_SOCKET)]
    socket: PathBuf,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

/// `sixgate service ...`.
#[derive(Args, Debug)]
pub struct ServiceArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: ServiceCommand,
}

#[derive(Subcommand, Debug)]
enum ServiceCommand {
    /// Create a service, from a JSON file (the API's format) or from flags.
    Add(AddArgs),
    /// List every service.
    List,
    /// Show one service, with its backends' Maglev slots.
    Show {
        /// The service's name.
        name: String,
    },
    /// Delete a service made through the API.
    Delete {
        /// The service's name.
        name: String,
    },
    /// Show a service's counters.
    Stats {
        /// The service's name.
        name: String,
    },
}

#[derive(Args, Debug)]
struct AddArgs {
    /// The service as JSON, as the API takes it (`-` reads standard input).
    #[arg(long, short, conflicts_with_all = ["name", "vip", "port", "protocol", "source_mode", "backend", "source_range"])]
    file: Option<PathBuf>,
    /// Replace the service of this name instead of creating one.
    #[arg(long)]
    replace: bool,
    /// Service name.
    #[arg(long, required_unless_present = "file")]
    name: Option<String>,
    /// IPv4 address clients connect to.
    #[arg(long, required_unless_present = "file")]
    vip: Option<String>,
    /// Port clients connect to.
    #[arg(long, required_unless_present = "file")]
    port: Option<u16>,
    /// Transport protocol.
    #[arg(long, value_enum, default_value_t = ProtocolArg::Tcp)]
    protocol: ProtocolArg,
    /// Source address backends see.
    #[arg(long, value_enum, default_value_t = SourceModeArg::Gateway)]
    source_mode: SourceModeArg,
    /// A backend, `[IPV6]:PORT[,weight=N][,cluster=NAME]`; repeat for more.
    #[arg(long, value_parser = parse_backend)]
    backend: Vec<Value>,
    /// An IPv4 prefix of allowed clients; repeat for more (none: everyone).
    #[arg(long)]
    source_range: Vec<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ProtocolArg {
    Tcp,
    Udp,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SourceModeArg {
    Gateway,
    Preserve,
}

/// `sixgate backend ...`.
#[derive(Args, Debug)]
pub struct BackendArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: BackendCommand,
}

#[derive(Subcommand, Debug)]
enum BackendCommand {
    /// Set a backend's weight (0 drains it: no new flows).
    Weight {
        /// The service's name.
        service: String,
        /// The backend, `[IPV6]:PORT`.
        backend: String,
        /// The new weight, 0 to 65535.
        weight: u32,
    },
}

/// `sixgate ct ...`.
#[derive(Args, Debug)]
pub struct CtArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: CtCommand,
}

#[derive(Subcommand, Debug)]
enum CtCommand {
    /// List connection-tracking entries.
    List {
        /// Only this service's flows.
        #[arg(long)]
        service: Option<String>,
        /// At most this many entries (1 to 100000).
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
}

/// `[IPV6]:PORT[,weight=N][,cluster=NAME]` as the API's backend JSON. The
/// address stays text: the API checks it and names it if it is wrong.
fn parse_backend(text: &str) -> Result<Value, String> {
    let mut parts = text.split(',');
    let endpoint = parts.next().unwrap_or_default();
    let (address, port) = endpoint
        .strip_prefix('[')
        .and_then(|rest| rest.split_once("]:"))
        .ok_or_else(|| format!("{endpoint:?} is not [IPV6-ADDRESS]:PORT"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("port {port:?} is not a number from 0 to 65535"))?;
    let mut backend = json!({ "address": address, "port": port });
    for part in parts {
        match part.split_once('=') {
            Some(("weight", w)) => {
                let w: u32 = w
                    .parse()
                    .map_err(|_| format!("weight {w:?} is not a number"))?;
                backend["weight"] = json!(w);
            }
            Some(("cluster", c)) => backend["cluster"] = json!(c),
            _ => {
                return Err(format!(
                    "{part:?}: expected weight=N or cluster=NAME after the address"
                ))
            }
        }
    }
    Ok(backend)
}

/// Runs `sixgate service ...`.
pub fn service(args: ServiceArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.api);
    match args.command {
        ServiceCommand::Add(add) => {
            let body = match &add.file {
                Some(file) => read_service_file(file)?,
                None => service_from_flags(&add),
            };
            let stored: StoredService = if add.replace {
                let name = body["name"]
                    .as_str()
                    .ok_or_else(|| anyhow!("--replace needs the service's \"name\""))?
                    .to_string();
                api.call(Method::PUT, &service_path(&name), Some(body))?
            } else {
                api.call(Method::POST, "/v1/services", Some(body))?
            };
            api.print(&stored, |s| {
                let verb = if add.replace { "replaced" } else { "created" };
                format!("{verb} service {} ({})\n", s.service.name, s.service.key())
            })
        }
        ServiceCommand::List => {
            let list: Vec<StoredService> = api.call(Method::GET, "/v1/services", None)?;
            api.print(&list, |l| format_services(l))
        }
        ServiceCommand::Show { name } => {
            let stored: StoredService = api.call(Method::GET, &service_path(&name), None)?;
            if api.json {
                return api.print(&stored, |_| String::new());
            }
            // The slots come from the data path; show the service without them
            // if it cannot tell.
            let slots = api.call::<Vec<SlotCount>>(
                Method::GET,
                &format!("{}/slots", service_path(&name)),
                None,
            );
            print!("{}", format_service(&stored, slots.as_deref().ok()));
            if let Err(e) = slots {
                println!("(slots unavailable: {e:#})");
            }
            Ok(())
        }
        ServiceCommand::Delete { name } => {
            api.call_empty(Method::DELETE, &service_path(&name))?;
            if !api.json {
                println!("deleted service {name}");
            }
            Ok(())
        }
        ServiceCommand::Stats { name } => {
            let stats: ServiceStats =
                api.call(Method::GET, &format!("{}/stats", service_path(&name)), None)?;
            api.print(&stats, format_stats)
        }
    }
}

/// Runs `sixgate backend ...`.
pub fn backend(args: BackendArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.api);
    match args.command {
        BackendCommand::Weight {
            service,
            backend,
            weight,
        } => {
            let path = format!(
                "{}/backends/{}/weight",
                service_path(&service),
                segment(&backend)
            );
            let stored: StoredService =
                api.call(Method::PUT, &path, Some(json!({ "weight": weight })))?;
            api.print(&stored, |_| {
                format!("{service}: backend {backend} now has weight {weight}\n")
            })
        }
    }
}

/// Runs `sixgate ct ...`.
pub fn ct(args: CtArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.api);
    match args.command {
        CtCommand::List { service, limit } => {
            let mut path = format!("/v1/conntrack?limit={limit}");
            if let Some(service) = service {
                write!(path, "&service={}", segment(&service)).expect("write to a String");
            }
            let entries: Vec<CtEntry> = api.call(Method::GET, &path, None)?;
            api.print(&entries, |e| format_conntrack(e))
        }
    }
}

fn service_path(name: &str) -> String {
    format!("/v1/services/{}", segment(name))
}

fn read_service_file(file: &Path) -> anyhow::Result<Value> {
    let text = if file == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
    };
    serde_json::from_str(&text).with_context(|| format!("{}: not JSON", file.display()))
}

fn service_from_flags(add: &AddArgs) -> Value {
    let protocol = match add.protocol {
        ProtocolArg::Tcp => "tcp",
        ProtocolArg::Udp => "udp",
    };
    let source_mode = match add.source_mode {
        SourceModeArg::Gateway => "gateway",
        SourceModeArg::Preserve => "preserve",
    };
    json!({
        "name": add.name,
        "vip": add.vip,
        "port": add.port,
        "protocol": protocol,
        "source_mode": source_mode,
        "source_ranges": add.source_range,
        "backends": add.backend,
    })
}

/// The API on a unix socket, one blocking call at a time.
struct Api<'a> {
    socket: &'a Path,
    json: bool,
}

impl<'a> Api<'a> {
    fn new(args: &'a ApiArgs) -> Self {
        Api {
            socket: &args.socket,
            json: args.json,
        }
    }

    fn send(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<Reply> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?;
        let body = body.map(|b| b.to_string().into_bytes());
        let reply = runtime.block_on(unix_request(self.socket, method, path, body))?;
        if reply.status.is_success() {
            Ok(reply)
        } else {
            Err(api_error(&reply))
        }
    }

    /// A call whose answer is JSON of type `T`.
    fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<T> {
        let reply = self.send(method, path, body)?;
        serde_json::from_slice(&reply.body)
            .with_context(|| format!("the API's answer to {path} is not what this sixgate expects"))
    }

    /// A call whose answer has no body.
    fn call_empty(&self, method: Method, path: &str) -> anyhow::Result<()> {
        self.send(method, path, None).map(|_| ())
    }

    /// Prints `value` as JSON with `--json`, else as `text` formats it.
    fn print<T: serde::Serialize>(
        &self,
        value: &T,
        text: impl FnOnce(&T) -> String,
    ) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value)?);
        } else {
            print!("{}", text(value));
        }
        Ok(())
    }
}

/// An error answer as `STATUS REASON: MESSAGE`.
fn api_error(reply: &Reply) -> anyhow::Error {
    let message = match serde_json::from_slice::<ErrorBody>(&reply.body) {
        Ok(body) => body.error,
        Err(_) => String::from_utf8_lossy(&reply.body).trim().to_string(),
    };
    anyhow!("the API answered {}: {message}", reply.status)
}

/// Rows under headers, each column as wide as its widest cell, two spaces
/// apart, without trailing spaces.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            write!(line, "{cell:<w$}").expect("write to a String");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `sixgate service list`.
pub fn format_services(services: &[StoredService]) -> String {
    if services.is_empty() {
        return "no services\n".into();
    }
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|s| {
            let svc = &s.service;
            let active = svc.backends.iter().filter(|b| b.weight > 0).count();
            vec![
                svc.name.clone(),
                origin(s.origin).into(),
                svc.vip.to_string(),
                svc.port.to_string(),
                svc.protocol.to_string(),
                svc.source_mode.to_string(),
                format!("{active}/{}", svc.backends.len()),
            ]
        })
        .collect();
    table(
        &[
            "NAME", "ORIGIN", "VIP", "PORT", "PROTO", "SOURCE", "BACKENDS",
        ],
        &rows,
    )
}

fn origin(o: Origin) -> &'static str {
    match o {
        Origin::Config => "config",
        Origin::Api => "api",
    }
}

/// `sixgate service show`: the service, then its backends with their slots.
pub fn format_service(stored: &StoredService, slots: Option<&[SlotCount]>) -> String {
    let svc = &stored.service;
    let ranges = if svc.source_ranges.is_empty() {
        "any".to_string()
    } else {
        let r: Vec<String> = svc.source_ranges.iter().map(|p| p.to_string()).collect();
        r.join(", ")
    };
    let origin = match stored.origin {
        Origin::Config => "config (read-only through the API)",
        Origin::Api => "api",
    };
    let mut out = table(
        &["name:", &svc.name],
        &[
            vec!["origin:".into(), origin.into()],
            vec!["listens on:".into(), svc.key().to_string()],
            vec!["source mode:".into(), svc.source_mode.to_string()],
            vec!["clients:".into(), ranges],
        ],
    );
    if svc.backends.is_empty() {
        out.push_str("no backends: new flows are dropped\n");
        return out;
    }
    let total: u64 = slots.map_or(0, |s| s.iter().map(|c| u64::from(c.slots)).sum());
    let rows: Vec<Vec<String>> = svc
        .backends
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let mut row = vec![
                b.socket_addr().to_string(),
                b.weight.to_string(),
                b.cluster.clone().unwrap_or_else(|| "-".into()),
            ];
            if let Some(slots) = slots {
                let n = slots.get(i).map_or(0, |c| c.slots);
                row.push(n.to_string());
                row.push(if total == 0 {
                    "-".into()
                } else {
                    format!("{:.1}%", 100.0 * f64::from(n) / total as f64)
                });
            }
            row
        })
        .collect();
    let mut headers = vec!["BACKEND", "WEIGHT", "CLUSTER"];
    if slots.is_some() {
        headers.extend(["SLOTS", "SHARE"]);
    }
    out.push('\n');
    out.push_str(&table(&headers, &rows));
    out
}

/// `sixgate service stats`.
pub fn format_stats(stats: &ServiceStats) -> String {
    let mut rows = vec![
        vec![
            "in (to backends)".into(),
            stats.packets_in.to_string(),
            stats.bytes_in.to_string(),
        ],
        vec![
            "out (to clients)".into(),
            stats.packets_out.to_string(),
            stats.bytes_out.to_string(),
        ],
    ];
    for (reason, packets) in &stats.drops {
        rows.push(vec![
            format!("drop {reason}"),
            packets.to_string(),
            "-".into(),
        ]);
    }
    let mut out = table(&["", "PACKETS", "BYTES"], &rows);
    writeln!(out, "new flows: {}", stats.new_flows).expect("write to a String");
    out
}

/// `sixgate ct list`.
pub fn format_conntrack(entries: &[CtEntry]) -> String {
    if entries.is_empty() {
        return "no entries\n".into();
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.protocol.to_string(),
                e.client.to_string(),
                e.vip.to_string(),
                e.backend.to_string(),
                e.source.to_string(),
                e.state.as_str().into(),
                format!("{}s", e.idle_secs),
                format!("{}s", e.expires_in_secs),
            ]
        })
        .collect();
    table(
        &[
            "PROTO", "CLIENT", "VIP", "BACKEND", "SOURCE", "STATE", "IDLE", "EXPIRES",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use std::process::{Command, Output};

    use super::*;
    use crate::api::tests::TestApi;
    use crate::dataplane::CtState;
    use crate::service::tests::web;
    use crate::service::Protocol;

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["A", "LONGER", "C"],
            &[
                vec!["xxxx".into(), "y".into(), "".into()],
                vec!["é".into(), "two words".into(), "z".into()],
            ],
        );
        assert_eq!(
            t,
            "A     LONGER     C\n\
             xxxx  y\n\
             é     two words  z\n"
        );
    }

    #[test]
    fn backend_flag() {
        assert_eq!(
            parse_backend("[2001:db8:a::10]:8080,weight=3,cluster=a").unwrap(),
            json!({"address": "2001:db8:a::10", "port": 8080, "weight": 3, "cluster": "a"})
        );
        assert_eq!(
            parse_backend("[2001:db8::1]:80").unwrap(),
            json!({"address": "2001:db8::1", "port": 80})
        );
        // The address is the API's to judge.
        assert_eq!(
            parse_backend("[192.0.2.1]:80").unwrap()["address"],
            "192.0.2.1"
        );
        for (bad, why) in [
            ("2001:db8::1:80", "is not [IPV6-ADDRESS]:PORT"),
            ("[2001:db8::1]", "is not [IPV6-ADDRESS]:PORT"),
            ("[2001:db8::1]:http", "port \"http\""),
            ("[2001:db8::1]:80,weight=x", "weight \"x\""),
            (
                "[2001:db8::1]:80,zone=a",
                "expected weight=N or cluster=NAME",
            ),
        ] {
            let e = parse_backend(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    fn stored(name: &str, origin: Origin) -> StoredService {
        StoredService {
            origin,
            service: web(name, 80),
        }
    }

    #[test]
    fn services_table() {
        let mut api = stored("web", Origin::Api);
        api.service.backends[0].weight = 0;
        let text = format_services(&[stored("cfg-long-name", Origin::Config), api]);
        assert_eq!(
            text,
            "NAME           ORIGIN  VIP            PORT  PROTO  SOURCE   BACKENDS\n\
             cfg-long-name  config  198.51.100.80  80    tcp    gateway  2/2\n\
             web            api     198.51.100.80  80    tcp    gateway  1/2\n"
        );
        assert_eq!(format_services(&[]), "no services\n");
    }

    #[test]
    fn service_detail() {
        let s = stored("web", Origin::Api);
        let slots = [
            SlotCount {
                address: s.service.backends[0].address,
                port: 8080,
                weight: 1,
                slots: 21846,
            },
            SlotCount {
                address: s.service.backends[1].address,
                port: 8080,
                weight: 2,
                slots: 43691,
            },
        ];
        assert_eq!(
            format_service(&s, Some(&slots)),
            "name:         web\n\
             origin:       api\n\
             listens on:   198.51.100.80:80/tcp\n\
             source mode:  gateway\n\
             clients:      any\n\
             \n\
             BACKEND                WEIGHT  CLUSTER  SLOTS  SHARE\n\
             [2001:db8:a::10]:8080  1       a        21846  33.3%\n\
             [2001:db8:b::10]:8080  2       -        43691  66.7%\n"
        );
        let without = format_service(&s, None);
        assert!(without.ends_with("BACKEND                WEIGHT  CLUSTER\n[2001:db8:a::10]:8080  1       a\n[2001:db8:b::10]:8080  2       -\n"), "{without}");
        let mut empty = stored("web", Origin::Config);
        empty.service.backends.clear();
        empty.service.source_ranges = vec!["192.0.2.0/24".parse().unwrap()];
        let text = format_service(&empty, Some(&[]));
        assert!(
            text.contains("origin:       config (read-only through the API)\n"),
            "{text}"
        );
        assert!(text.contains("clients:      192.0.2.0/24\n"), "{text}");
        assert!(
            text.ends_with("no backends: new flows are dropped\n"),
            "{text}"
        );
    }

    #[test]
    fn stats_and_conntrack_tables() {
        let stats = ServiceStats {
            packets_in: 10,
            bytes_in: 12345,
            packets_out: 9,
            bytes_out: 999,
            new_flows: 2,
            drops: [("source_range".into(), 3)].into(),
        };
        assert_eq!(
            format_stats(&stats),
            "                   PACKETS  BYTES\n\
             in (to backends)   10       12345\n\
             out (to clients)   9        999\n\
             drop source_range  3        -\n\
             new flows: 2\n"
        );
        let e = CtEntry {
            protocol: Protocol::Udp,
            client: "192.0.2.7:5353".parse().unwrap(),
            vip: "198.51.100.53:53".parse().unwrap(),
            backend: "[2001:db8::53]:53".parse().unwrap(),
            source: "[2001:db8:ff::1]:40000".parse().unwrap(),
            state: CtState::Udp,
            idle_secs: 4,
            expires_in_secs: 296,
        };
        assert_eq!(
            format_conntrack(&[e]),
            "PROTO  CLIENT          VIP               BACKEND            SOURCE                  STATE  IDLE  EXPIRES\n\
             udp    192.0.2.7:5353  198.51.100.53:53  [2001:db8::53]:53  [2001:db8:ff::1]:40000  udp    4s    296s\n"
        );
        assert_eq!(format_conntrack(&[]), "no entries\n");
    }

    /// The `sixgate` binary cargo built next to this test.
    fn sixgate_binary() -> PathBuf {
        // Cargo tells integration tests, not unit tests, where it is: one
        // directory up from the unit test executable (target/debug/deps).
        // `cargo nextest run -p sixgate` (or `cargo test -p sixgate`) builds
        // it in the same run, because the package has integration tests;
        // `--bin sixgate` alone does not, and it may then be missing or stale.
        let exe = std::env::current_exe().unwrap();
        let bin = exe.parent().and_then(Path::parent).unwrap().join("sixgate");
        assert!(
            bin.exists(),
            "{} is missing: build it first (cargo build -p sixgate)",
            bin.display()
        );
        bin
    }

    /// Runs the CLI binary against the test API; (exit status, stdout, stderr).
    fn run(api: &TestApi, args: &[&str]) -> (i32, String, String) {
        let socket = api.settings.socket.to_str().unwrap();
        let Output {
            status,
            stdout,
            stderr,
        } = Command::new(sixgate_binary())
            .args(args)
            .args(["--socket", socket])
            .env("RUST_LOG", "off")
            .output()
            .unwrap();
        (
            status.code().unwrap_or(-1),
            String::from_utf8(stdout).unwrap(),
            String::from_utf8(stderr).unwrap(),
        )
    }

    #[tokio::test]
    async fn cli_binary_against_a_served_api() {
        let api = TestApi::start(vec![web("cfg", 443)], false).await;
        // The CLI blocks; run it off the runtime that serves the API.
        let api = std::sync::Arc::new(api);
        let cli = |args: &'static [&'static str]| {
            let api = api.clone();
            tokio::task::spawn_blocking(move || run(&api, args))
        };

        let out = cli(&[
            "service",
            "add",
            "--name",
            "web",
            "--vip",
            "198.51.100.80",
            "--port",
            "80",
            "--protocol",
            "tcp",
            "--source-mode",
            "preserve",
            "--backend",
            "[2001:db8:a::10]:8080,weight=1,cluster=a",
            "--backend",
            "[2001:db8:b::10]:8080,weight=2",
            "--source-range",
            "192.0.2.0/24",
        ])
        .await
        .unwrap();
        assert_eq!(
            out,
            (
                0,
                "created service web (198.51.100.80:80/tcp)\n".into(),
                String::new()
            )
        );
        let programmed = &api.dp.programmed()["web"];
        assert_eq!(programmed.backends[1].weight, 2);
        assert_eq!(programmed.source_ranges[0].to_string(), "192.0.2.0/24");

        // --file takes the API's JSON.
        let file = api.dir.path().join("dns.json");
        std::fs::write(
            &file,
            r#"{"name": "dns", "vip": "198.51.100.53", "port": 53, "protocol": "udp",
                "backends": [{"address": "2001:db8::53", "port": 53}]}"#,
        )
        .unwrap();
        let file: &'static str = Box::leak(file.to_str().unwrap().to_string().into_boxed_str());
        let args: &'static [&'static str] = Box::leak(Box::new(["service", "add", "--file", file]));
        let (code, stdout, _) = cli(args).await.unwrap();
        assert_eq!(
            (code, stdout.as_str()),
            (0, "created service dns (198.51.100.53:53/udp)\n")
        );

        let (code, stdout, _) = cli(&["service", "list"]).await.unwrap();
        assert_eq!(code, 0);
        assert_eq!(
            stdout,
            "NAME  ORIGIN  VIP            PORT  PROTO  SOURCE    BACKENDS\n\
             cfg   config  198.51.100.80  443   tcp    gateway   2/2\n\
             dns   api     198.51.100.53  53    udp    gateway   1/1\n\
             web   api     198.51.100.80  80    tcp    preserve  2/2\n"
        );
        let (code, stdout, _) = cli(&["service", "list", "--json"]).await.unwrap();
        assert_eq!(code, 0);
        let list: Vec<StoredService> = serde_json::from_str(&stdout).unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list[2].service, *programmed);

        let (code, stdout, _) = cli(&["service", "show", "web"]).await.unwrap();
        assert_eq!(code, 0);
        assert!(
            stdout.starts_with("name:         web\norigin:       api\n"),
            "{stdout}"
        );
        assert!(
            stdout.contains("[2001:db8:b::10]:8080  2       -        "),
            "{stdout}"
        );

        let (code, stdout, _) = cli(&["backend", "weight", "web", "[2001:db8:a::10]:8080", "0"])
            .await
            .unwrap();
        assert_eq!(
            (code, stdout.as_str()),
            (0, "web: backend [2001:db8:a::10]:8080 now has weight 0\n")
        );
        assert_eq!(api.dp.programmed()["web"].backends[0].weight, 0);

        api.dp.set_conntrack(vec![CtEntry {
            protocol: Protocol::Tcp,
            client: "192.0.2.7:40000".parse().unwrap(),
            vip: "198.51.100.80:80".parse().unwrap(),
            backend: "[2001:db8:b::10]:8080".parse().unwrap(),
            source: "[2001:db8:46::c000:207]:40000".parse().unwrap(),
            state: CtState::Established,
            idle_secs: 0,
            expires_in_secs: 7440,
        }]);
        let (code, stdout, _) = cli(&["ct", "list", "--service", "web"]).await.unwrap();
        assert_eq!(code, 0);
        assert!(stdout.starts_with("PROTO  CLIENT"), "{stdout}");
        assert!(stdout.contains("established"), "{stdout}");
        let (_, stdout, _) = cli(&["ct", "list", "--service", "dns"]).await.unwrap();
        assert_eq!(stdout, "no entries\n");

        // API errors: the status and the message, exit status 1.
        let (code, stdout, stderr) = cli(&["service", "delete", "cfg"]).await.unwrap();
        assert_eq!((code, stdout.as_str()), (1, ""));
        assert!(
            stderr.starts_with("sixgate: error: the API answered 409 Conflict: service \"cfg\" is declared in the configuration file"),
            "{stderr}"
        );
        let (code, _, stderr) = cli(&[
            "service",
            "add",
            "--name",
            "v6",
            "--vip",
            "2001:db8::80",
            "--port",
            "80",
            "--backend",
            "[2001:db8::1]:80",
        ])
        .await
        .unwrap();
        assert_eq!(code, 1);
        assert!(
            stderr.contains("the API answered 422 Unprocessable Entity: vip = \"2001:db8::80\""),
            "{stderr}"
        );
        let (code, _, stderr) = cli(&["service", "show", "nope"]).await.unwrap();
        assert_eq!(code, 1);
        assert!(
            stderr.contains("404 Not Found: no service named \"nope\""),
            "{stderr}"
        );

        let (code, stdout, _) = cli(&["service", "delete", "web"]).await.unwrap();
        assert_eq!((code, stdout.as_str()), (0, "deleted service web\n"));
        assert!(!api.dp.programmed().contains_key("web"));

        // No daemon: the socket is named.
        let (code, _, stderr) = tokio::task::spawn_blocking(|| {
            let out = Command::new(sixgate_binary())
                .args(["service", "list", "--socket", "/nonexistent/api.sock"])
                .env("RUST_LOG", "off")
                .output()
                .unwrap();
            (
                out.status.code(),
                (),
                String::from_utf8(out.stderr).unwrap(),
            )
        })
        .await
        .unwrap();
        assert_eq!(code, Some(1));
        assert!(
            stderr.contains("cannot connect to the API socket /nonexistent/api.sock"),
            "{stderr}"
        );
    }
}
