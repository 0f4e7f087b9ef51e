//! RFC 7915 5.3: the packet inside an ICMPv6 error, the size of the
//! translated error, RFC 4884 extensions and RFC 6791 sources.

use std::net::Ipv4Addr;

use sixgate_wire::xlat::{ipv4_identification, translate};

use crate::common::*;

const TCP: u8 = 6;
const UDP: u8 = 17;

fn error_in(src: [u8; 16], ty: u8, code: u8, rest: [u8; 4], inner: &[u8]) -> Vec<u8> {
    V6::new(src, c6(), 58).build(&icmp6(ty, code, rest, inner, src, c6()))
}

fn error_out(
    input: &[u8],
    src4: [u8; 4],
    ty: u8,
    code: u8,
    rest: [u8; 4],
    inner: &[u8],
) -> Vec<u8> {
    let c = u16::from_be_bytes([input[42], input[43]]);
    let mut h = V4::new(src4, C4, 1);
    h.ttl = 63;
    h.df = false;
    h.id = ipv4_identification(Ipv4Addr::from(src4), Ipv4Addr::from(C4), 1, c);
    h.build(&icmp4(ty, code, rest, inner))
}

/// The embedded IPv4 header: 5.1 rules, hop limit copied (no decrement).
fn inner4(proto: u8, l6: &[u8], csum_at: usize, l4: &[u8], total: Option<u16>) -> Vec<u8> {
    let mut i4 = V4::new(C4, S4, proto);
    i4.df = false;
    let c = u16::from_be_bytes([l6[csum_at], l6[csum_at + 1]]);
    i4.id = ipv4_identification(Ipv4Addr::from(C4), Ipv4Addr::from(S4), proto, c);
    i4.total_len = total;
    if total.is_some_and(|t| t > 1260) {
        i4.df = true;
        i4.id = 0;
    }
    i4.build(l4)
}

/// The RFC 6791 pick documented in `rfc6791_pick4`, recomputed here.
fn pick(pool: &[[u8; 4]], src: [u8; 16]) -> [u8; 4] {
    let x = src
        .chunks(4)
        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
        .fold(0, |a, w| a ^ w)
        .wrapping_mul(0x9e37_79b1);
    pool[x as usize % pool.len()]
}

/// RFC 6791 / 5.1: an ICMPv6 error whose source has no IPv4 form takes an
/// address of rfc6791_pool4 (hash of the source); without a pool, dropped.
#[test]
fn rfc6791_pool4_source() {
    let d = payload(8);
    let l6 = tcp(40000, 443, &d, Ps::V6(c6(), s6()));
    let i6 = V6::new(c6(), s6(), TCP).build(&l6);
    let i4 = inner4(TCP, &l6, 16, &tcp(40000, 443, &d, Ps::V4(C4, S4)), None);
    let pool = [[203, 0, 113, 250], [203, 0, 113, 251], [203, 0, 113, 252]];
    let mut c = cfg();
    c.rfc6791_pool4 = pool.iter().map(|&a| Ipv4Addr::from(a)).collect();
    for src in [x6(), v6("2001:db8:2::7"), r6()] {
        let pkt = error_in(src, 1, 0, [0; 4], &i6);
        let want = error_out(&pkt, pick(&pool, src), 3, 1, [0; 4], &i4);
        assert_bytes(&forward1(translate(&pkt, &c, &ctx(1500))), &want);
    }
    c.rfc6791_pool4.clear();
    let pkt = error_in(x6(), 1, 0, [0; 4], &i6);
    assert_eq!(
        dropped(translate(&pkt, &c, &ctx(1500))),
        "drop_src_not_pool6"
    );
    // Not errors: no RFC 6791 address.
    let c = cfg();
    let echo = V6::new(x6(), c6(), 58).build(&icmp6(128, 0, [0; 4], b"", x6(), c6()));
    assert_eq!(
        dropped(translate(&echo, &c, &ctx(1500))),
        "drop_src_not_pool6"
    );
}

/// 5.3 MUST: embedded UDP checksum updated, 0 stays 0; embedded echo
/// translated with its checksum (pseudo-header removed).
#[test]
fn inner_udp_and_echo() {
    let d = payload(20);
    let src = x6();
    let gw = pick(&[GW4], src);
    let l6 = udp(5353, 53, &d, Some(Ps::V6(c6(), s6())));
    let i6 = V6::new(c6(), s6(), UDP).build(&l6);
    let i4 = inner4(UDP, &l6, 6, &udp(5353, 53, &d, Some(Ps::V4(C4, S4))), None);
    let pkt = error_in(src, 1, 4, [0; 4], &i6);
    assert_bytes(
        &forward1(translate(&pkt, &cfg(), &ctx(1500))),
        &error_out(&pkt, gw, 3, 3, [0; 4], &i4),
    );

    let l6 = udp(5353, 53, &d, None);
    let i6 = V6::new(c6(), s6(), UDP).build(&l6);
    let i4 = inner4(UDP, &l6, 6, &udp(5353, 53, &d, None), None);
    let pkt = error_in(src, 1, 4, [0; 4], &i6);
    assert_bytes(
        &forward1(translate(&pkt, &cfg(), &ctx(1500))),
        &error_out(&pkt, gw, 3, 3, [0; 4], &i4),
    );

    let m6 = icmp6(128, 0, [0, 1, 0, 2], &d, c6(), s6());
    let i6 = V6::new(c6(), s6(), 58).build(&m6);
    let i4 = inner4(1, &m6, 2, &icmp4(8, 0, [0, 1, 0, 2], &d), None);
    let pkt = error_in(src, 3, 0, [0; 4], &i6);
    assert_bytes(
        &forward1(translate(&pkt, &cfg(), &ctx(1500))),
        &error_out(&pkt, gw, 11, 0, [0; 4], &i4),
    );
}

