//! The RFC 7915 reference translator: one packet and the translator's
//! configuration in, one [`Outcome`] out. Pure, no I/O.
//!
//! It is the test oracle the eBPF programs (`bpf/lib/xlat46.h`,
//! `xlat64.h`) are compared against byte for byte, and the daemon's
//! exception path (fragmenting after translation, ICMP errors the gateway
//! originates). One file per concern:
//!
//! - [`mapping`] addresses (RFC 7757 EAMT, then RFC 6052 pool6, RFC 6791)
//! - [`icmp`] the ICMP type/code tables and pointer maps (RFC 7915 4.2, 5.2)
//! - `xlat46` / `xlat64`: RFC 7915 sections 4 and 5
//! - `inner`: the packet inside an ICMP error (RFC 7915 4.3, 5.3, RFC 4884)
//! - `fragment`: fragmenting after translation (RFC 7915 4.1, 5.1)
//! - `reply`: the ICMP errors the gateway itself sends
//! - `header`: emitting IPv4 / IPv6 / Fragment headers
//!
//! Order of the checks, 4->6: length fields (`drop_truncated`), destination
//! served (else pass), header checksum, illegal source, TTL (Time
//! Exceeded), source route option, protocol and ICMP type, addresses (RFC
//! 6052 3.1), transport checksum, size (DF / fragmentation).
//! 6->4: length fields, destination in EAMT or pool6 (else pass), illegal
//! IPv6 source, extension headers, hop limit (Time Exceeded), Routing
//! header, protocol and ICMP type, addresses, transport checksum, size,
//! hairpinning.

mod fragment;
mod header;
pub mod icmp;
mod ident;
mod inner;
pub mod mapping;
mod reply;
mod xlat46;
mod xlat64;

use std::net::{Ipv4Addr, Ipv6Addr};

pub use ident::ipv4_identification;
pub use mapping::Eam;

use crate::{Ipv4Prefix, Rfc6052Prefix};

/// What the translator does with an IPv4 UDP datagram whose checksum is 0
/// (RFC 7915 4.5: IPv6 requires a checksum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UdpZeroChecksum {
    /// Compute the checksum over the whole datagram (any size; unfragmented
    /// datagrams only, a first fragment with checksum 0 is always dropped).
    #[default]
    Compute,
    /// Drop the datagram (`drop_udp_zero_csum`).
    Drop,
}

/// How the IPv6 Traffic Class / IPv4 TOS is set (RFC 7915 4.1 and 5.1 let
/// the operator choose).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrafficClass {
    /// Copy the whole byte (DSCP and ECN).
    #[default]
    Copy,
    /// Set it to zero.
    Zero,
    /// Set it to this value.
    Override(u8),
}

impl TrafficClass {
    /// The translated byte for `received`.
    pub fn apply(self, received: u8) -> u8 {
        match self {
            TrafficClass::Copy => received,
            TrafficClass::Zero => 0,
            TrafficClass::Override(v) => v,
        }
    }
}

/// The translator's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XlatConfig {
    /// The RFC 6052 prefix both sides' addresses are embedded in.
    pub pool6: Rfc6052Prefix,
    /// The served IPv4 prefixes (SIIT): IPv4 destinations translated with
    /// pool6, and the only IPv4 forms a pool6 IPv6 source may have.
    pub ipv4_prefixes: Vec<Ipv4Prefix>,
    /// RFC 6052 3.1 relaxation: allow non-global IPv4 addresses behind the
    /// well-known prefix.
    pub wkp_allow_non_global: bool,
    /// RFC 7757 explicit address mappings; longest match, checked before
    /// pool6.
    pub eamt: Vec<Eam>,
    /// RFC 6791: IPv4 sources for translated ICMPv6 errors whose IPv6
    /// source has no IPv4 form, and the source of the ICMPv4 errors the
    /// gateway sends; empty = drop them.
    pub rfc6791_pool4: Vec<Ipv4Addr>,
    /// RFC 6791 for the other direction: the source of translated ICMPv4
    /// errors whose IPv4 source has no IPv6 form (only possible with the
    /// well-known prefix and a non-global IPv4 source, RFC 6052 3.1), and of
    /// the ICMPv6 errors the gateway sends; `None` = drop them.
    pub rfc6791_pool6: Option<Ipv6Addr>,
    /// RFC 7915 4.1 / 6 "lowest-ipv6-mtu": DF=0 IPv4 packets are fragmented
    /// to at most this size after translation.
    pub lowest_ipv6_mtu: u16,
    /// IPv4 UDP checksum 0 policy.
    pub udp_zero_checksum: UdpZeroChecksum,
    /// Traffic Class / TOS policy.
    pub traffic_class: TrafficClass,
}

