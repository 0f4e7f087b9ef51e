//! `sixgate-bench`: the benchmark suite behind `bench/run`. Builds one
//! topology per setup (plain IPv6 routing, sixgate, Tayga), measures TCP
//! throughput with BIG TCP off and on, small-packet rate, the tc program's
//! cost under real traffic and test_run micro-benchmarks, and writes a
//! markdown report and raw JSON into `bench/results/`.
//!
//! Not a test: nothing here runs under `cargo test` except unit tests of
//! the pure helpers.

mod cost;
mod frames;
mod iperf;
mod micro;
mod pps;
mod report;
mod stats;
mod sys;
mod topo;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use crate::cost::{prog_stats, tcx_ingress_prog_id, ParseOnly};
use crate::iperf::TcpLoad;
use crate::pps::Generator;
use crate::report::{CostRow, Params, Results, TcpSample, UdpSample};
use crate::sys::{dev_counters, DevCounters, Machine};
use crate::topo::{Dir, Kind, Topo};

#[derive(Parser)]
#[command(about = "sixgate's benchmark suite (run it through bench/run)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs the whole suite and writes bench/results/DATE.{md,json} (and .png).
    Run(RunArgs),
    /// Removes namespaces, pins and temp files left by runs that died.
    Cleanup,
    /// Only the test_run micro-benchmarks (stateless, NAT46 tracked flow,
    /// NAT46 new flow, pass-through), printed as a Markdown table.
    Micro {
        /// test_run runs per path and program.
        #[arg(long, default_value_t = 100_000)]
        runs: usize,
    },
    /// The exception path's capacity: 64-byte IPv4 UDP with options (which
    /// the programs hand to the daemon) against the same without options
    /// (the fast path), one after the other in one run, as a Markdown table.
    Exception {
        /// The sixgate binary.
        #[arg(long, default_value = "target/release/sixgate")]
        sixgate: PathBuf,
        /// Measured seconds per path.
        #[arg(long, default_value_t = 3.0)]
        secs: f64,
    },
    /// Debugging aid: builds one setup, floods it with 64-byte UDP both
    /// ways and prints every counter of its three namespaces.
    Probe {
        /// ceiling, ceiling1508, sixgate or tayga.
        kind: String,
        /// The sixgate binary.
        #[arg(long, default_value = "target/release/sixgate")]
        sixgate: PathBuf,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// The sixgate binary to benchmark.
    #[arg(long, default_value = "target/release/sixgate")]
    sixgate: PathBuf,
    /// Where the results go.
    #[arg(long, default_value = "bench/results")]
    out_dir: PathBuf,
    /// Base name of the result files (default: today's date, UTC).
    #[arg(long)]
    name: Option<String>,
    /// Repetitions of every measurement.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Measured seconds per iperf3 run (-t).
    #[arg(long, default_value_t = 3)]
    tcp_secs: u32,
    /// Seconds of slow start left out of each iperf3 run (-O).
    #[arg(long, default_value_t = 1)]
    tcp_omit: u32,
    /// Measured seconds per packet-rate run.
    #[arg(long, default_value_t = 2.0)]
    udp_secs: f64,
    /// test_run runs per path and program.
    #[arg(long, default_value_t = 100_000)]
    micro_runs: usize,
    /// The command line to record in the report.
    #[arg(long, default_value = "bench/run")]
    command: String,
    /// Python interpreter for the chart (with matplotlib).
    #[arg(long)]
    python: Option<PathBuf>,
    /// The chart script.
    #[arg(long, default_value = "bench/plot.py")]
    plot_script: PathBuf,
}

/// Frame length of the packet-rate runs.
const UDP_FRAME_LEN: usize = pps::FRAME_LEN;
/// Generator warm-up before the packet-rate window.
const UDP_WARMUP: Duration = Duration::from_millis(500);
/// What does not exist yet, listed in the tables as such.
const NOT_BUILT: &str = "(c) sixgate stateful NAT46";

fn main() {
    sys::install_signal_handlers();
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::Run(args) => run(args),
        Cmd::Cleanup => cleanup(),
        Cmd::Micro { runs } => {
            micro::run(runs).map(|r| print!("{}", report::micro_table(runs, &r)))
        }
        Cmd::Probe { kind, sixgate } => probe(&kind, &sixgate),
        Cmd::Exception { sixgate, secs } => exception(&sixgate, secs),
    };
    if let Err(e) = res {
        eprintln!("sixgate-bench: {e:#}");
        std::process::exit(if sys::stopping() { 130 } else { 1 });
    }
}

