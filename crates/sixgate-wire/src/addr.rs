//! Address classes the translator checks. Mirrors `bpf/lib/rfc6052.h`.

use std::net::Ipv4Addr;

/// `(network, length)` pairs, checked by prefix.
type Net = ([u8; 4], u8);

fn in_any(a: Ipv4Addr, nets: &[Net]) -> bool {
    let a = u32::from(a);
    nets.iter().any(|&(net, len)| {
        let mask = u32::MAX << (32 - u32::from(len));
        a & mask == u32::from_be_bytes(net)
    })
}

/// Not globally reachable per the IANA IPv4 Special-Purpose Address Registry
/// (RFC 6890), plus multicast. RFC 6052 3.1 forbids these behind the
/// well-known prefix.
pub fn ipv4_is_non_global(a: Ipv4Addr) -> bool {
    const NETS: &[Net] = &[
        ([0, 0, 0, 0], 8),
        ([10, 0, 0, 0], 8),
        ([100, 64, 0, 0], 10),
        ([127, 0, 0, 0], 8),
        ([169, 254, 0, 0], 16),
        ([172, 16, 0, 0], 12),
        ([192, 0, 0, 0], 24),
        ([192, 0, 2, 0], 24),
        ([192, 168, 0, 0], 16),
        ([198, 18, 0, 0], 15),
        ([198, 51, 100, 0], 24),
        ([203, 0, 113, 0], 24),
        ([224, 0, 0, 0], 3),
    ];
    in_any(a, NETS)
}

/// Sources that are never forwarded: "this network", loopback, multicast,
/// class E and limited broadcast (RFC 1812 5.3.7).
pub fn ipv4_is_illegal_source(a: Ipv4Addr) -> bool {
    const NETS: &[Net] = &[([0, 0, 0, 0], 8), ([127, 0, 0, 0], 8), ([224, 0, 0, 0], 3)];
    in_any(a, NETS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert!(ipv4_is_non_global(Ipv4Addr::new(192, 0, 2, 1)));
        assert!(ipv4_is_non_global(Ipv4Addr::new(10, 1, 2, 3)));
        assert!(ipv4_is_non_global(Ipv4Addr::new(255, 255, 255, 255)));
        assert!(!ipv4_is_non_global(Ipv4Addr::new(8, 8, 8, 8)));
        assert!(!ipv4_is_non_global(Ipv4Addr::new(172, 32, 0, 1)));
        assert!(ipv4_is_illegal_source(Ipv4Addr::new(127, 0, 0, 1)));
        assert!(ipv4_is_illegal_source(Ipv4Addr::new(224, 0, 0, 5)));
        assert!(!ipv4_is_illegal_source(Ipv4Addr::new(192, 0, 2, 1)));
    }
}
