//! Everything a run measured, its summaries, and the markdown report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::cost::ProgStats;
use crate::micro::MicroResult;
use crate::stats::{ratio, Summary};
use crate::sys::Machine;
use crate::topo::{BigTcpLink, Dir, Kind, TAYGA_CONF, TAYGA_ROUTES};

/// The per-packet budget of issue 5: 100 Gbit/s of 1538-byte wire frames
/// is 8.13 Mpps, 123 ns per packet.
pub const BUDGET_NS: f64 = 123.0;

/// Run parameters.
#[derive(Debug, Clone, Serialize)]
pub struct Params {
    /// Repetitions of every measurement.
    pub reps: usize,
    /// iperf3 `-t`.
    pub tcp_secs: u32,
    /// iperf3 `-O`.
    pub tcp_omit: u32,
    /// Measured seconds per packet-rate run.
    pub udp_secs: f64,
    /// Frame length of the packet-rate runs.
    pub udp_frame_len: usize,
    /// test_run runs per path and program.
    pub micro_runs: usize,
}

/// One iperf3 run.
#[derive(Debug, Clone, Serialize)]
pub struct TcpSample {
    /// Setup.
    pub kind: Kind,
    /// Direction.
    pub dir: Dir,
    /// BIG TCP on all links.
    pub big_tcp: bool,
    /// Parallel streams.
    pub streams: u32,
    /// Repetition.
    pub rep: usize,
    /// Goodput, Gbit/s (None if the run failed).
    pub gbps: Option<f64>,
    /// Sender retransmits.
    pub retransmits: Option<u64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// One packet-rate run.
#[derive(Debug, Clone, Serialize)]
pub struct UdpSample {
    /// Setup.
    pub kind: Kind,
    /// Direction.
    pub dir: Dir,
    /// Repetition.
    pub rep: usize,
    /// Generator rate, Mpps.
    pub offered_mpps: Option<f64>,
    /// Receiver rate, Mpps.
    pub delivered_mpps: Option<f64>,
    /// Datagrams the receiver dropped for a bad UDP checksum.
    pub csum_errors: u64,
    /// Why it failed.
    pub error: Option<String>,
}

/// The program cost measured during one load.
#[derive(Debug, Clone, Serialize)]
pub struct CostRow {
    /// What traffic ran.
    pub load: String,
    /// sixgate_tc_ingress during it.
    pub sixgate: ProgStats,
    /// The parse-only program on the hosts' veths during it.
    pub parse_only: ProgStats,
    /// Packets on the wire (MSS-sized TCP segments both ways, or UDP
    /// datagrams), when known.
    pub wire_packets: Option<u64>,
    /// Throughput during the load (Gbit/s or Mpps, see `unit`).
    pub rate: Option<f64>,
    /// `Gbit/s` or `Mpps`.
    pub unit: String,
}

impl CostRow {
    /// sixgate's ns per program run.
    pub fn ns_per_run(&self) -> Option<f64> {
        self.sixgate.ns_per_run()
    }