fn cleanup() -> Result<()> {
    let n = sixgate_testnet::cleanup_stale()?;
    let mut removed = n;
    for dir in [PathBuf::from("/sys/fs/bpf"), std::env::temp_dir()] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = bench_owner_pid(&name) else {
                continue;
            };
            if pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
                match std::fs::remove_dir_all(e.path()) {
                    Ok(()) => removed += 1,
                    Err(err) => eprintln!("sixgate-bench: remove {}: {err}", e.path().display()),
                }
            }
        }
    }
    if removed > 0 {
        eprintln!("sixgate-bench: removed {removed} leftover(s) of earlier runs");
    }
    Ok(())
}

fn probe(kind: &str, sixgate: &Path) -> Result<()> {
    let kind = match kind {
        "ceiling" => Kind::Ceiling,
        "ceiling1508" => Kind::Ceiling1508,
        "sixgate" => Kind::Sixgate,
        "tayga" => Kind::Tayga,
        other => bail!("unknown setup {other}"),
    };
    let t = Topo::start(kind, &std::fs::canonicalize(sixgate)?)?;
    let mut gen = Generator::load()?;
    for dir in Dir::BOTH {
        let frame = t.udp_frame(dir, UDP_FRAME_LEN)?;
        let r = pps::flood(
            &mut gen,
            &t,
            dir,
            &frame,
            UDP_WARMUP,
            Duration::from_secs(1),
        )?;
        println!("== {} {}: {r:?}", kind.label(), dir.label(kind));
        for ns in [t.client(), t.gw(), t.server()] {
            println!("-- {}", ns.name());
            print!("{}", ns.run("cat", ["/proc/net/dev"])?);
            print!("{}", ns.run("nstat", ["-a", "-s"])?);
        }
        if let Some(g) = t.gateway() {
            print!("{}", g.stats()?);
        }
    }
    Ok(())
}

/// `sixgate-bench exception`: see [`Cmd::Exception`]. The rate limit is
/// raised out of the way, so the daemon's own speed shows.
fn exception(sixgate: &Path, secs: f64) -> Result<()> {
    let t = Topo::start_with(
        Kind::Sixgate,
        &std::fs::canonicalize(sixgate)?,
        "[exception]\nrate = 100000000\nburst = 1000000\n",
    )?;
    let mut gen = Generator::load()?;
    let window = Duration::from_secs_f64(secs);
    let plain = t.udp_frame(Dir::Fwd, UDP_FRAME_LEN)?;
    // NOP, NOP, NOP, End of Options: ignored by the translation (RFC 7915 4.1).
    let short = t.udp_frame(Dir::Fwd, UDP_FRAME_LEN - 4)?;
    let options = frames::with_ipv4_options(&short, &[1, 1, 1, 0]);
    let gateway = t.gateway().context("the sixgate setup has a gateway")?;
    let counters =
        || -> Result<serde_json::Value> { Ok(serde_json::from_str(&gateway.stats_json()?)?) };
    let tap_dropped = || -> Result<u64> {
        let out = t
            .gw()
            .run("cat", ["/sys/class/net/sixgate-exc/statistics/tx_dropped"])?;
        Ok(out.trim().parse()?)
    };
    let fast = pps::flood(&mut gen, &t, Dir::Fwd, &plain, UDP_WARMUP, window)?;
    let (c0, d0) = (counters()?, tap_dropped()?);
    let slow = pps::flood(&mut gen, &t, Dir::Fwd, &options, UDP_WARMUP, window)?;
    let (c1, d1) = (counters()?, tap_dropped()?);
    let delta = |table: &str, name: &str| {
        let v = |c: &serde_json::Value| c[table][name]["packets"].as_u64().unwrap_or(0);
        v(&c1) - v(&c0)
    };
    println!("| path | offered Mpps | delivered Mpps | delivered, ratio to the fast path |");
    println!("|---|---|---|---|");
    println!(
        "| fast path (64-byte IPv4 UDP) | {:.3} | {:.3} | 1 |",
        fast.offered_mpps, fast.delivered_mpps
    );
    println!(
        "| exception path (the same with IPv4 options) | {:.3} | {:.3} | {:.4} |",
        slow.offered_mpps,
        slow.delivered_mpps,
        slow.delivered_mpps / fast.delivered_mpps
    );
    println!();
    println!(
        "During the exception-path run: exception_ipv4_options {}, exc_forward {}, \
         exc_send_failed {}, drop_exception_rate_limited {}, dropped at the TAP queue {}.",
        delta("counters", "exception_ipv4_options"),
        delta("exception", "exc_forward"),
        delta("exception", "exc_send_failed"),
        delta("counters", "drop_exception_rate_limited"),
        d1 - d0
    );
    Ok(())
}

