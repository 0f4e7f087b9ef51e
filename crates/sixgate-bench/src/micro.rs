//! test_run micro-benchmarks per path: `sixgate_tc_ingress` and the
//! parse-only baseline, each run on the same frame with `repeat = 1` (the
//! translating paths mutate the packet, so `repeat > 1` would time the
//! already-translated packet), many times, interleaved in rounds; the
//! kernel's per-run duration is collected and the medians compared.
//!
//! The program runs in a private namespace shaped like the packet tests'
//! (`crates/sixgate-bpf/tests/common.rs`): one veth `d0` with permanent
//! neighbours, so `bpf_fib_lookup` succeeds and every translated packet is
//! redirected, as on the live path.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use aya::programs::{SchedClassifier, TestRun, TestRunOptions};
use serde::Serialize;
use sixgate_bpf::{Datapath, SiitParams};
use sixgate_testnet::Netns;

use crate::cost::ParseOnly;
use crate::frames::{self, Macs};
use crate::stats::percentile_sorted;

/// `sizeof(struct __sk_buff)`.
const SKB_CTX_LEN: usize = 192;
/// `offsetof(struct __sk_buff, ifindex)`.
const SKB_CTX_IFINDEX: usize = 40;
const TC_ACT_OK: u32 = 0;
const TC_ACT_REDIRECT: u32 = 7;
/// Rounds the runs are split into, alternating programs and paths.
const ROUNDS: usize = 10;

const GW_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xc1];

/// The namespace: d0 (MTU 9000, so a 1514-byte frame still fits after
/// 4→6), IPv4 client 192.0.2.33 on link, IPv6 next hop 2001:db8:6::2.
const SETUP: &[&[&str]] = &[
    &[
        "link",
        "add",
        "d0",
        "address",
        "02:00:00:00:00:01",
        "mtu",
        "9000",
        "type",
        "veth",
        "peer",
        "name",
        "d1",
        "mtu",
        "9000",
    ],
    &["link", "set", "d0", "up"],
    &["link", "set", "d1", "up"],
    &["addr", "add", "192.0.2.1/24", "dev", "d0"],
    &[
        "-6",
        "addr",
        "add",
        "2001:db8:6::1/64",
        "dev",
        "d0",
        "nodad",
    ],
    &[
        "neigh",
        "add",
        "192.0.2.33",
        "lladdr",
        "02:00:00:00:00:42",
        "dev",
        "d0",
        "nud",
        "permanent",
    ],
    &[
        "-6",
        "neigh",
        "add",
        "2001:db8:6::2",
        "lladdr",
        "02:00:00:00:00:62",
        "dev",
        "d0",
        "nud",
        "permanent",
    ],
    &[
        "-6",
        "route",
        "add",
        "2001:db8:64::/96",
        "via",
        "2001:db8:6::2",
        "dev",
        "d0",
    ],
    // NAT46 backends.
    &[
        "-6",
        "route",
        "add",
        "2001:db8:a::/64",
        "via",
        "2001:db8:6::2",
        "dev",
        "d0",
    ],
];

/// NAT46 services of the micro-benchmarks: TCP for the tracked-flow paths,
/// UDP with a 1 ns idle timeout so that every packet is a new flow (Maglev
/// pick, both entries written).
const NAT46_VIP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 80);
const NAT46_PRESERVE: &str = "2001:db8:46::/96";
const NAT46_BACKENDS: [(&str, u32); 3] = [
    ("[2001:db8:a::10]:8080", 1),
    ("[2001:db8:a::11]:8080", 1),
    ("[2001:db8:a::12]:8080", 2),
];

/// One path's result.
#[derive(Debug, Clone, Serialize)]
pub struct MicroResult {
    /// What the frame exercises.
    pub path: String,
    /// Frame length in bytes.
    pub frame_len: usize,
    /// Counter the first run moved (checked).
    pub counter: String,
    /// Median ns per run of sixgate_tc_ingress.
    pub median_ns: f64,
    /// 10th and 90th percentiles.
    pub p10_ns: f64,
    /// 90th percentile.
    pub p90_ns: f64,
    /// Median ns per run of the parse-only program on the same frame.
    pub baseline_ns: f64,
    /// `median_ns - baseline_ns`.
    pub net_ns: f64,
    /// Runs of each program.
    pub runs: usize,
}

struct Case {
    path: &'static str,
    frame: Vec<u8>,
    ret: u32,
    counter: &'static str,
}