    /// sixgate's total run time per wire packet.
    pub fn ns_per_wire_packet(&self) -> Option<f64> {
        match self.wire_packets {
            Some(n) if n > 0 => Some(self.sixgate.run_time_ns as f64 / n as f64),
            _ => None,
        }
    }
}

/// Summary of a (setup, direction, BIG TCP) row of the TCP table.
#[derive(Debug, Clone, Serialize)]
pub struct TcpRow {
    /// Setup.
    pub kind: Kind,
    /// Direction.
    pub dir: Dir,
    /// BIG TCP.
    pub big_tcp: bool,
    /// Setup label.
    pub setup: String,
    /// Direction label.
    pub direction: String,
    /// 1 stream, Gbit/s.
    pub one: Option<Summary>,
    /// 4 streams, Gbit/s.
    pub four: Option<Summary>,
    /// Median sender retransmits, 1 stream.
    pub retrans_one: Option<f64>,
    /// Median sender retransmits, 4 streams.
    pub retrans_four: Option<f64>,
}

/// Summary of a (setup, direction) row of the packet-rate table.
#[derive(Debug, Clone, Serialize)]
pub struct UdpRow {
    /// Setup.
    pub kind: Kind,
    /// Direction.
    pub dir: Dir,
    /// Setup label.
    pub setup: String,
    /// Direction label.
    pub direction: String,
    /// Offered Mpps.
    pub offered: Option<Summary>,
    /// Delivered Mpps.
    pub delivered: Option<Summary>,
}

/// Everything one `bench/run` measured.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    /// Day of the run (UTC), names the files.
    pub date: String,
    /// Start time, UTC.
    pub started: String,
    /// Wall-clock seconds.
    pub wall_secs: f64,
    /// The machine.
    pub machine: Machine,
    /// The command that produced this.
    pub command: String,
    /// Parameters.
    pub params: Params,
    /// Tool command lines as run (one of each kind), labelled.
    pub commands: Vec<(String, String)>,
    /// The source tree measured (`git rev-parse --short HEAD`, dirty or not).
    pub git: String,
    /// sixgate's config file.
    pub sixgate_config: String,
    /// BIG TCP sizes in force per setup when on.
    pub big_tcp_links: BTreeMap<String, Vec<BigTcpLink>>,
    /// Every iperf3 run.
    pub tcp: Vec<TcpSample>,
    /// Every packet-rate run.
    pub udp: Vec<UdpSample>,
    /// Program cost under real traffic.
    pub cost: Vec<CostRow>,
    /// test_run micro-benchmarks.
    pub micro: Vec<MicroResult>,
    /// Non-zero drop counters per (case, counter), summed over runs.
    pub drops: BTreeMap<String, BTreeMap<String, u64>>,
    /// Setups that do not exist yet.
    pub not_built: Vec<String>,
    /// Phases that failed as a whole.
    pub errors: Vec<String>,
    /// TCP summary, table order.
    pub tcp_rows: Vec<TcpRow>,
    /// Packet-rate summary, table order.
    pub udp_rows: Vec<UdpRow>,
}

/// Order of rows: setup, then direction, then BIG TCP off before on.
fn tcp_key(s: &TcpSample) -> (Kind, Dir, bool) {
    (s.kind, s.dir, s.big_tcp)
}

/// Builds the TCP summary rows from the samples.
pub fn tcp_rows(samples: &[TcpSample]) -> Vec<TcpRow> {
    let mut keys: Vec<(Kind, Dir, bool)> = samples.iter().map(tcp_key).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|(kind, dir, big)| {
            let of = |streams: u32| -> Vec<&TcpSample> {
                samples
                    .iter()
                    .filter(|s| tcp_key(s) == (kind, dir, big) && s.streams == streams)
                    .collect()
            };
            let gbps = |v: &[&TcpSample]| {
                Summary::of(&v.iter().filter_map(|s| s.gbps).collect::<Vec<_>>())
            };
            let retr = |v: &[&TcpSample]| {
                Summary::of(
                    &v.iter()
                        .filter_map(|s| s.retransmits.map(|r| r as f64))
                        .collect::<Vec<_>>(),
                )
                .map(|s| s.median)
            };
            let (one, four) = (of(1), of(4));
            TcpRow {
                kind,
                dir,
                big_tcp: big,
                setup: kind.label().to_string(),
                direction: dir.label(kind).to_string(),
                one: gbps(&one),
                four: gbps(&four),
                retrans_one: retr(&one),
                retrans_four: retr(&four),
            }
        })
        .collect()
}

