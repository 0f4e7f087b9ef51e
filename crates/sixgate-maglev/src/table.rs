//! Building and reading a weighted Maglev table.

use std::fmt;

use crate::error::MaglevError;
use crate::prime::is_prime;
use crate::siphash::{siphash24, SipKey};
use crate::turns::Turns;

/// Default table size M: the prime Katran and the Maglev paper use.
pub const DEFAULT_TABLE_SIZE: u32 = 65_537;

/// Default minimum of slots per backend with weight > 0 (the paper's M ≥ 100 × N).
pub const DEFAULT_MIN_SLOTS_PER_BACKEND: u32 = 100;

/// Largest table size accepted (2^24; the largest prime below it is 16,777,213).
pub const MAX_TABLE_SIZE: u32 = 1 << 24;

/// Slot value meaning "no backend": every slot, when no backend has weight > 0.
pub const NO_BACKEND: u32 = u32::MAX;

/// SipHash key halves `k1` that separate the two per-backend hashes.
const OFFSET_DOMAIN: u64 = u64::from_le_bytes(*b"mg-offst");
const SKIP_DOMAIN: u64 = u64::from_le_bytes(*b"mg-skip_");
/// Fixed key of [`Table::fingerprint`].
const FINGERPRINT_KEY: SipKey = SipKey {
    k0: u64::from_le_bytes(*b"sixgate-"),
    k1: u64::from_le_bytes(*b"maglev-1"),
};

// `Turns` multiplies (2k + 1) by a weight in a u64: k < MAX_TABLE_SIZE keeps that exact.
const _: () = assert!((2 * MAX_TABLE_SIZE as u64 + 1) <= u64::MAX / u32::MAX as u64);

/// One backend of a service.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Backend {
    /// Stable identity, the same on every gateway, e.g. `"[2001:db8:a::10]:8080"`.
    pub key: String,
    /// Relative share of new flows; 0 drains the backend (no slots).
    pub weight: u32,
}

impl Backend {
    /// A backend with this key and weight.
    pub fn new(key: impl Into<String>, weight: u32) -> Self {
        Backend {
            key: key.into(),
            weight,
        }
    }
}

/// How a table is built; gateways that must agree need the same values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MaglevConfig {
    /// Number of slots M: a prime, at most [`MAX_TABLE_SIZE`].
    pub table_size: u32,
    /// Seed of the per-backend hash.
    pub seed: u64,
    /// Minimum M / (backends with weight > 0); [`DEFAULT_MIN_SLOTS_PER_BACKEND`] unless relaxed on purpose.
    pub min_slots_per_backend: u32,
}

impl MaglevConfig {
    /// A configuration with this table size and seed and the default minimum slots per backend.
    pub fn new(table_size: u32, seed: u64) -> Self {
        MaglevConfig {
            table_size,
            seed,
            min_slots_per_backend: DEFAULT_MIN_SLOTS_PER_BACKEND,
        }
    }
}

impl Default for MaglevConfig {
    /// M = 65537, seed 0, at least 100 slots per backend.
    fn default() -> Self {
        MaglevConfig::new(DEFAULT_TABLE_SIZE, 0)
    }
}

/// A populated Maglev lookup table: M slots, each naming one backend.
#[derive(Clone, PartialEq, Eq)]
pub struct Table {
    config: MaglevConfig,
    backends: Vec<Backend>,
    slots: Vec<u32>,
}

impl Table {
    /// Builds the table for these backends (in any order) under `config`.
    pub fn build(config: &MaglevConfig, backends: &[Backend]) -> Result<Table, MaglevError> {
        let m = config.table_size;
        if !is_prime(m) {
            return Err(MaglevError::NotPrime { table_size: m });
        }
        if m > MAX_TABLE_SIZE {
            return Err(MaglevError::TooLarge {
                table_size: m,
                max: MAX_TABLE_SIZE,
            });
        }
        // Slot values are u32 indices, and NO_BACKEND must not be one of them.
        let max_backends = NO_BACKEND as usize;
        if backends.len() > max_backends {
            return Err(MaglevError::TooManyBackends {
                count: backends.len(),
                max: max_backends,
            });
        }

        let mut sorted = backends.to_vec();
        sorted.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        if let Some(pair) = sorted.windows(2).find(|pair| pair[0].key == pair[1].key) {
            return Err(MaglevError::DuplicateKey {
                key: pair[0].key.clone(),
            });
        }

        // Indices (into `sorted`) of the backends that get slots.
        let active: Vec<u32> = (0..)
            .zip(&sorted)
            .filter(|(_, b)| b.weight > 0)
            .map(|(i, _)| i)
            .collect();
        let required = u64::from(config.min_slots_per_backend) * active.len() as u64;
        if u64::from(m) < required {
            return Err(MaglevError::TooSmall {
                table_size: m,
                active_backends: active.len(),
                min_slots_per_backend: config.min_slots_per_backend,
                required,
            });
        }

        let slots = populate(config, &sorted, &active);
        Ok(Table {
            config: *config,
            backends: sorted,
            slots,
        })
    }

    /// The configuration the table was built with.
    pub fn config(&self) -> &MaglevConfig {
        &self.config
    }

    /// The backends, sorted by key; slot values index this list.
    pub fn backends(&self) -> &[Backend] {
        &self.backends
    }

    /// The backend index of every slot, or [`NO_BACKEND`]; this is what the data path loads.
    pub fn slots(&self) -> &[u32] {
        &self.slots
    }

    /// The backend for a flow hash: slot `hash % M`; `None` when no backend has weight > 0.
    pub fn lookup(&self, hash: u64) -> Option<&Backend> {
        let slot = (hash % u64::from(self.config.table_size)) as usize;
        let index = *self.slots.get(slot)?;
        self.backends.get(index as usize)
    }

