//! What the service store and the API need from the data path.
//!
//! The daemon implements [`ServiceDataplane`] with the BPF maps; tests use
//! [`fake::FakeDataplane`].

use std::collections::BTreeMap;
use std::net::{SocketAddrV4, SocketAddrV6};

use serde::{Deserialize, Serialize};

use crate::service::{Protocol, Service, ServiceKey};

/// Programs NAT46 services into the data path and reads their state back.
pub trait ServiceDataplane: Send + Sync + 'static {
    /// Programs one service (create or replace) so that the data path serves exactly `svc`;
    /// on error nothing changed. `previous` is the version being replaced, if any.
    fn apply(&self, svc: &Service, previous: Option<&Service>) -> anyhow::Result<()>;
    /// Stops serving the service; established flows are left to expire.
    fn remove(&self, svc: &Service) -> anyhow::Result<()>;
    /// Maglev slots per backend of the table in force, in `svc.backends` order.
    fn slot_counts(&self, svc: &Service) -> anyhow::Result<Vec<u32>>;
    /// Connection-tracking entries (at most `limit`), optionally only for one service key.
    fn conntrack(&self, key: Option<ServiceKey>, limit: usize) -> anyhow::Result<Vec<CtEntry>>;
    /// Counters of one service.
    fn service_stats(&self, svc: &Service) -> anyhow::Result<ServiceStats>;
}

/// One connection-tracking entry: a client's flow to a VIP and the backend it went to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CtEntry {
    /// Transport protocol.
    pub protocol: Protocol,
    /// The IPv4 client.
    pub client: SocketAddrV4,
    /// The VIP:port the client connected to.
    pub vip: SocketAddrV4,
    /// The backend the flow goes to.
    pub backend: SocketAddrV6,
    /// The translated source the backend sees.
    pub source: SocketAddrV6,
    /// Where the flow is in its life.
    pub state: CtState,
    /// Seconds since the flow's last packet.
    pub idle_secs: u64,
    /// Seconds until the entry expires unless another packet comes.
    pub expires_in_secs: u64,
}

/// The state of a tracked flow, which picks its timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CtState {
    /// TCP: SYN seen, no answer yet.
    SynSent,
    /// TCP: both sides have talked.
    Established,
    /// TCP: a FIN was seen.
    Closing,
    /// TCP: a RST was seen.
    Reset,
    /// A UDP flow.
    Udp,
}

impl CtState {
    /// The name the API uses (`syn_sent`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CtState::SynSent => "syn_sent",
            CtState::Established => "established",
            CtState::Closing => "closing",
            CtState::Reset => "reset",
            CtState::Udp => "udp",
        }
    }
}

/// Counters of one service since it was first programmed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStats {
    /// Packets from clients to the VIP, translated to a backend.
    pub packets_in: u64,
    /// Bytes of `packets_in`.
    pub bytes_in: u64,
    /// Packets from backends, translated back to clients.
    pub packets_out: u64,
    /// Bytes of `packets_out`.
    pub bytes_out: u64,
    /// Flows that got a connection-tracking entry.
    pub new_flows: u64,
    /// Packets dropped, by reason.
    pub drops: BTreeMap<String, u64>,
}

/// A data path in memory, for tests: it keeps what it was told and can be
/// told to fail.
#[cfg(test)]
pub mod fake {
    use std::collections::BTreeMap;
    use std::sync::{Mutex, MutexGuard};

    use anyhow::{anyhow, bail, ensure};
    use sixgate_maglev::{MaglevConfig, Table};

    use super::*;
    use crate::service::Nat46Settings;

    /// Services programmed, by name, plus canned conntrack and counters.
    #[derive(Default)]
    struct State {
        programmed: BTreeMap<String, Service>,
        fail: Option<String>,
        conntrack: Vec<CtEntry>,
        stats: BTreeMap<String, ServiceStats>,
    }

    /// An in-memory [`ServiceDataplane`] that checks the `previous` contract
    /// and computes real Maglev slot counts.
    pub struct FakeDataplane {
        maglev: MaglevConfig,
        state: Mutex<State>,
    }

    impl FakeDataplane {
        /// An empty data path with the Maglev table of `settings`.
        pub fn new(settings: &Nat46Settings) -> Self {
            FakeDataplane {
                maglev: MaglevConfig::new(settings.maglev_table_size, settings.maglev_seed),
                state: Mutex::new(State::default()),
            }
        }

        fn lock(&self) -> MutexGuard<'_, State> {
            self.state.lock().unwrap_or_else(|e| e.into_inner())
        }

        /// What is programmed now, by name.
        pub fn programmed(&self) -> BTreeMap<String, Service> {
            self.lock().programmed.clone()
        }

        /// From now on `apply` and `remove` fail with `reason` (`None`: they work).
        pub fn fail_with(&self, reason: Option<&str>) {
            self.lock().fail = reason.map(str::to_string);
        }

        /// The entries `conntrack` reports.
        pub fn set_conntrack(&self, entries: Vec<CtEntry>) {
            self.lock().conntrack = entries;
        }

