//! The NAT46 service maps, seen from the daemon: settings, services with
//! their Maglev tables (swapped whole through the map-of-maps), source
//! ranges, connection tracking (listing and sweeping) and per-service
//! counters. Works on the pins alone, so it serves a freshly started daemon
//! as well as the one that loaded the program.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd as _, AsRawFd as _};
use std::path::Path;
use std::time::Duration;

use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::maps::{Array, ArrayOfMaps, HashMap, Map, MapData, MapError, PerCpuArray, PerCpuValues};
use sixgate_wire::{Ipv4Prefix, Rfc6052Prefix};

use crate::counters::{Counter, SVC_COUNTERS};
use crate::maps::{
    backend_id, BackendValue, Ct4Entry, Ct4Key, Ct6Entry, Ct6Key, CtState, Nat46Config,
    SixgateConfig, SixgateCount, SvcKey, SvcRangeData, SvcValue, BACKENDS_MAP, BPF_F_INNER_MAP,
    CFG_NAT46, CONFIG_MAP, CT4_MAP, CT6_MAP, CT_STATE_MAX, MAGLEV_MAP, NAT46_MAP,
    NAT46_MAX_BACKENDS_PER_SERVICE, NAT46_MAX_SERVICES, NAT46_MAX_SNAT_ADDRS, SERVICES_MAP,
    SVC_COUNTERS_MAP, SVC_F_SOURCE_RANGES, SVC_MODE_GATEWAY, SVC_MODE_PRESERVE, SVC_RANGES_MAP,
};
use crate::DatapathError;

/// IANA protocol numbers of the transports a service can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
}

impl Protocol {
    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
        }
    }

    /// The protocol with IP protocol number `n`.
    pub fn from_number(n: u8) -> Option<Protocol> {
        match n {
            6 => Some(Protocol::Tcp),
            17 => Some(Protocol::Udp),
            _ => None,
        }
    }
}

/// Which IPv6 source a service's backends see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceMode {
    /// One of the gateway's SNAT addresses and a port it allocates.
    Gateway,
    /// The RFC 6052 preserve prefix + the client's IPv4 address, and the
    /// client's port: the backend sees the real client.
    Preserve,
}

/// Connection-tracking idle timeouts, by flow state.
///
/// RFC 5382 REQ-5 asks a NAT that expires idle TCP sessions for at least
/// 2 h 4 min when established and at least 4 min when "transitory"
/// (opening or closing). The defaults meet the first; `tcp_syn` and
/// `tcp_closing` are shorter than 4 min, as in Linux conntrack and common
/// load balancers, so half-open floods do not fill the table; set both to
/// 240 s for strict RFC 5382 behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtTimeouts {
    /// TCP flow that has seen a SYN but no answer (default 60 s).
    pub tcp_syn: Duration,
    /// Established TCP flow (default 7440 s, RFC 5382 REQ-5's minimum).
    pub tcp_established: Duration,
    /// TCP flow after a FIN (default 120 s).
    pub tcp_closing: Duration,
    /// TCP flow after a RST (default 10 s).
    pub tcp_reset: Duration,
    /// UDP flow (default 300 s: RFC 4787 REQ-5 requires at least 2 min and
    /// recommends 5 min).
    pub udp: Duration,
}

impl Default for CtTimeouts {
    fn default() -> Self {
        CtTimeouts {
            tcp_syn: Duration::from_secs(60),
            tcp_established: Duration::from_secs(7440),
            tcp_closing: Duration::from_secs(120),
            tcp_reset: Duration::from_secs(10),
            udp: Duration::from_secs(300),
        }
    }
}

impl CtTimeouts {
    /// The timeout of `state`.
    pub fn of(&self, state: CtState) -> Duration {
        match state {
            CtState::TcpSynSent => self.tcp_syn,
            CtState::TcpEstablished => self.tcp_established,
            CtState::TcpClosing => self.tcp_closing,
            CtState::TcpReset => self.tcp_reset,
            CtState::Udp => self.udp,
        }
    }
}

/// The gateway-wide NAT46 settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nat46Params {
    /// Sources of "gateway" services (at most 16).
    pub snat_addresses: Vec<Ipv6Addr>,
    /// Source ports of "gateway" flows, inclusive.
    pub snat_ports: (u16, u16),
    /// Prefix of "preserve" services.
    pub preserve_prefix: Option<Rfc6052Prefix>,
    /// Seed of the flow hash that indexes the Maglev tables.
    pub hash_seed: u32,
    /// Connection-tracking idle timeouts.
    pub timeouts: CtTimeouts,
}