impl XlatConfig {
    /// A configuration with `pool6`, no served prefix, no EAM, no RFC 6791
    /// pools, lowest-ipv6-mtu 1280 and the default policies.
    pub fn new(pool6: Rfc6052Prefix) -> Self {
        Self {
            pool6,
            ipv4_prefixes: Vec::new(),
            wkp_allow_non_global: false,
            eamt: Vec::new(),
            rfc6791_pool4: Vec::new(),
            rfc6791_pool6: None,
            lowest_ipv6_mtu: 1280,
            udp_zero_checksum: UdpZeroChecksum::Compute,
            traffic_class: TrafficClass::Copy,
        }
    }
}

/// Facts about the packet's path that the configuration does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    /// MTU of the link the translated packet leaves by (what
    /// `bpf_fib_lookup` reports).
    pub egress_mtu: u32,
}

/// Why a packet was dropped. [`DropReason::counter_name`] is the eBPF
/// counter (bpf/lib/counters.def, lowercase).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Header truncated or length fields inconsistent.
    Truncated,
    /// IPv4 header checksum wrong.
    Ipv4Checksum,
    /// TTL / hop limit would reach zero and no Time Exceeded could be sent.
    TtlExpired,
    /// Source may never be forwarded (0/8, 127/8, multicast, ::, ::1, ...).
    IllegalSource,
    /// RFC 6052 3.1: well-known prefix with a non-global IPv4 address.
    WkpNonGlobal,
    /// IPv6 source has no IPv4 form (not in the EAMT nor pool6).
    SrcNotPool6,
    /// IPv6 source maps to an IPv4 address outside the served prefixes.
    SrcNotServed,
    /// Transport protocol other than TCP, UDP, ICMP / ICMPv6.
    ProtoUnsupported,
    /// ICMP type / code with no translation (RFC 7915 4.2, 4.3, 5.2, 5.3).
    IcmpUnsupported,
    /// Packet too big for the egress link and no error could be sent.
    FragNeeded,
    /// New: IPv4 UDP checksum 0 under the `Drop` policy.
    UdpZeroChecksum,
    /// New: IPv4 UDP first fragment with checksum 0 (cannot be computed
    /// without reassembly).
    UdpZeroChecksumFragment,
    /// New: fragmented ICMP / ICMPv6 message (the ICMPv6 checksum covers a
    /// pseudo-header with the whole message length, unknown without
    /// reassembly).
    IcmpFragment,
    /// New: ICMP error whose embedded packet is itself an ICMP error.
    IcmpNestedError,
    /// New: unexpired IPv4 source route option and no Source Route Failed
    /// error could be sent.
    Ipv4SourceRoute,
    /// New: IPv6 Routing header with Segments Left > 0 and no Parameter
    /// Problem could be sent.
    Ipv6SegmentsLeft,
}

impl DropReason {
    /// Every reason, for tables indexed by reason.
    pub const ALL: [DropReason; 16] = [
        DropReason::Truncated,
        DropReason::Ipv4Checksum,
        DropReason::TtlExpired,
        DropReason::IllegalSource,
        DropReason::WkpNonGlobal,
        DropReason::SrcNotPool6,
        DropReason::SrcNotServed,
        DropReason::ProtoUnsupported,
        DropReason::IcmpUnsupported,
        DropReason::FragNeeded,
        DropReason::UdpZeroChecksum,
        DropReason::UdpZeroChecksumFragment,
        DropReason::IcmpFragment,
        DropReason::IcmpNestedError,
        DropReason::Ipv4SourceRoute,
        DropReason::Ipv6SegmentsLeft,
    ];

