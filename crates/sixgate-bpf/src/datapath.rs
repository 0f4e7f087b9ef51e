//! Loading the tc object, programming its maps, and attaching it with
//! pinned TCX links so that a restart replaces the program atomically.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::maps::{Array, MapData, MapError, ProgramArray};
use aya::programs::links::{FdLink, LinkError, PinnedLink};
use aya::programs::tc::{SchedClassifierLink, TcAttachOptions};
use aya::programs::{LinkOrder, ProgramError, SchedClassifier, TcAttachType};
use aya::{Ebpf, EbpfError, EbpfLoader, Pod};
use sixgate_wire::xlat::{Eam, TrafficClass, UdpZeroChecksum};
use sixgate_wire::{Ipv4Prefix, Rfc6052Prefix};
use tracing::warn;

use crate::counters::{sum_counters, CounterValue};
use crate::exception::ExceptionParams;
use crate::maps::{
    served_v4_key_data, Eamt4Value, Eamt6Value, SixgateConfig, CFG_EAMT, CFG_NAT46,
    CFG_RFC6791_POOL6, CFG_TCLASS_SET, CFG_UDP_ZERO_DROP, CONFIG_MAP, COUNTERS_MAP, EAMT4_MAP,
    EAMT6_MAP, HAIRPIN_MAP, HAIRPIN_SLOT, SERVED_V4_MAP,
};
use crate::ratelimit::{online_cpus, RateLimit};
use crate::{HAIRPIN_PROGRAM, TC_OBJECT, TC_PROGRAM};

/// `BPF_FS_MAGIC` from linux/magic.h.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
/// Subdirectory of the pin path that holds the TCX links.
const LINKS_DIR: &str = "links";

/// What the stateless translator needs from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiitParams {
    /// RFC 6052 translation prefix.
    pub pool6: Rfc6052Prefix,
    /// IPv4 prefixes the gateway translates.
    pub ipv4_prefixes: Vec<Ipv4Prefix>,
    /// RFC 6052 3.1 relaxation.
    pub wkp_allow_non_global: bool,
    /// Indexes of attached interfaces that are veth (at most two are used):
    /// packets routed out of them are handed to the peer's ingress.
    pub veth_ifindexes: Vec<u32>,
    /// RFC 6791: IPv4 sources for ICMPv6 errors whose source has no IPv4
    /// form (at most `maps::RFC6791_MAX`).
    pub rfc6791_pool4: Vec<std::net::Ipv4Addr>,
    /// RFC 6791: the IPv6 source of the gateway's own ICMPv6 errors (Time
    /// Exceeded, Parameter Problem); without one they are not sent.
    pub rfc6791_pool6: Option<std::net::Ipv6Addr>,
    /// RFC 7915 4.1 lowest-ipv6-mtu (applies with an exception path only).
    pub lowest_ipv6_mtu: u16,
    /// Where packets the programs cannot finish go; `None`: dropped.
    pub exception: Option<ExceptionParams>,
    /// RFC 7915 4.1 / 5.1: copy the Traffic Class / TOS, or set it.
    pub traffic_class: TrafficClass,
    /// RFC 7915 4.5: IPv4 UDP with checksum 0, given one or dropped.
    pub udp_zero_checksum: UdpZeroChecksum,
    /// RFC 4443 2.4 (f): the limit on the ICMP errors the gateway sends
    /// itself; `None`: no limit.
    pub icmp_errors: Option<RateLimit>,
    /// RFC 7757 explicit address mappings, looked up before pool6 (at most
    /// `maps::EAMT_MAX_ENTRIES`, no two with the same IPv4 or IPv6 prefix).
    pub eamt: Vec<Eam>,
}

