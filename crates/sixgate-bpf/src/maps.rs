//! `#[repr(C)]` mirrors of the map types in bpf/lib/maps.h. The test
//! `map_layouts_match_btf` compares sizes and offsets with the object's BTF.

use std::net::{Ipv4Addr, Ipv6Addr};

use sixgate_wire::xlat::Eam;
use sixgate_wire::Rfc6052Prefix;

/// Map names, as in bpf/lib/maps.h (also their pin file names).
pub const CONFIG_MAP: &str = "sixgate_config";
/// LPM trie of served IPv4 prefixes.
pub const SERVED_V4_MAP: &str = "sixgate_served_v4";
/// `max_entries` of `sixgate_served_v4`: the most IPv4 prefixes a config may name.
pub const SERVED_V4_MAX_ENTRIES: u32 = 1024;
/// Per-CPU counters.
pub const COUNTERS_MAP: &str = "sixgate_counters";

/// The daemon's exception-path counters (`exception::EXC_COUNTERS`).
pub const EXC_COUNTERS_MAP: &str = "sixgate_exc_counters";
/// `SIXGATE_EXC_COUNTERS_MAX`: slots in `sixgate_exc_counters`.
pub const EXC_COUNTERS_MAX: u32 = 64;

/// `SIXGATE_CFG_POOL6_IS_WKP`
pub const CFG_POOL6_IS_WKP: u8 = 1 << 0;
/// `SIXGATE_CFG_WKP_ALLOW_NON_GLOBAL`
pub const CFG_WKP_ALLOW_NON_GLOBAL: u8 = 1 << 1;
/// `SIXGATE_CFG_RFC6791_POOL6`
pub const CFG_RFC6791_POOL6: u8 = 1 << 5;
/// `SIXGATE_CFG_TCLASS_SET`
pub const CFG_TCLASS_SET: u8 = 1 << 6;
/// `SIXGATE_CFG_UDP_ZERO_DROP`
pub const CFG_UDP_ZERO_DROP: u8 = 1 << 7;

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
    /// RFC 6791 pool4 (network order), for ICMPv6 errors from sources
    /// without an IPv4 form.
    pub rfc6791_pool4: [[u8; 4]; RFC6791_MAX],
    /// Entries of `rfc6791_pool4` in use.
    pub rfc6791_count: u32,
    /// The daemon's exception-path TAP device; 0 = none.
    pub exc_ifindex: u32,
    /// RFC 7915 4.1 lowest-ipv6-mtu.
    pub lowest_ipv6_mtu: u16,
    /// With `CFG_TCLASS_SET`: the Traffic Class / TOS of every translated header.
    pub tclass: u8,
    /// Padding, zero.
    pub pad2: u8,
    /// Exception-path rate limit per CPU: credit one packet costs (ns).
    pub exc_cost_ns: u64,
    /// Exception-path rate limit per CPU: most credit owed (ns).
    pub exc_burst_ns: u64,
    /// Rate limit of the gateway's own ICMP errors per CPU: credit one costs (ns); 0: none.
    pub icmp_cost_ns: u64,
    /// Rate limit of the gateway's own ICMP errors per CPU: most credit owed (ns).
    pub icmp_burst_ns: u64,
    /// With `CFG_RFC6791_POOL6`: the source of the gateway's ICMPv6 errors.
    pub rfc6791_pool6: [u8; 16],
}

/// RFC 7915 4.1: lowest-ipv6-mtu unless configured, IPv6's minimum MTU.
pub const LOWEST_IPV6_MTU_DEFAULT: u16 = 1280;

/// `SIXGATE_RFC6791_MAX`: most RFC 6791 pool4 addresses.
pub const RFC6791_MAX: usize = 4;

// SAFETY: plain bytes, no padding the compiler could leave uninitialised.
unsafe impl aya::Pod for SixgateConfig {}

