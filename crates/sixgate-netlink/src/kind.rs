//! What kind of device an interface is (IFLA_INFO_KIND: "veth", "vlan", ...).

use crate::socket::{get_link, link_attrs};
use crate::NetlinkError;

const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;

/// The link kind of `ifname` ("veth", "bridge", ...), or `None` for devices
/// without one (physical NICs, loopback).
pub fn link_kind(ifname: &str) -> Result<Option<String>, NetlinkError> {
    let body = get_link(ifname)?;
    for (kind, payload) in link_attrs(&body) {
        if kind != IFLA_LINKINFO {
            continue;
        }
        // Nested attributes: the same TLV layout, without the ifinfomsg.
        let mut off = 0;
        while off + 4 <= payload.len() {
            let len = u16::from_ne_bytes([payload[off], payload[off + 1]]) as usize;
            let t = u16::from_ne_bytes([payload[off + 2], payload[off + 3]]) & 0x3fff;
            if len < 4 || off + len > payload.len() {
                break;
            }
            if t == IFLA_INFO_KIND {
                let s = &payload[off + 4..off + len];
                let s = s.split(|&b| b == 0).next().unwrap_or_default();
                return Ok(Some(String::from_utf8_lossy(s).into_owned()));
            }
            off += (len + 3) & !3;
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn veth_and_loopback() {
        std::thread::spawn(|| {
            // SAFETY: moves only this thread into a new network namespace.
            assert_eq!(
                unsafe { libc::unshare(libc::CLONE_NEWNET) },
                0,
                "unshare (needs root)"
            );
            let ok = std::process::Command::new("ip")
                .args(["link", "add", "k0", "type", "veth", "peer", "name", "k1"])
                .status()
                .unwrap()
                .success();
            assert!(ok);
            assert_eq!(link_kind("k0").unwrap().as_deref(), Some("veth"));
            assert_eq!(link_kind("lo").unwrap(), None);
        })
        .join()
        .unwrap();
    }
}
