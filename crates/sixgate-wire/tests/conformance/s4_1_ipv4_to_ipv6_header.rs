//! RFC 7915 4.1 (IPv4 -> IPv6 header), 4.5 (transport checksums) and the
//! gateway's own errors on the IPv4 side.

use sixgate_wire::xlat::{translate, Outcome, PassReason, TrafficClass, UdpZeroChecksum};

use crate::common::*;

const TCP: u8 = 6;
const UDP: u8 = 17;

fn tcp_in(v4: &V4, data: &[u8]) -> Vec<u8> {
    v4.build(&tcp(40000, 80, data, Ps::V4(v4.src, v4.dst)))
}

fn tcp_out(hop: u8, tc: u8, data: &[u8]) -> Vec<u8> {
    let mut h = V6::new(c6(), s6(), TCP);
    h.hop = hop;
    h.tc = tc;
    h.build(&tcp(40000, 80, data, Ps::V6(c6(), s6())))
}

/// 4.1 MUST: Version 6, Traffic Class = TOS (default policy), Flow Label 0,
/// Payload Length = Total Length - header, Next Header = Protocol, Hop Limit
/// = TTL - 1, addresses per RFC 6052; 4.5 MUST: TCP checksum updated.
#[test]
fn tcp_header_translated() {
    let mut v4 = V4::new(C4, S4, TCP);
    v4.tos = 0xb8;
    let out = forward1(translate(&tcp_in(&v4, b"hello"), &cfg(), &ctx(1500)));
    assert_bytes(&out, &tcp_out(63, 0xb8, b"hello"));
}

/// 4.5 MUST: UDP checksum updated for the pseudo-header change.
#[test]
fn udp_checksum_updated() {
    let v4 = V4::new(C4, S4, UDP);
    let pkt = v4.build(&udp(5353, 53, b"query", Some(Ps::V4(C4, S4))));
    let mut h = V6::new(c6(), s6(), UDP);
    h.hop = 63;
    let want = h.build(&udp(5353, 53, b"query", Some(Ps::V6(c6(), s6()))));
    assert_bytes(&forward1(translate(&pkt, &cfg(), &ctx(1500))), &want);
}

/// 4.5 SHOULD (default): an IPv4 UDP checksum of 0 is computed for IPv6.
#[test]
fn udp_zero_checksum_is_computed() {
    let v4 = V4::new(C4, S4, UDP);
    let pkt = v4.build(&udp(5353, 53, &payload(300), None));
    let mut h = V6::new(c6(), s6(), UDP);
    h.hop = 63;
    let want = h.build(&udp(5353, 53, &payload(300), Some(Ps::V6(c6(), s6()))));
    assert_bytes(&forward1(translate(&pkt, &cfg(), &ctx(1500))), &want);
}

/// 4.5 MAY: the operator may drop IPv4 UDP datagrams with checksum 0.
#[test]
fn udp_zero_checksum_dropped_by_policy() {
    let mut c = cfg();
    c.udp_zero_checksum = UdpZeroChecksum::Drop;
    let pkt = V4::new(C4, S4, UDP).build(&udp(5353, 53, b"x", None));
    assert_eq!(
        dropped(translate(&pkt, &c, &ctx(1500))),
        "drop_udp_zero_csum"
    );
}

/// 4.1: Traffic Class: by default copied; the operator may zero or set it
/// ("SHOULD by default copy ... MUST be configurable to ignore").
#[test]
fn traffic_class_policies() {
    let mut v4 = V4::new(C4, S4, TCP);
    v4.tos = 0x2d;
    let pkt = tcp_in(&v4, b"x");
    let mut c = cfg();
    c.traffic_class = TrafficClass::Zero;
    assert_bytes(
        &forward1(translate(&pkt, &c, &ctx(1500))),
        &tcp_out(63, 0, b"x"),
    );
    c.traffic_class = TrafficClass::Override(0x48);
    assert_bytes(
        &forward1(translate(&pkt, &c, &ctx(1500))),
        &tcp_out(63, 0x48, b"x"),
    );
}

