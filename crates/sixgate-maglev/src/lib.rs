//! Weighted Maglev consistent hashing for sixgate's stateful NAT46 services.
//!
//! [`Table::build`] turns a service's backends into a lookup table of M
//! slots (M prime, default 65537), each naming one backend; the data path
//! picks a new flow's backend as `slots[flow_hash % M]`. The table is a pure
//! function of the backend keys, their weights, M and the seed, so every
//! gateway with the same inputs builds byte-identical tables. Backends get
//! slots in proportion to their weight; weight 0 drains a backend. See the
//! crate README for the algorithm and measured balance, disruption and
//! build time.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod prime;
mod siphash;
mod table;
mod turns;

pub use error::MaglevError;
pub use prime::is_prime;
pub use table::{
    Backend, MaglevConfig, Table, DEFAULT_MIN_SLOTS_PER_BACKEND, DEFAULT_TABLE_SIZE,
    MAX_TABLE_SIZE, NO_BACKEND,
};