impl SiitParams {
    /// `pool6` and the served `ipv4_prefixes`, everything else at its
    /// default: RFC 6052 3.1 strict, no veth peers, no RFC 6791 pools,
    /// lowest-ipv6-mtu 1280, no exception path, Traffic Class copied, UDP
    /// checksum 0 computed, the gateway's ICMP errors not limited, no EAMT.
    pub fn new(pool6: Rfc6052Prefix, ipv4_prefixes: Vec<Ipv4Prefix>) -> Self {
        Self {
            pool6,
            ipv4_prefixes,
            wkp_allow_non_global: false,
            veth_ifindexes: Vec::new(),
            rfc6791_pool4: Vec::new(),
            rfc6791_pool6: None,
            lowest_ipv6_mtu: crate::maps::LOWEST_IPV6_MTU_DEFAULT,
            exception: None,
            traffic_class: TrafficClass::Copy,
            udp_zero_checksum: UdpZeroChecksum::Compute,
            icmp_errors: None,
            eamt: Vec::new(),
        }
    }
}

/// Why loading, programming or attaching the data path failed.
#[derive(Debug, thiserror::Error)]
pub enum DatapathError {
    /// The pin path is not usable.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: io::Error,
    },
    /// Another process holds the pin path.
    #[error(
        "another `sixgate run` is using the pin path {0} (stop it first, or give this one \
         another bpf.pin_path)"
    )]
    Busy(PathBuf),
    /// The pin path is not on a bpffs mount.
    #[error("{0} is not on a bpffs mount (mount one with: mount -t bpf bpf /sys/fs/bpf)")]
    NotBpffs(PathBuf),
    /// The object could not be loaded (verifier, incompatible pinned maps, ...).
    #[error("loading the eBPF object: {0}")]
    Load(#[source] EbpfError),
    /// A map operation failed.
    #[error("{what}: {source}")]
    Map {
        /// What was being done.
        what: String,
        /// aya's error.
        source: MapError,
    },
    /// A program operation failed.
    #[error("{what}: {source}")]
    Program {
        /// What was being done.
        what: String,
        /// aya's error.
        source: ProgramError,
    },
    /// A link operation failed.
    #[error("{what}: {source}")]
    Link {
        /// What was being done.
        what: String,
        /// aya's error.
        source: LinkError,
    },
}

pub(crate) fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> DatapathError {
    let what = what.into();
    move |source| DatapathError::Io { what, source }
}

fn map_err(what: impl Into<String>) -> impl FnOnce(MapError) -> DatapathError {
    let what = what.into();
    move |source| DatapathError::Map { what, source }
}

fn prog_err(what: impl Into<String>) -> impl FnOnce(ProgramError) -> DatapathError {
    let what = what.into();
    move |source| DatapathError::Program { what, source }
}

/// The loaded data path: maps pinned under `pin_path`, the tc program
/// loaded and (after `attach`) attached with links pinned there too.
pub struct Datapath {
    ebpf: Ebpf,
    pin_path: PathBuf,
}

impl Datapath {
    /// Loads the tc object, reusing maps already pinned under `pin_path`
    /// (so counters and configuration survive a restart), and puts the
    /// hairpin program in its slot (at once in force for a program still
    /// attached from an earlier run, which shares the pinned slot).
    pub fn load(pin_path: &Path) -> Result<Self, DatapathError> {
        std::fs::create_dir_all(pin_path)
            .map_err(io_err(format!("creating pin path {}", pin_path.display())))?;
        check_bpffs(pin_path)?;
        for name in drop_incompatible_pins(pin_path)? {
            warn!(
                map = %name,
                "pinned map has another layout than this version's; replaced (its contents are lost)"
            );
        }
        let mut ebpf = EbpfLoader::new()
            .default_map_pin_directory(pin_path)
            .load(TC_OBJECT)
            .map_err(DatapathError::Load)?;
        let prog: &mut SchedClassifier = ebpf
            .program_mut(TC_PROGRAM)
            .ok_or_else(|| DatapathError::Program {
                what: format!("finding program {TC_PROGRAM}"),
                source: ProgramError::UnexpectedProgramType,
            })?
            .try_into()
            .map_err(prog_err(format!("{TC_PROGRAM} is not a tc program")))?;
        prog.load()
            .map_err(prog_err(format!("verifying {TC_PROGRAM}")))?;
        load_hairpin(&mut ebpf)?;
        Ok(Self {
            ebpf,
            pin_path: pin_path.to_path_buf(),
        })
    }