        /// The counters `service_stats` reports for service `name`.
        pub fn set_stats(&self, name: &str, stats: ServiceStats) {
            self.lock().stats.insert(name.to_string(), stats);
        }
    }

    impl ServiceDataplane for FakeDataplane {
        fn apply(&self, svc: &Service, previous: Option<&Service>) -> anyhow::Result<()> {
            let mut state = self.lock();
            if let Some(reason) = &state.fail {
                bail!("{reason}");
            }
            let programmed = state.programmed.get(&svc.name);
            ensure!(
                programmed == previous,
                "fake: `previous` is {previous:?} but {programmed:?} is programmed"
            );
            state.programmed.insert(svc.name.clone(), svc.clone());
            Ok(())
        }

        fn remove(&self, svc: &Service) -> anyhow::Result<()> {
            let mut state = self.lock();
            if let Some(reason) = &state.fail {
                bail!("{reason}");
            }
            ensure!(
                state.programmed.get(&svc.name) == Some(svc),
                "fake: removing {:?}, which is not programmed as given",
                svc.name
            );
            state.programmed.remove(&svc.name);
            Ok(())
        }

        fn slot_counts(&self, svc: &Service) -> anyhow::Result<Vec<u32>> {
            ensure!(
                self.lock().programmed.get(&svc.name) == Some(svc),
                "fake: {:?} is not programmed as given",
                svc.name
            );
            let key = |b: &crate::service::Backend| b.socket_addr().to_string();
            let backends: Vec<_> = svc
                .backends
                .iter()
                .map(|b| sixgate_maglev::Backend::new(key(b), b.weight))
                .collect();
            let table = Table::build(&self.maglev, &backends)?;
            let counts: BTreeMap<&str, u32> = table.slot_counts().into_iter().collect();
            svc.backends
                .iter()
                .map(|b| {
                    counts
                        .get(key(b).as_str())
                        .copied()
                        .ok_or_else(|| anyhow!("fake: no count for {}", key(b)))
                })
                .collect()
        }

        fn conntrack(&self, key: Option<ServiceKey>, limit: usize) -> anyhow::Result<Vec<CtEntry>> {
            let state = self.lock();
            let wanted = |e: &&CtEntry| {
                key.is_none_or(|k| {
                    k.protocol == e.protocol && k.vip == *e.vip.ip() && k.port == e.vip.port()
                })
            };
            Ok(state
                .conntrack
                .iter()
                .filter(wanted)
                .take(limit)
                .cloned()
                .collect())
        }

        fn service_stats(&self, svc: &Service) -> anyhow::Result<ServiceStats> {
            let state = self.lock();
            ensure!(
                state.programmed.contains_key(&svc.name),
                "fake: {:?} is not programmed",
                svc.name
            );
            Ok(state.stats.get(&svc.name).cloned().unwrap_or_default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeDataplane;
    use super::*;
    use crate::service::tests::{settings, web};

    #[test]
    fn fake_keeps_the_previous_contract() {
        let dp = FakeDataplane::new(&settings());
        let v1 = web("web", 80);
        let mut v2 = v1.clone();
        v2.port = 81;
        dp.apply(&v1, None).unwrap();
        // Replacing needs the version in force as `previous`.
        assert!(dp.apply(&v2, None).is_err());
        assert!(dp.apply(&v2, Some(&v2)).is_err());
        dp.apply(&v2, Some(&v1)).unwrap();
        assert_eq!(dp.programmed()["web"], v2);
        assert!(dp.remove(&v1).is_err());
        dp.fail_with(Some("map full"));
        assert_eq!(dp.remove(&v2).unwrap_err().to_string(), "map full");
        dp.fail_with(None);
        dp.remove(&v2).unwrap();
        assert!(dp.programmed().is_empty());
    }

    #[test]
    fn fake_slot_counts_follow_weights() {
        let dp = FakeDataplane::new(&settings());
        let svc = web("web", 80); // weights 1 and 2
        dp.apply(&svc, None).unwrap();
        let counts = dp.slot_counts(&svc).unwrap();
        assert_eq!(counts.iter().sum::<u32>(), 65537);
        let share = f64::from(counts[1]) / 65537.0;
        assert!((share - 2.0 / 3.0).abs() < 0.01, "{counts:?}");
    }

    #[test]
    fn ct_entries_serialize_as_the_api_documents() {
        let e = CtEntry {
            protocol: Protocol::Tcp,
            client: "192.0.2.7:40000".parse().unwrap(),
            vip: "198.51.100.80:80".parse().unwrap(),
            backend: "[2001:db8:a::10]:8080".parse().unwrap(),
            source: "[2001:db8:ff::1]:32768".parse().unwrap(),
            state: CtState::SynSent,
            idle_secs: 3,
            expires_in_secs: 57,
        };
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "protocol": "tcp", "client": "192.0.2.7:40000", "vip": "198.51.100.80:80",
                "backend": "[2001:db8:a::10]:8080", "source": "[2001:db8:ff::1]:32768",
                "state": "syn_sent", "idle_secs": 3, "expires_in_secs": 57,
            })
        );
        assert_eq!(serde_json::from_value::<CtEntry>(json).unwrap(), e);
        assert_eq!(CtState::SynSent.as_str(), "syn_sent");
    }
}
