//! Counter names (generated from bpf/lib/counters.def) and reading them
//! from the pinned per-CPU map, which works with the daemon stopped.

use std::path::Path;

use aya::maps::{Map, MapData, PerCpuArray};

use crate::maps::{SixgateCount, COUNTERS_MAP};
use crate::DatapathError;

/// One counter of the data path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    /// Lower-case name, e.g. `drop_ttl_expired`.
    pub name: &'static str,
    /// What it counts.
    pub help: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/counters.rs"));
include!(concat!(env!("OUT_DIR"), "/svc_counters.rs"));

/// A counter's value summed over CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterValue {
    /// Which counter.
    pub counter: Counter,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Index of the counter called `name`.
pub fn counter_index(name: &str) -> Option<u32> {
    COUNTERS
        .iter()
        .position(|c| c.name == name)
        .map(|i| i as u32)
}

/// Reads every counter from the map pinned under `pin_path`.
pub fn read_counters(pin_path: &Path) -> Result<Vec<CounterValue>, DatapathError> {
    let path = pin_path.join(COUNTERS_MAP);
    let data = MapData::from_pin(&path).map_err(|e| DatapathError::Map {
        what: format!("open {}", path.display()),
        source: e,
    })?;
    let map = Map::from_map_data(data).map_err(|e| DatapathError::Map {
        what: format!("open {}", path.display()),
        source: e,
    })?;
    sum_counters(&map)
}

/// Sums the per-CPU values of every counter in `map`.
pub fn sum_counters(map: &Map) -> Result<Vec<CounterValue>, DatapathError> {
    let array = PerCpuArray::<_, SixgateCount>::try_from(map).map_err(|e| DatapathError::Map {
        what: format!("{COUNTERS_MAP} is not the expected per-CPU array"),
        source: e,
    })?;
    COUNTERS
        .iter()
        .enumerate()
        .map(|(i, counter)| {
            let per_cpu = array.get(&(i as u32), 0).map_err(|e| DatapathError::Map {
                what: format!("read counter {}", counter.name),
                source: e,
            })?;
            Ok(CounterValue {
                counter: *counter,
                packets: per_cpu.iter().map(|c| c.packets).sum(),
                bytes: per_cpu.iter().map(|c| c.bytes).sum(),
            })
        })
        .collect()
}
