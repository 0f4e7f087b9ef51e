//! Reading what the daemon programmed, from the pins alone (works with the
//! daemon stopped): the translator config, the served IPv4 prefixes and the
//! EAMT.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use aya::maps::lpm_trie::LpmTrie;
use aya::maps::{Array, Map, MapData};
use sixgate_wire::xlat::Eam;
use sixgate_wire::{Ipv4Prefix, Ipv6Prefix};

use crate::maps::{Eamt4Value, SixgateConfig, CONFIG_MAP, EAMT4_MAP, SERVED_V4_MAP};
use crate::DatapathError;

/// Opens the map pinned as `name` under `pin_path`.
pub(crate) fn open(pin_path: &Path, name: &str) -> Result<Map, DatapathError> {
    let path = pin_path.join(name);
    let what = || format!("opening {}", path.display());
    let data = MapData::from_pin(&path).map_err(|source| DatapathError::Map {
        what: what(),
        source,
    })?;
    Map::from_map_data(data).map_err(|source| DatapathError::Map {
        what: what(),
        source,
    })
}

/// The translator configuration entry.
pub fn read_config(pin_path: &Path) -> Result<SixgateConfig, DatapathError> {
    let map = open(pin_path, CONFIG_MAP)?;
    let array = Array::<_, SixgateConfig>::try_from(&map).map_err(|source| DatapathError::Map {
        what: format!("{CONFIG_MAP} has an unexpected layout"),
        source,
    })?;
    array.get(&0, 0).map_err(|source| DatapathError::Map {
        what: format!("reading {CONFIG_MAP}"),
        source,
    })
}

/// Stops handing packets to the exception path (its device goes when the
/// daemon exits): the programs drop them by reason until the next daemon
/// sets it again. The rest of the configuration is untouched.
pub fn clear_exception(pin_path: &Path) -> Result<(), DatapathError> {
    let mut map = open(pin_path, CONFIG_MAP)?;
    let mut array =
        Array::<_, SixgateConfig>::try_from(&mut map).map_err(|source| DatapathError::Map {
            what: format!("{CONFIG_MAP} has an unexpected layout"),
            source,
        })?;
    let mut c = array.get(&0, 0).map_err(|source| DatapathError::Map {
        what: format!("reading {CONFIG_MAP}"),
        source,
    })?;
    c.exc_ifindex = 0;
    array.set(0, c, 0).map_err(|source| DatapathError::Map {
        what: format!("writing {CONFIG_MAP}"),
        source,
    })
}

/// The served IPv4 prefixes, sorted.
pub fn read_served_prefixes(pin_path: &Path) -> Result<Vec<Ipv4Prefix>, DatapathError> {
    let map = open(pin_path, SERVED_V4_MAP)?;
    let trie = LpmTrie::<_, u32, u8>::try_from(&map).map_err(|source| DatapathError::Map {
        what: format!("{SERVED_V4_MAP} has an unexpected layout"),
        source,
    })?;
    let mut out = Vec::new();
    for key in trie.keys() {
        let key = key.map_err(|source| DatapathError::Map {
            what: format!("listing {SERVED_V4_MAP}"),
            source,
        })?;
        let addr = Ipv4Addr::from(key.data().to_ne_bytes());
        if let Ok(p) = Ipv4Prefix::new(addr, key.prefix_len() as u8) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// The EAMs (RFC 7757), sorted, as `sixgate_eamt4` holds them (the daemon
/// writes `sixgate_eamt6` from the same list).
pub fn read_eamt(pin_path: &Path) -> Result<Vec<Eam>, DatapathError> {
    let map = open(pin_path, EAMT4_MAP)?;
    let trie =
        LpmTrie::<_, u32, Eamt4Value>::try_from(&map).map_err(|source| DatapathError::Map {
            what: format!("{EAMT4_MAP} has an unexpected layout"),
            source,
        })?;
    let mut out = Vec::new();
    for entry in trie.iter() {
        let (key, value) = entry.map_err(|source| DatapathError::Map {
            what: format!("listing {EAMT4_MAP}"),
            source,
        })?;
        let ipv4 = Ipv4Prefix::new(
            Ipv4Addr::from(key.data().to_ne_bytes()),
            key.prefix_len() as u8,
        );
        let len6 = 128u8.checked_sub(value.suffix_bits.saturating_add(value.shift));
        let ipv6 = len6.and_then(|len| Ipv6Prefix::new(Ipv6Addr::from(value.prefix6), len).ok());
        if let (Ok(ipv4), Some(ipv6)) = (ipv4, ipv6) {
            if let Ok(eam) = Eam::new(ipv4, ipv6) {
                out.push(eam);
            }
        }
    }
    out.sort_by_key(|e| (e.ipv4, e.ipv6.addr(), e.ipv6.len()));
    Ok(out)
}