/// Builds the packet-rate summary rows from the samples.
pub fn udp_rows(samples: &[UdpSample]) -> Vec<UdpRow> {
    let mut keys: Vec<(Kind, Dir)> = samples.iter().map(|s| (s.kind, s.dir)).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|(kind, dir)| {
            let v: Vec<&UdpSample> = samples
                .iter()
                .filter(|s| (s.kind, s.dir) == (kind, dir))
                .collect();
            UdpRow {
                kind,
                dir,
                setup: kind.label().to_string(),
                direction: dir.label(kind).to_string(),
                offered: Summary::of(&v.iter().filter_map(|s| s.offered_mpps).collect::<Vec<_>>()),
                delivered: Summary::of(
                    &v.iter()
                        .filter_map(|s| s.delivered_mpps)
                        .collect::<Vec<_>>(),
                ),
            }
        })
        .collect()
}

impl Results {
    fn tcp(&self, kind: Kind, dir: Dir, big: bool, streams: u32) -> Option<f64> {
        self.tcp_rows
            .iter()
            .find(|r| (r.kind, r.dir, r.big_tcp) == (kind, dir, big))
            .and_then(|r| if streams == 1 { r.one } else { r.four })
            .map(|s| s.median)
    }

    fn udp(&self, kind: Kind, dir: Dir) -> Option<f64> {
        self.udp_rows
            .iter()
            .find(|r| (r.kind, r.dir) == (kind, dir))
            .and_then(|r| r.delivered)
            .map(|s| s.median)
    }

    /// The ceiling a translator row is compared with: plain routing in the
    /// same direction, at MTU 1500 with BIG TCP off, at gateway MTU 1508
    /// with BIG TCP on (at 1500 forwarded BIG TCP collapses).
    fn ceiling_tcp(&self, dir: Dir, big: bool, streams: u32) -> Option<f64> {
        let kind = if big {
            Kind::Ceiling1508
        } else {
            Kind::Ceiling
        };
        self.tcp(kind, dir, big, streams)
    }
}

fn gbit(s: &Option<Summary>) -> String {
    match s {
        Some(s) if s.n > 1 => format!("**{:.2}** ({:.2}–{:.2})", s.median, s.min, s.max),
        Some(s) => format!("**{:.2}**", s.median),
        None => "failed".into(),
    }
}

fn mpps(s: &Option<Summary>) -> String {
    match s {
        Some(s) if s.n > 1 => format!("**{:.3}** ({:.3}–{:.3})", s.median, s.min, s.max),
        Some(s) => format!("**{:.3}**", s.median),
        None => "failed".into(),
    }
}

fn times(r: Option<f64>) -> String {
    r.map_or_else(|| "—".into(), |r| format!("{r:.2}×"))
}

fn ns(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.0}"))
}

fn met(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "**met**",
        Some(false) => "**not met**",
        None => "not measured",
    }
}

