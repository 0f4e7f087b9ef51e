//! Per-program cost under real traffic: with BPF run-time statistics on
//! (`kernel.bpf_stats_enabled`, here through BPF_ENABLE_STATS, which turns
//! itself off when the bench exits however it exits), run_time_ns / run_cnt
//! of `sixgate_tc_ingress`, next to a parse-only tc program attached in the
//! same run to the hosts' veths, which see the same packets.

use anyhow::{bail, Context, Result};
use aya::programs::tc::TcAttachOptions;
use aya::programs::{LinkOrder, SchedClassifier, TcAttachType};
use aya::Ebpf;
use serde::Serialize;
use sixgate_testnet::Netns;

/// Name of the parse-only program in `sixgate_bpf::BENCH_OBJECT`.
pub const PARSE_PROGRAM: &str = "sixgate_bench_parse";

/// Cumulative run time and run count of one program.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProgStats {
    /// Nanoseconds spent in the program.
    pub run_time_ns: u64,
    /// Times it ran.
    pub run_cnt: u64,
}

impl ProgStats {
    /// `self - before`.
    pub fn since(&self, before: &ProgStats) -> ProgStats {
        ProgStats {
            run_time_ns: self.run_time_ns.saturating_sub(before.run_time_ns),
            run_cnt: self.run_cnt.saturating_sub(before.run_cnt),
        }
    }

    /// Nanoseconds per run, if it ran.
    pub fn ns_per_run(&self) -> Option<f64> {
        (self.run_cnt > 0).then(|| self.run_time_ns as f64 / self.run_cnt as f64)
    }
}

/// Statistics of the program with id `id`.
pub fn prog_stats(id: u32) -> Result<ProgStats> {
    for info in aya::programs::loaded_programs() {
        let Ok(info) = info else { continue };
        if info.id() == id {
            return Ok(ProgStats {
                run_time_ns: info.run_time().as_nanos() as u64,
                run_cnt: info.run_count(),
            });
        }
    }
    bail!("no loaded BPF program with id {id}")
}

/// The id of the program attached with TCX to `dev`'s ingress in `ns`
/// (`Netns::attached_bpf` prints `tcx ingress prog ID`).
pub fn tcx_ingress_prog_id(ns: &Netns, dev: &str) -> Result<u32> {
    let found = ns.attached_bpf(dev)?;
    found
        .iter()
        .find_map(|a| parse_tcx_ingress_id(a))
        .with_context(|| {
            format!(
                "no TCX ingress program on {dev} in {}: {found:?}",
                ns.name()
            )
        })
}

fn parse_tcx_ingress_id(s: &str) -> Option<u32> {
    s.strip_prefix("tcx ingress prog ")?.trim().parse().ok()
}

/// The parse-only baseline, loaded and attached to TCX ingress of some
/// interfaces; dropping it detaches it.
pub struct ParseOnly {
    ebpf: Ebpf,
}

impl ParseOnly {
    /// Loads the parse-only program.
    pub fn load() -> Result<ParseOnly> {
        let mut ebpf = Ebpf::load(sixgate_bpf::BENCH_OBJECT).context("load the bench object")?;
        let prog: &mut SchedClassifier = ebpf
            .program_mut(PARSE_PROGRAM)
            .context("no parse-only program in the bench object")?
            .try_into()
            .context("parse-only is not a tc program")?;
        prog.load().context("verify the parse-only program")?;
        Ok(ParseOnly { ebpf })
    }

    /// The loaded program (for test runs).
    pub fn prog(&self) -> Result<&SchedClassifier> {
        self.ebpf
            .program(PARSE_PROGRAM)
            .context("parse-only missing")?
            .try_into()
            .context("parse-only is not a tc program")
    }

    fn prog_mut(&mut self) -> Result<&mut SchedClassifier> {
        self.ebpf
            .program_mut(PARSE_PROGRAM)
            .context("parse-only missing")?
            .try_into()
            .context("parse-only is not a tc program")
    }

    /// Attaches it to `dev`'s TCX ingress in `ns` (after whatever is there).
    pub fn attach(&mut self, ns: &Netns, dev: &str) -> Result<()> {
        let prog = self.prog_mut()?;
        ns.run_in(|| {
            prog.attach_with_options(
                dev,
                TcAttachType::Ingress,
                TcAttachOptions::TcxOrder(LinkOrder::default()),
            )
            .map(drop)
        })?
        .with_context(|| format!("attach parse-only to {dev} in {}", ns.name()))
    }

    /// Its kernel program id.
    pub fn id(&mut self) -> Result<u32> {
        Ok(self.prog_mut()?.info().context("parse-only info")?.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcx_ids_are_parsed() {
        assert_eq!(parse_tcx_ingress_id("tcx ingress prog 42"), Some(42));
        assert_eq!(parse_tcx_ingress_id("tcx egress prog 42"), None);
        assert_eq!(parse_tcx_ingress_id("xdp: foo"), None);
    }

    #[test]
    fn per_run_cost() {
        let a = ProgStats {
            run_time_ns: 1000,
            run_cnt: 10,
        };
        let b = ProgStats {
            run_time_ns: 4000,
            run_cnt: 40,
        };
        assert_eq!(b.since(&a).ns_per_run(), Some(100.0));
        assert_eq!(ProgStats::default().ns_per_run(), None);
    }
}
