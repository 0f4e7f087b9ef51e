//! A packet validator: is this IPv4 or IPv6 packet well formed, with every
//! checksum right? Used by the tests and the differential test on every
//! packet the translator emits. Written independently of the translator.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::checksum::{pseudo4, pseudo6, sum, verifies};

/// What is wrong with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The version nibble is neither 4 nor 6 (or the packet is empty).
    #[error("not IPv4 or IPv6")]
    Version,
    /// A header runs past the end of the packet.
    #[error("{0} header truncated")]
    Truncated(&'static str),
    /// The IP length field disagrees with the packet's size.
    #[error("IP length field says {field} bytes, the packet has {actual}")]
    Length {
        /// The length the header claims.
        field: usize,
        /// The bytes there are.
        actual: usize,
    },
    /// IPv4 header length below 20 bytes.
    #[error("IPv4 IHL below 5")]
    Ihl,
    /// The IPv4 header checksum is wrong.
    #[error("IPv4 header checksum wrong")]
    Ipv4HeaderChecksum,
    /// The UDP length field disagrees with the IP payload.
    #[error("UDP length field says {field} bytes, the datagram has {actual}")]
    UdpLength {
        /// The UDP length field.
        field: usize,
        /// The bytes there are.
        actual: usize,
    },
    /// UDP over IPv6 without a checksum (RFC 8200 8.1).
    #[error("UDP checksum 0 over IPv6")]
    Udp6ZeroChecksum,
    /// The transport checksum is wrong; names the protocol.
    #[error("{0} checksum wrong")]
    L4Checksum(&'static str),
}

/// Checks `packet` (IPv4 or IPv6, L3): lengths consistent, IPv4 header
/// checksum, and the TCP / UDP / ICMP / ICMPv6 checksum of unfragmented
/// packets (a fragment's transport checksum covers the whole datagram,
/// so fragments get no transport check). Other protocols: IP checks only.
pub fn validate(packet: &[u8]) -> Result<(), ValidationError> {
    match packet.first().map(|b| b >> 4) {
        Some(4) => validate4(packet),
        Some(6) => validate6(packet),
        _ => Err(ValidationError::Version),
    }
}

fn validate4(p: &[u8]) -> Result<(), ValidationError> {
    if p.len() < 20 {
        return Err(ValidationError::Truncated("IPv4"));
    }
    let hlen = usize::from(p[0] & 0x0f) * 4;
    if hlen < 20 {
        return Err(ValidationError::Ihl);
    }
    if p.len() < hlen {
        return Err(ValidationError::Truncated("IPv4"));
    }
    let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
    if total != p.len() {
        return Err(ValidationError::Length {
            field: total,
            actual: p.len(),
        });
    }
    if !verifies(sum(&p[..hlen])) {
        return Err(ValidationError::Ipv4HeaderChecksum);
    }
    let flags = u16::from_be_bytes([p[6], p[7]]);
    if flags & 0x3fff != 0 {
        return Ok(());
    }
    let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
    let dst = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
    let l4 = &p[hlen..];
    let len = l4.len() as u32;
    match p[9] {
        1 => check_l4(l4, 4, sum(l4), "ICMP"),
        6 => check_l4(l4, 20, pseudo4(src, dst, 6, len) + sum(l4), "TCP"),
        17 => {
            check_udp_len(l4)?;
            if u16::from_be_bytes([l4[6], l4[7]]) == 0 {
                return Ok(());
            }
            check_l4(l4, 8, pseudo4(src, dst, 17, len) + sum(l4), "UDP")
        }
        _ => Ok(()),
    }
}

fn validate6(p: &[u8]) -> Result<(), ValidationError> {
    if p.len() < 40 {
        return Err(ValidationError::Truncated("IPv6"));
    }
    let plen = usize::from(u16::from_be_bytes([p[4], p[5]]));
    if 40 + plen != p.len() {
        return Err(ValidationError::Length {
            field: 40 + plen,
            actual: p.len(),
        });
    }
    let mut nh = p[6];
    let mut off = 40;
    loop {
        match nh {
            0 | 43 | 60 => {
                if p.len() < off + 8 {
                    return Err(ValidationError::Truncated("IPv6 extension"));
                }
                let len = (usize::from(p[off + 1]) + 1) * 8;
                if p.len() < off + len {
                    return Err(ValidationError::Truncated("IPv6 extension"));
                }
                nh = p[off];
                off += len;
            }
            44 => {
                if p.len() < off + 8 {
                    return Err(ValidationError::Truncated("IPv6 fragment"));
                }
                return Ok(());
            }
            _ => break,
        }
    }
    let mut s = [0u8; 16];
    let mut d = [0u8; 16];
    s.copy_from_slice(&p[8..24]);
    d.copy_from_slice(&p[24..40]);
    let (src, dst) = (Ipv6Addr::from(s), Ipv6Addr::from(d));
    let l4 = &p[off..];
    let len = l4.len() as u32;
    match nh {
        58 => check_l4(l4, 4, pseudo6(src, dst, 58, len) + sum(l4), "ICMPv6"),
        6 => check_l4(l4, 20, pseudo6(src, dst, 6, len) + sum(l4), "TCP"),
        17 => {
            check_udp_len(l4)?;
            if u16::from_be_bytes([l4[6], l4[7]]) == 0 {
                return Err(ValidationError::Udp6ZeroChecksum);
            }
            check_l4(l4, 8, pseudo6(src, dst, 17, len) + sum(l4), "UDP")
        }
        _ => Ok(()),
    }
}

fn check_udp_len(l4: &[u8]) -> Result<(), ValidationError> {
    if l4.len() < 8 {
        return Err(ValidationError::Truncated("UDP"));
    }
    let field = usize::from(u16::from_be_bytes([l4[4], l4[5]]));
    if field != l4.len() {
        return Err(ValidationError::UdpLength {
            field,
            actual: l4.len(),
        });
    }
    Ok(())
}

fn check_l4(l4: &[u8], min: usize, s: u64, name: &'static str) -> Result<(), ValidationError> {
    if l4.len() < min {
        return Err(ValidationError::Truncated(name));
    }
    if !verifies(s) {
        return Err(ValidationError::L4Checksum(name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn udp4(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv4([192, 0, 2, 1], [198, 51, 100, 2], 64)
            .udp(1, 2)
            .write(&mut out, payload)
            .unwrap();
        out
    }

    fn tcp6(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv6(
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0x20; 16],
            64,
        )
        .tcp(1, 2, 3, 4)
        .write(&mut out, payload)
        .unwrap();
        out
    }

    #[test]
    fn good_packets_pass() {
        assert_eq!(validate(&udp4(b"hello")), Ok(()));
        assert_eq!(validate(&tcp6(b"hello")), Ok(()));
    }

    #[test]
    fn reports_what_is_wrong() {
        let mut p = udp4(b"hello");
        p[30] ^= 1;
        assert_eq!(validate(&p), Err(ValidationError::L4Checksum("UDP")));
        let mut p = udp4(b"hello");
        p[8] -= 1;
        assert_eq!(validate(&p), Err(ValidationError::Ipv4HeaderChecksum));
        let p = udp4(b"hello");
        assert_eq!(
            validate(&p[..p.len() - 1]),
            Err(ValidationError::Length {
                field: p.len(),
                actual: p.len() - 1
            })
        );
        let mut p = tcp6(b"hello");
        let last = p.len() - 1;
        p[last] ^= 0x10;
        assert_eq!(validate(&p), Err(ValidationError::L4Checksum("TCP")));
        assert_eq!(validate(&[0x55; 40]), Err(ValidationError::Version));
        assert_eq!(
            validate(&[0x45; 10]),
            Err(ValidationError::Truncated("IPv4"))
        );
    }

    #[test]
    fn udp_zero_checksum_ok_in_ipv4_only() {
        let mut p = udp4(b"x");
        p[26] = 0;
        p[27] = 0;
        assert_eq!(validate(&p), Ok(()));
    }

    #[test]
    fn fragments_get_no_transport_check() {
        let mut p = udp4(b"hello");
        p[30] ^= 1; // transport checksum now wrong
        p[6] = 0x20; // MF
        p[10] = 0;
        p[11] = 0;
        let c = crate::checksum::finish(sum(&p[..20]));
        p[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(validate(&p), Ok(()));
    }
}