/// 4.1 MUST: IPv4 options are ignored (not translated); the packet is
/// translated without them.
#[test]
fn options_are_ignored() {
    let mut v4 = V4::new(C4, S4, TCP);
    // Record Route (7), length 7, pointer 4, one empty slot, then EOL.
    v4.options = vec![7, 7, 4, 0, 0, 0, 0, 0];
    let out = forward1(translate(&tcp_in(&v4, b"opt"), &cfg(), &ctx(1500)));
    assert_bytes(&out, &tcp_out(63, 0, b"opt"));
}

/// 4.1 MUST: an unexpired Source Route option (LSRR / SSRR) is not
/// translated; ICMPv4 Destination Unreachable / Source Route Failed (3/5) is
/// returned. Reply layout: from rfc6791_pool4[0], TOS 0xc0, ID 0, DF 0, TTL 64,
/// the whole offending datagram quoted (it is below 576 bytes).
#[test]
fn unexpired_source_route_gets_source_route_failed() {
    for opt in [131u8, 137] {
        let mut v4 = V4::new(C4, S4, TCP);
        v4.options = vec![1, opt, 7, 4, 192, 0, 2, 99];
        let pkt = tcp_in(&v4, b"sr");
        let r = gw_reply4(GW4);
        let want = r.build(&icmp4(3, 5, [0; 4], &pkt));
        assert_bytes(&reply(translate(&pkt, &cfg(), &ctx(1500))), &want);
        let mut c = cfg();
        c.rfc6791_pool4.clear();
        assert_eq!(
            dropped(translate(&pkt, &c, &ctx(1500))),
            "drop_ipv4_source_route"
        );
    }
    // An expired one (pointer past the length) is ignored like any option.
    let mut v4 = V4::new(C4, S4, TCP);
    v4.options = vec![1, 131, 7, 8, 192, 0, 2, 99];
    assert_bytes(
        &forward1(translate(&tcp_in(&v4, b"sr"), &cfg(), &ctx(1500))),
        &tcp_out(63, 0, b"sr"),
    );
}

/// RFC 1812 5.2.2 (a translator is a router): wrong header checksum dropped.
#[test]
fn bad_header_checksum_dropped() {
    let mut pkt = tcp_in(&V4::new(C4, S4, TCP), b"x");
    pkt[10] ^= 1;
    assert_eq!(
        dropped(translate(&pkt, &cfg(), &ctx(1500))),
        "drop_ipv4_checksum"
    );
}

/// 4.1 MUST (router behaviour): TTL 1 is not forwarded; ICMPv4 Time
/// Exceeded (11/0) goes back from rfc6791_pool4[0]; without it, dropped.
/// Never about an ICMP error (RFC 1812 4.3.2.7).
#[test]
fn ttl_expiry_gets_time_exceeded() {
    let mut v4 = V4::new(C4, S4, TCP);
    v4.ttl = 1;
    let pkt = tcp_in(&v4, b"ttl");
    let r = gw_reply4(GW4);
    assert_bytes(
        &reply(translate(&pkt, &cfg(), &ctx(1500))),
        &r.build(&icmp4(11, 0, [0; 4], &pkt)),
    );
    let mut c = cfg();
    c.rfc6791_pool4.clear();
    assert_eq!(dropped(translate(&pkt, &c, &ctx(1500))), "drop_ttl_expired");
    let mut e = V4::new(R4, S4, 1);
    e.ttl = 1;
    let err = e.build(&icmp4(3, 3, [0; 4], &tcp_in(&V4::new(S4, C4, TCP), b"")));
    assert_eq!(
        dropped(translate(&err, &cfg(), &ctx(1500))),
        "drop_ttl_expired"
    );
}

/// RFC 1812 4.3.2.3: the quoted datagram keeps the Time Exceeded within 576
/// bytes.
#[test]
fn time_exceeded_quote_is_cut_at_576() {
    let mut v4 = V4::new(C4, S4, TCP);
    v4.ttl = 0;
    let pkt = tcp_in(&v4, &payload(1000));
    let r = gw_reply4(GW4);
    let out = reply(translate(&pkt, &cfg(), &ctx(1500)));
    assert_eq!(out.len(), 576);
    assert_bytes(&out, &r.build(&icmp4(11, 0, [0; 4], &pkt[..548])));
}

