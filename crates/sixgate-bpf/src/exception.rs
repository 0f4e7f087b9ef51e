//! The exception path seen from Rust (bpf/lib/exception.h): what the
//! programs write over the Ethernet addresses of a packet they hand to the
//! daemon's TAP device, and the rate limit they apply.

use std::time::Duration;

use crate::counters::{Counter, COUNTERS};

/// `EXC_MAGIC0..2`: the first three bytes of a handed-off frame.
pub const MAGIC: [u8; 3] = [0x02, b's', b'g'];
/// `EXC_VERSION`.
pub const VERSION: u8 = 1;
/// Ethernet header length: the L3 packet starts here.
pub const ETH_HLEN: usize = 14;
/// EtherType IPv4.
const ETH_P_IP: u16 = 0x0800;
/// EtherType IPv6.
const ETH_P_IPV6: u16 = 0x86dd;

/// `struct exc_meta`, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExcMeta {
    /// The `EXCEPTION_*` counter: why the packet came.
    pub counter: Counter,
    /// MTU of the link the translated packet leaves by (0: no route).
    pub egress_mtu: u16,
    /// Interface the packet arrived on.
    pub ingress_ifindex: u32,
}

/// Why a frame read from the TAP device is not a handed-off packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetaError {
    /// Shorter than an Ethernet header.
    #[error("frame of {0} bytes is shorter than an Ethernet header")]
    Short(usize),
    /// No sixgate magic: something else the kernel sent on the device.
    #[error("no sixgate magic (destination MAC {0:02x?})")]
    NotOurs([u8; 6]),
    /// A layout this build does not know.
    #[error("exception metadata version {0}, this build knows {VERSION}")]
    Version(u8),
    /// A counter number that is not an `EXCEPTION_*` one.
    #[error("counter {0} is not an exception reason")]
    Reason(u8),
    /// Neither IPv4 nor IPv6.
    #[error("EtherType {0:#06x} is neither IPv4 nor IPv6")]
    EtherType(u16),
}

impl ExcMeta {
    /// Decodes the metadata of `frame`; the L3 packet is `frame[ETH_HLEN..]`.
    pub fn parse(frame: &[u8]) -> Result<ExcMeta, MetaError> {
        if frame.len() < ETH_HLEN {
            return Err(MetaError::Short(frame.len()));
        }
        if frame[..3] != MAGIC {
            let mut dst = [0; 6];
            dst.copy_from_slice(&frame[..6]);
            return Err(MetaError::NotOurs(dst));
        }
        if frame[3] != VERSION {
            return Err(MetaError::Version(frame[3]));
        }
        let counter = COUNTERS
            .get(usize::from(frame[4]))
            .filter(|c| c.name.starts_with("exception_"))
            .copied()
            .ok_or(MetaError::Reason(frame[4]))?;
        let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
        if ethertype != ETH_P_IP && ethertype != ETH_P_IPV6 {
            return Err(MetaError::EtherType(ethertype));
        }
        Ok(ExcMeta {
            counter,
            egress_mtu: u16::from_be_bytes([frame[6], frame[7]]),
            ingress_ifindex: u32::from_be_bytes([frame[8], frame[9], frame[10], frame[11]]),
        })
    }
}

/// The exception path the programs hand packets to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExceptionParams {
    /// The daemon's TAP device.
    pub ifindex: u32,
    /// Most packets per second, all CPUs together.
    pub rate: u32,
    /// Most packets in a burst, all CPUs together.
    pub burst: u32,
}

impl ExceptionParams {
    /// The per-CPU GCRA parameters `(exc_cost_ns, exc_burst_ns)` for `cpus`
    /// CPUs: each CPU gets an equal share of the rate and of the burst (at
    /// least one packet).
    pub fn gcra(&self, cpus: u32) -> (u64, u64) {
        let cpus = u64::from(cpus.max(1));
        let rate = u64::from(self.rate.max(1));
        let cost = Duration::from_secs(1).as_nanos() as u64 * cpus / rate;
        let burst_per_cpu = (u64::from(self.burst) / cpus).max(1);
        (cost, cost * (burst_per_cpu - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::counter_index;

    fn index(name: &str) -> u8 {
        counter_index(name).expect("a counter") as u8
    }

    fn frame(counter: u8) -> Vec<u8> {
        let mut f = vec![
            0x02, b's', b'g', 1, counter, 0, 0x05, 0xdc, 0, 0, 0, 7, 0x08, 0x00,
        ];
        f.extend_from_slice(&[0x45; 20]);
        f
    }

    #[test]
    fn parses_what_the_program_writes() {
        let i = index("exception_fragment46");
        let c = COUNTERS[usize::from(i)];
        let m = ExcMeta::parse(&frame(i)).unwrap();
        assert_eq!(
            m,
            ExcMeta {
                counter: c,
                egress_mtu: 1500,
                ingress_ifindex: 7
            }
        );
    }

    #[test]
    fn refuses_what_is_not_a_handoff() {
        assert_eq!(ExcMeta::parse(&[0; 10]), Err(MetaError::Short(10)));
        let mut f = frame(index("exception_ipv4_options"));
        f[0] = 0x33;
        assert!(matches!(ExcMeta::parse(&f), Err(MetaError::NotOurs(_))));
        let drop = index("drop_truncated");
        assert_eq!(ExcMeta::parse(&frame(drop)), Err(MetaError::Reason(drop)));
        let mut f = frame(index("exception_ipv4_options"));
        f[3] = 2;
        assert_eq!(ExcMeta::parse(&f), Err(MetaError::Version(2)));
        f[3] = 1;
        f[12] = 0x88;
        f[13] = 0xcc;
        assert_eq!(ExcMeta::parse(&f), Err(MetaError::EtherType(0x88cc)));
    }

    #[test]
    fn gcra_shares_rate_and_burst_between_cpus() {
        let p = ExceptionParams {
            ifindex: 9,
            rate: 1000,
            burst: 100,
        };
        // 500 packets/s and 50 at once per CPU.
        assert_eq!(p.gcra(2), (2_000_000, 2_000_000 * 49));
        // A burst below the CPU count still lets one packet through.
        let p = ExceptionParams { burst: 1, ..p };
        assert_eq!(p.gcra(4), (4_000_000, 0));
    }
}