/// 5.3: an error inside an error is dropped.
#[test]
fn nested_error_dropped() {
    let i6 = V6::new(c6(), s6(), 58).build(&icmp6(1, 0, [0; 4], &payload(48), c6(), s6()));
    let pkt = error_in(x6(), 3, 0, [0; 4], &i6);
    assert_eq!(
        dropped(translate(&pkt, &cfg(), &ctx(1500))),
        "drop_icmp_error"
    );
}

/// 5.3 (RFC 1812 4.3.2.3): the translated error is cut so the IPv4 packet
/// is at most 576 bytes; lengths in the embedded header come from its own
/// fields (here a 1300-byte packet: Total Length 1300 - 20, DF=1, ID 0).
#[test]
fn cut_at_576() {
    let d = payload(1240);
    let l6 = tcp(40000, 443, &d, Ps::V6(c6(), s6()));
    let i6 = V6::new(c6(), s6(), TCP).build(&l6);
    let i4 = inner4(TCP, &l6, 16, &tcp(40000, 443, &d, Ps::V4(C4, S4)), None);
    let mut i4_big = V4::new(C4, S4, TCP);
    i4_big.id = 0;
    let i4 = {
        let mut v = i4_big.header(1260);
        v.extend_from_slice(&i4[20..]);
        v
    };
    let pkt = error_in(x6(), 3, 0, [0; 4], &i6);
    let out = forward1(translate(&pkt, &cfg(), &ctx(1500)));
    assert_eq!(out.len(), 576);
    assert_bytes(&out, &error_out(&pkt, GW4, 11, 0, [0; 4], &i4[..548]));
}

/// RFC 4884 / 5.3: a Destination Unreachable with an extension keeps it:
/// the IPv4 datagram field is zero-padded to 32-bit words and at least 128
/// bytes, the attribute (byte 5) counts 32-bit words.
#[test]
fn rfc4884_extension_kept() {
    let d = payload(12);
    let l6 = tcp(40000, 443, &d, Ps::V6(c6(), s6()));
    let i6 = V6::new(c6(), s6(), TCP).build(&l6);
    let i4 = inner4(TCP, &l6, 16, &tcp(40000, 443, &d, Ps::V4(C4, S4)), None);
    let ext = [0x20, 0, 0x12, 0x34, 0, 8, 2, 1, 1, 2, 3, 4];
    let mut field = i6.clone();
    field.resize(128, 0);
    field.extend_from_slice(&ext);
    let pkt = error_in(x6(), 1, 0, [16, 0, 0, 0], &field);
    let mut body = i4.clone();
    body.resize(128, 0);
    body.extend_from_slice(&ext);
    let out = forward1(translate(&pkt, &cfg(), &ctx(1500)));
    assert_bytes(&out, &error_out(&pkt, GW4, 3, 1, [0, 32, 0, 0], &body));
}

/// RFC 4884 / 5.3 (choice): an extension that would push the ICMPv4 error
/// past 576 bytes is dropped, the attribute is 0 and the datagram is cut.
#[test]
fn rfc4884_extension_dropped_when_too_big() {
    let d = payload(400);
    let l6 = tcp(40000, 443, &d, Ps::V6(c6(), s6()));
    let i6 = V6::new(c6(), s6(), TCP).build(&l6);
    let i4 = inner4(TCP, &l6, 16, &tcp(40000, 443, &d, Ps::V4(C4, S4)), None);
    assert_eq!(i6.len(), 460);
    let mut field = i6.clone();
    field.resize(464, 0);
    field.extend_from_slice(&[0x20, 0, 0, 0]);
    field.extend_from_slice(&payload(196));
    let pkt = error_in(x6(), 1, 0, [58, 0, 0, 0], &field);
    let out = forward1(translate(&pkt, &cfg(), &ctx(1500)));
    assert_eq!(out.len(), 20 + 8 + 440);
    assert_bytes(&out, &error_out(&pkt, GW4, 3, 1, [0; 4], &i4));
}