impl SixgateConfig {
    /// The map value for a pool6 prefix, the RFC 6052 3.1 relaxation, up
    /// to two veth interfaces whose peers get packets directly, and the RFC
    /// 6791 pool4 (at most [`RFC6791_MAX`]; more is a caller bug).
    pub fn new(
        pool6: &Rfc6052Prefix,
        wkp_allow_non_global: bool,
        veth_ifindexes: &[u32],
        rfc6791_pool4: &[Ipv4Addr],
    ) -> Self {
        assert!(
            rfc6791_pool4.len() <= RFC6791_MAX,
            "the config allows at most {RFC6791_MAX}"
        );
        let mut pool4 = [[0; 4]; RFC6791_MAX];
        for (slot, a) in pool4.iter_mut().zip(rfc6791_pool4) {
            *slot = a.octets();
        }
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
            rfc6791_pool4: pool4,
            rfc6791_count: rfc6791_pool4.len() as u32,
            exc_ifindex: 0,
            lowest_ipv6_mtu: LOWEST_IPV6_MTU_DEFAULT,
            tclass: 0,
            pad2: 0,
            exc_cost_ns: 0,
            exc_burst_ns: 0,
            icmp_cost_ns: 0,
            icmp_burst_ns: 0,
            rfc6791_pool6: [0; 16],
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

// ---- RFC 7757 EAMT (bpf/lib/maps.h, "explicit address mappings") --------

/// `SIXGATE_CFG_EAMT`: the EAMT holds at least one entry.
pub const CFG_EAMT: u8 = 1 << 3;
/// LPM trie: IPv4 prefix of each EAM -> [`Eamt4Value`].
pub const EAMT4_MAP: &str = "sixgate_eamt4";
/// LPM trie: IPv6 prefix of each EAM -> [`Eamt6Value`].
pub const EAMT6_MAP: &str = "sixgate_eamt6";
/// `SIXGATE_EAMT_MAX_ENTRIES`: the most EAMs a config may name.
pub const EAMT_MAX_ENTRIES: u32 = 1024;
/// Program array whose slot 0 holds [`crate::HAIRPIN_PROGRAM`].
pub const HAIRPIN_MAP: &str = "sixgate_hairpin";
/// `SIXGATE_HAIRPIN_SLOT`
pub const HAIRPIN_SLOT: u32 = 0;

/// How an EAM moves an address's suffix (RFC 7757 3.2): `(suffix_bits,
/// shift)` of `struct eamt4_value` / `eamt6_value`. The IPv4 suffix
/// (`suffix_bits` = 32 - IPv4 prefix length) sits left-aligned in the IPv6
/// suffix, `shift` = IPv6 suffix length - `suffix_bits` bits from the right.
fn eam_suffix(eam: &Eam) -> (u8, u8) {
    let s4 = 32 - eam.ipv4.len();
    let s6 = 128 - eam.ipv6.len();
    // Eam::new guarantees s6 >= s4.
    (s4, s6.saturating_sub(s4))
}

/// `struct eamt4_value`
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Eamt4Value {
    /// The IPv6 prefix, bits past its length zero.
    pub prefix6: [u8; 16],
    /// 32 - IPv4 prefix length.
    pub suffix_bits: u8,
    /// IPv6 suffix length - `suffix_bits`.
    pub shift: u8,
    /// Padding, zero.
    pub pad: [u8; 2],
}

// SAFETY: bytes only.
unsafe impl aya::Pod for Eamt4Value {}

impl Eamt4Value {
    /// The value of `eam`'s IPv4 prefix.
    pub fn new(eam: &Eam) -> Self {
        let (suffix_bits, shift) = eam_suffix(eam);
        Self {
            prefix6: eam.ipv6.addr().octets(),
            suffix_bits,
            shift,
            pad: [0; 2],
        }
    }
}

/// `struct eamt6_value`
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Eamt6Value {
    /// The IPv4 prefix (network order), bits past its length zero.
    pub prefix4: [u8; 4],
    /// 32 - IPv4 prefix length.
    pub suffix_bits: u8,
    /// IPv6 suffix length - `suffix_bits`.
    pub shift: u8,
    /// Padding, zero.
    pub pad: [u8; 2],
}

// SAFETY: bytes only.
unsafe impl aya::Pod for Eamt6Value {}

impl Eamt6Value {
    /// The value of `eam`'s IPv6 prefix.
    pub fn new(eam: &Eam) -> Self {
        let (suffix_bits, shift) = eam_suffix(eam);
        Self {
            prefix4: eam.ipv4.addr().octets(),
            suffix_bits,
            shift,
            pad: [0; 2],
        }
    }
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

// ---- NAT46 services (bpf/lib/maps.h, "Stateful NAT46 services") ----------

/// `SIXGATE_CFG_NAT46`: at least one NAT46 service is programmed.
pub const CFG_NAT46: u8 = 1 << 2;
/// NAT46 settings (one entry).
pub const NAT46_MAP: &str = "sixgate_nat46";
/// Services by {VIP, port, protocol}.
pub const SERVICES_MAP: &str = "sixgate_services";
/// Map-of-maps: service id -> Maglev table.
pub const MAGLEV_MAP: &str = "sixgate_maglev";
/// Backend id -> backend address and port.
pub const BACKENDS_MAP: &str = "sixgate_backends";
/// {service id, client prefix} LPM trie of source ranges.
pub const SVC_RANGES_MAP: &str = "sixgate_svc_ranges";
/// Connection tracking, client side.
pub const CT4_MAP: &str = "sixgate_ct4";
/// Connection tracking, backend side.
pub const CT6_MAP: &str = "sixgate_ct6";
/// Per-service per-CPU counters.
pub const SVC_COUNTERS_MAP: &str = "sixgate_svc_counters";

/// `NAT46_MAX_SERVICES`
pub const NAT46_MAX_SERVICES: u32 = 1024;
/// `NAT46_MAX_BACKENDS_PER_SERVICE`
pub const NAT46_MAX_BACKENDS_PER_SERVICE: u32 = 1024;
/// `NAT46_MAX_SNAT_ADDRS`
pub const NAT46_MAX_SNAT_ADDRS: usize = 16;
/// `CT_STATE_MAX`: slots of `Nat46Config::timeout_ns`.
pub const CT_STATE_MAX: usize = 6;
/// `BPF_F_INNER_MAP`: inner maps of different sizes may share an outer map.
pub const BPF_F_INNER_MAP: u32 = 1 << 12;

/// `SVC_MODE_GATEWAY`
pub const SVC_MODE_GATEWAY: u8 = 0;
/// `SVC_MODE_PRESERVE`
pub const SVC_MODE_PRESERVE: u8 = 1;
/// `SVC_F_SOURCE_RANGES`
pub const SVC_F_SOURCE_RANGES: u8 = 1 << 0;

/// `enum ct_state`
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum CtState {
    /// `CT_TCP_SYN_SENT`: client SYN seen, no reply yet.
    TcpSynSent = 1,
    /// `CT_TCP_ESTABLISHED`: the backend answered.
    TcpEstablished = 2,
    /// `CT_TCP_CLOSING`: a FIN was seen.
    TcpClosing = 3,
    /// `CT_TCP_RESET`: an RST was seen.
    TcpReset = 4,
    /// `CT_UDP`
    Udp = 5,
}

impl CtState {
    /// Every state, in `enum ct_state` order.
    pub const ALL: [CtState; 5] = [
        CtState::TcpSynSent,
        CtState::TcpEstablished,
        CtState::TcpClosing,
        CtState::TcpReset,
        CtState::Udp,
    ];

    /// The state of a raw `ct4_entry.state` byte.
    pub fn from_raw(raw: u8) -> Option<CtState> {
        Self::ALL.into_iter().find(|s| *s as u8 == raw)
    }
}

/// `backend_id()` in maps.h: each service owns two ranges of backend ids
/// (generations), so the idle one is filled before a table swap.
pub fn backend_id(svc_id: u32, generation: u8, index: u32) -> u32 {
    (svc_id << 11)
        | (u32::from(generation & 1) << 10)
        | (index & (NAT46_MAX_BACKENDS_PER_SERVICE - 1))
}

/// `struct nat46_config`
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Nat46Config {
    /// RFC 6052 prefix of "preserve" services, bits past its length zero.
    pub preserve_prefix: [u8; 16],
    /// Byte positions of the IPv4 octets in a preserve address.
    pub preserve_v4_pos: [u8; 4],
    /// Prefix length; 0 = no preserve prefix.
    pub preserve_len: u8,
    /// Entries of `snat` in use.
    pub snat_count: u8,
    /// Padding, zero.
    pub pad: u16,
    /// Lowest source port of "gateway" flows (host order).
    pub port_min: u16,
    /// Highest source port of "gateway" flows (host order).
    pub port_max: u16,
    /// Flow hash seed.
    pub hash_seed: u32,
    /// Idle timeout per `enum ct_state`, nanoseconds (slot 0 unused).
    pub timeout_ns: [u64; CT_STATE_MAX],
    /// SNAT addresses of "gateway" services.
    pub snat: [[u8; 16]; NAT46_MAX_SNAT_ADDRS],
}

// SAFETY: plain bytes and integers laid out without implicit padding
// (checked against the BTF by a test).
unsafe impl aya::Pod for Nat46Config {}

/// `struct svc_key`
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SvcKey {
    /// VIP, network byte order.
    pub vip: [u8; 4],
    /// Port, network byte order.
    pub port: [u8; 2],
    /// IPPROTO_TCP or IPPROTO_UDP.
    pub proto: u8,
    /// Padding, zero.
    pub pad: u8,
}

// SAFETY: bytes only.
unsafe impl aya::Pod for SvcKey {}

impl SvcKey {
    /// The key of `vip:port` over `proto`.
    pub fn new(vip: Ipv4Addr, port: u16, proto: u8) -> Self {
        Self {
            vip: vip.octets(),
            port: port.to_be_bytes(),
            proto,
            pad: 0,
        }
    }

    /// The VIP.
    pub fn vip(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.vip)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        u16::from_be_bytes(self.port)
    }
}

/// `struct svc_value`
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SvcValue {
    /// Service id: Maglev map index and counter block.
    pub id: u32,
    /// Slots of the Maglev table (0: no table, new flows are dropped).
    pub table_size: u32,
    /// Which backend-id range the table in force uses.
    pub generation: u8,
    /// `SVC_MODE_*`
    pub mode: u8,
    /// `SVC_F_*`
    pub flags: u8,
    /// Padding, zero.
    pub pad: u8,
}

// SAFETY: integers without implicit padding.
unsafe impl aya::Pod for SvcValue {}

/// `struct backend`
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BackendValue {
    /// IPv6 address.
    pub addr: [u8; 16],
    /// Port, network byte order.
    pub port: [u8; 2],
    /// Padding, zero.
    pub pad: u16,
}

// SAFETY: bytes without implicit padding.
unsafe impl aya::Pod for BackendValue {}

/// Data part of `struct svc_range_key` (aya's LPM key adds the prefix length).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SvcRangeData {
    /// Service id (native order; always matched whole).
    pub svc_id: u32,
    /// Client prefix address, network byte order.
    pub addr: [u8; 4],
}

// SAFETY: integers without implicit padding.
unsafe impl aya::Pod for SvcRangeData {}

/// `struct ct4_key`
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Ct4Key {
    /// Client address, network order.
    pub client: [u8; 4],
    /// VIP, network order.
    pub vip: [u8; 4],
    /// Client port, network order.
    pub client_port: [u8; 2],
    /// VIP port, network order.
    pub vip_port: [u8; 2],
    /// IPPROTO_TCP or IPPROTO_UDP.
    pub proto: u8,
    /// Padding, zero.
    pub pad: [u8; 3],
}

// SAFETY: bytes only.
unsafe impl aya::Pod for Ct4Key {}

/// `struct ct4_entry`
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ct4Entry {
    /// Backend address.
    pub backend: [u8; 16],
    /// Source the backend sees.
    pub source: [u8; 16],
    /// Backend port, network order.
    pub backend_port: [u8; 2],
    /// Source port, network order.
    pub source_port: [u8; 2],
    /// Service id.
    pub svc_id: u32,
    /// `bpf_ktime_get_ns()` of the last packet (CLOCK_MONOTONIC).
    pub last_seen: u64,
    /// `enum ct_state`
    pub state: u8,
    /// Padding, zero.
    pub pad: [u8; 7],
}

// SAFETY: integers without implicit padding.
unsafe impl aya::Pod for Ct4Entry {}

/// `struct ct6_key`
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Ct6Key {
    /// Backend address (the reply's source).
    pub backend: [u8; 16],
    /// The flow's IPv6 source (the reply's destination).
    pub source: [u8; 16],
    /// Backend port, network order.
    pub backend_port: [u8; 2],
    /// Source port, network order.
    pub source_port: [u8; 2],
    /// IPPROTO_TCP or IPPROTO_UDP.
    pub proto: u8,
    /// Padding, zero.
    pub pad: [u8; 3],
}

// SAFETY: bytes only.
unsafe impl aya::Pod for Ct6Key {}

/// `struct ct6_entry`
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ct6Entry {
    /// The flow's client-side key.
    pub flow: Ct4Key,
    /// Service id.
    pub svc_id: u32,
    /// Padding, zero.
    pub pad: u32,
}

// SAFETY: bytes and integers without implicit padding.
unsafe impl aya::Pod for Ct6Entry {}

impl Ct4Entry {
    /// The backend-side key this entry was created with.
    pub fn reply_key(&self, proto: u8) -> Ct6Key {
        Ct6Key {
            backend: self.backend,
            source: self.source,
            backend_port: self.backend_port,
            source_port: self.source_port,
            proto,
            pad: [0; 3],
        }
    }
}