/// The pid in `sixgate-bench-<pid>` or `sixgate-bench-<pid>-<what>`.
fn bench_owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("sixgate-bench-")?;
    let pid = rest.split('-').next()?;
    pid.parse().ok()
}

/// Which (setup, direction) pairs run with BIG TCP off / on.
fn tcp_cases(big: bool) -> Vec<(Kind, Dir)> {
    let mut v = Vec::new();
    if big {
        // At MTU 1500 forwarded BIG TCP collapses (one direction shows it);
        // (a′) is the usable ceiling.
        v.push((Kind::Ceiling, Dir::Fwd));
        v.push((Kind::Ceiling1508, Dir::Fwd));
        v.push((Kind::Ceiling1508, Dir::Rev));
    } else {
        v.push((Kind::Ceiling, Dir::Fwd));
        v.push((Kind::Ceiling, Dir::Rev));
    }
    for kind in [Kind::Sixgate, Kind::Tayga] {
        for dir in Dir::BOTH {
            v.push((kind, dir));
        }
    }
    v
}

/// Packet-rate cases.
fn udp_cases() -> Vec<(Kind, Dir)> {
    let mut v = Vec::new();
    for kind in [Kind::Ceiling, Kind::Sixgate, Kind::Tayga] {
        for dir in Dir::BOTH {
            v.push((kind, dir));
        }
    }
    v
}

/// `v` rotated left by `by` (so each repetition starts with another setup).
fn rotated<T: Clone>(v: &[T], by: usize) -> Vec<T> {
    if v.is_empty() {
        return Vec::new();
    }
    let k = by % v.len();
    v[k..].iter().chain(&v[..k]).cloned().collect()
}

/// The run in progress.
struct Bench {
    args: RunArgs,
    topos: Vec<Topo>,
    commands: BTreeMap<String, String>,
    drops: BTreeMap<String, BTreeMap<String, u64>>,
    big_tcp_links: BTreeMap<String, Vec<topo::BigTcpLink>>,
}

fn run(args: RunArgs) -> Result<()> {
    sixgate_testnet::require_root()?;
    sixgate_testnet::ensure_bpffs()?;
    let sixgate = std::fs::canonicalize(&args.sixgate)
        .with_context(|| format!("sixgate binary {}", args.sixgate.display()))?;
    let t0 = Instant::now();
    let (date, started) = report::now_utc();
    let mut machine = Machine::probe();
    eprintln!(
        "sixgate-bench: {} CPUs, kernel {}, {}; load average {}",
        machine.nproc, machine.kernel, machine.cpu_model, machine.loadavg_start
    );

    let mut topos = Vec::new();
    for kind in Kind::ALL {
        eprintln!("sixgate-bench: building {}", kind.label());
        topos.push(Topo::start(kind, &sixgate).with_context(|| kind.label())?);
    }
    let mut commands = BTreeMap::new();
    for t in &topos {
        for (label, line) in t.commands() {
            commands.insert(label.clone(), line.clone());
        }
    }
    let sixgate_config = topos
        .iter()
        .find_map(Topo::gateway_config_text)
        .unwrap_or_default();
    let mut b = Bench {
        args,
        topos,
        commands,
        drops: BTreeMap::new(),
        big_tcp_links: BTreeMap::new(),
    };
    let mut errors = Vec::new();

    let tcp = b.tcp_phase()?;
    let udp = match b.udp_phase() {
        Ok(v) => v,
        Err(e) => {
            sys::check_stop()?;
            errors.push(format!("packet rate: {e:#}"));
            Vec::new()
        }
    };
    let cost = match b.cost_phase() {
        Ok(v) => v,
        Err(e) => {
            sys::check_stop()?;
            errors.push(format!("program cost: {e:#}"));
            Vec::new()
        }
    };
    // The live topologies are not needed any more.
    b.topos.clear();
    eprintln!("sixgate-bench: test_run micro-benchmarks");
    let micro = match micro::run(b.args.micro_runs) {
        Ok(v) => v,
        Err(e) => {
            sys::check_stop()?;
            errors.push(format!("micro-benchmarks: {e:#}"));
            Vec::new()
        }
    };

    machine.loadavg_end = sys::loadavg();
    let tcp_rows = report::tcp_rows(&tcp);
    let udp_rows = report::udp_rows(&udp);
    let results = Results {
        date: date.clone(),
        started,
        wall_secs: t0.elapsed().as_secs_f64(),
        machine,
        command: b.args.command.clone(),
        params: Params {
            reps: b.args.reps,
            tcp_secs: b.args.tcp_secs,
            tcp_omit: b.args.tcp_omit,
            udp_secs: b.args.udp_secs,
            udp_frame_len: UDP_FRAME_LEN,
            micro_runs: b.args.micro_runs,
        },
        commands: b
            .commands
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        git: git_state(),
        sixgate_config,
        big_tcp_links: b.big_tcp_links.clone(),
        tcp,
        udp,
        cost,
        micro,
        drops: b.drops.clone(),
        not_built: vec![NOT_BUILT.to_string()],
        errors,
        tcp_rows,
        udp_rows,
    };
    b.write(&results, b.args.name.clone().unwrap_or(date))
}