/// The markdown report; `png` is the chart's file name (same directory).
pub fn markdown(r: &Results, png: &str) -> String {
    let mut m = String::new();
    let p = &r.params;
    let _ = writeln!(m, "# sixgate benchmark — {}\n", r.date);
    let _ = writeln!(
        m,
        "Machine: {} CPUs (`nproc`), kernel `{}` (`uname -r`), CPU `{}`, {:.0} GiB RAM. \
         Load average at start {}, at end {}. Started {} UTC, took {:.0} s.\n",
        r.machine.nproc,
        r.machine.kernel,
        r.machine.cpu_model,
        r.machine.mem_gib,
        r.machine.loadavg_start,
        r.machine.loadavg_end,
        r.started,
        r.wall_secs
    );
    let _ = writeln!(m, "Command: `{}` (source: {}).\n", r.command, r.git);
    let _ = writeln!(
        m,
        "Every number is the median of {} repetitions (min–max in brackets); the setups were \
         measured round-robin within each repetition, so noise hits all of them alike. \
         Explanations: [docs/performance.md](../../docs/performance.md).\n",
        p.reps
    );
    let _ = writeln!(m, "![chart]({png})\n");

    // Targets first: what the run says about issue 5.
    let _ = writeln!(m, "## Targets (issue 5)\n");
    let _ = writeln!(m, "| target | measured | |\n|---|---|---|");
    for (label, value, ok) in targets(r) {
        let _ = writeln!(m, "| {label} | {value} | {} |", met(ok));
    }
    let _ = writeln!(m);

    // TCP.
    let _ = writeln!(
        m,
        "## TCP throughput, Gbit/s (iperf3 -t {} -O {})\n",
        p.tcp_secs, p.tcp_omit
    );
    let _ = writeln!(
        m,
        "Ratios: a translator's row against plain routing in the same direction — at MTU 1500 \
         with BIG TCP off, against (a′) (gateway links at MTU 1508) with BIG TCP on, because \
         (a) at MTU 1500 collapses with BIG TCP — and against Tayga in the same direction and \
         BIG TCP mode.\n"
    );
    let _ = writeln!(
        m,
        "| setup | direction | BIG TCP | 1 stream | 4 streams | 1 st. × ceiling | 4 st. × ceiling | 1 st. × Tayga | 4 st. × Tayga | retransmits 1 st. / 4 st. |"
    );
    let _ = writeln!(m, "|---|---|---|---|---|---|---|---|---|---|");
    let mut nat46_done = false;
    for row in &r.tcp_rows {
        if row.kind == Kind::Tayga && !nat46_done {
            nat46_row(&mut m, &r.not_built);
            nat46_done = true;
        }
        let (c1, c4, t1, t4) = if row.kind == Kind::Tayga {
            let me = |s: &Option<Summary>| s.map(|s| s.median);
            (
                times(ratio(me(&row.one), r.ceiling_tcp(row.dir, row.big_tcp, 1))),
                times(ratio(me(&row.four), r.ceiling_tcp(row.dir, row.big_tcp, 4))),
                "(peer)".into(),
                String::new(),
            )
        } else if row.kind.translates() {
            let me = |s: &Option<Summary>| s.map(|s| s.median);
            (
                times(ratio(me(&row.one), r.ceiling_tcp(row.dir, row.big_tcp, 1))),
                times(ratio(me(&row.four), r.ceiling_tcp(row.dir, row.big_tcp, 4))),
                times(ratio(
                    me(&row.one),
                    r.tcp(Kind::Tayga, row.dir, row.big_tcp, 1),
                )),
                times(ratio(
                    me(&row.four),
                    r.tcp(Kind::Tayga, row.dir, row.big_tcp, 4),
                )),
            )
        } else {
            ("(ceiling)".into(), "".into(), "".into(), "".into())
        };
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {c1} | {c4} | {t1} | {t4} | {} / {} |",
            row.setup,
            row.direction,
            if row.big_tcp { "on" } else { "off" },
            gbit(&row.one),
            gbit(&row.four),
            ns(row.retrans_one),
            ns(row.retrans_four),
        );
    }
    if !nat46_done {
        nat46_row(&mut m, &r.not_built);
    }
    let _ = writeln!(m);
    let collapsed = |kind: Kind| {
        Dir::BOTH.iter().any(|&d| {
            matches!(
                (r.tcp(kind, d, true, 1), r.tcp(kind, d, false, 1)),
                (Some(on), Some(off)) if on < 0.2 * off
            )
        })
    };
    if collapsed(Kind::Ceiling) || collapsed(Kind::Tayga) {
        let _ = writeln!(
            m,
            "With BIG TCP on, traffic the gateway's kernel forwards at MTU 1500 collapses: (a), \
             and Tayga wherever the IPv6 side sends (its packets are forwarded into the TUN \
             device). The kernel counts the 8-byte jumbo Hop-by-Hop header of a GRO/GSO \
             super-packet against the egress MTU and drops it (Ip6InTooBigErrors, ICMPv6 \
             Packet Too Big). sixgate's path does not forward through the stack, so it is not \
             affected; \"× Tayga\" with BIG TCP on compares with a collapsed peer, which is why \
             the ≥ 10× target below uses BIG TCP off.\n"
        );
    }

    // BIG TCP gain.
    let _ = writeln!(m, "### BIG TCP on ÷ off\n");
    let _ = writeln!(
        m,
        "| setup | direction | 1 stream | 4 streams |\n|---|---|---|---|"
    );
    for (kind_on, kind_off, dir) in [
        (Kind::Ceiling, Kind::Ceiling, Dir::Fwd),
        (Kind::Ceiling1508, Kind::Ceiling, Dir::Fwd),
        (Kind::Ceiling1508, Kind::Ceiling, Dir::Rev),
        (Kind::Sixgate, Kind::Sixgate, Dir::Fwd),
        (Kind::Sixgate, Kind::Sixgate, Dir::Rev),
        (Kind::Tayga, Kind::Tayga, Dir::Fwd),
        (Kind::Tayga, Kind::Tayga, Dir::Rev),
    ] {
        let g = |s| ratio(r.tcp(kind_on, dir, true, s), r.tcp(kind_off, dir, false, s));
        if g(1).is_none() && g(4).is_none() {
            continue;
        }
        let label = if kind_on == kind_off {
            kind_on.label().to_string()
        } else {
            format!("{} on ÷ {} off", kind_on.label(), kind_off.label())
        };
        let _ = writeln!(
            m,
            "| {label} | {} | {} | {} |",
            dir.label(kind_on),
            times(g(1)),
            times(g(4))
        );
    }
    let _ = writeln!(m);

    // UDP.
    let _ = writeln!(
        m,
        "## Small-packet rate, Mpps ({}-byte frames, {} s per run, one generator core)\n",
        p.udp_frame_len, p.udp_secs
    );
    let _ = writeln!(
        m,
        "Generator: BPF_PROG_TEST_RUN in XDP live-frames mode, injecting into the gateway's \
         ingress interface (see docs/performance.md). Delivered = datagrams that reached the \
         receiver's UDP layer intact (/proc/net/snmp, snmp6).\n"
    );
    let _ = writeln!(
        m,
        "| setup | direction | offered | delivered | × ceiling | × Tayga |\n|---|---|---|---|---|---|"
    );
    let mut nat46_done = false;
    for row in &r.udp_rows {
        if row.kind == Kind::Tayga && !nat46_done {
            let _ = writeln!(
                m,
                "| (c) sixgate stateful NAT46 | 4→6 | not in the live runs yet (sixgate-bench micro) | | | |"
            );
            nat46_done = true;
        }
        let me = row.delivered.map(|s| s.median);
        let (c, t) = if row.kind.translates() {
            (
                times(ratio(me, r.udp(Kind::Ceiling, row.dir))),
                if row.kind == Kind::Tayga {
                    "(peer)".into()
                } else {
                    times(ratio(me, r.udp(Kind::Tayga, row.dir)))
                },
            )
        } else {
            ("(ceiling)".into(), String::new())
        };
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {c} | {t} |",
            row.setup,
            row.direction,
            mpps(&row.offered),
            mpps(&row.delivered)
        );
    }
    let _ = writeln!(m);

    // Program cost.
    let _ = writeln!(
        m,
        "## sixgate_tc_ingress cost under real traffic (bpf_stats: run_time_ns / run_cnt)\n"
    );
    let _ = writeln!(
        m,
        "The parse-only program ran in the same run on the hosts' veths (same packets after \
         translation). For TCP one run handles a GSO/GRO super-packet; \"per wire packet\" \
         divides sixgate's total run time by the MSS-sized segments both ways (TCP OutSegs of \
         both hosts), the unit of the {BUDGET_NS:.0} ns budget.\n"
    );
    let _ = writeln!(
        m,
        "| load | rate | sixgate ns/run | parse-only ns/run | difference | runs | ns per wire packet | vs {BUDGET_NS:.0} ns |"
    );
    let _ = writeln!(m, "|---|---|---|---|---|---|---|---|");
    for c in &r.cost {
        let diff = match (c.ns_per_run(), c.parse_only.ns_per_run()) {
            (Some(a), Some(b)) => Some(a - b),
            _ => None,
        };
        let per_wire = c.ns_per_wire_packet().or(c.ns_per_run());
        let _ = writeln!(
            m,
            "| {} | {} | **{}** | {} | {} | {} | {} | {} |",
            c.load,
            c.rate
                .map_or_else(|| "—".into(), |v| format!("{v:.2} {}", c.unit)),
            ns(c.ns_per_run()),
            ns(c.parse_only.ns_per_run()),
            ns(diff),
            c.sixgate.run_cnt,
            ns(per_wire),
            times(per_wire.map(|v| v / BUDGET_NS)),
        );
    }
    let _ = writeln!(m);

    // Micro.
    m.push_str(&micro_table(p.micro_runs, &r.micro));

    // Drops.
    let _ = writeln!(m, "## Drops and anomalies seen during the runs\n");
    let csum: u64 = r.udp.iter().map(|u| u.csum_errors).sum();
    let _ = writeln!(
        m,
        "UDP checksum errors at the receivers during the packet-rate runs: {csum}.\n"
    );
    if r.drops.is_empty() {
        let _ = writeln!(m, "None: no drop counter moved.\n");
    } else {
        let _ = writeln!(
            m,
            "Non-zero drop counters, summed over all repetitions of a case (interface counters \
             from /proc/net/dev; `sixgate:` lines from `sixgate stats`).\n"
        );
        let _ = writeln!(m, "| case | counter | packets |\n|---|---|---|");
        for (case, counters) in &r.drops {
            for (name, n) in counters {
                let _ = writeln!(m, "| {case} | {name} | {n} |");
            }
        }
        let _ = writeln!(m);
    }
    let failed: Vec<&TcpSample> = r.tcp.iter().filter(|s| s.error.is_some()).collect();
    for s in failed {
        let _ = writeln!(
            m,
            "- failed: {} {} BIG TCP {} {} stream(s) rep {}: {}",
            s.kind.label(),
            s.dir.label(s.kind),
            if s.big_tcp { "on" } else { "off" },
            s.streams,
            s.rep + 1,
            s.error
                .as_deref()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
        );
    }
    for e in &r.errors {
        let _ = writeln!(m, "- phase failed: {e}");
    }
    let _ = writeln!(m);

    // How.
    let _ = writeln!(m, "## How it was measured\n");
    let _ = writeln!(
        m,
        "Topologies: three namespaces each (client, gw, server) joined by veth pairs, built by \
         `sixgate-testnet` (`RoutedTopology` for (a)/(a′), `SiitTopology` for (b)/(d)); GRO on \
         the hosts' veths. BIG TCP: sizes set over rtnetlink (`sixgate-netlink`) on every link \
         of the topology, gateway included, IPv6 sizes then IPv4, MTU 1500 unless stated.\n"
    );
    let _ = writeln!(m, "BIG TCP sizes in force when on:\n");
    for (setup, links) in &r.big_tcp_links {
        let desc: Vec<String> = links
            .iter()
            .map(|l| {
                let mut s = format!(
                    "{} {}/{}",
                    l.link,
                    l.gso_max_size,
                    l.gso_ipv4_max_size
                        .map_or_else(|| "n/a".into(), |v| v.to_string())
                );
                if !l.warnings.is_empty() {
                    let _ = write!(s, " ({})", l.warnings.join("; "));
                }
                s
            })
            .collect();
        let _ = writeln!(m, "- {setup}: {}", desc.join(", "));
    }
    let _ = writeln!(m, "\nsixgate config:\n\n```toml\n{}```\n", r.sixgate_config);
    let _ = writeln!(
        m,
        "Tayga config (`tayga --config FILE --mktun`, then `--nodetach`), with routes in the \
         gateway namespace `ip {}` and `ip {}`:\n\n```\n{}```\n",
        TAYGA_ROUTES[0], TAYGA_ROUTES[1], TAYGA_CONF
    );
    let _ = writeln!(m, "Tool command lines as run (one per kind of run):\n");
    for (label, line) in &r.commands {
        let _ = writeln!(m, "- {label}: `{line}`");
    }
    m
}

