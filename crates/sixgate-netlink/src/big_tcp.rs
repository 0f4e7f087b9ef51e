//! BIG TCP: GSO/GRO size limits above 64 KiB, for IPv6 and IPv4.

use crate::socket::{
    get_link, ifindex, link_attrs, transact, LinkRequest, NLM_F_ACK, NLM_F_REQUEST, RTM_NEWLINK,
};
use crate::NetlinkError;

const IFLA_GSO_MAX_SIZE: u16 = 41;
const IFLA_GRO_MAX_SIZE: u16 = 58;
const IFLA_TSO_MAX_SIZE: u16 = 59;
const IFLA_GSO_IPV4_MAX_SIZE: u16 = 63;
const IFLA_GRO_IPV4_MAX_SIZE: u16 = 64;

/// The BIG TCP size used when the config just says "on" (as Cilium does).
pub const BIG_TCP_DEFAULT_SIZE: u32 = 196_608;
/// GSO_LEGACY_MAX_SIZE: the limit without BIG TCP.
const LEGACY_MAX_SIZE: u32 = 65_536;

/// An interface's GSO/GRO limits as the kernel reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkSizes {
    /// IPv6 (and pre-6.3 all) GSO limit.
    pub gso_max_size: u32,
    /// IPv6 GRO limit.
    pub gro_max_size: u32,
    /// IPv4 GSO limit; `None` on kernels before 6.3 (no IPv4 BIG TCP).
    pub gso_ipv4_max_size: Option<u32>,
    /// IPv4 GRO limit; `None` on kernels before 6.3.
    pub gro_ipv4_max_size: Option<u32>,
    /// What the device can segment at most.
    pub tso_max_size: Option<u32>,
}

/// What `enable_big_tcp` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BigTcpOutcome {
    /// Sizes before, to restore on shutdown.
    pub before: LinkSizes,
    /// Sizes in force afterwards.
    pub after: LinkSizes,
    /// The size asked for.
    pub requested: u32,
    /// The size applied: `requested` capped at the device's `tso_max_size`.
    pub applied: u32,
}

impl BigTcpOutcome {
    /// A human-readable warning when the result is less than asked for.
    pub fn warnings(&self, ifname: &str) -> Vec<String> {
        let mut w = Vec::new();
        if self.applied < self.requested {
            w.push(format!(
                "{ifname}: BIG TCP size {} capped at the device's tso_max_size {}",
                self.requested, self.applied
            ));
        }
        if self.applied > LEGACY_MAX_SIZE && self.after.gso_ipv4_max_size.is_none() {
            w.push(format!(
                "{ifname}: this kernel has no IPv4 BIG TCP (needs Linux 6.3); IPv4 stays at 64 KiB"
            ));
        }
        if self.applied <= LEGACY_MAX_SIZE {
            w.push(format!(
                "{ifname}: the device cannot segment more than {} bytes, so BIG TCP stays off",
                self.applied
            ));
        }
        w
    }
}

/// Reads `ifname`'s GSO/GRO limits.
pub fn read_sizes(ifname: &str) -> Result<LinkSizes, NetlinkError> {
    let body = get_link(ifname)?;
    let mut sizes = LinkSizes {
        gso_max_size: 0,
        gro_max_size: 0,
        gso_ipv4_max_size: None,
        gro_ipv4_max_size: None,
        tso_max_size: None,
    };
    for (kind, payload) in link_attrs(&body) {
        let Ok(bytes) = <[u8; 4]>::try_from(payload) else {
            continue;
        };
        let v = u32::from_ne_bytes(bytes);
        match kind {
            IFLA_GSO_MAX_SIZE => sizes.gso_max_size = v,
            IFLA_GRO_MAX_SIZE => sizes.gro_max_size = v,
            IFLA_GSO_IPV4_MAX_SIZE => sizes.gso_ipv4_max_size = Some(v),
            IFLA_GRO_IPV4_MAX_SIZE => sizes.gro_ipv4_max_size = Some(v),
            IFLA_TSO_MAX_SIZE => sizes.tso_max_size = Some(v),
            _ => {}
        }
    }
    Ok(sizes)
}

fn set(ifname: &str, index: u32, attrs: &[(u16, u32)], what: &str) -> Result<(), NetlinkError> {
    let mut req = LinkRequest::new(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, index);
    for &(kind, value) in attrs {
        req = req.attr_u32(kind, value);
    }
    transact(req, &format!("setting {what} on {ifname}")).map(|_| ())
}

