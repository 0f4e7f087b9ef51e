//! RFC 7915 5.1 (IPv6 -> IPv4 header), 5.5 (transport checksums) and the
//! gateway's own errors on the IPv6 side.

use std::net::Ipv4Addr;

use sixgate_wire::xlat::{ipv4_identification, translate, Outcome, PassReason};
use sixgate_wire::Ipv4Prefix;

use crate::common::*;

const TCP: u8 = 6;
const UDP: u8 = 17;

fn ident(proto: u8, l4: &[u8], csum_at: usize) -> u16 {
    let c = u16::from_be_bytes([l4[csum_at], l4[csum_at + 1]]);
    ipv4_identification(Ipv4Addr::from(S4), Ipv4Addr::from(C4), proto, c)
}

fn v4_out(proto: u8, ttl: u8, tos: u8, df: bool, id: u16) -> V4 {
    let mut h = V4::new(S4, C4, proto);
    h.ttl = ttl;
    h.tos = tos;
    h.df = df;
    h.id = id;
    h
}

fn gw_reply(ty: u8, code: u8, rest: [u8; 4], quoted: &[u8]) -> Vec<u8> {
    V6::new(gw6(), s6(), 58).build(&icmp6(ty, code, rest, quoted, gw6(), s6()))
}

/// 5.1 MUST: Version 4, IHL 5, TOS = Traffic Class, Total Length = Payload
/// Length + 20, DF=0 and a generated Identification for packets of at most
/// 1260 bytes, TTL = Hop Limit - 1, Protocol = Next Header, header checksum,
/// addresses per RFC 6052; 5.5 MUST: TCP checksum updated.
#[test]
fn tcp_header_translated() {
    let d = payload(100);
    let l6 = tcp(443, 40000, &d, Ps::V6(s6(), c6()));
    let mut h = V6::new(s6(), c6(), TCP);
    h.tc = 0xb8;
    let pkt = h.build(&l6);
    let want = v4_out(TCP, 63, 0xb8, false, ident(TCP, &l6, 16)).build(&tcp(
        443,
        40000,
        &d,
        Ps::V4(S4, C4),
    ));
    assert_bytes(&forward1(translate(&pkt, &cfg(), &ctx(1500))), &want);
}

/// 5.1 (choice, mirrors the eBPF): above 1260 bytes the IPv4 packet gets
/// DF=1 and Identification 0 (RFC 6864 atomic datagram).
#[test]
fn large_packets_get_df() {
    let d = payload(1300);
    let pkt = V6::new(s6(), c6(), TCP).build(&tcp(443, 40000, &d, Ps::V6(s6(), c6())));
    let want = v4_out(TCP, 63, 0, true, 0).build(&tcp(443, 40000, &d, Ps::V4(S4, C4)));
    assert_bytes(&forward1(translate(&pkt, &cfg(), &ctx(1500))), &want);
    // exactly 1260 bytes of IPv4: DF=0
    let d = payload(1260 - 40);
    let l6 = tcp(443, 40000, &d, Ps::V6(s6(), c6()));
    let pkt = V6::new(s6(), c6(), TCP).build(&l6);
    let want =
        v4_out(TCP, 63, 0, false, ident(TCP, &l6, 16)).build(&tcp(443, 40000, &d, Ps::V4(S4, C4)));
    assert_bytes(&forward1(translate(&pkt, &cfg(), &ctx(1500))), &want);
}