    /// Slots per backend, as `(key, slots)` in [`Table::backends`] order (drained backends show 0).
    pub fn slot_counts(&self) -> Vec<(&str, u32)> {
        let mut counts = vec![0u32; self.backends.len()];
        for &index in &self.slots {
            if let Some(count) = counts.get_mut(index as usize) {
                *count += 1;
            }
        }
        self.backends
            .iter()
            .zip(counts)
            .map(|(b, n)| (b.key.as_str(), n))
            .collect()
    }

    /// How many slots name a different backend (by key) in `other`; `None` if the sizes differ.
    pub fn changed_slots(&self, other: &Table) -> Option<u32> {
        if self.slots.len() != other.slots.len() {
            return None;
        }
        // Both lists are sorted by key: merge them into self index → other index.
        let mut to_other = vec![NO_BACKEND; self.backends.len()];
        let (mut i, mut j) = (0, 0);
        while i < self.backends.len() && j < other.backends.len() {
            match self.backends[i].key.cmp(&other.backends[j].key) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    to_other[i] = j as u32;
                    i += 1;
                    j += 1;
                }
            }
        }
        let changed = self
            .slots
            .iter()
            .zip(&other.slots)
            .filter(|(&mine, &theirs)| match to_other.get(mine as usize) {
                // A backend of ours that `other` lacks: changed whatever `other` has.
                Some(&NO_BACKEND) => true,
                Some(&mapped) => mapped != theirs,
                // An empty slot of ours: changed unless empty there too.
                None => theirs != NO_BACKEND,
            })
            .count();
        Some(changed as u32)
    }

    /// A stable 64-bit digest of the backend list and slots: equal on gateways with equal tables.
    pub fn fingerprint(&self) -> u64 {
        let mut bytes = Vec::with_capacity(16 + self.slots.len() * 4 + self.backends.len() * 40);
        bytes.extend_from_slice(&self.config.table_size.to_le_bytes());
        bytes.extend_from_slice(&(self.backends.len() as u64).to_le_bytes());
        for b in &self.backends {
            bytes.extend_from_slice(&(b.key.len() as u64).to_le_bytes());
            bytes.extend_from_slice(b.key.as_bytes());
            bytes.extend_from_slice(&b.weight.to_le_bytes());
        }
        for slot in &self.slots {
            bytes.extend_from_slice(&slot.to_le_bytes());
        }
        siphash24(FINGERPRINT_KEY, &bytes)
    }
}

impl fmt::Debug for Table {
    /// Size, seed, backends and fingerprint; not the slots themselves.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("config", &self.config)
            .field("backends", &self.backends)
            .field("fingerprint", &format_args!("{:016x}", self.fingerprint()))
            .finish()
    }
}

/// A backend's preference list: slots offset, offset + skip, offset + 2·skip, ... (mod M).
///
/// Both values come from SipHash-2-4 of the key under the seed, as in the
/// paper: offset = h1 mod M, skip = h2 mod (M − 1) + 1. M is prime, so
/// every skip visits all M slots.
fn permutation(seed: u64, key: &str, m: u32) -> (u32, u32) {
    let m = u64::from(m);
    let h1 = siphash24(
        SipKey {
            k0: seed,
            k1: OFFSET_DOMAIN,
        },
        key.as_bytes(),
    );
    let h2 = siphash24(
        SipKey {
            k0: seed,
            k1: SKIP_DOMAIN,
        },
        key.as_bytes(),
    );
    let offset = h1 % m;
    let skip = h2 % (m - 1) + 1;
    (offset as u32, skip as u32)
}

/// Where one backend is in its preference list.
struct Walker {
    /// The next slot to try.
    next: u32,
    /// Step between slots of the preference list.
    skip: u32,
}

/// Fills the slots: backends take turns (weighted), and on its turn a backend
/// claims the first free slot of its preference list (paper §3.4, Pseudocode 1).
fn populate(config: &MaglevConfig, sorted: &[Backend], active: &[u32]) -> Vec<u32> {
    let m = config.table_size;
    let mut slots = vec![NO_BACKEND; m as usize];
    // Which slots are taken, one bit each: 8 KiB at M = 65537, so the
    // probes stay in L1 while `slots` is written once per turn.
    let mut taken = vec![0u64; (m as usize).div_ceil(64)];
    let mut walkers: Vec<Walker> = active
        .iter()
        .map(|&i| {
            let (offset, skip) = permutation(config.seed, &sorted[i as usize].key, m);
            Walker { next: offset, skip }
        })
        .collect();
    let weights: Vec<u32> = active.iter().map(|&i| sorted[i as usize].weight).collect();
    let mut turns = Turns::new(&weights);

    for _ in 0..m {
        let Some(turn) = turns.next_turn() else {
            break; // no active backends: every slot stays NO_BACKEND
        };
        let walker = &mut walkers[turn as usize];
        // Terminates: a free slot exists (fewer than M turns so far), and the
        // walk only ever passes slots that are already taken, so the free
        // slot lies ahead in this backend's full-cycle preference list.
        // c < M ≤ 2^24 and skip < M, so c + skip cannot overflow.
        let mut c = walker.next;
        loop {
            let slot = c;
            c += walker.skip;
            if c >= m {
                c -= m;
            }
            let word = &mut taken[(slot / 64) as usize];
            let bit = 1u64 << (slot % 64);
            if *word & bit == 0 {
                *word |= bit;
                slots[slot as usize] = active[turn as usize];
                break;
            }
        }
        walker.next = c;
    }
    slots
}

#[cfg(test)]
mod tests;