    /// Where maps and links are pinned.
    pub fn pin_path(&self) -> &Path {
        &self.pin_path
    }

    /// The loaded tc program (for attaching or test runs).
    pub fn program(&mut self) -> &mut SchedClassifier {
        self.ebpf
            .program_mut(TC_PROGRAM)
            .and_then(|p| p.try_into().ok())
            .expect("checked in load")
    }

    /// Programs the translator: served prefixes and EAMs first, then the
    /// config entry, then stale prefixes and EAMs out, so no packet sees a
    /// half state worse than the old or the new configuration.
    pub fn configure(&mut self, params: &SiitParams) -> Result<(), DatapathError> {
        let [served, config, eamt4, eamt6] =
            self.ebpf
                .maps_disjoint_mut([SERVED_V4_MAP, CONFIG_MAP, EAMT4_MAP, EAMT6_MAP]);
        let mut served: LpmTrie<_, u32, u8> = served
            .ok_or_else(|| missing_map(SERVED_V4_MAP))?
            .try_into()
            .map_err(map_err(SERVED_V4_MAP))?;
        let mut config: Array<_, SixgateConfig> = config
            .ok_or_else(|| missing_map(CONFIG_MAP))?
            .try_into()
            .map_err(map_err(CONFIG_MAP))?;
        let mut eamt4: LpmTrie<_, u32, Eamt4Value> = eamt4
            .ok_or_else(|| missing_map(EAMT4_MAP))?
            .try_into()
            .map_err(map_err(EAMT4_MAP))?;
        let mut eamt6: LpmTrie<_, [u8; 16], Eamt6Value> = eamt6
            .ok_or_else(|| missing_map(EAMT6_MAP))?
            .try_into()
            .map_err(map_err(EAMT6_MAP))?;

        let served_wanted: BTreeMap<(u32, u32), u8> = params
            .ipv4_prefixes
            .iter()
            .map(|p| ((u32::from(p.len()), served_v4_key_data(p.addr())), 1))
            .collect();
        let eamt4_wanted: BTreeMap<(u32, u32), Eamt4Value> = params
            .eamt
            .iter()
            .map(|e| {
                let key = (u32::from(e.ipv4.len()), served_v4_key_data(e.ipv4.addr()));
                (key, Eamt4Value::new(e))
            })
            .collect();
        let eamt6_wanted: BTreeMap<(u32, [u8; 16]), Eamt6Value> = params
            .eamt
            .iter()
            .map(|e| {
                let key = (u32::from(e.ipv6.len()), e.ipv6.addr().octets());
                (key, Eamt6Value::new(e))
            })
            .collect();
        lpm_insert_all(&mut served, &served_wanted, SERVED_V4_MAP)?;
        lpm_insert_all(&mut eamt4, &eamt4_wanted, EAMT4_MAP)?;
        lpm_insert_all(&mut eamt6, &eamt6_wanted, EAMT6_MAP)?;
        // The NAT46 bit belongs to Nat46Maps::set_enabled: a restart that
        // reprograms the translator must not switch services off meanwhile.
        let nat46 = config
            .get(&0, 0)
            .map_err(map_err(format!("reading {CONFIG_MAP}")))?
            .flags
            & CFG_NAT46;
        let mut value = SixgateConfig::new(
            &params.pool6,
            params.wkp_allow_non_global,
            &params.veth_ifindexes,
            &params.rfc6791_pool4,
        );
        value.flags |= nat46;
        if !params.eamt.is_empty() {
            value.flags |= CFG_EAMT;
        }
        value.lowest_ipv6_mtu = params.lowest_ipv6_mtu;
        match params.traffic_class {
            TrafficClass::Copy => {}
            TrafficClass::Zero => value.flags |= CFG_TCLASS_SET,
            TrafficClass::Override(v) => {
                value.flags |= CFG_TCLASS_SET;
                value.tclass = v;
            }
        }
        if let Some(a) = params.rfc6791_pool6 {
            value.flags |= CFG_RFC6791_POOL6;
            value.rfc6791_pool6 = a.octets();
        }
        if params.udp_zero_checksum == UdpZeroChecksum::Drop {
            value.flags |= CFG_UDP_ZERO_DROP;
        }
        let cpus = online_cpus().map_err(io_err("reading the online CPUs"))?;
        if let Some(exc) = &params.exception {
            (value.exc_cost_ns, value.exc_burst_ns) = exc.limit().gcra(cpus);
            value.exc_ifindex = exc.ifindex;
        }
        if let Some(limit) = &params.icmp_errors {
            (value.icmp_cost_ns, value.icmp_burst_ns) = limit.gcra(cpus);
        }
        config
            .set(0, value, 0)
            .map_err(map_err(format!("writing {CONFIG_MAP}")))?;
        lpm_remove_others(&mut served, &served_wanted, SERVED_V4_MAP)?;
        lpm_remove_others(&mut eamt4, &eamt4_wanted, EAMT4_MAP)?;
        lpm_remove_others(&mut eamt6, &eamt6_wanted, EAMT6_MAP)?;
        Ok(())
    }

