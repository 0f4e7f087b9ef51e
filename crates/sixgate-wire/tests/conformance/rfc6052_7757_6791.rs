//! Addresses: RFC 6052 2.2 / 2.4 / 3.1 and RFC 7757 explicit address
//! mappings, through the translator.

use std::net::{Ipv4Addr, Ipv6Addr};

use sixgate_wire::rfc6052::vectors::RFC6052_EXAMPLES;
use sixgate_wire::xlat::{ipv4_identification, translate, Eam, Outcome};
use sixgate_wire::Ipv4Prefix;

use crate::common::*;

const TCP: u8 = 6;

/// RFC 6052 2.2 MUST / 2.4 vectors: the IPv4 source is embedded at the
/// position each prefix length prescribes (u octet zero, suffix zero).
#[test]
fn rfc6052_examples_through_the_translator() {
    for (prefix, v4, v6_) in RFC6052_EXAMPLES {
        let mut c = cfg();
        c.pool6 = prefix.parse().unwrap();
        c.wkp_allow_non_global = true;
        let src4 = v4.parse::<Ipv4Addr>().unwrap().octets();
        let src6 = v6_.parse::<Ipv6Addr>().unwrap().octets();
        let dst6 = c.pool6.embed(Ipv4Addr::from(S4)).octets();
        let pkt = V4::new(src4, S4, TCP).build(&tcp(1, 2, b"x", Ps::V4(src4, S4)));
        let mut h = V6::new(src6, dst6, TCP);
        h.hop = 63;
        let want = h.build(&tcp(1, 2, b"x", Ps::V6(src6, dst6)));
        assert_bytes(&forward1(translate(&pkt, &c, &ctx(1500))), &want);
    }
}

/// RFC 6052 3.1 MUST NOT: the well-known prefix with a non-global IPv4
/// address, either direction; allowed when the operator relaxes it.
#[test]
fn well_known_prefix_rule() {
    let mut c = cfg();
    c.pool6 = "64:ff9b::/96".parse().unwrap();
    let pkt = V4::new(C4, S4, TCP).build(&tcp(1, 2, b"", Ps::V4(C4, S4)));
    assert_eq!(
        dropped(translate(&pkt, &c, &ctx(1500))),
        "drop_wkp_non_global"
    );
    let (s, d) = (v6("64:ff9b::c633:6402"), v6("64:ff9b::c000:20a"));
    let pkt6 = V6::new(s, d, TCP).build(&tcp(1, 2, b"", Ps::V6(s, d)));
    assert_eq!(
        dropped(translate(&pkt6, &c, &ctx(1500))),
        "drop_wkp_non_global"
    );
    c.wkp_allow_non_global = true;
    assert!(matches!(
        translate(&pkt, &c, &ctx(1500)),
        Outcome::Forward(_)
    ));
    assert!(matches!(
        translate(&pkt6, &c, &ctx(1500)),
        Outcome::Forward(_)
    ));
    // global addresses are fine without the relaxation
    let mut c = cfg();
    c.pool6 = "64:ff9b::/96".parse().unwrap();
    c.ipv4_prefixes = vec!["8.8.4.0/24".parse::<Ipv4Prefix>().unwrap()];
    let pkt = V4::new([1, 1, 1, 1], [8, 8, 4, 4], TCP).build(&tcp(
        1,
        2,
        b"",
        Ps::V4([1, 1, 1, 1], [8, 8, 4, 4]),
    ));
    assert!(matches!(
        translate(&pkt, &c, &ctx(1500)),
        Outcome::Forward(_)
    ));
}

fn eam_cfg() -> sixgate_wire::xlat::XlatConfig {
    let mut c = cfg();
    c.ipv4_prefixes.clear();
    c.eamt = vec![
        // unequal suffix lengths (RFC 7757 3.2): 8 IPv4 bits, 16 IPv6 bits
        Eam::new(
            "198.51.100.0/24".parse().unwrap(),
            "2001:db8:46::/112".parse().unwrap(),
        )
        .unwrap(),
        // a longer match for one host
        Eam::new(
            "198.51.100.9/32".parse().unwrap(),
            "2001:db8:99::9/128".parse().unwrap(),
        )
        .unwrap(),
    ];
    c
}

/// RFC 7757 3.2 / 3.3: EAMT before pool6, longest match; the IPv4 suffix is
/// appended to the IPv6 prefix; the destination is served by being in an
/// EAM; other addresses fall back to pool6.
#[test]
fn eamt_4to6() {
    let c = eam_cfg();
    for (dst4, dst6) in [
        (S4, v6("2001:db8:46::200")),
        ([198, 51, 100, 9], v6("2001:db8:99::9")),
    ] {
        let pkt = V4::new(C4, dst4, TCP).build(&tcp(1, 2, b"e", Ps::V4(C4, dst4)));
        let mut h = V6::new(c6(), dst6, TCP);
        h.hop = 63;
        assert_bytes(
            &forward1(translate(&pkt, &c, &ctx(1500))),
            &h.build(&tcp(1, 2, b"e", Ps::V6(c6(), dst6))),
        );
    }
}

/// RFC 7757 3.2: 6->4 takes the leftmost IPv4-suffix bits of the IPv6
/// suffix (the rest ignored); an EAM source needs no served prefix.
#[test]
fn eamt_6to4() {
    let c = eam_cfg();
    let src = v6("2001:db8:46::2ff");
    let l6 = tcp(2, 1, b"e", Ps::V6(src, c6()));
    let pkt = V6::new(src, c6(), TCP).build(&l6);
    let mut h = V4::new(S4, C4, TCP);
    h.ttl = 63;
    h.df = false;
    h.id = ipv4_identification(
        Ipv4Addr::from(S4),
        Ipv4Addr::from(C4),
        TCP,
        u16::from_be_bytes([l6[16], l6[17]]),
    );
    assert_bytes(
        &forward1(translate(&pkt, &c, &ctx(1500))),
        &h.build(&tcp(2, 1, b"e", Ps::V4(S4, C4))),
    );
}

/// RFC 7757 4.3: hairpinning between two EAM hosts: an IPv6 host reaching
/// another by its pool6 form comes back with the peer's EAM address and its
/// own EAM address as source.
#[test]
fn eamt_hairpinning() {
    let c = eam_cfg();
    let src = v6("2001:db8:46::200");
    let via = v6("2001:db8:64::c633:6409"); // pool6 form of 198.51.100.9
    let peer = v6("2001:db8:99::9");
    let pkt = V6::new(src, via, TCP).build(&tcp(2, 1, b"hp", Ps::V6(src, via)));
    let mut h = V6::new(src, peer, TCP);
    h.hop = 63;
    assert_bytes(
        &forward1(translate(&pkt, &c, &ctx(1500))),
        &h.build(&tcp(2, 1, b"hp", Ps::V6(src, peer))),
    );
}
