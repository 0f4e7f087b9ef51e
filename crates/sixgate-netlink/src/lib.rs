//! Link settings over rtnetlink, in the calling thread's network namespace:
//! reading and setting the GSO/GRO size limits that enable BIG TCP.
//!
//! iproute2 6.1 (Debian 12) cannot set the IPv4 sizes, so sixgate talks
//! rtnetlink itself: one `RTM_GETLINK` to read, `RTM_NEWLINK` to set.

mod big_tcp;
mod kind;
mod socket;

pub use big_tcp::{
    enable_big_tcp, read_sizes, restore_sizes, BigTcpOutcome, LinkSizes, BIG_TCP_DEFAULT_SIZE,
};
pub use kind::link_kind;

/// Why a netlink operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// The interface does not exist in this network namespace.
    #[error("no network interface named {0:?}")]
    NoSuchInterface(String),
    /// A system call failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The kernel sent something we could not parse.
    #[error("unexpected netlink reply: {0}")]
    Protocol(String),
}