    /// Attaches the program to `ifname`'s ingress. If a link pinned by an
    /// earlier run exists, its program is replaced atomically (no packet
    /// sees the interface without a program); otherwise a new TCX link is
    /// created and pinned.
    pub fn attach(&mut self, ifname: &str) -> Result<(), DatapathError> {
        let links = self.pin_path.join(LINKS_DIR);
        std::fs::create_dir_all(&links).map_err(io_err(format!("creating {}", links.display())))?;
        let pin = link_pin(&self.pin_path, ifname);
        let prog = self.program();
        match PinnedLink::from_pin(&pin) {
            Ok(old) => {
                let link: SchedClassifierLink =
                    FdLink::from(old)
                        .try_into()
                        .map_err(|source| DatapathError::Link {
                            what: format!("{} is not a tc link", pin.display()),
                            source,
                        })?;
                let id = prog
                    .attach_to_link(link)
                    .map_err(prog_err(format!("replacing the program on {ifname}")))?;
                // The pin keeps the link; our fd may close.
                drop(prog.take_link(id));
            }
            Err(LinkError::SyscallError(e)) if e.io_error.kind() == io::ErrorKind::NotFound => {
                let id = prog
                    .attach_with_options(
                        ifname,
                        TcAttachType::Ingress,
                        TcAttachOptions::TcxOrder(LinkOrder::default()),
                    )
                    .map_err(prog_err(format!("attaching to {ifname} ingress")))?;
                let link = prog
                    .take_link(id)
                    .map_err(prog_err(format!("taking the link on {ifname}")))?;
                let fd_link: FdLink = link.try_into().map_err(|source| DatapathError::Link {
                    what: format!("link on {ifname} is not a TCX link"),
                    source,
                })?;
                fd_link.pin(&pin).map_err(|e| DatapathError::Io {
                    what: format!("pinning link at {}", pin.display()),
                    source: io::Error::other(e.to_string()),
                })?;
            }
            Err(source) => {
                return Err(DatapathError::Link {
                    what: format!("opening pinned link {}", pin.display()),
                    source,
                })
            }
        }
        Ok(())
    }

    /// `max_entries` of the served-prefix map as loaded in the kernel.
    pub fn served_v4_max_entries(&self) -> Result<u32, DatapathError> {
        let pin = self.pin_path.join(SERVED_V4_MAP);
        let info = aya::maps::MapInfo::from_pin(&pin)
            .map_err(map_err(format!("inspecting {}", pin.display())))?;
        Ok(info.max_entries())
    }

