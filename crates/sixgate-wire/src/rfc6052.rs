//! RFC 6052 IPv4-embedded IPv6 addresses. Mirrors `bpf/lib/rfc6052.h`.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::prefix::{mask_v6, parse_len, split, PrefixError};

/// The well-known prefix 64:ff9b::/96 (RFC 6052 2.1).
pub const WELL_KNOWN_PREFIX: Ipv6Addr = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0);

/// Byte positions of the four IPv4 octets for each legal prefix length
/// (RFC 6052 2.2, figure 1). Byte 8 (bits 64-71, "u") is never used.
fn octet_positions(len: u8) -> [usize; 4] {
    match len {
        32 => [4, 5, 6, 7],
        40 => [5, 6, 7, 9],
        48 => [6, 7, 9, 10],
        56 => [7, 9, 10, 11],
        64 => [9, 10, 11, 12],
        _ => [12, 13, 14, 15],
    }
}

/// An RFC 6052 translation prefix: one of /32, /40, /48, /56, /64, /96,
/// bits past the length zero and bits 64-71 zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rfc6052Prefix {
    addr: Ipv6Addr,
    len: u8,
}

// `len` is the prefix length in bits, not a container size.
#[allow(clippy::len_without_is_empty)]
impl Rfc6052Prefix {
    /// A prefix from its parts, checked against RFC 6052 2.2.
    pub fn new(addr: Ipv6Addr, len: u8) -> Result<Self, PrefixError> {
        if !matches!(len, 32 | 40 | 48 | 56 | 64 | 96) {
            return Err(PrefixError::Rfc6052Length(len));
        }
        let masked = mask_v6(addr, len);
        if masked != addr {
            return Err(PrefixError::HostBitsSet {
                addr: addr.to_string(),
                len,
                masked: masked.to_string(),
            });
        }
        if addr.octets()[8] != 0 {
            return Err(PrefixError::Rfc6052UOctet(format!("{addr}/{len}")));
        }
        Ok(Self { addr, len })
    }

    /// The prefix address (bits past the length are zero).
    pub fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    /// The prefix length: 32, 40, 48, 56, 64 or 96.
    pub fn len(&self) -> u8 {
        self.len
    }

    /// The netmask of the prefix.
    pub fn mask(&self) -> Ipv6Addr {
        mask_v6(Ipv6Addr::from(u128::MAX), self.len)
    }

    /// Byte positions of the four IPv4 octets inside an embedded address
    /// (RFC 6052 2.2, figure 1).
    pub fn octet_positions(&self) -> [usize; 4] {
        octet_positions(self.len)
    }

    /// Whether this is the well-known prefix 64:ff9b::/96.
    pub fn is_well_known(&self) -> bool {
        self.len == 96 && self.addr == WELL_KNOWN_PREFIX
    }

    /// Whether `a` starts with this prefix (suffix and u bits are ignored).
    pub fn contains(&self, a: Ipv6Addr) -> bool {
        mask_v6(a, self.len) == self.addr
    }

    /// The IPv4-embedded IPv6 address of `v4` (RFC 6052 2.2): prefix,
    /// the IPv4 octets around the zero u octet, zero suffix.
    pub fn embed(&self, v4: Ipv4Addr) -> Ipv6Addr {
        let mut out = self.addr.octets();
        for (pos, octet) in octet_positions(self.len).into_iter().zip(v4.octets()) {
            out[pos] = octet;
        }
        Ipv6Addr::from(out)
    }

    /// The IPv4 address embedded in `a`, or `None` if `a` is outside the
    /// prefix. Suffix bits are ignored, as RFC 6052 2.2 says.
    pub fn extract(&self, a: Ipv6Addr) -> Option<Ipv4Addr> {
        if !self.contains(a) {
            return None;
        }
        let o = a.octets();
        let [p0, p1, p2, p3] = octet_positions(self.len);
        Some(Ipv4Addr::new(o[p0], o[p1], o[p2], o[p3]))
    }
}