fn cases() -> Vec<Case> {
    let m = Macs {
        src: PEER_MAC,
        dst: GW_MAC,
    };
    let c4 = Ipv4Addr::new(192, 0, 2, 33);
    let s4 = Ipv4Addr::new(198, 51, 100, 2);
    let other4 = Ipv4Addr::new(203, 0, 113, 5);
    let s6: Ipv6Addr = "2001:db8:64::c633:6402".parse().expect("literal");
    let c6: Ipv6Addr = "2001:db8:64::c000:221".parse().expect("literal");
    let p = (40_000, 80);
    let rp = (80, 40_000);
    vec![
        Case {
            path: "4→6 TCP",
            frame: frames::tcp4(m, c4, s4, p, 64),
            ret: TC_ACT_REDIRECT,
            counter: "xlat46_redirect",
        },
        Case {
            path: "6→4 TCP",
            frame: frames::tcp6(m, s6, c6, rp, 84),
            ret: TC_ACT_REDIRECT,
            counter: "xlat64_redirect",
        },
        Case {
            path: "4→6 UDP",
            frame: frames::udp4(m, c4, s4, p, 64),
            ret: TC_ACT_REDIRECT,
            counter: "xlat46_redirect",
        },
        Case {
            path: "6→4 UDP",
            frame: frames::udp6(m, s6, c6, rp, 84),
            ret: TC_ACT_REDIRECT,
            counter: "xlat64_redirect",
        },
        Case {
            path: "4→6 UDP checksum 0",
            frame: frames::udp4_zero_csum(m, c4, s4, p, 64),
            ret: TC_ACT_REDIRECT,
            counter: "xlat46_redirect",
        },
        Case {
            path: "4→6 UDP checksum 0",
            frame: frames::udp4_zero_csum(m, c4, s4, p, 1514),
            ret: TC_ACT_REDIRECT,
            counter: "xlat46_redirect",
        },
        Case {
            path: "NAT46 4→6 TCP, tracked flow",
            frame: frames::tcp4(m, c4, NAT46_VIP, p, 64),
            ret: TC_ACT_REDIRECT,
            counter: "nat46_fwd_redirect",
        },
        Case {
            path: "NAT46 6→4 TCP reply, tracked flow",
            frame: frames::tcp6(m, nat46_backend_of_flow(), nat46_client6(), rp_nat46(), 84),
            ret: TC_ACT_REDIRECT,
            counter: "nat46_reply_redirect",
        },
        Case {
            path: "NAT46 4→6 UDP, new flow",
            frame: frames::udp4(m, c4, NAT46_VIP, p, 64),
            ret: TC_ACT_REDIRECT,
            counter: "nat46_fwd_redirect",
        },
        Case {
            path: "pass-through (IPv4 not served)",
            frame: frames::udp4(m, c4, other4, p, 64),
            ret: TC_ACT_OK,
            counter: "pass_ipv4_not_served",
        },
    ]
}

/// The client as preserve-mode backends see it: NAT46_PRESERVE + 192.0.2.33.
fn nat46_client6() -> Ipv6Addr {
    let prefix: sixgate_wire::Rfc6052Prefix = NAT46_PRESERVE.parse().expect("literal");
    prefix.embed(Ipv4Addr::new(192, 0, 2, 33))
}

/// The tracked TCP flow's backend, found by the data path's own flow hash
/// and the same Maglev table `program_nat46` loads.
fn nat46_backend_of_flow() -> Ipv6Addr {
    let key = sixgate_bpf::maps::Ct4Key {
        client: [192, 0, 2, 33],
        vip: NAT46_VIP.octets(),
        client_port: 40_000u16.to_be_bytes(),
        vip_port: 80u16.to_be_bytes(),
        proto: 6,
        pad: [0; 3],
    };
    let (backends, slots) = nat46_table();
    let slot = sixgate_bpf::nat46::flow_hash(&key, 0) as usize % slots.len();
    *backends[slots[slot] as usize].ip()
}

/// Backend 8080 -> client 40000: the reply's ports.
fn rp_nat46() -> (u16, u16) {
    (8080, 40_000)
}

/// The weighted Maglev table of the benchmark services (M = 65537).
fn nat46_table() -> (Vec<std::net::SocketAddrV6>, Vec<u32>) {
    let backends: Vec<sixgate_maglev::Backend> = NAT46_BACKENDS
        .iter()
        .map(|(k, w)| sixgate_maglev::Backend::new(*k, *w))
        .collect();
    let table = sixgate_maglev::Table::build(&sixgate_maglev::MaglevConfig::default(), &backends)
        .expect("a valid table");
    let order = table
        .backends()
        .iter()
        .map(|b| b.key.parse().expect("literal"))
        .collect();
    (order, table.slots().to_vec())
}

/// Programs the NAT46 settings and the two benchmark services.
fn program_nat46(pin: &std::path::Path) -> Result<()> {
    use sixgate_bpf::nat46::{
        CtTimeouts, Nat46Maps, Nat46Params, Protocol, ServiceProgram, SourceMode,
    };
    use std::time::Duration;
    let mut maps = Nat46Maps::open(pin)?;
    maps.configure(&Nat46Params {
        snat_addresses: vec!["2001:db8:46::1".parse().context("snat")?],
        snat_ports: (32768, 60999),
        preserve_prefix: Some(NAT46_PRESERVE.parse().context("prefix")?),
        hash_seed: 0,
        timeouts: CtTimeouts {
            udp: Duration::from_nanos(1),
            ..CtTimeouts::default()
        },
    })?;
    let (backends, slots) = nat46_table();
    for protocol in [Protocol::Tcp, Protocol::Udp] {
        maps.upsert(&ServiceProgram {
            vip: NAT46_VIP,
            port: 80,
            protocol,
            mode: SourceMode::Preserve,
            source_ranges: &[],
            backends: &backends,
            table: &slots,
        })?;
    }
    maps.set_enabled(true)?;
    Ok(())
}