    /// Current counter values, straight from the loaded map.
    pub fn counters(&self) -> Result<Vec<CounterValue>, DatapathError> {
        let map = self
            .ebpf
            .map(COUNTERS_MAP)
            .ok_or_else(|| missing_map(COUNTERS_MAP))?;
        sum_counters(map)
    }
}

/// Loads the hairpin program and puts it in slot [`HAIRPIN_SLOT`] of
/// [`HAIRPIN_MAP`], where the tc program tail-calls it.
fn load_hairpin(ebpf: &mut Ebpf) -> Result<(), DatapathError> {
    let prog: &mut SchedClassifier = ebpf
        .program_mut(HAIRPIN_PROGRAM)
        .ok_or_else(|| DatapathError::Program {
            what: format!("finding program {HAIRPIN_PROGRAM}"),
            source: ProgramError::UnexpectedProgramType,
        })?
        .try_into()
        .map_err(prog_err(format!("{HAIRPIN_PROGRAM} is not a tc program")))?;
    prog.load()
        .map_err(prog_err(format!("verifying {HAIRPIN_PROGRAM}")))?;
    let fd = prog
        .fd()
        .map_err(prog_err(format!("{HAIRPIN_PROGRAM} has no fd")))?
        .try_clone()
        .map_err(io_err(format!("duplicating the fd of {HAIRPIN_PROGRAM}")))?;
    let mut slots: ProgramArray<_> = ebpf
        .map_mut(HAIRPIN_MAP)
        .ok_or_else(|| missing_map(HAIRPIN_MAP))?
        .try_into()
        .map_err(map_err(HAIRPIN_MAP))?;
    slots.set(HAIRPIN_SLOT, &fd, 0).map_err(map_err(format!(
        "putting {HAIRPIN_PROGRAM} in {HAIRPIN_MAP}"
    )))
}

/// Inserts every `wanted` entry into `trie` (replacing the value of a key
/// already there).
fn lpm_insert_all<K: Pod + Ord, V: Pod>(
    trie: &mut LpmTrie<&mut MapData, K, V>,
    wanted: &BTreeMap<(u32, K), V>,
    name: &str,
) -> Result<(), DatapathError> {
    for (&(len, data), value) in wanted {
        trie.insert(&Key::new(len, data), value, 0)
            .map_err(map_err(format!("adding an entry to {name}")))?;
    }
    Ok(())
}

/// Removes from `trie` every key that `wanted` does not hold.
fn lpm_remove_others<K: Pod + Ord, V: Pod>(
    trie: &mut LpmTrie<&mut MapData, K, V>,
    wanted: &BTreeMap<(u32, K), V>,
    name: &str,
) -> Result<(), DatapathError> {
    let stale: Vec<Key<K>> = trie
        .keys()
        .filter(|k| {
            k.as_ref()
                .map_or(true, |k| !wanted.contains_key(&(k.prefix_len(), k.data())))
        })
        .collect::<Result<_, _>>()
        .map_err(map_err(format!("listing {name}")))?;
    for key in stale {
        trie.remove(&key)
            .map_err(map_err(format!("removing a stale entry from {name}")))?;
    }
    Ok(())
}

/// aya reuses a pinned map whatever its layout. A map pinned by another
/// version with other key/value sizes or capacity would be misread, so such
/// pins are removed before loading and the map is created afresh. Returns
/// the names of the maps removed.
fn drop_incompatible_pins(pin_path: &Path) -> Result<Vec<String>, DatapathError> {
    let obj = aya_obj::Object::parse(TC_OBJECT).map_err(|e| DatapathError::Io {
        what: "parsing the embedded eBPF object".into(),
        source: io::Error::other(e.to_string()),
    })?;
    let mut dropped = Vec::new();
    for (name, map) in &obj.maps {
        let pin = pin_path.join(name);
        if !pin.exists() {
            continue;
        }
        let info = aya::maps::MapInfo::from_pin(&pin)
            .map_err(map_err(format!("inspecting pinned map {}", pin.display())))?;
        let same = info.key_size() == map.key_size()
            && info.value_size() == map.value_size()
            && info.max_entries() == map.max_entries()
            && info.map_flags() == map.map_flags();
        if !same {
            std::fs::remove_file(&pin)
                .map_err(io_err(format!("removing stale pin {}", pin.display())))?;
            dropped.push(name.clone());
        }
    }
    Ok(dropped)
}

