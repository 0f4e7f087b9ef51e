//! Pure-Rust packet logic for sixgate: no unsafe, no I/O.
//!
//! Today: RFC 6052 address mapping and the address classes the data path
//! checks. The RFC 7915 reference translator grows here next; the eBPF
//! programs in `bpf/` are checked against it.
#![forbid(unsafe_code)]

pub mod addr;
pub mod prefix;
pub mod rfc6052;
pub mod xlat;

pub use addr::{ipv4_is_illegal_source, ipv4_is_non_global};
pub use prefix::{Ipv4Prefix, PrefixError};
pub use rfc6052::{Rfc6052Prefix, WELL_KNOWN_PREFIX};
