//! Pure-Rust packet logic for sixgate: no unsafe, no I/O.
//!
//! RFC 6052 address mapping, the address classes the data path checks, the
//! RFC 7915 reference translator ([`xlat::translate`]) the eBPF programs in
//! `bpf/` are checked against, and a packet validator ([`validate()`]).
#![forbid(unsafe_code)]

pub mod addr;
pub mod checksum;
pub mod prefix;
pub mod rfc6052;
pub mod validate;
pub mod xlat;

pub use addr::{ipv4_is_illegal_source, ipv4_is_non_global};
pub use prefix::{Ipv4Prefix, Ipv6Prefix, PrefixError};
pub use rfc6052::{Rfc6052Prefix, WELL_KNOWN_PREFIX};
pub use validate::{validate, ValidationError};