/// Exclusive use of a pin path by one daemon, for as long as it lives.
/// Two daemons on one pin path would fight over the same links: the first
/// to stop would detach the other's program. An flock on the directory
/// (it works on bpffs) is released by the kernel however the process ends.
#[derive(Debug)]
pub struct PinLock {
    _dir: std::fs::File,
}

impl PinLock {
    /// Creates `pin_path` if needed and locks it, or fails with `Busy`.
    pub fn acquire(pin_path: &Path) -> Result<PinLock, DatapathError> {
        use std::os::fd::AsRawFd as _;
        std::fs::create_dir_all(pin_path)
            .map_err(io_err(format!("creating pin path {}", pin_path.display())))?;
        let dir = std::fs::File::open(pin_path)
            .map_err(io_err(format!("opening pin path {}", pin_path.display())))?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            return Err(if e.kind() == io::ErrorKind::WouldBlock {
                DatapathError::Busy(pin_path.to_path_buf())
            } else {
                io_err(format!("locking pin path {}", pin_path.display()))(e)
            });
        }
        Ok(PinLock { _dir: dir })
    }
}

fn missing_map(name: &str) -> DatapathError {
    DatapathError::Map {
        what: format!("the object has no map {name}"),
        source: MapError::InvalidName {
            name: name.to_string(),
        },
    }
}

fn link_pin(pin_path: &Path, ifname: &str) -> PathBuf {
    pin_path
        .join(LINKS_DIR)
        .join(format!("tc_ingress_{ifname}"))
}

/// Interfaces that have a link pinned under `pin_path`.
pub fn pinned_interfaces(pin_path: &Path) -> Result<Vec<String>, DatapathError> {
    let dir = pin_path.join(LINKS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(format!("reading {}", dir.display()))(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err(format!("reading {}", dir.display())))?;
        if let Some(name) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.strip_prefix("tc_ingress_"))
        {
            out.push(name.to_string());
        }
    }
    out.sort();
    Ok(out)
}

/// Detaches the program from `ifname` by removing its pinned link (the
/// last reference), if there is one. Returns whether a link was removed.
pub fn detach(pin_path: &Path, ifname: &str) -> Result<bool, DatapathError> {
    let pin = link_pin(pin_path, ifname);
    match PinnedLink::from_pin(&pin) {
        Ok(link) => {
            let fd = link
                .unpin()
                .map_err(io_err(format!("unpinning {}", pin.display())))?;
            drop(fd);
            Ok(true)
        }
        Err(LinkError::SyscallError(e)) if e.io_error.kind() == io::ErrorKind::NotFound => {
            Ok(false)
        }
        Err(source) => Err(DatapathError::Link {
            what: format!("opening pinned link {}", pin.display()),
            source,
        }),
    }
}

fn check_bpffs(path: &Path) -> Result<(), DatapathError> {
    use std::os::unix::ffi::OsStrExt as _;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|e| io_err(format!("pin path {}", path.display()))(io::Error::other(e)))?;
    // SAFETY: statfs writes into the zeroed struct we own; c is NUL-terminated.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io_err(format!("statfs {}", path.display()))(
            io::Error::last_os_error(),
        ));
    }
    if st.f_type as i64 != BPF_FS_MAGIC {
        return Err(DatapathError::NotBpffs(path.to_path_buf()));
    }
    Ok(())
}
