//! The exception path seen from Rust (bpf/lib/exception.h): what the
//! programs write over the Ethernet addresses of a packet they hand to the
//! daemon's TAP device, and the rate limit they apply.

use std::path::Path;

use aya::maps::{Array, MapData};
use sixgate_wire::xlat::{Context, DropReason};

use crate::counters::{Counter, CounterValue, COUNTERS};
use crate::maps::{SixgateCount, EXC_COUNTERS_MAP};
use crate::ratelimit::RateLimit;
use crate::DatapathError;

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
    /// The reference translator's context for the packet: the egress MTU
    /// the program found, or, where it found no route (0, e.g. a packet
    /// hairpinned back to IPv6), `lowest_ipv6_mtu`, which any IPv6 path
    /// carries. The daemon and the differential test both use this.
    pub fn context(&self, lowest_ipv6_mtu: u16) -> Context {
        let mtu = match self.egress_mtu {
            0 => lowest_ipv6_mtu,
            m => m,
        };
        Context {
            egress_mtu: u32::from(mtu),
        }
    }

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

/// What became of the packets the daemon got on the exception path, one
/// slot each in the pinned `sixgate_exc_counters` map: every packet read
/// from the device ends in exactly one of the `exc_*` outcomes but
/// `exc_fragments_sent`, which counts what the fragmented ones became.
pub const EXC_COUNTERS: &[Counter] = &[
    c("exc_forward", "translated and sent whole"),
    c(
        "exc_fragmented",
        "translated and sent as fragments (RFC 7915 4.1, 5.1)",
    ),
    c(
        "exc_fragments_sent",
        "of exc_fragmented: the fragments sent",
    ),
    c(
        "exc_reply",
        "answered with an ICMP error from the gateway (e.g. Source Route Failed)",
    ),
    c(
        "exc_send_failed",
        "translated, but sending failed (the daemon logs why)",
    ),
    c(
        "exc_not_ours",
        "not for the translator after all (the reference passes it): dropped",
    ),
    c(
        "exc_malformed",
        "a frame on the device without valid exception metadata: dropped",
    ),
    c("exc_drop_truncated", "dropped: malformed"),
    c(
        "exc_drop_ipv4_checksum",
        "dropped: IPv4 header checksum wrong",
    ),
    c(
        "exc_drop_ttl_expired",
        "dropped: TTL would expire and no Time Exceeded could be sent",
    ),
    c(
        "exc_drop_illegal_source",
        "dropped: source may never be forwarded",
    ),
    c(
        "exc_drop_wkp_non_global",
        "dropped: well-known prefix with a non-global IPv4 address",
    ),
    c(
        "exc_drop_src_not_pool6",
        "dropped: IPv6 source has no IPv4 form",
    ),
    c(
        "exc_drop_src_not_served",
        "dropped: IPv6 source maps outside the served prefixes",
    ),
    c(
        "exc_drop_proto_unsupported",
        "dropped: transport protocol not translated",
    ),
    c(
        "exc_drop_icmp_unsupported",
        "dropped: ICMP type with no translation",
    ),
    c(
        "exc_drop_frag_needed",
        "dropped: too big and no error could be sent",
    ),
    c("exc_drop_udp_zero_csum", "dropped: UDP checksum 0"),
    c(
        "exc_drop_udp_zero_csum_fragment",
        "dropped: first fragment with UDP checksum 0",
    ),
    c("exc_drop_icmp_fragment", "dropped: fragmented ICMP"),
    c(
        "exc_drop_icmp_error",
        "dropped: ICMP error quoting an ICMP error",
    ),
    c(
        "exc_drop_ipv4_source_route",
        "dropped: unexpired source route, no error could be sent",
    ),
    c(
        "exc_drop_ipv6_segments_left",
        "dropped: Routing header with Segments Left not 0",
    ),
];

const fn c(name: &'static str, help: &'static str) -> Counter {
    Counter { name, help }
}

/// Index in [`EXC_COUNTERS`] of the counter called `name`.
pub fn exc_counter_index(name: &str) -> Option<u32> {
    EXC_COUNTERS
        .iter()
        .position(|c| c.name == name)
        .map(|i| i as u32)
}

/// Index in [`EXC_COUNTERS`] of the drop counter for `reason`.
pub fn exc_drop_index(reason: DropReason) -> u32 {
    exc_counter_index(&format!("exc_{}", reason.counter_name()))
        .expect("EXC_COUNTERS has every drop reason (tested)")
}

/// The pinned `sixgate_exc_counters` map, for the daemon to count in.
pub struct ExcCounters {
    map: Array<MapData, SixgateCount>,
}

impl ExcCounters {
    /// Opens the map pinned under `pin_path`.
    pub fn open(pin_path: &Path) -> Result<ExcCounters, DatapathError> {
        Ok(ExcCounters {
            map: open_array(pin_path)?,
        })
    }

    /// Adds one packet of `bytes` to counter `index`. Only the daemon
    /// writes the map, from one thread, so read-modify-write is safe.
    pub fn add(&mut self, index: u32, bytes: usize) -> Result<(), DatapathError> {
        let what = || format!("{EXC_COUNTERS_MAP}[{index}]");
        let mut v = self.map.get(&index, 0).map_err(|e| DatapathError::Map {
            what: format!("read {}", what()),
            source: e,
        })?;
        v.packets += 1;
        v.bytes += bytes as u64;
        self.map.set(index, v, 0).map_err(|e| DatapathError::Map {
            what: format!("write {}", what()),
            source: e,
        })
    }
}

/// Every exception-path counter pinned under `pin_path`.
pub fn read_exc_counters(pin_path: &Path) -> Result<Vec<CounterValue>, DatapathError> {
    let map = open_array(pin_path)?;
    EXC_COUNTERS
        .iter()
        .enumerate()
        .map(|(i, counter)| {
            let v = map.get(&(i as u32), 0).map_err(|e| DatapathError::Map {
                what: format!("read {EXC_COUNTERS_MAP}[{i}]"),
                source: e,
            })?;
            Ok(CounterValue {
                counter: *counter,
                packets: v.packets,
                bytes: v.bytes,
            })
        })
        .collect()
}

fn open_array(pin_path: &Path) -> Result<Array<MapData, SixgateCount>, DatapathError> {
    crate::pinned::open(pin_path, EXC_COUNTERS_MAP)?
        .try_into()
        .map_err(|source| DatapathError::Map {
            what: format!("{EXC_COUNTERS_MAP} has an unexpected layout"),
            source,
        })
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
    /// Its rate limit.
    pub fn limit(&self) -> RateLimit {
        RateLimit {
            rate: self.rate,
            burst: self.burst,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::counter_index;
    use crate::maps::EXC_COUNTERS_MAX;

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
    fn every_drop_reason_has_a_counter_and_the_map_has_room() {
        for r in DropReason::ALL {
            let i = exc_drop_index(r) as usize;
            assert_eq!(EXC_COUNTERS[i].name, format!("exc_{}", r.counter_name()));
        }
        assert!(EXC_COUNTERS.len() <= EXC_COUNTERS_MAX as usize);
    }
}