impl Bench {
    fn topo(&self, kind: Kind) -> &Topo {
        self.topos
            .iter()
            .find(|t| t.kind == kind)
            .expect("every kind is built")
    }

    fn topo_mut(&mut self, kind: Kind) -> &mut Topo {
        self.topos
            .iter_mut()
            .find(|t| t.kind == kind)
            .expect("every kind is built")
    }

    fn set_big_tcp(&mut self, kind: Kind, on: bool) -> Result<()> {
        let t = self.topo_mut(kind);
        if t.big_tcp() == on {
            return Ok(());
        }
        let links = t.set_big_tcp(on)?;
        if on && !self.big_tcp_links.contains_key(kind.label()) {
            for l in &links {
                for w in &l.warnings {
                    eprintln!("sixgate-bench: {}: {w}", kind.label());
                }
            }
            self.big_tcp_links.insert(kind.label().to_string(), links);
        }
        Ok(())
    }

    /// Interface counters of every link, plus sixgate's counters.
    fn snapshot(&self, kind: Kind) -> Result<Snapshot> {
        let t = self.topo(kind);
        let mut devs = Vec::new();
        for (role, ns, dev) in [
            ("client", t.client(), "eth0"),
            ("gw", t.gw(), "gw-v4"),
            ("gw", t.gw(), "gw-v6"),
            ("server", t.server(), "eth0"),
        ] {
            devs.push((format!("{role} {dev}"), dev_counters(ns, dev)?));
        }
        if kind == Kind::Tayga {
            devs.push((
                "gw nat64 (Tayga's TUN)".into(),
                dev_counters(t.gw(), "nat64")?,
            ));
        }
        let sixgate = match t.gateway() {
            Some(g) => sixgate_drops(&g.stats_json()?)?,
            None => BTreeMap::new(),
        };
        Ok(Snapshot { devs, sixgate })
    }

    fn note_drops(&mut self, case: String, before: &Snapshot, after: &Snapshot) {
        let entry = self.drops.entry(case).or_default();
        for ((name, a), (_, b)) in after.devs.iter().zip(&before.devs) {
            let d = a.since(b);
            if d.rx_dropped > 0 {
                *entry.entry(format!("{name} rx_dropped")).or_default() += d.rx_dropped;
            }
            if d.tx_dropped > 0 {
                *entry.entry(format!("{name} tx_dropped")).or_default() += d.tx_dropped;
            }
        }
        for (name, n) in &after.sixgate {
            let d = n.saturating_sub(before.sixgate.get(name).copied().unwrap_or(0));
            if d > 0 {
                *entry.entry(format!("sixgate: {name}")).or_default() += d;
            }
        }
        self.drops.retain(|_, v| !v.is_empty());
    }