/// One service as the data path needs it.
#[derive(Debug, Clone, Copy)]
pub struct ServiceProgram<'a> {
    /// IPv4 VIP.
    pub vip: Ipv4Addr,
    /// VIP port.
    pub port: u16,
    /// Transport.
    pub protocol: Protocol,
    /// Source the backends see.
    pub mode: SourceMode,
    /// Clients allowed in; empty = everyone.
    pub source_ranges: &'a [Ipv4Prefix],
    /// The backends the table refers to, by index.
    pub backends: &'a [SocketAddrV6],
    /// Maglev table: slot -> index into `backends`. Empty: no backend can
    /// take new flows (they are dropped and counted).
    pub table: &'a [u32],
}

/// A tracked flow, as read from the client-side map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// The client-side key.
    pub key: Ct4Key,
    /// Its entry.
    pub entry: Ct4Entry,
}

impl Flow {
    /// Transport.
    pub fn protocol(&self) -> Option<Protocol> {
        Protocol::from_number(self.key.proto)
    }
    /// The IPv4 client.
    pub fn client(&self) -> SocketAddrV4 {
        SocketAddrV4::new(
            Ipv4Addr::from(self.key.client),
            u16::from_be_bytes(self.key.client_port),
        )
    }
    /// The VIP and port it talks to.
    pub fn vip(&self) -> SocketAddrV4 {
        SocketAddrV4::new(
            Ipv4Addr::from(self.key.vip),
            u16::from_be_bytes(self.key.vip_port),
        )
    }
    /// The backend the flow is pinned to.
    pub fn backend(&self) -> SocketAddrV6 {
        v6(self.entry.backend, self.entry.backend_port)
    }
    /// The source the backend sees.
    pub fn source(&self) -> SocketAddrV6 {
        v6(self.entry.source, self.entry.source_port)
    }
    /// Connection-tracking state.
    pub fn state(&self) -> Option<CtState> {
        CtState::from_raw(self.entry.state)
    }
    /// Time since the last packet, as of `now_ns` (CLOCK_MONOTONIC).
    pub fn idle(&self, now_ns: u64) -> Duration {
        Duration::from_nanos(now_ns.saturating_sub(self.entry.last_seen))
    }
}

fn v6(addr: [u8; 16], port: [u8; 2]) -> SocketAddrV6 {
    SocketAddrV6::new(Ipv6Addr::from(addr), u16::from_be_bytes(port), 0, 0)
}

/// What a sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Client-side entries removed (expired, or of a service that is gone).
    pub ct4_removed: usize,
    /// Backend-side entries removed (their flow is gone or re-pinned).
    pub ct6_removed: usize,
}

/// A per-service counter's value summed over CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceCounterValue {
    /// Which counter.
    pub counter: Counter,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// The current CLOCK_MONOTONIC time in nanoseconds, the clock of
/// `bpf_ktime_get_ns()` and so of `Ct4Entry::last_seen`.
pub fn monotonic_now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The flow hash the data path uses to pick a Maglev slot
/// (`nat46_flow_hash` in bpf/lib/nat46.h: murmur3 over the client's
/// 5-tuple, seeded), so tests and tools can tell where a flow goes.
pub fn flow_hash(key: &Ct4Key, seed: u32) -> u32 {
    fn mix(h: u32, k: u32) -> u32 {
        let k = k
            .wrapping_mul(0xcc9e_2d51)
            .rotate_left(15)
            .wrapping_mul(0x1b87_3593);
        (h ^ k)
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64)
    }
    let mut h = seed;
    h = mix(h, u32::from_be_bytes(key.client));
    h = mix(h, u32::from_be_bytes(key.vip));
    h = mix(
        h,
        (u32::from(u16::from_be_bytes(key.client_port)) << 16)
            | u32::from(u16::from_be_bytes(key.vip_port)),
    );
    h = mix(h, u32::from(key.proto));
    h ^= 16;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

fn map_err(what: impl Into<String>) -> impl FnOnce(MapError) -> DatapathError {
    let what = what.into();
    move |source| DatapathError::Map { what, source }
}

/// The key is not (or no longer) in the map: aya reports that as one of
/// these, or as the raw ENOENT of a delete.
fn not_found(e: &MapError) -> bool {
    match e {
        MapError::KeyNotFound | MapError::ElementNotFound => true,
        MapError::SyscallError(e) => e.io_error.raw_os_error() == Some(libc::ENOENT),
        _ => false,
    }
}

