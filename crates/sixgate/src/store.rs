//! The NAT46 services in force: from the config file (read-only) and from
//! the API (kept in the state file).
//!
//! Every change is all or nothing: validate, check conflicts, program the
//! data path, write the state file, and only then change the store. If the
//! state file cannot be written, the data path is put back as it was. One
//! lock serializes changes, so concurrent API calls see each other whole.

use std::collections::BTreeMap;
use std::net::SocketAddrV6;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::dataplane::ServiceDataplane;
use crate::service::{FieldError, Nat46Settings, Service, ServiceKey, MAX_WEIGHT};
use crate::state::{self, StateError};

/// Where a service was declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The config file's `[[service]]`: read-only through the API.
    Config,
    /// The API: kept in the state file.
    Api,
}

/// A service and where it was declared, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredService {
    /// Where the service was declared.
    pub origin: Origin,
    /// The service.
    pub service: Service,
}

/// Why the store refused a change or could not load.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A field of the service is invalid.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// No service has this name.
    #[error("no service named {0:?}")]
    NotFound(String),
    /// The service has no such backend.
    #[error("service {name:?} has no backend {backend}")]
    NoSuchBackend {
        /// The service.
        name: String,
        /// The backend asked for.
        backend: SocketAddrV6,
    },
    /// Another service already has this name.
    #[error("a service named {0:?} already exists")]
    NameTaken(String),
    /// Another service already answers on this VIP, port and protocol.
    #[error("{key} is already served by service {other:?}")]
    KeyTaken {
        /// The VIP:port/protocol.
        key: ServiceKey,
        /// The service that has it.
        other: String,
    },
    /// The service comes from the config file.
    #[error(
        "service {0:?} is declared in the configuration file and is read-only through the API; \
         edit the file and restart the daemon to change it"
    )]
    ReadOnly(String),
    /// The data path refused the change; nothing changed.
    #[error("the data path refused the change, nothing was changed: {0:#}")]
    Dataplane(anyhow::Error),
    /// The state file could not be read, parsed or written (nothing changed).
    #[error(transparent)]
    State(#[from] StateError),
    /// The state file could not be written, and undoing the data path change failed too.
    #[error(
        "{error}; undoing the data path change failed too, so the data path may not match \
         the API until this service is changed again or the daemon restarts: {rollback:#}"
    )]
    RollbackFailed {
        /// Why the state file could not be written.
        error: StateError,
        /// Why the data path could not be put back.
        rollback: anyhow::Error,
    },
    /// A service of the state file is not valid under the current settings.
    #[error(
        "state file {}: service {name:?}: {error}; the configuration no longer allows it: \
         change the configuration, or repair the state file",
        path.display()
    )]
    StateService {
        /// The state file.
        path: PathBuf,
        /// The service.
        name: String,
        /// What is wrong with it.
        error: FieldError,
    },
}

/// The services in force, by name.
pub struct ServiceStore {
    settings: Nat46Settings,
    state_path: PathBuf,
    services: Mutex<BTreeMap<String, StoredService>>,
}

/// A change to one service: what it was and what it becomes.
struct Change<'a> {
    previous: Option<&'a Service>,
    next: Option<&'a Service>,
}

impl ServiceStore {
    /// Loads the config file's services, then the state file's. A state
    /// service that has the name or the VIP:port/protocol of a config
    /// service is skipped with a warning: the config file wins.
    pub fn load(
        config_services: Vec<Service>,
        state_path: &Path,
        settings: Nat46Settings,
    ) -> Result<Self, StoreError> {
        let mut services = BTreeMap::new();
        for svc in config_services {
            svc.validate(&settings)?;
            check_free(&services, &svc, None)?;
            insert(&mut services, Origin::Config, svc);
        }
        for svc in state::read(state_path)? {
            match check_free(&services, &svc, None) {
                Err(e) if is_config(&services, &e) => {
                    warn!(
                        state_file = %state_path.display(),
                        service = %svc.name,
                        "skipping a service of the state file: {e} (declared in the \
                         configuration file, which wins); the next change through the API \
                         drops it from the state file"
                    );
                    continue;
                }
                Err(e) => {
                    return Err(StateError::Corrupt {
                        path: state_path.to_path_buf(),
                        why: e.to_string(),
                    }
                    .into())
                }
                Ok(()) => {}
            }
            if let Err(error) = svc.validate(&settings) {
                return Err(StoreError::StateService {
                    path: state_path.to_path_buf(),
                    name: svc.name,
                    error,
                });
            }
            insert(&mut services, Origin::Api, svc);
        }
        Ok(ServiceStore {
            settings,
            state_path: state_path.to_path_buf(),
            services: Mutex::new(services),
        })
    }