    fn tcp_phase(&mut self) -> Result<Vec<TcpSample>> {
        let reps = self.args.reps;
        let mut out = Vec::new();
        for rep in 0..reps {
            for streams in [1u32, 4] {
                for big in [false, true] {
                    let cases = rotated(&tcp_cases(big), rep);
                    for (kind, dir) in cases {
                        sys::check_stop()?;
                        let s = self.tcp_once(kind, dir, big, streams, rep)?;
                        eprintln!(
                            "[rep {}/{reps}] TCP {streams} stream(s) BIG TCP {:3} {:<40} {:<18} {}",
                            rep + 1,
                            if big { "on" } else { "off" },
                            kind.label(),
                            dir.label(kind),
                            match (&s.gbps, &s.error) {
                                (Some(g), _) => format!(
                                    "{g:7.2} Gbit/s  retransmits {}",
                                    s.retransmits.map_or("?".into(), |r| r.to_string())
                                ),
                                (None, Some(e)) =>
                                    format!("FAILED {}", e.lines().next().unwrap_or("")),
                                _ => "?".into(),
                            }
                        );
                        out.push(s);
                    }
                }
            }
        }
        Ok(out)
    }

    fn tcp_once(
        &mut self,
        kind: Kind,
        dir: Dir,
        big: bool,
        streams: u32,
        rep: usize,
    ) -> Result<TcpSample> {
        self.set_big_tcp(kind, big)?;
        let load = TcpLoad {
            streams,
            reverse: dir == Dir::Rev,
            secs: self.args.tcp_secs,
            omit: self.args.tcp_omit,
        };
        let before = self.snapshot(kind)?;
        let t = self.topo(kind);
        let res = iperf::run_client(t.client(), t.dial_addr(), &load);
        sys::check_stop()?;
        let after = self.snapshot(kind)?;
        let case = format!(
            "{} {} BIG TCP {} TCP",
            kind.label(),
            dir.label(kind),
            if big { "on" } else { "off" }
        );
        self.note_drops(case, &before, &after);
        let mut s = TcpSample {
            kind,
            dir,
            big_tcp: big,
            streams,
            rep,
            gbps: None,
            retransmits: None,
            error: None,
        };
        match res {
            Ok((r, line)) => {
                self.commands
                    .entry(format!(
                        "{}: iperf3 client, {}, {streams} stream(s)",
                        kind.label(),
                        dir.label(kind)
                    ))
                    .or_insert(line);
                s.gbps = Some(r.gbps);
                s.retransmits = r.retransmits;
            }
            Err(e) => {
                s.error = Some(format!("{e:#}"));
                self.topo_mut(kind).restart_iperf()?;
            }
        }
        Ok(s)
    }

    fn udp_phase(&mut self) -> Result<Vec<UdpSample>> {
        for kind in Kind::ALL {
            self.set_big_tcp(kind, false)?;
        }
        let mut gen = Generator::load()?;
        self.commands.insert(
            "packet rate".into(),
            format!(
                "BPF_PROG_TEST_RUN(sixgate_bench_gen, XDP live frames, batch 64, \
             repeat 20000 per call, ctx.ingress_ifindex = gw-v4 or gw-v6) on a thread in the \
             gw namespace pinned to CPU {}; {UDP_FRAME_LEN}-byte UDP frames to port {}",
                pps::GEN_CPU,
                topo::SINK_PORT
            ),
        );
        let reps = self.args.reps;
        let secs = Duration::from_secs_f64(self.args.udp_secs);
        let mut out = Vec::new();
        for rep in 0..reps {
            for (kind, dir) in rotated(&udp_cases(), rep) {
                sys::check_stop()?;
                let before = self.snapshot(kind)?;
                let t = self.topo(kind);
                let frame = t.udp_frame(dir, UDP_FRAME_LEN)?;
                let res = pps::flood(&mut gen, t, dir, &frame, UDP_WARMUP, secs);
                sys::check_stop()?;
                let after = self.snapshot(kind)?;
                self.note_drops(
                    format!("{} {} UDP flood", kind.label(), dir.label(kind)),
                    &before,
                    &after,
                );
                let mut s = UdpSample {
                    kind,
                    dir,
                    rep,
                    offered_mpps: None,
                    delivered_mpps: None,
                    csum_errors: 0,
                    error: None,
                };
                match res {
                    Ok(r) => {
                        s.offered_mpps = Some(r.offered_mpps);
                        s.delivered_mpps = Some(r.delivered_mpps);
                        s.csum_errors = r.csum_errors;
                    }
                    Err(e) => s.error = Some(format!("{e:#}")),
                }
                eprintln!(
                    "[rep {}/{reps}] UDP {:<40} {:<18} {}",
                    rep + 1,
                    kind.label(),
                    dir.label(kind),
                    match (&s.delivered_mpps, &s.error) {
                        (Some(d), _) => format!(
                            "{d:.3} Mpps delivered of {:.3} offered",
                            s.offered_mpps.unwrap_or(0.0)
                        ),
                        (None, Some(e)) => format!("FAILED {e}"),
                        _ => "?".into(),
                    }
                );
                out.push(s);
            }
        }
        Ok(out)
    }