/// The NAT46 maps, opened from their pins.
pub struct Nat46Maps {
    config: Array<MapData, SixgateConfig>,
    nat46: Array<MapData, Nat46Config>,
    services: HashMap<MapData, SvcKey, SvcValue>,
    maglev: Map,
    backends: HashMap<MapData, u32, BackendValue>,
    ranges: LpmTrie<MapData, SvcRangeData, u8>,
    ct4: HashMap<MapData, Ct4Key, Ct4Entry>,
    ct6: HashMap<MapData, Ct6Key, Ct6Entry>,
    counters: PerCpuArray<MapData, SixgateCount>,
}

impl Nat46Maps {
    /// Opens the maps pinned under `pin_path` (by `Datapath::load`).
    pub fn open(pin_path: &Path) -> Result<Self, DatapathError> {
        fn typed<T: TryFrom<Map, Error = MapError>>(
            pin_path: &Path,
            name: &str,
        ) -> Result<T, DatapathError> {
            crate::pinned::open(pin_path, name)?
                .try_into()
                .map_err(map_err(format!("{name} has an unexpected layout")))
        }
        Ok(Self {
            config: typed(pin_path, CONFIG_MAP)?,
            nat46: typed(pin_path, NAT46_MAP)?,
            services: typed(pin_path, SERVICES_MAP)?,
            maglev: match crate::pinned::open(pin_path, MAGLEV_MAP)? {
                m @ Map::ArrayOfMaps(_) => m,
                _ => {
                    return Err(DatapathError::Map {
                        what: format!("{MAGLEV_MAP} is not an array of maps"),
                        source: MapError::InvalidName {
                            name: MAGLEV_MAP.to_string(),
                        },
                    })
                }
            },
            backends: typed(pin_path, BACKENDS_MAP)?,
            ranges: typed(pin_path, SVC_RANGES_MAP)?,
            ct4: typed(pin_path, CT4_MAP)?,
            ct6: typed(pin_path, CT6_MAP)?,
            counters: typed(pin_path, SVC_COUNTERS_MAP)?,
        })
    }

    /// Writes the gateway-wide settings.
    pub fn configure(&mut self, p: &Nat46Params) -> Result<(), DatapathError> {
        assert!(
            p.snat_addresses.len() <= NAT46_MAX_SNAT_ADDRS,
            "the config allows at most {NAT46_MAX_SNAT_ADDRS} SNAT addresses"
        );
        let mut c = Nat46Config {
            port_min: p.snat_ports.0,
            port_max: p.snat_ports.1,
            hash_seed: p.hash_seed,
            snat_count: p.snat_addresses.len() as u8,
            ..Default::default()
        };
        if let Some(prefix) = &p.preserve_prefix {
            c.preserve_prefix = prefix.addr().octets();
            c.preserve_v4_pos = prefix.octet_positions().map(|pos| pos as u8);
            c.preserve_len = prefix.len();
        }
        for state in CtState::ALL {
            c.timeout_ns[state as usize] = p.timeouts.of(state).as_nanos() as u64;
        }
        for (slot, addr) in c.snat.iter_mut().zip(&p.snat_addresses) {
            *slot = addr.octets();
        }
        self.nat46
            .set(0, c, 0)
            .map_err(map_err(format!("writing {NAT46_MAP}")))
    }

    /// The settings in force.
    pub fn settings(&self) -> Result<Nat46Config, DatapathError> {
        self.nat46
            .get(&0, 0)
            .map_err(map_err(format!("reading {NAT46_MAP}")))
    }

    /// Turns the service lookup in the data path on or off (it costs a map
    /// lookup per packet, so it is off while there are no services).
    pub fn set_enabled(&mut self, on: bool) -> Result<(), DatapathError> {
        let mut c = self
            .config
            .get(&0, 0)
            .map_err(map_err(format!("reading {CONFIG_MAP}")))?;
        let flags = if on {
            c.flags | CFG_NAT46
        } else {
            c.flags & !CFG_NAT46
        };
        if flags != c.flags {
            c.flags = flags;
            self.config
                .set(0, c, 0)
                .map_err(map_err(format!("writing {CONFIG_MAP}")))?;
        }
        Ok(())
    }

    /// Every service in the data path, by key.
    pub fn services(&self) -> Result<BTreeMap<SvcKey, SvcValue>, DatapathError> {
        self.services
            .iter()
            .collect::<Result<_, _>>()
            .map_err(map_err(format!("listing {SERVICES_MAP}")))
    }