/// 5.5 MUST: UDP checksum updated; a 0 checksum (RFC 6935 tunnels) stays 0,
/// which IPv4 reads as "none".
#[test]
fn udp_checksums() {
    let d = payload(30);
    let l6 = udp(53, 5353, &d, Some(Ps::V6(s6(), c6())));
    let pkt = V6::new(s6(), c6(), UDP).build(&l6);
    let want = v4_out(UDP, 63, 0, false, ident(UDP, &l6, 6)).build(&udp(
        53,
        5353,
        &d,
        Some(Ps::V4(S4, C4)),
    ));
    assert_bytes(&forward1(translate(&pkt, &cfg(), &ctx(1500))), &want);
    let l6 = udp(53, 5353, &d, None);
    let pkt = V6::new(s6(), c6(), UDP).build(&l6);
    let want = v4_out(UDP, 63, 0, false, ident(UDP, &l6, 6)).build(&udp(53, 5353, &d, None));
    assert_eq!(
        translate(&pkt, &cfg(), &ctx(1500)),
        Outcome::Forward(vec![want])
    );
}

/// 5.1 MUST: Hop-by-Hop, Destination Options and Routing (Segments Left 0)
/// headers are not translated: skipped, the IPv4 packet is as without them.
#[test]
fn extension_headers_skipped() {
    let d = payload(10);
    let l6 = tcp(443, 40000, &d, Ps::V6(s6(), c6()));
    let want =
        v4_out(TCP, 63, 0, false, ident(TCP, &l6, 16)).build(&tcp(443, 40000, &d, Ps::V4(S4, C4)));
    let mut body = vec![60, 0, 1, 4, 0, 0, 0, 0]; // HBH -> DST, PadN
    body.extend_from_slice(&[43, 0, 1, 4, 0, 0, 0, 0]); // DST -> RT
    body.extend_from_slice(&[TCP, 2, 0, 0, 0, 0, 0, 0]); // RT type 0, SL 0
    body.extend_from_slice(&[0; 16]);
    body.extend_from_slice(&l6);
    let pkt = V6::new(s6(), c6(), 0).build(&body);
    assert_bytes(&forward1(translate(&pkt, &cfg(), &ctx(1500))), &want);
}

/// 5.1 MUST NOT translate a Routing header with Segments Left > 0; SHOULD
/// send Parameter Problem 4/0 pointing at Segments Left (from
/// rfc6791_pool6, hop limit 64, the packet quoted).
#[test]
fn segments_left_gets_parameter_problem() {
    let mut body = vec![TCP, 2, 0, 1, 0, 0, 0, 0];
    body.extend_from_slice(&[0; 16]);
    body.extend_from_slice(&tcp(443, 40000, b"x", Ps::V6(s6(), c6())));
    let pkt = V6::new(s6(), c6(), 43).build(&body);
    assert_bytes(
        &reply(translate(&pkt, &cfg(), &ctx(1500))),
        &gw_reply(4, 0, 43u32.to_be_bytes(), &pkt),
    );
    let mut c = cfg();
    c.rfc6791_pool6 = None;
    assert_eq!(
        dropped(translate(&pkt, &c, &ctx(1500))),
        "drop_ipv6_segments_left"
    );
}

/// 5.1 (router behaviour): hop limit 1 is not forwarded: ICMPv6 Time
/// Exceeded 3/0, cut at 1280 bytes; dropped without rfc6791_pool6.
#[test]
fn hop_limit_expiry_gets_time_exceeded() {
    let mut h = V6::new(s6(), c6(), TCP);
    h.hop = 1;
    let pkt = h.build(&tcp(443, 40000, &payload(1400), Ps::V6(s6(), c6())));
    let out = reply(translate(&pkt, &cfg(), &ctx(1500)));
    assert_eq!(out.len(), 1280);
    assert_bytes(&out, &gw_reply(3, 0, [0; 4], &pkt[..1232]));
    let mut c = cfg();
    c.rfc6791_pool6 = None;
    assert_eq!(dropped(translate(&pkt, &c, &ctx(1500))), "drop_ttl_expired");
}