fn nat46_row(m: &mut String, not_built: &[String]) {
    for nb in not_built {
        let _ = writeln!(
            m,
            "| {nb} | 4→6 | | not in the live runs yet (sixgate-bench micro) | | | | | | |"
        );
    }
}

/// Issue 5's targets: label, measured value, met?
pub fn targets(r: &Results) -> Vec<(String, String, Option<bool>)> {
    let mut t = Vec::new();
    // 1. stateless 4→6 TCP ≥ 0.95× ceiling.
    for big in [false, true] {
        for streams in [1, 4] {
            let v = ratio(
                r.tcp(Kind::Sixgate, Dir::Fwd, big, streams),
                r.ceiling_tcp(Dir::Fwd, big, streams),
            );
            t.push((
                format!(
                    "stateless 4→6 TCP ≥ 0.95× ceiling ({streams} stream{}, BIG TCP {})",
                    if streams > 1 { "s" } else { "" },
                    if big { "on, vs (a′)" } else { "off" }
                ),
                times(v),
                v.map(|v| v >= 0.95),
            ));
        }
    }
    // 2. ≥ 10× Tayga.
    for dir in Dir::BOTH {
        for streams in [1, 4] {
            let v = ratio(
                r.tcp(Kind::Sixgate, dir, false, streams),
                r.tcp(Kind::Tayga, dir, false, streams),
            );
            t.push((
                format!(
                    "≥ 10× Tayga, TCP {} {streams} stream{} (BIG TCP off)",
                    dir.label(Kind::Sixgate),
                    if streams > 1 { "s" } else { "" }
                ),
                times(v),
                v.map(|v| v >= 10.0),
            ));
        }
        let v = ratio(r.udp(Kind::Sixgate, dir), r.udp(Kind::Tayga, dir));
        t.push((
            format!(
                "≥ 10× Tayga, 64-byte UDP {} packet rate",
                dir.label(Kind::Sixgate)
            ),
            times(v),
            v.map(|v| v >= 10.0),
        ));
    }
    // 3. BIG TCP on ≥ 1.3× off through the translator.
    for dir in Dir::BOTH {
        for streams in [1, 4] {
            let v = ratio(
                r.tcp(Kind::Sixgate, dir, true, streams),
                r.tcp(Kind::Sixgate, dir, false, streams),
            );
            t.push((
                format!(
                    "BIG TCP on ≥ 1.3× off through sixgate, {} {streams} stream{}",
                    dir.label(Kind::Sixgate),
                    if streams > 1 { "s" } else { "" }
                ),
                times(v),
                v.map(|v| v >= 1.3),
            ));
        }
    }
    // 4. tc path ≤ 123 ns per packet under real traffic.
    for c in &r.cost {
        let per_wire = c.ns_per_wire_packet();
        let (label, v) = match per_wire {
            Some(v) => (
                format!("tc path ≤ {BUDGET_NS:.0} ns per wire packet, {}", c.load),
                v,
            ),
            None => match c.ns_per_run() {
                Some(v) => (
                    format!("tc path ≤ {BUDGET_NS:.0} ns per packet, {}", c.load),
                    v,
                ),
                None => continue,
            },
        };
        let extra = match (c.ns_per_run(), c.parse_only.ns_per_run()) {
            (Some(a), Some(b)) if per_wire.is_none() => {
                format!(" ({:.0} ns above the parse-only program)", a - b)
            }
            _ => String::new(),
        };
        t.push((label, format!("{v:.0} ns{extra}"), Some(v <= BUDGET_NS)));
    }
    t
}