impl FromStr for Rfc6052Prefix {
    type Err = PrefixError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, l) = split(s)?;
        let addr = a
            .parse::<Ipv6Addr>()
            .map_err(|_| PrefixError::BadAddress(a.to_string(), "IPv6"))?;
        Self::new(addr, parse_len(l, 128)?)
    }
}

impl fmt::Display for Rfc6052Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Test vectors from the RFCs, shared with the eBPF packet tests.
pub mod vectors {
    /// RFC 6052 2.4: (prefix, IPv4, IPv4-embedded IPv6), all for 192.0.2.33,
    /// plus RFC 7915 Appendix A (198.51.100.2 with 2001:db8:100::/40).
    pub const RFC6052_EXAMPLES: [(&str, &str, &str); 8] = [
        ("2001:db8::/32", "192.0.2.33", "2001:db8:c000:221::"),
        ("2001:db8:100::/40", "192.0.2.33", "2001:db8:1c0:2:21::"),
        (
            "2001:db8:122::/48",
            "192.0.2.33",
            "2001:db8:122:c000:2:2100::",
        ),
        (
            "2001:db8:122:300::/56",
            "192.0.2.33",
            "2001:db8:122:3c0:0:221::",
        ),
        (
            "2001:db8:122:344::/64",
            "192.0.2.33",
            "2001:db8:122:344:c0:2:2100:0",
        ),
        (
            "2001:db8:122:344::/96",
            "192.0.2.33",
            "2001:db8:122:344::192.0.2.33",
        ),
        ("64:ff9b::/96", "192.0.2.33", "64:ff9b::192.0.2.33"),
        ("2001:db8:100::/40", "198.51.100.2", "2001:db8:1c6:3364:2::"),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples_embed_and_extract() {
        for (prefix, v4, v6) in vectors::RFC6052_EXAMPLES {
            let p: Rfc6052Prefix = prefix.parse().unwrap();
            let v4: Ipv4Addr = v4.parse().unwrap();
            let v6: Ipv6Addr = v6.parse().unwrap();
            assert_eq!(p.embed(v4), v6, "embed {v4} in {prefix}");
            assert_eq!(p.extract(v6), Some(v4), "extract from {v6} with {prefix}");
        }
    }

    #[test]
    fn extraction_ignores_suffix_and_rejects_outside() {
        let p: Rfc6052Prefix = "2001:db8:122:344::/64".parse().unwrap();
        let with_suffix: Ipv6Addr = "2001:db8:122:344:c0:2:21ff:ffff".parse().unwrap();
        assert_eq!(p.extract(with_suffix), Some(Ipv4Addr::new(192, 0, 2, 33)));
        let outside: Ipv6Addr = "2001:db8:122:345:c0:2:2100:0".parse().unwrap();
        assert_eq!(p.extract(outside), None);
    }

    #[test]
    fn u_octet_is_zero_after_embedding() {
        for len in [32u8, 40, 48, 56, 64] {
            let p = Rfc6052Prefix::new("2001:db8::".parse().unwrap(), len).unwrap();
            assert_eq!(
                p.embed(Ipv4Addr::new(255, 255, 255, 255)).octets()[8],
                0,
                "/{len}"
            );
        }
    }

    #[test]
    fn rejects_illegal_prefixes() {
        assert_eq!(
            "2001:db8::/33".parse::<Rfc6052Prefix>(),
            Err(PrefixError::Rfc6052Length(33))
        );
        assert!(matches!(
            "2001:db8::1/96".parse::<Rfc6052Prefix>(),
            Err(PrefixError::HostBitsSet { .. })
        ));
        assert_eq!(
            "2001:db8:0:0:ff00::/96".parse::<Rfc6052Prefix>(),
            Err(PrefixError::Rfc6052UOctet("2001:db8:0:0:ff00::/96".into()))
        );
    }

    #[test]
    fn well_known_prefix() {
        assert!("64:ff9b::/96"
            .parse::<Rfc6052Prefix>()
            .unwrap()
            .is_well_known());
        assert!(!"2001:db8:64::/96"
            .parse::<Rfc6052Prefix>()
            .unwrap()
            .is_well_known());
    }
}