/// Applies `sizes` to `ifname`: IPv6 limits first, then IPv4, because the
/// kernel resets the IPv4 limits whenever `gso_max_size` is set at or
/// below 64 KiB.
fn apply(
    ifname: &str,
    gso: u32,
    gro: u32,
    gso4: Option<u32>,
    gro4: Option<u32>,
) -> Result<(), NetlinkError> {
    let index = ifindex(ifname)?;
    set(
        ifname,
        index,
        &[(IFLA_GSO_MAX_SIZE, gso), (IFLA_GRO_MAX_SIZE, gro)],
        "gso_max_size/gro_max_size",
    )?;
    let mut v4 = Vec::new();
    if let Some(s) = gso4 {
        v4.push((IFLA_GSO_IPV4_MAX_SIZE, s));
    }
    if let Some(s) = gro4 {
        v4.push((IFLA_GRO_IPV4_MAX_SIZE, s));
    }
    if !v4.is_empty() {
        set(ifname, index, &v4, "gso_ipv4_max_size/gro_ipv4_max_size")?;
    }
    Ok(())
}

/// Turns BIG TCP on for `ifname` at `size` bytes (capped at the device's
/// `tso_max_size`), for IPv6 and, where the kernel supports it, IPv4.
pub fn enable_big_tcp(ifname: &str, size: u32) -> Result<BigTcpOutcome, NetlinkError> {
    let before = read_sizes(ifname)?;
    let applied = before.tso_max_size.map_or(size, |t| size.min(t));
    let v4 = before.gso_ipv4_max_size.map(|_| applied);
    apply(ifname, applied, applied, v4, v4)?;
    let after = read_sizes(ifname)?;
    Ok(BigTcpOutcome {
        before,
        after,
        requested: size,
        applied,
    })
}

/// Puts back the sizes `enable_big_tcp` found.
pub fn restore_sizes(ifname: &str, before: &LinkSizes) -> Result<(), NetlinkError> {
    apply(
        ifname,
        before.gso_max_size,
        before.gro_max_size,
        before.gso_ipv4_max_size,
        before.gro_ipv4_max_size,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on a thread in a fresh network namespace with a veth pair.
    fn in_netns(f: impl FnOnce() + Send + 'static) {
        std::thread::spawn(move || {
            // SAFETY: moves only this thread into a new network namespace.
            assert_eq!(
                unsafe { libc::unshare(libc::CLONE_NEWNET) },
                0,
                "unshare (needs root)"
            );
            let ok = std::process::Command::new("ip")
                .args(["link", "add", "t0", "type", "veth", "peer", "name", "t1"])
                .status()
                .unwrap()
                .success();
            assert!(ok, "ip link add");
            f();
        })
        .join()
        .unwrap();
    }

    #[test]
    fn enables_and_restores_big_tcp_on_veth() {
        in_netns(|| {
            let before = read_sizes("t0").unwrap();
            assert_eq!(before.gso_max_size, LEGACY_MAX_SIZE);
            let out = enable_big_tcp("t0", BIG_TCP_DEFAULT_SIZE).unwrap();
            assert_eq!(out.before, before);
            assert_eq!(out.applied, BIG_TCP_DEFAULT_SIZE);
            assert_eq!(out.after.gso_max_size, BIG_TCP_DEFAULT_SIZE);
            assert_eq!(out.after.gro_max_size, BIG_TCP_DEFAULT_SIZE);
            assert_eq!(out.after.gso_ipv4_max_size, Some(BIG_TCP_DEFAULT_SIZE));
            assert_eq!(out.after.gro_ipv4_max_size, Some(BIG_TCP_DEFAULT_SIZE));
            assert!(out.warnings("t0").is_empty(), "{:?}", out.warnings("t0"));
            restore_sizes("t0", &out.before).unwrap();
            assert_eq!(read_sizes("t0").unwrap(), before);
        });
    }

    #[test]
    fn caps_at_tso_max_size() {
        in_netns(|| {
            let tso = read_sizes("t0")
                .unwrap()
                .tso_max_size
                .expect("tso_max_size");
            let out = enable_big_tcp("t0", tso + 4096).unwrap();
            assert_eq!(out.applied, tso);
            assert_eq!(out.after.gso_max_size, tso);
            assert_eq!(out.warnings("t0").len(), 1, "{:?}", out.warnings("t0"));
        });
    }

    #[test]
    fn missing_interface_is_named() {
        in_netns(|| {
            let e = enable_big_tcp("nope0", BIG_TCP_DEFAULT_SIZE).unwrap_err();
            assert_eq!(e.to_string(), "no network interface named \"nope0\"");
        });
    }
}