/// `YYYY-MM-DD` for a count of days since 1970-01-01 (proleptic Gregorian).
pub fn civil_date(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's days_from_civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Now as (`YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS`), UTC.
pub fn now_utc() -> (String, String) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (y, mo, d) = civil_date(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let date = format!("{y:04}-{mo:02}-{d:02}");
    let time = format!("{date} {:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    (date, time)
}

/// The test_run micro-benchmark section: a heading and one row per path.
pub fn micro_table(runs: usize, micro: &[MicroResult]) -> String {
    let mut m = String::new();
    let _ = writeln!(
        m,
        "## test_run micro-benchmarks ({runs} runs per path and program, repeat = 1)\n"
    );
    let _ = writeln!(
        m,
        "| path | frame | sixgate median ns (p10–p90) | parse-only median ns | sixgate − parse-only |\n|---|---|---|---|---|"
    );
    for u in micro {
        let _ = writeln!(
            m,
            "| {} | {} B | **{:.0}** ({:.0}–{:.0}) | {:.0} | **{:.0}** |",
            u.path, u.frame_len, u.median_ns, u.p10_ns, u.p90_ns, u.baseline_ns, u.net_ns
        );
    }
    let _ = writeln!(m);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(19_723), (2024, 1, 1));
        assert_eq!(civil_date(19_782), (2024, 2, 29));
        assert_eq!(civil_date(20_784), (2026, 11, 27));
    }

    fn sample(kind: Kind, dir: Dir, big: bool, streams: u32, gbps: f64) -> TcpSample {
        TcpSample {
            kind,
            dir,
            big_tcp: big,
            streams,
            rep: 0,
            gbps: Some(gbps),
            retransmits: Some(1),
            error: None,
        }
    }

    #[test]
    fn rows_are_grouped_and_ratios_use_the_right_ceiling() {
        let tcp = vec![
            sample(Kind::Ceiling, Dir::Fwd, false, 1, 10.0),
            sample(Kind::Ceiling, Dir::Fwd, false, 1, 12.0),
            sample(Kind::Ceiling, Dir::Fwd, true, 1, 0.02),
            sample(Kind::Ceiling1508, Dir::Fwd, true, 1, 20.0),
            sample(Kind::Sixgate, Dir::Fwd, false, 1, 11.0),
            sample(Kind::Sixgate, Dir::Fwd, true, 1, 19.0),
            sample(Kind::Tayga, Dir::Fwd, false, 1, 0.5),
        ];
        let rows = tcp_rows(&tcp);
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[0].one.unwrap().median, 11.0);
        let r = Results {
            date: String::new(),
            started: String::new(),
            wall_secs: 0.0,
            machine: Machine::probe(),
            command: String::new(),
            params: Params {
                reps: 2,
                tcp_secs: 1,
                tcp_omit: 0,
                udp_secs: 1.0,
                udp_frame_len: 64,
                micro_runs: 1,
            },
            commands: vec![],
            git: String::new(),
            sixgate_config: String::new(),
            big_tcp_links: BTreeMap::new(),
            tcp,
            udp: vec![],
            cost: vec![],
            micro: vec![],
            drops: BTreeMap::new(),
            not_built: vec!["(c) sixgate stateful NAT46".into()],
            errors: vec![],
            tcp_rows: rows,
            udp_rows: vec![],
        };
        let t = targets(&r);
        // 11 / 11 (median of 10 and 12) with BIG TCP off, 19 / 20 against (a′) with it on.
        assert_eq!(t[0].1, "1.00×");
        assert_eq!(t[0].2, Some(true));
        assert_eq!(t[2].1, "0.95×");
        assert_eq!(t[2].2, Some(true));
        let tayga = t
            .iter()
            .find(|x| x.0.contains("Tayga, TCP 4→6 1 stream"))
            .unwrap();
        assert_eq!(tayga.1, "22.00×");
        let md = markdown(&r, "x.png");
        assert!(md.contains("not in the live runs yet"), "{md}");
        assert!(md.contains("(a′) plain IPv6 routing"), "{md}");
    }
}
