//! The NAT46 service data path behind the API: builds each service's
//! weighted Maglev table and programs it, with the backends and source
//! ranges, through `sixgate_bpf::nat46::Nat46Maps`; answers slot counts,
//! connection tracking and counters from the kernel's maps; sweeps expired
//! flows.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddrV6;
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context as _;
use sixgate_bpf::maps::CtState as BpfCtState;
use sixgate_bpf::nat46::{self as bpf, monotonic_now_ns, Nat46Maps, ServiceProgram, SweepReport};
use sixgate_maglev::{MaglevConfig, Table};

use crate::dataplane::{CtEntry, CtState, ServiceDataplane, ServiceStats};
use crate::service::{Nat46Settings, Protocol, Service, ServiceKey, SourceMode};

/// The eBPF implementation of [`ServiceDataplane`].
pub struct BpfDataplane {
    maps: Mutex<Nat46Maps>,
    settings: Nat46Settings,
}

impl BpfDataplane {
    /// Opens the maps pinned under `pin_path` and writes the gateway-wide
    /// NAT46 settings.
    pub fn open(pin_path: &Path, settings: &Nat46Settings) -> anyhow::Result<Self> {
        let mut maps = Nat46Maps::open(pin_path).context("opening the NAT46 maps")?;
        maps.configure(&bpf::Nat46Params {
            snat_addresses: settings.snat_addresses.clone(),
            snat_ports: settings.snat_ports,
            preserve_prefix: settings.preserve_prefix,
            // The data path's flow hash is 32-bit; the Maglev tables use
            // the whole seed.
            hash_seed: settings.maglev_seed as u32,
            timeouts: settings.timeouts,
        })
        .context("writing the NAT46 settings")?;
        Ok(Self {
            maps: Mutex::new(maps),
            settings: settings.clone(),
        })
    }

    fn maps(&self) -> std::sync::MutexGuard<'_, Nat46Maps> {
        self.maps.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Services in the data path that `keep` does not name: left by an
    /// earlier run whose config or state no longer has them. Removed.
    pub fn remove_others(&self, keep: &[ServiceKey]) -> anyhow::Result<usize> {
        let mut maps = self.maps();
        let mut removed = 0;
        for key in maps.services()?.into_keys() {
            let Some(protocol) = bpf::Protocol::from_number(key.proto) else {
                continue;
            };
            let known = keep.iter().any(|k| {
                k.vip == key.vip() && k.port == key.port() && bpf_protocol(k.protocol) == protocol
            });
            if !known && maps.remove(key.vip(), key.port(), protocol)? {
                removed += 1;
            }
        }
        let any = !maps.services()?.is_empty();
        maps.set_enabled(any)?;
        Ok(removed)
    }

    /// Deletes expired flows (see `Nat46Maps::sweep`).
    pub fn sweep(&self) -> anyhow::Result<SweepReport> {
        Ok(self.maps().sweep(monotonic_now_ns())?)
    }

    /// The Maglev table of `svc`: the backends it refers to and the slots.
    /// Empty when no backend has weight.
    fn table(&self, svc: &Service) -> anyhow::Result<(Vec<SocketAddrV6>, Vec<u32>)> {
        if svc.backends.iter().all(|b| b.weight == 0) {
            return Ok((Vec::new(), Vec::new()));
        }
        let by_key: HashMap<String, SocketAddrV6> = svc
            .backends
            .iter()
            .map(|b| (b.socket_addr().to_string(), b.socket_addr()))
            .collect();
        let backends: Vec<sixgate_maglev::Backend> = svc
            .backends
            .iter()
            .map(|b| sixgate_maglev::Backend::new(b.socket_addr().to_string(), b.weight))
            .collect();
        let table = Table::build(
            &MaglevConfig::new(self.settings.maglev_table_size, self.settings.maglev_seed),
            &backends,
        )
        .with_context(|| format!("building the Maglev table of service {}", svc.name))?;
        let order = table.backends().iter().map(|b| by_key[&b.key]).collect();
        Ok((order, table.slots().to_vec()))
    }

    fn program(&self, maps: &mut Nat46Maps, svc: &Service) -> anyhow::Result<u32> {
        let (backends, slots) = self.table(svc)?;
        let id = maps.upsert(&ServiceProgram {
            vip: svc.vip,
            port: svc.port,
            protocol: bpf_protocol(svc.protocol),
            mode: match svc.source_mode {
                SourceMode::Gateway => bpf::SourceMode::Gateway,
                SourceMode::Preserve => bpf::SourceMode::Preserve,
            },
            source_ranges: &svc.source_ranges,
            backends: &backends,
            table: &slots,
        })?;
        maps.set_enabled(true)?;
        Ok(id)
    }