    fn cost_phase(&mut self) -> Result<Vec<CostRow>> {
        eprintln!("sixgate-bench: program cost under real traffic (bpf_stats on)");
        let _stats = aya::sys::enable_stats(aya::sys::Stats::RunTime)
            .context("BPF_ENABLE_STATS (kernel.bpf_stats_enabled)")?;
        let kind = Kind::Sixgate;
        let sg_id = tcx_ingress_prog_id(self.topo(kind).gw(), "gw-v4")?;
        let mut base = ParseOnly::load()?;
        {
            let t = self.topo(kind);
            base.attach(t.client(), "eth0")?;
            base.attach(t.server(), "eth0")?;
        }
        let base_id = base.id()?;
        let mut gen = Generator::load()?;
        let mut rows = Vec::new();

        for dir in Dir::BOTH {
            sys::check_stop()?;
            self.set_big_tcp(kind, false)?;
            let t = self.topo(kind);
            let frame = t.udp_frame(dir, UDP_FRAME_LEN)?;
            let (s0, p0) = (prog_stats(sg_id)?, prog_stats(base_id)?);
            let r = pps::flood(
                &mut gen,
                t,
                dir,
                &frame,
                Duration::ZERO,
                Duration::from_secs_f64(self.args.udp_secs),
            )?;
            let (s1, p1) = (prog_stats(sg_id)?, prog_stats(base_id)?);
            let row = CostRow {
                load: format!("64-byte UDP flood {}", dir.label(kind)),
                sixgate: s1.since(&s0),
                parse_only: p1.since(&p0),
                wire_packets: None,
                rate: Some(r.delivered_mpps),
                unit: "Mpps".into(),
            };
            print_cost(&row);
            rows.push(row);
        }
        for dir in Dir::BOTH {
            for big in [false, true] {
                sys::check_stop()?;
                self.set_big_tcp(kind, big)?;
                let t = self.topo(kind);
                let load = TcpLoad {
                    streams: 1,
                    reverse: dir == Dir::Rev,
                    secs: self.args.tcp_secs,
                    omit: 0,
                };
                let segs0 = sys::tcp_out_segs(t.client())? + sys::tcp_out_segs(t.server())?;
                let (s0, p0) = (prog_stats(sg_id)?, prog_stats(base_id)?);
                let (r, _) = iperf::run_client(t.client(), t.dial_addr(), &load)?;
                let (s1, p1) = (prog_stats(sg_id)?, prog_stats(base_id)?);
                let segs1 = sys::tcp_out_segs(t.client())? + sys::tcp_out_segs(t.server())?;
                let row = CostRow {
                    load: format!(
                        "TCP {} 1 stream, BIG TCP {}",
                        dir.label(kind),
                        if big { "on" } else { "off" }
                    ),
                    sixgate: s1.since(&s0),
                    parse_only: p1.since(&p0),
                    wire_packets: Some(segs1.saturating_sub(segs0)),
                    rate: Some(r.gbps),
                    unit: "Gbit/s".into(),
                };
                print_cost(&row);
                rows.push(row);
            }
        }
        self.set_big_tcp(kind, false)?;
        Ok(rows)
    }