    /// The eBPF counter name for this reason.
    pub fn counter_name(self) -> &'static str {
        match self {
            DropReason::Truncated => "drop_truncated",
            DropReason::Ipv4Checksum => "drop_ipv4_checksum",
            DropReason::TtlExpired => "drop_ttl_expired",
            DropReason::IllegalSource => "drop_illegal_source",
            DropReason::WkpNonGlobal => "drop_wkp_non_global",
            DropReason::SrcNotPool6 => "drop_src_not_pool6",
            DropReason::SrcNotServed => "drop_src_not_served",
            DropReason::ProtoUnsupported => "drop_proto_unsupported",
            DropReason::IcmpUnsupported => "drop_icmp_unsupported",
            DropReason::FragNeeded => "drop_frag_needed",
            DropReason::UdpZeroChecksum => "drop_udp_zero_csum",
            DropReason::UdpZeroChecksumFragment => "drop_udp_zero_csum_fragment",
            DropReason::IcmpFragment => "drop_icmp_fragment",
            DropReason::IcmpNestedError => "drop_icmp_error",
            DropReason::Ipv4SourceRoute => "drop_ipv4_source_route",
            DropReason::Ipv6SegmentsLeft => "drop_ipv6_segments_left",
        }
    }
}

/// Why a packet was left to the kernel untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PassReason {
    /// Neither IPv4 nor IPv6.
    NotIp,
    /// IPv4 destination not served (not in an EAM nor `ipv4_prefixes`).
    Ipv4NotServed,
    /// IPv6 destination not in an EAM nor pool6.
    Ipv6NotPool6,
}

impl PassReason {
    /// The eBPF counter name for this reason.
    pub fn counter_name(self) -> &'static str {
        match self {
            PassReason::NotIp => "pass_not_ip",
            PassReason::Ipv4NotServed => "pass_ipv4_not_served",
            PassReason::Ipv6NotPool6 => "pass_ipv6_not_pool6",
        }
    }
}

/// What becomes of one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Translated packet(s), L3 (no Ethernet). More than one when fragmented
    /// after translation.
    Forward(Vec<Vec<u8>>),
    /// An ICMP error the gateway sends back to the packet's source, in the
    /// input's family.
    Reply(Vec<u8>),
    /// Dropped, with the reason.
    Drop(DropReason),
    /// Not the translator's business: the kernel gets it untouched.
    Pass(PassReason),
}

/// Translates one L3 packet (RFC 7915), dispatching on the version nibble.
pub fn translate(packet: &[u8], cfg: &XlatConfig, ctx: &Context) -> Outcome {
    match packet.first().map(|b| b >> 4) {
        Some(4) => xlat46::translate(packet, cfg, ctx),
        Some(6) => xlat64::translate(packet, cfg, ctx),
        _ => Outcome::Pass(PassReason::NotIp),
    }
}

/// Protocol numbers used throughout.
pub(crate) mod proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ICMPV6: u8 = 58;
    pub const HOPOPTS: u8 = 0;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const DSTOPTS: u8 = 60;
}

#[cfg(test)]
mod tests {
    use super::DropReason;

    #[test]
    fn all_drop_reasons_listed_once_in_order() {
        // The match is exhaustive: a new reason does not compile until it
        // has a place here, and then the loop wants it in ALL too.
        let place = |r: DropReason| match r {
            DropReason::Truncated => 0,
            DropReason::Ipv4Checksum => 1,
            DropReason::TtlExpired => 2,
            DropReason::IllegalSource => 3,
            DropReason::WkpNonGlobal => 4,
            DropReason::SrcNotPool6 => 5,
            DropReason::SrcNotServed => 6,
            DropReason::ProtoUnsupported => 7,
            DropReason::IcmpUnsupported => 8,
            DropReason::FragNeeded => 9,
            DropReason::UdpZeroChecksum => 10,
            DropReason::UdpZeroChecksumFragment => 11,
            DropReason::IcmpFragment => 12,
            DropReason::IcmpNestedError => 13,
            DropReason::Ipv4SourceRoute => 14,
            DropReason::Ipv6SegmentsLeft => 15,
        };
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(place(*r), i, "{r:?}");
        }
    }
}
