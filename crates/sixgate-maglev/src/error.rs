//! Why a table cannot be built.

use thiserror::Error;

/// A rejected table configuration or backend set.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MaglevError {
    /// The table size is not a prime number.
    #[error("table size {table_size} is not prime")]
    NotPrime {
        /// The rejected table size.
        table_size: u32,
    },
    /// The table size is above [`crate::MAX_TABLE_SIZE`].
    #[error("table size {table_size} is above the maximum {max}")]
    TooLarge {
        /// The rejected table size.
        table_size: u32,
        /// The largest table size accepted.
        max: u32,
    },
    /// The table has fewer than `min_slots_per_backend` slots per active backend.
    #[error(
        "table size {table_size} is below {min_slots_per_backend} × {active_backends} backends = {required}"
    )]
    TooSmall {
        /// The rejected table size.
        table_size: u32,
        /// The number of backends with weight > 0.
        active_backends: usize,
        /// The configured minimum of slots per active backend.
        min_slots_per_backend: u32,
        /// `min_slots_per_backend × active_backends`.
        required: u64,
    },
    /// Two backends have the same key.
    #[error("duplicate backend key {key:?}")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// More backends than a slot's `u32` index can name.
    #[error("{count} backends are more than the {max} a table can hold")]
    TooManyBackends {
        /// The number of backends given.
        count: usize,
        /// The most backends a table can hold.
        max: usize,
    },
}