    fn write(&self, r: &Results, name: String) -> Result<()> {
        let dir = &self.args.out_dir;
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let json = dir.join(format!("{name}.json"));
        let md = dir.join(format!("{name}.md"));
        let png_name = format!("{name}.png");
        let png = dir.join(&png_name);
        std::fs::write(&json, serde_json::to_string_pretty(r)?)
            .with_context(|| format!("write {}", json.display()))?;
        std::fs::write(&md, report::markdown(r, &png_name))
            .with_context(|| format!("write {}", md.display()))?;
        eprintln!(
            "sixgate-bench: wrote {} and {}",
            md.display(),
            json.display()
        );
        if let Some(py) = &self.args.python {
            let out = std::process::Command::new(py)
                .arg(&self.args.plot_script)
                .arg(&json)
                .arg(&png)
                .output()
                .context("run the chart script")?;
            if !out.status.success() {
                bail!(
                    "chart script failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            eprintln!("sixgate-bench: wrote {}", png.display());
        }
        print!("{}", report::markdown(r, &png_name));
        Ok(())
    }
}

fn print_cost(c: &CostRow) {
    eprintln!(
        "cost: {:<36} sixgate {:>6} ns/run, parse-only {:>6} ns/run, {} runs{}",
        c.load,
        c.ns_per_run().map_or("—".into(), |v| format!("{v:.0}")),
        c.parse_only
            .ns_per_run()
            .map_or("—".into(), |v| format!("{v:.0}")),
        c.sixgate.run_cnt,
        c.ns_per_wire_packet()
            .map_or(String::new(), |v| format!(", {v:.0} ns per wire packet"))
    );
}

/// `git rev-parse --short HEAD`, plus how many files differ from it.
fn git_state() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let Some(head) = run(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown".into();
    };
    let dirty =
        run(&["status", "--porcelain", "--untracked-files=no"]).map_or(0, |s| s.lines().count());
    if dirty == 0 {
        head.trim().to_string()
    } else {
        format!("{} + uncommitted changes in {dirty} file(s)", head.trim())
    }
}

/// Interface and sixgate counters at one moment.
struct Snapshot {
    devs: Vec<(String, DevCounters)>,
    sixgate: BTreeMap<String, u64>,
}

/// The `drop_*` packet counts from `sixgate stats --json`.
fn sixgate_drops(json: &str) -> Result<BTreeMap<String, u64>> {
    let v: serde_json::Value = serde_json::from_str(json).context("sixgate stats --json")?;
    let counters = v
        .get("counters")
        .and_then(|c| c.as_object())
        .context("sixgate stats --json: no `counters`")?;
    Ok(counters
        .iter()
        .filter(|(k, _)| k.starts_with("drop_"))
        .filter_map(|(k, c)| Some((k.clone(), c.get("packets")?.as_u64()?)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_starts_each_rep_elsewhere() {
        let v = [1, 2, 3];
        assert_eq!(rotated(&v, 0), vec![1, 2, 3]);
        assert_eq!(rotated(&v, 1), vec![2, 3, 1]);
        assert_eq!(rotated(&v, 4), vec![2, 3, 1]);
        assert!(rotated::<u8>(&[], 1).is_empty());
    }

    #[test]
    fn cases_cover_every_setup() {
        let off = tcp_cases(false);
        let on = tcp_cases(true);
        assert!(
            off.contains(&(Kind::Ceiling, Dir::Rev))
                && !off.iter().any(|c| c.0 == Kind::Ceiling1508)
        );
        assert!(
            on.contains(&(Kind::Ceiling1508, Dir::Rev)) && on.contains(&(Kind::Ceiling, Dir::Fwd))
        );
        for kind in [Kind::Sixgate, Kind::Tayga] {
            for dir in Dir::BOTH {
                assert!(off.contains(&(kind, dir)) && on.contains(&(kind, dir)));
                assert!(udp_cases().contains(&(kind, dir)));
            }
        }
    }

    #[test]
    fn drops_are_read_from_stats_json() {
        let j = r#"{"counters":{"xlat46_redirect":{"packets":5,"bytes":9},"drop_frag_needed":{"packets":3,"bytes":4500}}}"#;
        let d = sixgate_drops(j).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d["drop_frag_needed"], 3);
    }

    #[test]
    fn bench_pins_name_their_owner() {
        assert_eq!(bench_owner_pid("sixgate-bench-123"), Some(123));
        assert_eq!(bench_owner_pid("sixgate-bench-123-tayga"), Some(123));
        assert_eq!(bench_owner_pid("sixgate-test-123x0"), None);
        assert_eq!(bench_owner_pid("sixgate-bench-x"), None);
    }
}