/// 5.1 MUST: a Fragment header becomes IPv4 fragment fields: ID = low 16
/// bits, MF = M, offset copied, DF=0; first fragment checksum updated (5.5),
/// later fragments copied.
#[test]
fn fragment_header_to_ipv4_fragment() {
    let d = payload(64);
    let whole6 = tcp(443, 40000, &d, Ps::V6(s6(), c6()));
    let whole4 = tcp(443, 40000, &d, Ps::V4(S4, C4));
    let mut b1 = frag6(TCP, 0, true, 0xdead_beef);
    b1.extend_from_slice(&whole6[..40]);
    let mut b2 = frag6(TCP, 5, false, 0xdead_beef);
    b2.extend_from_slice(&whole6[40..]);
    let mut f1 = v4_out(TCP, 63, 0, false, 0xbeef);
    f1.mf = true;
    let mut f2 = v4_out(TCP, 63, 0, false, 0xbeef);
    f2.off = 5;
    let h = V6::new(s6(), c6(), 44);
    assert_bytes(
        &forward1(translate(&h.build(&b1), &cfg(), &ctx(1500))),
        &f1.build(&whole4[..40]),
    );
    assert_bytes(
        &forward1(translate(&h.build(&b2), &cfg(), &ctx(1500))),
        &f2.build(&whole4[40..]),
    );
}

/// 5.1: an IPv6 packet of at most 1280 bytes that exceeds the IPv4 egress
/// MTU is fragmented (it has DF=0); offsets on 8-byte boundaries.
#[test]
fn small_packets_fragmented_for_small_ipv4_links() {
    let d = payload(1232);
    let l6 = udp(53, 5353, &d, Some(Ps::V6(s6(), c6())));
    let pkt = V6::new(s6(), c6(), UDP).build(&l6);
    assert_eq!(pkt.len(), 1280);
    let l4 = udp(53, 5353, &d, Some(Ps::V4(S4, C4)));
    let id = ident(UDP, &l6, 6);
    let Outcome::Forward(frags) = translate(&pkt, &cfg(), &ctx(1000)) else {
        panic!("not forwarded")
    };
    let mut f1 = v4_out(UDP, 63, 0, false, id);
    f1.mf = true;
    let mut f2 = v4_out(UDP, 63, 0, false, id);
    f2.off = 976 / 8;
    assert_eq!(frags.len(), 2);
    assert_bytes(&frags[0], &f1.build(&l4[..976]));
    assert_bytes(&frags[1], &f2.build(&l4[976..]));
}

/// 5.1 / RFC 8201: larger IPv6 packets exceeding the IPv4 egress MTU get
/// Packet Too Big with MTU = egress + 20 (never below 1280).
#[test]
fn large_packets_get_packet_too_big() {
    let pkt = V6::new(s6(), c6(), TCP).build(&tcp(443, 40000, &payload(1440), Ps::V6(s6(), c6())));
    assert_eq!(pkt.len(), 1500);
    // From the packet's destination: no address of the gateway's needed.
    let ptb = |mtu: u32| {
        V6::new(c6(), s6(), 58).build(&icmp6(2, 0, mtu.to_be_bytes(), &pkt[..1232], c6(), s6()))
    };
    assert_bytes(&reply(translate(&pkt, &cfg(), &ctx(1400))), &ptb(1420));
    assert_bytes(&reply(translate(&pkt, &cfg(), &ctx(1000))), &ptb(1280));
    let mut c = cfg();
    c.rfc6791_pool6 = None;
    assert_bytes(&reply(translate(&pkt, &c, &ctx(1400))), &ptb(1420));
}