    /// Creates or replaces a service. The new backends go into the idle
    /// backend-id range, then a new Maglev table is swapped in whole, then
    /// the service entry (table size, mode, ranges flag) is written: a
    /// packet sees the old service or the new one. Returns the service id.
    pub fn upsert(&mut self, svc: &ServiceProgram<'_>) -> Result<u32, DatapathError> {
        assert!(
            svc.backends.len() <= NAT46_MAX_BACKENDS_PER_SERVICE as usize,
            "the service model allows at most {NAT46_MAX_BACKENDS_PER_SERVICE} backends"
        );
        assert!(
            svc.table.iter().all(|&i| (i as usize) < svc.backends.len()),
            "Maglev table refers to a backend that is not in the list"
        );
        let key = SvcKey::new(svc.vip, svc.port, svc.protocol.number());
        let existing = match self.services.get(&key, 0) {
            Ok(v) => Some(v),
            Err(e) if not_found(&e) => None,
            Err(e) => return Err(map_err(format!("reading {SERVICES_MAP}"))(e)),
        };
        let (id, generation) = match existing {
            Some(v) => (v.id, v.generation ^ 1),
            None => {
                let id = self.free_service_id()?;
                self.reset_counters(id)?;
                (id, 0)
            }
        };

        for (i, b) in svc.backends.iter().enumerate() {
            let value = BackendValue {
                addr: b.ip().octets(),
                port: b.port().to_be_bytes(),
                pad: 0,
            };
            self.backends
                .insert(backend_id(id, generation, i as u32), value, 0)
                .map_err(map_err(format!("writing {BACKENDS_MAP}")))?;
        }
        self.remove_backends(id, generation, svc.backends.len() as u32)?;

        let wanted_ranges: BTreeSet<(u32, [u8; 4])> = svc
            .source_ranges
            .iter()
            .map(|p| (32 + u32::from(p.len()), p.addr().octets()))
            .collect();
        for &(len, addr) in &wanted_ranges {
            self.ranges
                .insert(&Key::new(len, SvcRangeData { svc_id: id, addr }), 1, 0)
                .map_err(map_err(format!("writing {SVC_RANGES_MAP}")))?;
        }

        if svc.table.is_empty() {
            self.delete_table(id)?;
        } else {
            let mut table: Array<MapData, u32> =
                Array::create(svc.table.len() as u32, BPF_F_INNER_MAP)
                    .map_err(map_err("creating a Maglev table"))?;
            for (slot, &index) in svc.table.iter().enumerate() {
                table
                    .set(slot as u32, backend_id(id, generation, index), 0)
                    .map_err(map_err("filling a Maglev table"))?;
            }
            let mut outer: ArrayOfMaps<&mut MapData, Array<MapData, u32>> = (&mut self.maglev)
                .try_into()
                .map_err(map_err(format!("{MAGLEV_MAP} has an unexpected layout")))?;
            outer
                .set(id, &table, 0)
                .map_err(map_err(format!("swapping the table in {MAGLEV_MAP}")))?;
        }

        let value = SvcValue {
            id,
            table_size: svc.table.len() as u32,
            generation,
            mode: match svc.mode {
                SourceMode::Gateway => SVC_MODE_GATEWAY,
                SourceMode::Preserve => SVC_MODE_PRESERVE,
            },
            flags: if wanted_ranges.is_empty() {
                0
            } else {
                SVC_F_SOURCE_RANGES
            },
            pad: 0,
        };
        self.services
            .insert(key, value, 0)
            .map_err(map_err(format!("writing {SERVICES_MAP}")))?;

        // Now nothing refers to the old ranges.
        self.remove_ranges(id, &wanted_ranges)?;
        Ok(id)
    }

    /// Removes the service of `vip:port/protocol`; flows already tracked
    /// are left to the sweeper. Returns whether it existed.
    pub fn remove(
        &mut self,
        vip: Ipv4Addr,
        port: u16,
        protocol: Protocol,
    ) -> Result<bool, DatapathError> {
        let key = SvcKey::new(vip, port, protocol.number());
        let value = match self.services.get(&key, 0) {
            Ok(v) => v,
            Err(e) if not_found(&e) => return Ok(false),
            Err(e) => return Err(map_err(format!("reading {SERVICES_MAP}"))(e)),
        };
        // The entry first: from then on no packet reaches the rest.
        self.services
            .remove(&key)
            .map_err(map_err(format!("removing from {SERVICES_MAP}")))?;
        self.delete_table(value.id)?;
        self.remove_ranges(value.id, &BTreeSet::new())?;
        self.remove_backends(value.id, 0, 0)?;
        self.remove_backends(value.id, 1, 0)?;
        Ok(true)
    }

