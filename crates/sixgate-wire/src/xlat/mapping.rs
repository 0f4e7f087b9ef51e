//! Address translation: RFC 7757 explicit address mappings (EAMT) first,
//! then the RFC 6052 prefix (pool6), with the RFC 6052 3.1 well-known
//! prefix rule; RFC 6791 sources for untranslatable ICMP error sources.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{DropReason, XlatConfig};
use crate::{ipv4_is_non_global, Ipv4Prefix, Ipv6Prefix, PrefixError};

/// One RFC 7757 explicit address mapping: `ipv4` <-> `ipv6`, suffix copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Eam {
    /// The IPv4 side.
    pub ipv4: Ipv4Prefix,
    /// The IPv6 side.
    pub ipv6: Ipv6Prefix,
}

impl Eam {
    /// An EAM whose IPv4 suffix fits in its IPv6 suffix (RFC 7757 3.2: the
    /// suffix lengths may differ, but an IPv4 suffix longer than the IPv6
    /// one would lose bits).
    pub fn new(ipv4: Ipv4Prefix, ipv6: Ipv6Prefix) -> Result<Self, PrefixError> {
        if 32 - u32::from(ipv4.len()) > 128 - u32::from(ipv6.len()) {
            return Err(PrefixError::BadLength(
                ipv6.len().to_string(),
                128 - (32 - ipv4.len()),
            ));
        }
        Ok(Self { ipv4, ipv6 })
    }

    fn suffix_lens(&self) -> (u32, u32) {
        (
            32 - u32::from(self.ipv4.len()),
            128 - u32::from(self.ipv6.len()),
        )
    }

    /// RFC 7757 3.2, IPv4 -> IPv6: the IPv4 suffix is appended to the IPv6
    /// prefix (left-aligned in the IPv6 suffix); remaining bits are zero.
    /// An IPv4 suffix longer than the IPv6 one (which [`Eam::new`] rejects)
    /// keeps its leftmost bits.
    pub fn to_ipv6(&self, a: Ipv4Addr) -> Ipv6Addr {
        let (s4, s6) = self.suffix_lens();
        let suffix = u128::from(u32::from(a) & low_bits32(s4));
        let placed = if s6 >= s4 {
            suffix << (s6 - s4)
        } else {
            suffix >> (s4 - s6)
        };
        Ipv6Addr::from(u128::from(self.ipv6.addr()) | placed)
    }

    /// RFC 7757 3.2, IPv6 -> IPv4: the leftmost IPv4-suffix-length bits of
    /// the IPv6 suffix; the rest of the IPv6 suffix is ignored.
    pub fn to_ipv4(&self, a: Ipv6Addr) -> Ipv4Addr {
        let (s4, s6) = self.suffix_lens();
        let suffix = u128::from(a) & low_bits128(s6);
        let placed = if s6 >= s4 {
            (suffix >> (s6 - s4)) as u32
        } else {
            (suffix as u32) << (s4 - s6)
        };
        Ipv4Addr::from(u32::from(self.ipv4.addr()) | placed)
    }
}

fn low_bits32(n: u32) -> u32 {
    if n >= 32 {
        u32::MAX
    } else {
        (1u32 << n) - 1
    }
}