/// RFC 1812 5.3.7 / RFC 7915 4.1: sources never forwarded are dropped.
#[test]
fn illegal_sources_dropped() {
    for src in [
        [0, 1, 2, 3],
        [127, 0, 0, 1],
        [224, 0, 0, 5],
        [255, 255, 255, 255],
        [240, 0, 0, 1],
    ] {
        let pkt = tcp_in(&V4::new(src, S4, TCP), b"x");
        assert_eq!(
            dropped(translate(&pkt, &cfg(), &ctx(1500))),
            "drop_illegal_source",
            "{src:?}"
        );
    }
}

/// Destination not served: not the translator's; non-IP: passed.
#[test]
fn not_served_and_not_ip_pass() {
    let pkt = tcp_in(&V4::new(C4, [203, 0, 113, 9], TCP), b"x");
    assert_eq!(
        translate(&pkt, &cfg(), &ctx(1500)),
        Outcome::Pass(PassReason::Ipv4NotServed)
    );
    assert_eq!(
        translate(&[0x10; 40], &cfg(), &ctx(1500)),
        Outcome::Pass(PassReason::NotIp)
    );
    assert_eq!(
        translate(&[], &cfg(), &ctx(1500)),
        Outcome::Pass(PassReason::NotIp)
    );
}

/// Inconsistent length fields are dropped; link padding past Total Length
/// is not part of the datagram.
#[test]
fn lengths() {
    let pkt = tcp_in(&V4::new(C4, S4, TCP), b"abc");
    assert_eq!(
        dropped(translate(&pkt[..pkt.len() - 1], &cfg(), &ctx(1500))),
        "drop_truncated"
    );
    assert_eq!(
        dropped(translate(&pkt[..19], &cfg(), &ctx(1500))),
        "drop_truncated"
    );
    let mut padded = pkt.clone();
    padded.extend_from_slice(&[0; 6]);
    assert_bytes(
        &forward1(translate(&padded, &cfg(), &ctx(1500))),
        &tcp_out(63, 0, b"abc"),
    );
    // TCP header cut short
    let short = V4::new(C4, S4, TCP).build(&[0; 12]);
    assert_eq!(
        dropped(translate(&short, &cfg(), &ctx(1500))),
        "drop_truncated"
    );
}

/// 4.1: only TCP, UDP and ICMP are translated here (deliberate: other
/// protocols' checksums are unknown); others dropped.
#[test]
fn other_protocols_dropped() {
    let pkt = V4::new(C4, S4, 47).build(&[0; 8]);
    assert_eq!(
        dropped(translate(&pkt, &cfg(), &ctx(1500))),
        "drop_proto_unsupported"
    );
}

/// 4.1 MUST: a fragment gets a Fragment Header: Payload Length + 8, Next
/// Header 44; Fragment Header Next Header = protocol, offset and M copied,
/// Identification = IPv4 ID in the low 16 bits. First fragment: the
/// transport checksum is updated (4.5); non-first fragments are copied.
#[test]
fn fragments_get_a_fragment_header() {
    let data = payload(64);
    let whole4 = tcp(40000, 80, &data, Ps::V4(C4, S4));
    let whole6 = tcp(40000, 80, &data, Ps::V6(c6(), s6()));
    let mut f1 = V4::new(C4, S4, TCP);
    f1.df = false;
    f1.mf = true;
    f1.id = 0xbeef;
    let mut f2 = f1.clone();
    f2.mf = false;
    f2.off = 5;
    let in1 = f1.build(&whole4[..40]);
    let in2 = f2.build(&whole4[40..]);
    let mut h = V6::new(c6(), s6(), 44);
    h.hop = 63;
    let mut p1 = frag6(TCP, 0, true, 0xbeef);
    p1.extend_from_slice(&whole6[..40]);
    let mut p2 = frag6(TCP, 5, false, 0xbeef);
    p2.extend_from_slice(&whole6[40..]);
    assert_bytes(
        &forward1(translate(&in1, &cfg(), &ctx(1500))),
        &h.build(&p1),
    );
    assert_bytes(
        &forward1(translate(&in2, &cfg(), &ctx(1500))),
        &h.build(&p2),
    );
}