/// Runs every path `runs` times through sixgate_tc_ingress and through the
/// parse-only program; loads the data path pinned under
/// `/sys/fs/bpf/sixgate-bench-<pid>` (removed afterwards).
pub fn run(runs: usize) -> Result<Vec<MicroResult>> {
    let ns = Netns::new("micro")?;
    for args in SETUP {
        ns.ip(args.iter().copied())?;
    }
    ns.sysctl("net.ipv4.ip_forward", "1")?;
    ns.sysctl("net.ipv6.conf.all.forwarding", "1")?;
    let pin = PinDir::new();
    ns.run_in(|| measure(&pin.0, runs))?
}

/// The bench's own pin directory, removed on drop.
struct PinDir(PathBuf);

impl PinDir {
    fn new() -> PinDir {
        PinDir(PathBuf::from(format!(
            "/sys/fs/bpf/sixgate-bench-{}",
            std::process::id()
        )))
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        if self.0.exists() {
            if let Err(e) = std::fs::remove_dir_all(&self.0) {
                eprintln!("sixgate-bench: remove {}: {e}", self.0.display());
            }
        }
    }
}

fn measure(pin: &std::path::Path, runs: usize) -> Result<Vec<MicroResult>> {
    let ifindex = crate::sys::ifindex("d0")?;
    let mut dp = Datapath::load(pin).context("load the data path")?;
    dp.configure(&SiitParams {
        // d0 is a veth, as the daemon would report it.
        veth_ifindexes: vec![ifindex],
        ..SiitParams::new(
            "2001:db8:64::/96".parse().context("pool6")?,
            vec!["198.51.100.0/24".parse().context("prefix")?],
        )
    })
    .context("configure the data path")?;
    program_nat46(pin).context("program the NAT46 services")?;
    let base = ParseOnly::load()?;
    let cases = cases();

    // Check every path does what it is meant to before timing it.
    for c in &cases {
        let before = counter(&dp, c.counter)?;
        let ret = time_one(dp.program(), &c.frame, ifindex)?.0;
        let after = counter(&dp, c.counter)?;
        if ret != c.ret || after != before + 1 {
            bail!(
                "{}: expected return {} and counter {} +1, got return {ret} and +{}",
                c.path,
                c.ret,
                c.counter,
                after - before
            );
        }
    }

    let per_round = runs.div_ceil(ROUNDS);
    let mut samples: Vec<[Vec<f64>; 2]> = cases
        .iter()
        .map(|_| [Vec::with_capacity(runs), Vec::with_capacity(runs)])
        .collect();
    for _ in 0..ROUNDS {
        crate::sys::check_stop()?;
        for (c, [ours, theirs]) in cases.iter().zip(samples.iter_mut()) {
            let sixgate: &SchedClassifier = dp.program();
            for _ in 0..per_round {
                ours.push(time_one(sixgate, &c.frame, ifindex)?.1);
            }
            let parse_only = base.prog()?;
            for _ in 0..per_round {
                theirs.push(time_one(parse_only, &c.frame, ifindex)?.1);
            }
        }
    }

    let mut out = Vec::new();
    for (c, [mut prog, mut baseline]) in cases.iter().zip(samples) {
        prog.sort_by(f64::total_cmp);
        baseline.sort_by(f64::total_cmp);
        let median = percentile_sorted(&prog, 50.0);
        let base_median = percentile_sorted(&baseline, 50.0);
        out.push(MicroResult {
            path: c.path.to_string(),
            frame_len: c.frame.len(),
            counter: c.counter.to_string(),
            median_ns: median,
            p10_ns: percentile_sorted(&prog, 10.0),
            p90_ns: percentile_sorted(&prog, 90.0),
            baseline_ns: base_median,
            net_ns: median - base_median,
            runs: prog.len(),
        });
    }
    Ok(out)
}

fn counter(dp: &Datapath, name: &str) -> Result<u64> {
    dp.counters()?
        .into_iter()
        .find(|c| c.counter.name == name)
        .map(|c| c.packets)
        .with_context(|| format!("no counter {name}"))
}

/// One BPF_PROG_TEST_RUN with repeat 1: the return value and the kernel's
/// duration in ns.
fn time_one(prog: &SchedClassifier, frame: &[u8], ifindex: u32) -> Result<(u32, f64)> {
    let mut ctx = [0u8; SKB_CTX_LEN];
    ctx[SKB_CTX_IFINDEX..SKB_CTX_IFINDEX + 4].copy_from_slice(&ifindex.to_ne_bytes());
    let mut opts = TestRunOptions::new();
    opts.data_in = Some(frame);
    opts.ctx_in = Some(&ctx);
    let r = prog.test_run(opts).context("BPF_PROG_TEST_RUN")?;
    Ok((r.return_value, r.duration.as_nanos() as f64))
}