    /// Slots per backend of the table in force for `vip:port/protocol`
    /// (read back from the kernel), or `None` if there is no such service.
    pub fn slot_counts(
        &self,
        vip: Ipv4Addr,
        port: u16,
        protocol: Protocol,
    ) -> Result<Option<BTreeMap<SocketAddrV6, u32>>, DatapathError> {
        let key = SvcKey::new(vip, port, protocol.number());
        let value = match self.services.get(&key, 0) {
            Ok(v) => v,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(map_err(format!("reading {SERVICES_MAP}"))(e)),
        };
        let mut by_id: BTreeMap<u32, u32> = BTreeMap::new();
        if value.table_size > 0 {
            let outer: ArrayOfMaps<&MapData, Array<MapData, u32>> = (&self.maglev)
                .try_into()
                .map_err(map_err(format!("{MAGLEV_MAP} has an unexpected layout")))?;
            let table = outer
                .get(&value.id, 0)
                .map_err(map_err(format!("reading {MAGLEV_MAP}")))?;
            for slot in table.iter() {
                let id = slot.map_err(map_err("reading a Maglev table"))?;
                *by_id.entry(id).or_default() += 1;
            }
        }
        let mut out = BTreeMap::new();
        for (id, slots) in by_id {
            let b = self
                .backends
                .get(&id, 0)
                .map_err(map_err(format!("reading backend {id} of {BACKENDS_MAP}")))?;
            out.insert(v6(b.addr, b.port), slots);
        }
        Ok(Some(out))
    }

    /// Up to `limit` tracked flows (client side), in map order.
    pub fn flows(&self, limit: usize) -> Result<Vec<Flow>, DatapathError> {
        let mut out = Vec::new();
        for item in self.ct4.iter().take(limit) {
            match item {
                Ok((key, entry)) => out.push(Flow { key, entry }),
                // Evicted between listing the key and reading it.
                Err(e) if not_found(&e) => {}
                Err(e) => return Err(map_err(format!("listing {CT4_MAP}"))(e)),
            }
        }
        Ok(out)
    }

    /// Deletes expired flows, flows of services that no longer exist, and
    /// backend-side entries whose flow is gone or was re-pinned.
    pub fn sweep(&mut self, now_ns: u64) -> Result<SweepReport, DatapathError> {
        let settings = self.settings()?;
        let live: BTreeSet<u32> = self.services()?.values().map(|v| v.id).collect();
        let mut report = SweepReport::default();
        for flow in self.flows(usize::MAX)? {
            let timeout = settings
                .timeout_ns
                .get(usize::from(flow.entry.state))
                .copied()
                .filter(|_| usize::from(flow.entry.state) < CT_STATE_MAX)
                .unwrap_or(0);
            let expired = now_ns.saturating_sub(flow.entry.last_seen) > timeout;
            if expired || !live.contains(&flow.entry.svc_id) {
                match self.ct4.remove(&flow.key) {
                    Ok(()) => report.ct4_removed += 1,
                    Err(e) if not_found(&e) => {}
                    Err(e) => return Err(map_err(format!("removing from {CT4_MAP}"))(e)),
                }
            }
        }
        let reply_keys: Vec<(Ct6Key, Ct6Entry)> = self
            .ct6
            .iter()
            .filter(|r| !matches!(r, Err(e) if not_found(e)))
            .collect::<Result<_, _>>()
            .map_err(map_err(format!("listing {CT6_MAP}")))?;
        for (rk, r) in reply_keys {
            let holder = match self.ct4.get(&r.flow, 0) {
                Ok(e) => Some(e),
                Err(e) if not_found(&e) => None,
                Err(e) => return Err(map_err(format!("reading {CT4_MAP}"))(e)),
            };
            if holder.is_none_or(|e| e.reply_key(r.flow.proto) != rk) {
                match self.ct6.remove(&rk) {
                    Ok(()) => report.ct6_removed += 1,
                    Err(e) if not_found(&e) => {}
                    Err(e) => return Err(map_err(format!("removing from {CT6_MAP}"))(e)),
                }
            }
        }
        Ok(report)
    }