/// 4.1 / 4.5: a first UDP fragment with checksum 0 cannot be checksummed
/// without reassembly: dropped. Fragmented ICMP likewise (the ICMPv6
/// pseudo-header needs the whole length).
#[test]
fn unfixable_fragments_dropped() {
    let mut f = V4::new(C4, S4, UDP);
    f.df = false;
    f.mf = true;
    let pkt = f.build(&udp(1, 2, &payload(16), None)[..16]);
    assert_eq!(
        dropped(translate(&pkt, &cfg(), &ctx(1500))),
        "drop_udp_zero_csum_fragment"
    );
    let mut f = V4::new(C4, S4, 1);
    f.df = false;
    f.mf = true;
    let pkt = f.build(&icmp4(8, 0, [0, 1, 0, 1], &payload(16)));
    assert_eq!(
        dropped(translate(&pkt, &cfg(), &ctx(1500))),
        "drop_icmp_fragment"
    );
}

/// 4.1 SHOULD: DF=0 and the IPv6 packet would exceed lowest-ipv6-mtu
/// (1280): fragmented so each IPv6 fragment (with Fragment header) is at
/// most 1280 bytes, identification from the IPv4 ID.
#[test]
fn df0_packets_fragmented_to_lowest_ipv6_mtu() {
    let data = payload(1400);
    let mut v4 = V4::new(C4, S4, UDP);
    v4.df = false;
    v4.id = 0x4242;
    let pkt = v4.build(&udp(7, 9, &data, Some(Ps::V4(C4, S4))));
    let whole6 = udp(7, 9, &data, Some(Ps::V6(c6(), s6())));
    let Outcome::Forward(frags) = translate(&pkt, &cfg(), &ctx(1500)) else {
        panic!("not forwarded")
    };
    assert_eq!(frags.len(), 2);
    let mut h = V6::new(c6(), s6(), 44);
    h.hop = 63;
    // 1280 - 48 = 1232 bytes of data in the first fragment
    let mut p1 = frag6(UDP, 0, true, 0x4242);
    p1.extend_from_slice(&whole6[..1232]);
    let mut p2 = frag6(UDP, 1232 / 8, false, 0x4242);
    p2.extend_from_slice(&whole6[1232..]);
    assert_bytes(&frags[0], &h.build(&p1));
    assert_bytes(&frags[1], &h.build(&p2));
    assert_eq!(frags[0].len(), 1280);
    // Egress link smaller than lowest-ipv6-mtu: that is the limit.
    let Outcome::Forward(frags) = translate(&pkt, &cfg(), &ctx(1000)) else {
        panic!("not forwarded")
    };
    assert!(frags.iter().all(|f| f.len() <= 1000));
    assert_eq!(frags.len(), 2);
}

/// 4.1 MUST: DF=1 and the IPv6 packet exceeds the next-hop MTU: ICMPv4
/// Fragmentation Needed (3/4) with MTU = egress MTU - 20.
#[test]
fn df1_too_big_gets_fragmentation_needed() {
    let pkt = tcp_in(&V4::new(C4, S4, TCP), &payload(1300));
    // From the packet's destination: no address of the gateway's needed.
    let r = gw_reply4(S4);
    assert_eq!(pkt.len(), 1340);
    let mtu = (1350u16 - 20).to_be_bytes();
    let want = r.build(&icmp4(3, 4, [0, 0, mtu[0], mtu[1]], &pkt[..548]));
    assert_bytes(&reply(translate(&pkt, &cfg(), &ctx(1350))), &want);
    // DF=1 under the egress MTU but above 1280: forwarded whole.
    let out = forward1(translate(&pkt, &cfg(), &ctx(1500)));
    assert_eq!(out.len(), 20 + pkt.len());
    let mut c = cfg();
    c.rfc6791_pool4.clear();
    assert_bytes(&reply(translate(&pkt, &c, &ctx(1350))), &want);
}

/// The IPv4 header of an error the gateway sends from `src` to the client:
/// TOS 0xc0, Identification 0, DF 0, TTL 64 (sixgate_wire::xlat::reply).
fn gw_reply4(src: [u8; 4]) -> V4 {
    let mut r = V4::new(src, C4, 1);
    r.id = 0;
    r.tos = 0xc0;
    r.df = false;
    r
}