fn low_bits128(n: u32) -> u128 {
    if n >= 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

/// RFC 7757 3.2: the longest EAM whose IPv4 prefix holds `a`.
fn eam_for_ipv4(cfg: &XlatConfig, a: Ipv4Addr) -> Option<&Eam> {
    cfg.eamt
        .iter()
        .filter(|e| e.ipv4.contains(a))
        .max_by_key(|e| e.ipv4.len())
}

/// RFC 7757 3.2: the longest EAM whose IPv6 prefix holds `a`.
fn eam_for_ipv6(cfg: &XlatConfig, a: Ipv6Addr) -> Option<&Eam> {
    cfg.eamt
        .iter()
        .filter(|e| e.ipv6.contains(a))
        .max_by_key(|e| e.ipv6.len())
}

/// Whether an IPv4 destination is this translator's (RFC 7757 EAM or a
/// served prefix), i.e. whether 4->6 translates it.
pub fn serves_ipv4(cfg: &XlatConfig, a: Ipv4Addr) -> bool {
    eam_for_ipv4(cfg, a).is_some() || cfg.ipv4_prefixes.iter().any(|p| p.contains(a))
}

/// Whether an IPv6 destination is this translator's (RFC 7757 EAM or
/// pool6), i.e. whether 6->4 translates it.
pub fn serves_ipv6(cfg: &XlatConfig, a: Ipv6Addr) -> bool {
    eam_for_ipv6(cfg, a).is_some() || cfg.pool6.contains(a)
}

/// RFC 6052 3.1: a non-global IPv4 address may not appear behind the
/// well-known prefix unless the operator allowed it.
fn wkp_forbids(cfg: &XlatConfig, a: Ipv4Addr) -> bool {
    cfg.pool6.is_well_known() && !cfg.wkp_allow_non_global && ipv4_is_non_global(a)
}

/// The IPv6 form of an IPv4 address: EAM (RFC 7757 3.2), else embedded in
/// pool6 (RFC 6052 2.2) subject to the 3.1 rule.
pub fn map_4to6(cfg: &XlatConfig, a: Ipv4Addr) -> Result<Ipv6Addr, DropReason> {
    if let Some(e) = eam_for_ipv4(cfg, a) {
        return Ok(e.to_ipv6(a));
    }
    if wkp_forbids(cfg, a) {
        return Err(DropReason::WkpNonGlobal);
    }
    Ok(cfg.pool6.embed(a))
}

/// The IPv4 form of an IPv6 address: EAM (RFC 7757 3.2), else extracted
/// from pool6 (RFC 6052 2.2) subject to the 3.1 rule.
pub fn map_6to4(cfg: &XlatConfig, a: Ipv6Addr) -> Result<Ipv4Addr, DropReason> {
    if let Some(e) = eam_for_ipv6(cfg, a) {
        return Ok(e.to_ipv4(a));
    }
    let v4 = cfg.pool6.extract(a).ok_or(DropReason::SrcNotPool6)?;
    if wkp_forbids(cfg, v4) {
        return Err(DropReason::WkpNonGlobal);
    }
    Ok(v4)
}

/// The IPv4 source of a translated IPv6 packet (RFC 7915 5.1): it must have
/// an IPv4 form, and a pool6 form must lie in a served prefix (otherwise any
/// IPv6 host could pick any IPv4 source). EAM sources are served by
/// definition.
pub fn map_source_6to4(cfg: &XlatConfig, a: Ipv6Addr) -> Result<Ipv4Addr, DropReason> {
    if let Some(e) = eam_for_ipv6(cfg, a) {
        return Ok(e.to_ipv4(a));
    }
    let v4 = map_6to4(cfg, a)?;
    if !cfg.ipv4_prefixes.iter().any(|p| p.contains(v4)) {
        return Err(DropReason::SrcNotServed);
    }
    Ok(v4)
}

/// RFC 6791 4: an address from `rfc6791_pool4` for an ICMPv6 error whose
/// source has no IPv4 form. The pick is a hash of the IPv6 source, so all
/// errors from one router get the same address: the four 32-bit words of
/// the address XORed, times 0x9e3779b1 (wrapping), modulo the pool size.
pub fn rfc6791_pick4(cfg: &XlatConfig, src: Ipv6Addr) -> Option<Ipv4Addr> {
    if cfg.rfc6791_pool4.is_empty() {
        return None;
    }
    let o = src.octets();
    let h = o
        .chunks_exact(4)
        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
        .fold(0u32, |acc, w| acc ^ w)
        .wrapping_mul(0x9e37_79b1);
    let idx = h as usize % cfg.rfc6791_pool4.len();
    cfg.rfc6791_pool4.get(idx).copied()
}

/// IPv6 sources that are never forwarded: unspecified, loopback,
/// multicast (RFC 4291 2.5.2, 2.5.3, 2.7).
pub fn ipv6_is_illegal_source(a: Ipv6Addr) -> bool {
    a.is_unspecified() || a.is_loopback() || a.is_multicast()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eam(v4: &str, v6: &str) -> Eam {
        Eam::new(v4.parse().unwrap(), v6.parse().unwrap()).unwrap()
    }

    #[test]
    fn rfc7757_equal_suffixes() {
        let e = eam("192.0.2.0/24", "2001:db8:aaaa::/120");
        let v6: Ipv6Addr = "2001:db8:aaaa::5".parse().unwrap();
        assert_eq!(e.to_ipv6(Ipv4Addr::new(192, 0, 2, 5)), v6);
        assert_eq!(e.to_ipv4(v6), Ipv4Addr::new(192, 0, 2, 5));
    }

    #[test]
    fn rfc7757_longer_ipv6_suffix_is_left_aligned() {
        let e = eam("192.0.2.0/24", "2001:db8:aaaa::/112");
        let v6: Ipv6Addr = "2001:db8:aaaa::500".parse().unwrap();
        assert_eq!(e.to_ipv6(Ipv4Addr::new(192, 0, 2, 5)), v6);
        assert_eq!(
            e.to_ipv4("2001:db8:aaaa::5ff".parse().unwrap()),
            Ipv4Addr::new(192, 0, 2, 5)
        );
    }

    #[test]
    fn eam_rejects_longer_ipv4_suffix() {
        assert!(Eam::new(
            "192.0.2.0/24".parse().unwrap(),
            "2001:db8::/124".parse().unwrap()
        )
        .is_err());
    }

    #[test]
    fn longest_match_wins_and_comes_before_pool6() {
        let mut cfg = XlatConfig::new("2001:db8:64::/96".parse().unwrap());
        cfg.eamt = vec![
            eam("192.0.2.0/24", "2001:db8:aaaa::/120"),
            eam("192.0.2.7/32", "2001:db8:bbbb::7/128"),
        ];
        assert_eq!(
            map_4to6(&cfg, Ipv4Addr::new(192, 0, 2, 7)).unwrap(),
            "2001:db8:bbbb::7".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            map_4to6(&cfg, Ipv4Addr::new(192, 0, 2, 8)).unwrap(),
            "2001:db8:aaaa::8".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            map_4to6(&cfg, Ipv4Addr::new(203, 0, 113, 1)).unwrap(),
            "2001:db8:64::203.0.113.1".parse::<Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn rfc6791_pick_is_stable() {
        let mut cfg = XlatConfig::new("2001:db8:64::/96".parse().unwrap());
        let a: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
        assert_eq!(rfc6791_pick4(&cfg, a), None);
        cfg.rfc6791_pool4 = vec![Ipv4Addr::new(203, 0, 113, 1), Ipv4Addr::new(203, 0, 113, 2)];
        let x = rfc6791_pick4(&cfg, a);
        assert!(x.is_some());
        assert_eq!(x, rfc6791_pick4(&cfg, a));
    }
}
