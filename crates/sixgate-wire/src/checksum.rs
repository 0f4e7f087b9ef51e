//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624),
//! as the translator and the validator use it.

use std::net::{Ipv4Addr, Ipv6Addr};

/// One's-complement sum of `data` as big-endian 16-bit words (an odd last
/// byte is padded with zero), not yet folded (RFC 1071 4.1).
pub fn sum(data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(2);
    let mut acc: u64 = chunks
        .by_ref()
        .map(|w| u64::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    if let [last] = chunks.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// Folds a sum to 16 bits with end-around carry (RFC 1071 4.1).
pub fn fold(mut s: u64) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// The checksum field value for a sum: its one's complement (RFC 1071).
pub fn finish(s: u64) -> u16 {
    !fold(s)
}

/// Whether data whose sum (checksum field included) is `s` verifies.
pub fn verifies(s: u64) -> bool {
    fold(s) == 0xffff
}

/// Sum of the two IPv4 addresses of a pseudo-header (RFC 793 3.1, RFC 768).
pub fn addrs4(src: Ipv4Addr, dst: Ipv4Addr) -> u64 {
    sum(&src.octets()) + sum(&dst.octets())
}

/// Sum of the two IPv6 addresses of a pseudo-header (RFC 8200 8.1).
pub fn addrs6(src: Ipv6Addr, dst: Ipv6Addr) -> u64 {
    sum(&src.octets()) + sum(&dst.octets())
}

/// Sum of the IPv4 pseudo-header: addresses, protocol, transport length.
pub fn pseudo4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: u32) -> u64 {
    addrs4(src, dst) + u64::from(proto) + u64::from(len >> 16) + u64::from(len & 0xffff)
}

/// Sum of the IPv6 pseudo-header: addresses, upper-layer length, next header
/// (RFC 8200 8.1).
pub fn pseudo6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, len: u32) -> u64 {
    addrs6(src, dst) + u64::from(next_header) + u64::from(len >> 16) + u64::from(len & 0xffff)
}

/// Updates checksum field `check` when data summing to `old` is replaced by
/// data summing to `new`: HC' = ~(~HC + ~m + m') (RFC 1624 eqn. 3), the
/// formula `bpf_l4_csum_replace` uses.
pub fn update(check: u16, old: u64, new: u64) -> u16 {
    !fold(u64::from(!check) + u64::from(!fold(old)) + u64::from(fold(new)))
}

/// A computed UDP checksum of 0 is sent as 0xffff (RFC 768).
pub fn udp_nonzero(check: u16) -> u16 {
    if check == 0 {
        0xffff
    } else {
        check
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 3: 0001 f203 f4f5 f6f7 sums to ddf2 (folded).
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&d)), 0xddf2);
        assert_eq!(finish(sum(&d)), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn incremental_equals_full() {
        let mut d = vec![
            0x45u8, 0, 0, 40, 1, 2, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let c = finish(sum(&d));
        d[10..12].copy_from_slice(&c.to_be_bytes());
        assert!(verifies(sum(&d)));
        // change the TTL word from 0x4006 to 0x3f06
        let c2 = update(c, 0x4006, 0x3f06);
        d[8] = 0x3f;
        d[10..12].copy_from_slice(&c2.to_be_bytes());
        assert!(verifies(sum(&d)));
    }
}