/// 5.1: the source must have an IPv4 form (EAMT or pool6) inside a served
/// prefix; illegal IPv6 and IPv4 sources are dropped.
#[test]
fn sources() {
    let l = |s| V6::new(s, c6(), TCP).build(&tcp(1, 2, b"", Ps::V6(s, c6())));
    assert_eq!(
        dropped(translate(&l(x6()), &cfg(), &ctx(1500))),
        "drop_src_not_pool6"
    );
    assert_eq!(
        dropped(translate(&l(r6()), &cfg(), &ctx(1500))),
        "drop_src_not_served"
    );
    for s in ["::", "::1", "ff02::1"] {
        assert_eq!(
            dropped(translate(&l(v6(s)), &cfg(), &ctx(1500))),
            "drop_illegal_source",
            "{s}"
        );
    }
    let mut c = cfg();
    c.ipv4_prefixes = vec!["0.0.0.0/0".parse::<Ipv4Prefix>().unwrap()];
    let lo = v6("2001:db8:64::7f00:1");
    let pkt = V6::new(lo, v6("2001:db8:64::808:808"), TCP).build(&tcp(1, 2, b"", Ps::V6(lo, c6())));
    assert_eq!(
        dropped(translate(&pkt, &c, &ctx(1500))),
        "drop_illegal_source"
    );
}

/// Destination outside pool6 / EAMT: not the translator's.
#[test]
fn not_pool6_passes() {
    let pkt = V6::new(s6(), x6(), TCP).build(&tcp(1, 2, b"", Ps::V6(s6(), x6())));
    assert_eq!(
        translate(&pkt, &cfg(), &ctx(1500)),
        Outcome::Pass(PassReason::Ipv6NotPool6)
    );
}

/// Length fields: payload length past the data is dropped; link padding
/// after it is ignored; unsupported upper layers are dropped.
#[test]
fn lengths_and_protocols() {
    let pkt = V6::new(s6(), c6(), TCP).build(&tcp(1, 2, b"abc", Ps::V6(s6(), c6())));
    assert_eq!(
        dropped(translate(&pkt[..pkt.len() - 1], &cfg(), &ctx(1500))),
        "drop_truncated"
    );
    assert_eq!(
        dropped(translate(&pkt[..39], &cfg(), &ctx(1500))),
        "drop_truncated"
    );
    let mut padded = pkt.clone();
    padded.extend_from_slice(&[0; 4]);
    assert_eq!(
        translate(&padded, &cfg(), &ctx(1500)),
        translate(&pkt, &cfg(), &ctx(1500))
    );
    for nh in [59u8, 50, 51, 47] {
        let p = V6::new(s6(), c6(), nh).build(&[0; 16]);
        assert_eq!(
            dropped(translate(&p, &cfg(), &ctx(1500))),
            "drop_proto_unsupported",
            "{nh}"
        );
    }
    // truncated extension header
    let p = V6::new(s6(), c6(), 0).build(&[TCP, 1, 0, 0]);
    assert_eq!(dropped(translate(&p, &cfg(), &ctx(1500))), "drop_truncated");
}

/// RFC 7757 4.3 hairpinning: an IPv6 packet whose IPv4 destination is
/// served goes back to IPv6: the same packet, hop limit decremented once,
/// flow label 0 (4.1).
#[test]
fn hairpinning() {
    let peer = v6("2001:db8:64::c633:6403");
    let l6 = tcp(443, 40000, b"hairpin", Ps::V6(s6(), peer));
    let pkt = V6::new(s6(), peer, TCP).build(&l6);
    let mut w = V6::new(s6(), peer, TCP);
    w.hop = 63;
    assert_bytes(
        &forward1(translate(&pkt, &cfg(), &ctx(1500))),
        &w.build(&l6),
    );
}

/// 5.1.1 / 5.5 (choice): fragmented ICMPv6 is dropped, the ICMPv4 checksum
/// cannot be fixed without the whole message.
#[test]
fn fragmented_icmpv6_dropped() {
    let m = icmp6(128, 0, [0, 1, 0, 1], &payload(64), s6(), c6());
    let mut b = frag6(58, 0, true, 7);
    b.extend_from_slice(&m[..32]);
    let pkt = V6::new(s6(), c6(), 44).build(&b);
    assert_eq!(
        dropped(translate(&pkt, &cfg(), &ctx(1500))),
        "drop_icmp_fragment"
    );
}
