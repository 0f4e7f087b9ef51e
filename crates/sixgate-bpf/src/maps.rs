//! `#[repr(C)]` mirrors of the map types in bpf/lib/maps.h. The test
//! `map_layouts_match_btf` compares sizes and offsets with the object's BTF.

use std::net::{Ipv4Addr, Ipv6Addr};

use sixgate_wire::Rfc6052Prefix;

/// Map names, as in bpf/lib/maps.h (also their pin file names).
pub const CONFIG_MAP: &str = "sixgate_config";
/// LPM trie of served IPv4 prefixes.
pub const SERVED_V4_MAP: &str = "sixgate_served_v4";
/// `max_entries` of `sixgate_served_v4`: the most IPv4 prefixes a config may name.
pub const SERVED_V4_MAX_ENTRIES: u32 = 1024;
/// Per-CPU counters.
pub const COUNTERS_MAP: &str = "sixgate_counters";

/// `SIXGATE_CFG_POOL6_IS_WKP`
pub const CFG_POOL6_IS_WKP: u8 = 1 << 0;
/// `SIXGATE_CFG_WKP_ALLOW_NON_GLOBAL`
pub const CFG_WKP_ALLOW_NON_GLOBAL: u8 = 1 << 1;

/// `struct sixgate_config`
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SixgateConfig {
    /// pool6 prefix, bits past `pool6_len` zero.
    pub pool6: [u8; 16],
    /// pool6 netmask.
    pub pool6_mask: [u8; 16],
    /// 32, 40, 48, 56, 64 or 96; 0 = not configured.
    pub pool6_len: u8,
    /// `CFG_*` bits.
    pub flags: u8,
    /// Padding, zero.
    pub pad: [u8; 2],
    /// Byte positions of the IPv4 octets in an embedded address.
    pub v4_pos: [u8; 4],
    /// Attached veth interfaces: redirect into their peers (0 = unused).
    pub peer_ifindex: [u32; 2],
}

// SAFETY: plain bytes, no padding the compiler could leave uninitialised.
unsafe impl aya::Pod for SixgateConfig {}

impl SixgateConfig {
    /// The map value for a pool6 prefix, the RFC 6052 3.1 relaxation and
    /// up to two veth interfaces whose peers get packets directly.
    pub fn new(pool6: &Rfc6052Prefix, wkp_allow_non_global: bool, veth_ifindexes: &[u32]) -> Self {
        let mut flags = 0;
        if pool6.is_well_known() {
            flags |= CFG_POOL6_IS_WKP;
        }
        if wkp_allow_non_global {
            flags |= CFG_WKP_ALLOW_NON_GLOBAL;
        }
        Self {
            pool6: pool6.addr().octets(),
            pool6_mask: pool6.mask().octets(),
            pool6_len: pool6.len(),
            flags,
            pad: [0; 2],
            v4_pos: pool6.octet_positions().map(|p| p as u8),
            peer_ifindex: [
                veth_ifindexes.first().copied().unwrap_or(0),
                veth_ifindexes.get(1).copied().unwrap_or(0),
            ],
        }
    }

    /// pool6 as an address, for display.
    pub fn pool6_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.pool6)
    }
}

/// `struct served_v4_key` data part: the IPv4 address in network byte order
/// (the prefix length is aya's `lpm_trie::Key` header).
pub fn served_v4_key_data(addr: Ipv4Addr) -> u32 {
    u32::from_ne_bytes(addr.octets())
}

/// `struct sixgate_count`
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SixgateCount {
    /// Packets.
    pub packets: u64,
    /// Bytes (skb length as the program first saw it).
    pub bytes: u64,
}

// SAFETY: two u64, no padding.
unsafe impl aya::Pod for SixgateCount {}