    /// The data-path id of `svc`, if it is programmed.
    fn id_of(maps: &Nat46Maps, key: ServiceKey) -> anyhow::Result<Option<u32>> {
        Ok(maps
            .services()?
            .into_iter()
            .find(|(k, _)| {
                k.vip() == key.vip
                    && k.port() == key.port
                    && k.proto == bpf_protocol(key.protocol).number()
            })
            .map(|(_, v)| v.id))
    }
}

fn bpf_protocol(p: Protocol) -> bpf::Protocol {
    match p {
        Protocol::Tcp => bpf::Protocol::Tcp,
        Protocol::Udp => bpf::Protocol::Udp,
    }
}

impl ServiceDataplane for BpfDataplane {
    fn apply(&self, svc: &Service, previous: Option<&Service>) -> anyhow::Result<()> {
        let mut maps = self.maps();
        if let Err(e) = self.program(&mut maps, svc) {
            // Put the previous version back whole (the upsert may have
            // stopped halfway); without one, take out what was written.
            match previous {
                Some(prev) => {
                    let _ = self.program(&mut maps, prev);
                }
                None => {
                    let _ = maps.remove(svc.vip, svc.port, bpf_protocol(svc.protocol));
                }
            }
            return Err(e);
        }
        // A replacement that moved to another VIP:port leaves the old one.
        if let Some(prev) = previous.filter(|p| p.key() != svc.key()) {
            maps.remove(prev.vip, prev.port, bpf_protocol(prev.protocol))?;
        }
        Ok(())
    }

    fn remove(&self, svc: &Service) -> anyhow::Result<()> {
        let mut maps = self.maps();
        maps.remove(svc.vip, svc.port, bpf_protocol(svc.protocol))?;
        let any = !maps.services()?.is_empty();
        maps.set_enabled(any)?;
        Ok(())
    }

    fn slot_counts(&self, svc: &Service) -> anyhow::Result<Vec<u32>> {
        let counts = self
            .maps()
            .slot_counts(svc.vip, svc.port, bpf_protocol(svc.protocol))?
            .unwrap_or_default();
        Ok(svc
            .backends
            .iter()
            .map(|b| counts.get(&b.socket_addr()).copied().unwrap_or(0))
            .collect())
    }

    fn conntrack(&self, key: Option<ServiceKey>, limit: usize) -> anyhow::Result<Vec<CtEntry>> {
        let maps = self.maps();
        let now = monotonic_now_ns();
        let timeouts = self.settings.timeouts;
        let mut out = Vec::new();
        for flow in maps.flows(usize::MAX)? {
            if out.len() >= limit {
                break;
            }
            let (Some(protocol), Some(state)) = (flow.protocol(), flow.state()) else {
                continue;
            };
            let protocol = match protocol {
                bpf::Protocol::Tcp => Protocol::Tcp,
                bpf::Protocol::Udp => Protocol::Udp,
            };
            let vip = flow.vip();
            if key.is_some_and(|k| {
                k.vip != *vip.ip() || k.port != vip.port() || k.protocol != protocol
            }) {
                continue;
            }
            let idle = flow.idle(now);
            let timeout = timeouts.of(state);
            if idle > timeout {
                continue; // expired: gone as far as the data path is concerned
            }
            out.push(CtEntry {
                protocol,
                client: flow.client(),
                vip,
                backend: flow.backend(),
                source: flow.source(),
                state: match state {
                    BpfCtState::TcpSynSent => CtState::SynSent,
                    BpfCtState::TcpEstablished => CtState::Established,
                    BpfCtState::TcpClosing => CtState::Closing,
                    BpfCtState::TcpReset => CtState::Reset,
                    BpfCtState::Udp => CtState::Udp,
                },
                idle_secs: idle.as_secs(),
                expires_in_secs: (timeout - idle).as_secs(),
            });
        }
        Ok(out)
    }

    fn service_stats(&self, svc: &Service) -> anyhow::Result<ServiceStats> {
        let maps = self.maps();
        let Some(id) = Self::id_of(&maps, svc.key())? else {
            anyhow::bail!("service {} is not in the data path", svc.name);
        };
        let mut stats = ServiceStats {
            packets_in: 0,
            bytes_in: 0,
            packets_out: 0,
            bytes_out: 0,
            new_flows: 0,
            drops: BTreeMap::new(),
        };
        for c in maps.service_counters(id)? {
            match c.counter.name {
                "forward" => (stats.packets_in, stats.bytes_in) = (c.packets, c.bytes),
                "reply" => (stats.packets_out, stats.bytes_out) = (c.packets, c.bytes),
                "new_flow" => stats.new_flows = c.packets,
                name => {
                    let reason = name.strip_prefix("drop_").unwrap_or(name);
                    stats.drops.insert(reason.to_string(), c.packets);
                }
            }
        }
        Ok(stats)
    }
}