    /// Programs every service into `dp` (at startup), with `previous = None`:
    /// maps pinned by an earlier run may still hold a version of it.
    pub fn program_all(&self, dp: &dyn ServiceDataplane) -> anyhow::Result<()> {
        for stored in self.lock().values() {
            let svc = &stored.service;
            dp.apply(svc, None)
                .with_context(|| format!("programming service {:?} ({})", svc.name, svc.key()))?;
        }
        Ok(())
    }

    /// Every service, by name.
    pub fn list(&self) -> Vec<StoredService> {
        self.lock().values().cloned().collect()
    }

    /// The service called `name`.
    pub fn get(&self, name: &str) -> Result<StoredService, StoreError> {
        self.lock()
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(name.to_string()))
    }

    /// Creates a service through the API.
    pub fn create(
        &self,
        svc: Service,
        dp: &dyn ServiceDataplane,
    ) -> Result<StoredService, StoreError> {
        svc.validate(&self.settings)?;
        let mut services = self.lock();
        check_free(&services, &svc, None)?;
        self.change(
            &mut services,
            dp,
            Change {
                previous: None,
                next: Some(&svc),
            },
        )?;
        Ok(services[&svc.name].clone())
    }

    /// Replaces the API-made service `svc.name` with `svc`.
    pub fn replace(
        &self,
        svc: Service,
        dp: &dyn ServiceDataplane,
    ) -> Result<StoredService, StoreError> {
        let mut services = self.lock();
        let previous = writable(&services, &svc.name)?.clone();
        svc.validate(&self.settings)?;
        check_free(&services, &svc, Some(&svc.name))?;
        if previous != svc {
            self.change(
                &mut services,
                dp,
                Change {
                    previous: Some(&previous),
                    next: Some(&svc),
                },
            )?;
        }
        Ok(services[&svc.name].clone())
    }

    /// Deletes the API-made service `name`.
    pub fn delete(&self, name: &str, dp: &dyn ServiceDataplane) -> Result<(), StoreError> {
        let mut services = self.lock();
        let previous = writable(&services, name)?.clone();
        self.change(
            &mut services,
            dp,
            Change {
                previous: Some(&previous),
                next: None,
            },
        )
    }

    /// Sets the weight of one backend of the API-made service `name`.
    pub fn set_weight(
        &self,
        name: &str,
        backend: SocketAddrV6,
        weight: u32,
        dp: &dyn ServiceDataplane,
    ) -> Result<StoredService, StoreError> {
        if weight > MAX_WEIGHT {
            return Err(FieldError::new(
                "weight",
                weight,
                format!("must be 0 (drain) to {MAX_WEIGHT}"),
            )
            .into());
        }
        let mut services = self.lock();
        let previous = writable(&services, name)?.clone();
        let mut svc = previous.clone();
        let b = svc
            .backends
            .iter_mut()
            .find(|b| b.socket_addr() == backend)
            .ok_or_else(|| StoreError::NoSuchBackend {
                name: name.to_string(),
                backend,
            })?;
        b.weight = weight;
        svc.validate(&self.settings)?;
        if previous != svc {
            self.change(
                &mut services,
                dp,
                Change {
                    previous: Some(&previous),
                    next: Some(&svc),
                },
            )?;
        }
        Ok(services[name].clone())
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, StoredService>> {
        // Changes are made to a copy and swapped in whole, so a panic while
        // the lock was held cannot have left the map half-changed.
        self.services.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Programs `change` into the data path, writes the state file, then
    /// swaps the new map in; on failure the data path is put back.
    fn change(
        &self,
        services: &mut BTreeMap<String, StoredService>,
        dp: &dyn ServiceDataplane,
        change: Change<'_>,
    ) -> Result<(), StoreError> {
        let mut next_map = services.clone();
        match (change.previous, change.next) {
            (previous, Some(next)) => {
                dp.apply(next, previous).map_err(StoreError::Dataplane)?;
                insert(&mut next_map, Origin::Api, next.clone());
            }
            (Some(previous), None) => {
                dp.remove(previous).map_err(StoreError::Dataplane)?;
                next_map.remove(&previous.name);
            }
            (None, None) => return Ok(()),
        }

        let api_services: Vec<Service> = next_map
            .values()
            .filter(|s| s.origin == Origin::Api)
            .map(|s| s.service.clone())
            .collect();
        if let Err(error) = state::write(&self.state_path, &api_services) {
            let undone = match (change.previous, change.next) {
                (None, Some(next)) => dp.remove(next),
                (Some(previous), Some(next)) => dp.apply(previous, Some(next)),
                (Some(previous), None) => dp.apply(previous, None),
                (None, None) => Ok(()),
            };
            return Err(match undone {
                Ok(()) => StoreError::State(error),
                Err(rollback) => StoreError::RollbackFailed { error, rollback },
            });
        }
        *services = next_map;
        Ok(())
    }
}

fn insert(services: &mut BTreeMap<String, StoredService>, origin: Origin, service: Service) {
    services.insert(service.name.clone(), StoredService { origin, service });
}

/// Whether `e` is a conflict with a service of the config file.
fn is_config(services: &BTreeMap<String, StoredService>, e: &StoreError) -> bool {
    let other = match e {
        StoreError::NameTaken(name) => name,
        StoreError::KeyTaken { other, .. } => other,
        _ => return false,
    };
    services
        .get(other)
        .is_some_and(|s| s.origin == Origin::Config)
}

/// That `svc`'s name (unless it is `replacing`) and key are not taken.
fn check_free(
    services: &BTreeMap<String, StoredService>,
    svc: &Service,
    replacing: Option<&str>,
) -> Result<(), StoreError> {
    if replacing.is_none() && services.contains_key(&svc.name) {
        return Err(StoreError::NameTaken(svc.name.clone()));
    }
    let key = svc.key();
    match services
        .values()
        .find(|s| s.service.key() == key && Some(s.service.name.as_str()) != replacing)
    {
        Some(other) => Err(StoreError::KeyTaken {
            key,
            other: other.service.name.clone(),
        }),
        None => Ok(()),
    }
}

/// The API-made service `name`.
fn writable<'a>(
    services: &'a BTreeMap<String, StoredService>,
    name: &str,
) -> Result<&'a Service, StoreError> {
    match services.get(name) {
        None => Err(StoreError::NotFound(name.to_string())),
        Some(s) if s.origin == Origin::Config => Err(StoreError::ReadOnly(name.to_string())),
        Some(s) => Ok(&s.service),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::dataplane::fake::FakeDataplane;
    use crate::service::tests::{settings, web};

    struct Fixture {
        dir: tempfile::TempDir,
        dp: FakeDataplane,
    }

    impl Fixture {
        fn new() -> Self {
            Fixture {
                dir: tempfile::tempdir().unwrap(),
                dp: FakeDataplane::new(&settings()),
            }
        }

        fn state_path(&self) -> PathBuf {
            self.dir.path().join("state.json")
        }

        fn load(&self, config: Vec<Service>) -> ServiceStore {
            ServiceStore::load(config, &self.state_path(), settings()).unwrap()
        }

        fn state_bytes(&self) -> Option<Vec<u8>> {
            fs::read(self.state_path()).ok()
        }

        fn state_names(&self) -> Vec<String> {
            state::read(&self.state_path())
                .unwrap()
                .into_iter()
                .map(|s| s.name)
                .collect()
        }
    }

    fn names(store: &ServiceStore) -> Vec<(String, Origin)> {
        store
            .list()
            .into_iter()
            .map(|s| (s.service.name, s.origin))
            .collect()
    }

    #[test]
    fn create_replace_delete_persist_and_program() {
        let f = Fixture::new();
        let store = f.load(vec![]);
        let web1 = web("web", 80);
        let created = store.create(web1.clone(), &f.dp).unwrap();
        assert_eq!(created.origin, Origin::Api);
        assert_eq!(f.dp.programmed()["web"], web1);
        assert_eq!(state::read(&f.state_path()).unwrap(), vec![web1.clone()]);

        let mut web2 = web1.clone();
        web2.backends.pop();
        web2.port = 8080;
        store.replace(web2.clone(), &f.dp).unwrap();
        assert_eq!(f.dp.programmed()["web"], web2);
        assert_eq!(store.get("web").unwrap().service, web2);
        assert_eq!(state::read(&f.state_path()).unwrap(), vec![web2.clone()]);

        let b = web2.backends[0].socket_addr();
        let drained = store.set_weight("web", b, 0, &f.dp).unwrap();
        assert_eq!(drained.service.backends[0].weight, 0);
        assert_eq!(f.dp.programmed()["web"].backends[0].weight, 0);
        assert_eq!(
            state::read(&f.state_path()).unwrap()[0].backends[0].weight,
            0
        );

        store.delete("web", &f.dp).unwrap();
        assert!(f.dp.programmed().is_empty());
        assert!(store.list().is_empty());
        assert_eq!(f.state_names(), Vec::<String>::new());
        assert!(matches!(store.get("web"), Err(StoreError::NotFound(n)) if n == "web"));
    }

    #[test]
    fn conflicts_and_not_found() {
        let f = Fixture::new();
        let store = f.load(vec![]);
        store.create(web("web", 80), &f.dp).unwrap();
        let e = store.create(web("web", 81), &f.dp).unwrap_err();
        assert_eq!(e.to_string(), "a service named \"web\" already exists");
        let e = store.create(web("web2", 80), &f.dp).unwrap_err();
        assert_eq!(
            e.to_string(),
            "198.51.100.80:80/tcp is already served by service \"web\""
        );
        store.create(web("web2", 81), &f.dp).unwrap();
        // Replacing web2 onto web's key conflicts; onto its own key does not.
        let e = store.replace(web("web2", 80), &f.dp).unwrap_err();
        assert!(
            matches!(&e, StoreError::KeyTaken { other, .. } if other == "web"),
            "{e}"
        );
        store.replace(web("web2", 81), &f.dp).unwrap();
        for e in [
            store.replace(web("nope", 82), &f.dp).unwrap_err(),
            store.delete("nope", &f.dp).unwrap_err(),
            store
                .set_weight("nope", "[2001:db8:a::10]:8080".parse().unwrap(), 1, &f.dp)
                .unwrap_err(),
        ] {
            assert_eq!(e.to_string(), "no service named \"nope\"");
        }
        let e = store
            .set_weight("web", "[2001:db8:a::10]:9999".parse().unwrap(), 1, &f.dp)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "service \"web\" has no backend [2001:db8:a::10]:9999"
        );
        let e = store
            .set_weight(
                "web",
                "[2001:db8:a::10]:8080".parse().unwrap(),
                65536,
                &f.dp,
            )
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::Invalid(fe) if fe.field == "weight"),
            "{e}"
        );
        assert_eq!(
            names(&store),
            [
                ("web".to_string(), Origin::Api),
                ("web2".to_string(), Origin::Api)
            ]
        );
    }

    #[test]
    fn invalid_services_are_refused_before_anything_changes() {
        let f = Fixture::new();
        let store = f.load(vec![]);
        let mut bad = web("web", 80);
        bad.backends[1].address = "::1".parse().unwrap();
        let e = store.create(bad.clone(), &f.dp).unwrap_err();
        assert!(
            matches!(&e, StoreError::Invalid(fe) if fe.field == "backends[1].address"),
            "{e}"
        );
        assert!(f.dp.programmed().is_empty());
        assert_eq!(f.state_bytes(), None);
        store.create(web("web", 80), &f.dp).unwrap();
        let before = f.state_bytes();
        assert!(store.replace(bad, &f.dp).is_err());
        assert_eq!(f.state_bytes(), before);
        assert_eq!(f.dp.programmed()["web"], web("web", 80));
    }

    #[test]
    fn config_services_are_read_only() {
        let f = Fixture::new();
        let store = f.load(vec![web("cfg", 80)]);
        assert_eq!(names(&store), [("cfg".to_string(), Origin::Config)]);
        let b = "[2001:db8:a::10]:8080".parse().unwrap();
        for e in [
            store.replace(web("cfg", 81), &f.dp).unwrap_err(),
            store.delete("cfg", &f.dp).unwrap_err(),
            store.set_weight("cfg", b, 0, &f.dp).unwrap_err(),
        ] {
            assert!(matches!(&e, StoreError::ReadOnly(n) if n == "cfg"), "{e}");
            assert!(e.to_string().contains("edit the file"), "{e}");
        }
        let e = store.create(web("cfg", 81), &f.dp).unwrap_err();
        assert!(matches!(e, StoreError::NameTaken(_)));
        let e = store.create(web("other", 80), &f.dp).unwrap_err();
        assert!(matches!(&e, StoreError::KeyTaken { other, .. } if other == "cfg"));
        // Nothing was programmed or written; config services are not persisted.
        assert!(f.dp.programmed().is_empty());
        assert_eq!(f.state_bytes(), None);
        store.create(web("api", 81), &f.dp).unwrap();
        assert_eq!(f.state_names(), ["api"]);
    }

    #[test]
    fn dataplane_failure_changes_nothing() {
        let f = Fixture::new();
        let store = f.load(vec![]);
        store.create(web("web", 80), &f.dp).unwrap();
        let list = store.list();
        let bytes = f.state_bytes();
        f.dp.fail_with(Some("map is full"));
        let b = "[2001:db8:a::10]:8080".parse().unwrap();
        for e in [
            store.create(web("new", 81), &f.dp).unwrap_err(),
            store.replace(web("web", 82), &f.dp).unwrap_err(),
            store.set_weight("web", b, 7, &f.dp).unwrap_err(),
            store.delete("web", &f.dp).unwrap_err(),
        ] {
            assert!(matches!(e, StoreError::Dataplane(_)), "{e}");
            assert_eq!(
                e.to_string(),
                "the data path refused the change, nothing was changed: map is full"
            );
        }
        assert_eq!(store.list(), list);
        assert_eq!(f.state_bytes(), bytes);
        assert_eq!(f.dp.programmed()["web"], web("web", 80));
        assert_eq!(f.dp.programmed().len(), 1);
    }

    #[test]
    fn state_write_failure_rolls_the_data_path_back() {
        let f = Fixture::new();
        let store = f.load(vec![]);
        store.create(web("web", 80), &f.dp).unwrap();
        let list = store.list();
        // A directory where the state file should go: the rename fails.
        fs::remove_file(f.state_path()).unwrap();
        fs::create_dir(f.state_path()).unwrap();
        fs::write(f.state_path().join("x"), "").unwrap();

        let b = "[2001:db8:a::10]:8080".parse().unwrap();
        for e in [
            store.create(web("new", 81), &f.dp).unwrap_err(),
            store.replace(web("web", 82), &f.dp).unwrap_err(),
            store.set_weight("web", b, 7, &f.dp).unwrap_err(),
            store.delete("web", &f.dp).unwrap_err(),
        ] {
            assert!(
                matches!(e, StoreError::State(StateError::Write { .. })),
                "{e}"
            );
            assert!(e.to_string().contains("cannot write"), "{e}");
            // The data path is back to the version in force.
            let programmed = f.dp.programmed();
            assert_eq!(programmed.len(), 1, "{programmed:?}");
            assert_eq!(programmed["web"], web("web", 80));
        }
        assert_eq!(store.list(), list);
    }

    #[test]
    fn failed_rollback_is_reported() {
        /// Applies once, then fails everything.
        struct OneShot(FakeDataplane, std::sync::atomic::AtomicBool);
        impl ServiceDataplane for OneShot {
            fn apply(&self, s: &Service, p: Option<&Service>) -> anyhow::Result<()> {
                let r = self.0.apply(s, p);
                if !self.1.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    self.0.fail_with(Some("map went away"));
                }
                r
            }
            fn remove(&self, s: &Service) -> anyhow::Result<()> {
                self.0.remove(s)
            }
            fn slot_counts(&self, s: &Service) -> anyhow::Result<Vec<u32>> {
                self.0.slot_counts(s)
            }
            fn conntrack(
                &self,
                k: Option<ServiceKey>,
                l: usize,
            ) -> anyhow::Result<Vec<crate::dataplane::CtEntry>> {
                self.0.conntrack(k, l)
            }
            fn service_stats(&self, s: &Service) -> anyhow::Result<crate::dataplane::ServiceStats> {
                self.0.service_stats(s)
            }
        }
        let f = Fixture::new();
        let store = f.load(vec![]);
        fs::create_dir(f.state_path()).unwrap();
        fs::write(f.state_path().join("x"), "").unwrap();
        let dp = OneShot(FakeDataplane::new(&settings()), Default::default());
        let e = store.create(web("web", 80), &dp).unwrap_err();
        assert!(matches!(e, StoreError::RollbackFailed { .. }), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("cannot write") && text.contains("map went away"),
            "{text}"
        );
        assert!(store.list().is_empty());
    }

    #[test]
    fn load_config_then_state_and_config_wins() {
        let f = Fixture::new();
        // An earlier run made "api", "clash-name" and "clash-key".
        let mut clash_key = web("clash-key", 80);
        clash_key.vip = "198.51.100.81".parse().unwrap();
        state::write(
            &f.state_path(),
            &[web("api", 81), web("clash-name", 82), clash_key],
        )
        .unwrap();
        // Now the config declares "clash-name" and a service on clash-key's key.
        let mut cfg_key = web("cfg", 80);
        cfg_key.vip = "198.51.100.81".parse().unwrap();
        let store = f.load(vec![web("clash-name", 90), cfg_key]);
        assert_eq!(
            names(&store),
            [
                ("api".to_string(), Origin::Api),
                ("cfg".to_string(), Origin::Config),
                ("clash-name".to_string(), Origin::Config),
            ]
        );
        assert_eq!(store.get("clash-name").unwrap().service.port, 90);

        store.program_all(&f.dp).unwrap();
        assert_eq!(
            f.dp.programmed().keys().collect::<Vec<_>>(),
            ["api", "cfg", "clash-name"]
        );
        // The skipped services leave the state file with the next change.
        store.delete("api", &f.dp).unwrap();
        assert_eq!(f.state_names(), Vec::<String>::new());
    }

    #[test]
    fn load_errors_name_the_file() {
        let f = Fixture::new();
        fs::write(f.state_path(), "{not json").unwrap();
        let e = ServiceStore::load(vec![], &f.state_path(), settings())
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with(&format!(
                "state file {}: not a state file",
                f.state_path().display()
            )),
            "{e}"
        );
        // A service the settings no longer allow.
        let mut preserve = web("web", 80);
        preserve.source_mode = crate::service::SourceMode::Preserve;
        state::write(&f.state_path(), &[preserve]).unwrap();
        let no_prefix = Nat46Settings {
            preserve_prefix: None,
            ..settings()
        };
        let e = ServiceStore::load(vec![], &f.state_path(), no_prefix)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with(&format!(
                "state file {}: service \"web\": source_mode = \"preserve\": needs nat46.preserve_prefix",
                f.state_path().display()
            )),
            "{e}"
        );
        // Two state services on one key: the file was not written by us.
        state::write(&f.state_path(), &[web("a", 80), web("b", 80)]).unwrap();
        let e = ServiceStore::load(vec![], &f.state_path(), settings())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("is already served by service \"a\""), "{e}");
    }

    #[test]
    fn program_all_names_the_failing_service() {
        let f = Fixture::new();
        let store = f.load(vec![web("cfg", 80)]);
        f.dp.fail_with(Some("no memory"));
        let e = store.program_all(&f.dp).unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            "programming service \"cfg\" (198.51.100.80:80/tcp): no memory"
        );
    }

    #[test]
    fn concurrent_creates_serialize() {
        let f = Fixture::new();
        let store = f.load(vec![]);
        std::thread::scope(|s| {
            for i in 0..8u16 {
                let (store, dp) = (&store, &f.dp);
                s.spawn(move || store.create(web(&format!("s{i}"), 100 + i), dp).unwrap());
            }
        });
        assert_eq!(store.list().len(), 8);
        assert_eq!(f.state_names().len(), 8);
        assert_eq!(f.dp.programmed().len(), 8);
    }
}