    /// The counters of service `id`, summed over CPUs.
    pub fn service_counters(&self, id: u32) -> Result<Vec<ServiceCounterValue>, DatapathError> {
        SVC_COUNTERS
            .iter()
            .enumerate()
            .map(|(i, counter)| {
                let slot = id * SVC_COUNTERS.len() as u32 + i as u32;
                let per_cpu = self
                    .counters
                    .get(&slot, 0)
                    .map_err(map_err(format!("reading {SVC_COUNTERS_MAP}")))?;
                Ok(ServiceCounterValue {
                    counter: *counter,
                    packets: per_cpu.iter().map(|c| c.packets).sum(),
                    bytes: per_cpu.iter().map(|c| c.bytes).sum(),
                })
            })
            .collect()
    }

    /// The lowest id no service uses.
    fn free_service_id(&self) -> Result<u32, DatapathError> {
        let used: BTreeSet<u32> = self.services()?.values().map(|v| v.id).collect();
        (0..NAT46_MAX_SERVICES)
            .find(|id| !used.contains(id))
            .ok_or_else(|| DatapathError::Io {
                what: format!("adding a service to {SERVICES_MAP}"),
                source: std::io::Error::other(format!(
                    "the data path holds at most {NAT46_MAX_SERVICES} services"
                )),
            })
    }

    /// A reused id starts its counters from zero.
    fn reset_counters(&mut self, id: u32) -> Result<(), DatapathError> {
        let cpus =
            aya::util::nr_cpus().map_err(|(_, e)| crate::datapath::io_err("counting CPUs")(e))?;
        for i in 0..SVC_COUNTERS.len() as u32 {
            let zeros = PerCpuValues::try_from(vec![SixgateCount::default(); cpus])
                .map_err(crate::datapath::io_err("building per-CPU values"))?;
            self.counters
                .set(id * SVC_COUNTERS.len() as u32 + i, zeros, 0)
                .map_err(map_err(format!("resetting {SVC_COUNTERS_MAP}")))?;
        }
        Ok(())
    }

    /// Removes backend ids `from..` of one generation of service `id`.
    fn remove_backends(&mut self, id: u32, generation: u8, from: u32) -> Result<(), DatapathError> {
        for index in from..NAT46_MAX_BACKENDS_PER_SERVICE {
            match self.backends.remove(&backend_id(id, generation, index)) {
                Ok(()) => {}
                // Ids are filled from 0 up: the first gap ends the range.
                Err(e) if not_found(&e) => break,
                Err(e) => return Err(map_err(format!("removing from {BACKENDS_MAP}"))(e)),
            }
        }
        Ok(())
    }

    /// Removes service `id`'s source ranges other than `keep`.
    fn remove_ranges(
        &mut self,
        id: u32,
        keep: &BTreeSet<(u32, [u8; 4])>,
    ) -> Result<(), DatapathError> {
        let stale: Vec<Key<SvcRangeData>> = self
            .ranges
            .keys()
            .filter(|k| {
                k.as_ref().map_or(true, |k| {
                    let data = k.data();
                    data.svc_id == id && !keep.contains(&(k.prefix_len(), data.addr))
                })
            })
            .collect::<Result<_, _>>()
            .map_err(map_err(format!("listing {SVC_RANGES_MAP}")))?;
        for key in stale {
            self.ranges
                .remove(&key)
                .map_err(map_err(format!("removing from {SVC_RANGES_MAP}")))?;
        }
        Ok(())
    }

    /// Drops service `id`'s Maglev table, if it has one. aya has no delete
    /// for array-of-maps, so this is the BPF_MAP_DELETE_ELEM syscall.
    fn delete_table(&mut self, id: u32) -> Result<(), DatapathError> {
        let Map::ArrayOfMaps(data) = &self.maglev else {
            unreachable!("checked in open");
        };
        #[repr(C)]
        struct DeleteAttr {
            map_fd: u32,
            _pad: u32,
            key: u64,
        }
        let attr = DeleteAttr {
            map_fd: data.fd().as_fd().as_raw_fd() as u32,
            _pad: 0,
            key: &id as *const u32 as u64,
        };
        const BPF_MAP_DELETE_ELEM: libc::c_long = 3;
        // SAFETY: the attr points at a live u32 key; the kernel reads
        // size_of::<DeleteAttr>() bytes of it.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_MAP_DELETE_ELEM,
                &attr as *const DeleteAttr,
                std::mem::size_of::<DeleteAttr>(),
            )
        };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ENOENT) {
                return Err(crate::datapath::io_err(format!(
                    "removing table {id} from {MAGLEV_MAP}"
                ))(e));
            }
        }
        Ok(())
    }
}
