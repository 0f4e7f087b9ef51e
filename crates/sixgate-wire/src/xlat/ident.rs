//! RFC 7915 5.1 Identification of translated IPv4 packets, shared with the
//! eBPF data path (`xlat64_identification`).

use std::net::Ipv4Addr;

/// IPv4 Identification the translator gives a 6->4 packet sent with DF=0
/// (RFC 7915 5.1 leaves the algorithm to the translator). Derived from the
/// addresses, protocol and transport checksum: it varies across the packets
/// of a flow, and the same input always gives the same bytes. Mirrors
/// `xlat64_identification` in bpf/lib/xlat64.h; `l4_check` is the transport
/// checksum as read from the wire (big-endian value).
pub fn ipv4_identification(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, l4_check: u16) -> u16 {
    let mut h = u32::from(src).wrapping_mul(0x9e37_79b1);
    h ^= u32::from(dst);
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= (u32::from(proto) << 16) | u32::from(l4_check);
    h ^= h >> 16;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 13;
    (h ^ (h >> 16)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identification_varies_with_the_checksum_and_is_stable() {
        let a = Ipv4Addr::new(198, 51, 100, 2);
        let b = Ipv4Addr::new(192, 0, 2, 10);
        let x = ipv4_identification(a, b, 6, 0x1234);
        assert_eq!(x, ipv4_identification(a, b, 6, 0x1234));
        assert_ne!(x, ipv4_identification(a, b, 6, 0x1235));
        assert_ne!(x, ipv4_identification(b, a, 6, 0x1234));
    }
}
