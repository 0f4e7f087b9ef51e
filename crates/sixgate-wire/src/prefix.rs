//! Parsing of `address/length` prefixes, shared by the config and the API.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Why a prefix string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    /// No `/` separating address and length.
    #[error("expected ADDRESS/LENGTH, got {0:?}")]
    MissingLength(String),
    /// The address part does not parse for this family.
    #[error("{0:?} is not an {1} address")]
    BadAddress(String, &'static str),
    /// The length part is not a number in range.
    #[error("prefix length {0:?} is not a number from 0 to {1}")]
    BadLength(String, u8),
    /// Bits are set past the prefix length.
    #[error("{addr}/{len} has host bits set; did you mean {masked}/{len}?")]
    HostBitsSet {
        /// Address as written.
        addr: String,
        /// Length as written.
        len: u8,
        /// The address with host bits cleared.
        masked: String,
    },
    /// RFC 6052 2.2 allows only these lengths.
    #[error("prefix length {0} is not one RFC 6052 allows (32, 40, 48, 56, 64, 96)")]
    Rfc6052Length(u8),
    /// RFC 6052 2.2: bits 64 to 71 must be zero.
    #[error("{0} has bits 64-71 set; RFC 6052 2.2 requires them to be zero")]
    Rfc6052UOctet(String),
}

pub(crate) fn split(s: &str) -> Result<(&str, &str), PrefixError> {
    s.split_once('/')
        .ok_or_else(|| PrefixError::MissingLength(s.to_string()))
}

pub(crate) fn parse_len(s: &str, max: u8) -> Result<u8, PrefixError> {
    match s.parse::<u8>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(PrefixError::BadLength(s.to_string(), max)),
    }
}

pub(crate) fn mask_v6(addr: Ipv6Addr, len: u8) -> Ipv6Addr {
    let bits = u128::from(addr);
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    };
    Ipv6Addr::from(bits & mask)
}

/// An IPv4 prefix such as `198.51.100.0/24`, host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Prefix {
    addr: Ipv4Addr,
    len: u8,
}

// `len` is the prefix length in bits, not a container size.
#[allow(clippy::len_without_is_empty)]
impl Ipv4Prefix {
    /// A prefix from its parts; host bits must be zero.
    pub fn new(addr: Ipv4Addr, len: u8) -> Result<Self, PrefixError> {
        if len > 32 {
            return Err(PrefixError::BadLength(len.to_string(), 32));
        }
        let masked = Ipv4Addr::from(u32::from(addr) & Self::mask_bits(len));
        if masked != addr {
            return Err(PrefixError::HostBitsSet {
                addr: addr.to_string(),
                len,
                masked: masked.to_string(),
            });
        }
        Ok(Self { addr, len })
    }

    fn mask_bits(len: u8) -> u32 {
        if len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(len))
        }
    }

    /// The network address.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn len(&self) -> u8 {
        self.len
    }

    /// Whether `a` lies inside this prefix.
    pub fn contains(&self, a: Ipv4Addr) -> bool {
        u32::from(a) & Self::mask_bits(self.len) == u32::from(self.addr)
    }

    /// Whether the two prefixes share any address.
    pub fn overlaps(&self, other: &Ipv4Prefix) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }
}

impl FromStr for Ipv4Prefix {
    type Err = PrefixError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, l) = split(s)?;
        let addr = a
            .parse::<Ipv4Addr>()
            .map_err(|_| PrefixError::BadAddress(a.to_string(), "IPv4"))?;
        Self::new(addr, parse_len(l, 32)?)
    }
}

impl fmt::Display for Ipv4Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// An IPv6 prefix such as `2001:db8:46::/120`, host bits zero (the IPv6 side
/// of an RFC 7757 explicit address mapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv6Prefix {
    addr: Ipv6Addr,
    len: u8,
}

// `len` is the prefix length in bits, not a container size.
#[allow(clippy::len_without_is_empty)]
impl Ipv6Prefix {
    /// A prefix from its parts; host bits must be zero.
    pub fn new(addr: Ipv6Addr, len: u8) -> Result<Self, PrefixError> {
        if len > 128 {
            return Err(PrefixError::BadLength(len.to_string(), 128));
        }
        let masked = mask_v6(addr, len);
        if masked != addr {
            return Err(PrefixError::HostBitsSet {
                addr: addr.to_string(),
                len,
                masked: masked.to_string(),
            });
        }
        Ok(Self { addr, len })
    }

    /// The network address.
    pub fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn len(&self) -> u8 {
        self.len
    }

    /// Whether `a` lies inside this prefix.
    pub fn contains(&self, a: Ipv6Addr) -> bool {
        mask_v6(a, self.len) == self.addr
    }
}

impl FromStr for Ipv6Prefix {
    type Err = PrefixError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, l) = split(s)?;
        let addr = a
            .parse::<Ipv6Addr>()
            .map_err(|_| PrefixError::BadAddress(a.to_string(), "IPv6"))?;
        Self::new(addr, parse_len(l, 128)?)
    }
}

impl fmt::Display for Ipv6Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_contains() {
        let p: Ipv4Prefix = "198.51.100.0/24".parse().unwrap();
        assert_eq!(p.len(), 24);
        assert!(p.contains(Ipv4Addr::new(198, 51, 100, 7)));
        assert!(!p.contains(Ipv4Addr::new(198, 51, 101, 7)));
        let all: Ipv4Prefix = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(Ipv4Addr::new(203, 0, 113, 1)));
    }

    #[test]
    fn rejects_bad_input_with_the_reason() {
        assert_eq!(
            "198.51.100.1/24".parse::<Ipv4Prefix>(),
            Err(PrefixError::HostBitsSet {
                addr: "198.51.100.1".into(),
                len: 24,
                masked: "198.51.100.0".into()
            })
        );
        assert_eq!(
            "198.51.100.0".parse::<Ipv4Prefix>(),
            Err(PrefixError::MissingLength("198.51.100.0".into()))
        );
        assert_eq!(
            "198.51.100.0/33".parse::<Ipv4Prefix>(),
            Err(PrefixError::BadLength("33".into(), 32))
        );
        assert_eq!(
            "2001:db8::/32".parse::<Ipv4Prefix>(),
            Err(PrefixError::BadAddress("2001:db8::".into(), "IPv4"))
        );
    }

    #[test]
    fn ipv6_prefix() {
        let p: Ipv6Prefix = "2001:db8:46::/120".parse().unwrap();
        assert!(p.contains("2001:db8:46::ff".parse().unwrap()));
        assert!(!p.contains("2001:db8:46::1:0".parse().unwrap()));
        assert!(matches!(
            "2001:db8::1/64".parse::<Ipv6Prefix>(),
            Err(PrefixError::HostBitsSet { .. })
        ));
        assert_eq!(p.to_string(), "2001:db8:46::/120");
    }

    #[test]
    fn overlap() {
        let a: Ipv4Prefix = "198.51.100.0/24".parse().unwrap();
        let b: Ipv4Prefix = "198.51.100.128/25".parse().unwrap();
        let c: Ipv4Prefix = "203.0.113.0/24".parse().unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
    }
}
