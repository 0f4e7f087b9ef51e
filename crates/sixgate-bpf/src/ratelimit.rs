//! The rate limits the programs apply (bpf/lib/ratelimit.h): a GCRA per
//! CPU, each with an equal share of the gateway-wide rate and burst.

use std::time::Duration;

/// A gateway-wide limit: `rate` packets per second, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Packets per second, all CPUs together.
    pub rate: u32,
    /// Packets at once, all CPUs together.
    pub burst: u32,
}

impl RateLimit {
    /// The per-CPU GCRA parameters `(cost_ns, burst_ns)` for `cpus` CPUs:
    /// each CPU gets an equal share of the rate and of the burst (at least
    /// one packet).
    pub fn gcra(&self, cpus: u32) -> (u64, u64) {
        let cpus = u64::from(cpus.max(1));
        let rate = u64::from(self.rate.max(1));
        let cost = Duration::from_secs(1).as_nanos() as u64 * cpus / rate;
        let burst_per_cpu = (u64::from(self.burst) / cpus).max(1);
        (cost, cost * (burst_per_cpu - 1))
    }
}

/// The CPUs the programs run on.
pub fn online_cpus() -> std::io::Result<u32> {
    aya::util::online_cpus()
        .map(|c| c.len() as u32)
        .map_err(|(_, e)| e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcra_shares_rate_and_burst_between_cpus() {
        let l = RateLimit {
            rate: 1000,
            burst: 100,
        };
        // 500 packets/s and 50 at once per CPU.
        assert_eq!(l.gcra(2), (2_000_000, 2_000_000 * 49));
        // A burst below the CPU count still lets one packet through.
        let l = RateLimit { burst: 1, ..l };
        assert_eq!(l.gcra(4), (4_000_000, 0));
    }
}
