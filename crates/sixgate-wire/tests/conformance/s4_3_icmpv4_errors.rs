//! RFC 7915 4.3: the packet inside an ICMPv4 error, the size of the
//! translated error, RFC 4884 extensions and RFC 6791 sources.

use sixgate_wire::xlat::{translate, Eam};

use crate::common::*;

const TCP: u8 = 6;
const UDP: u8 = 17;

fn error_in(ty: u8, code: u8, rest: [u8; 4], inner: &[u8]) -> Vec<u8> {
    V4::new(R4, S4, 1).build(&icmp4(ty, code, rest, inner))
}

fn error_out(src: [u8; 16], ty: u8, code: u8, rest: [u8; 4], inner: &[u8]) -> Vec<u8> {
    let mut h = V6::new(src, s6(), 58);
    h.hop = 63;
    h.build(&icmp6(ty, code, rest, inner, src, s6()))
}

/// 4.3 MUST: the embedded UDP header's checksum is updated for the
/// pseudo-header change, and a UDP checksum of 0 stays 0 (choice: nothing
/// to update, and the datagram is truncated anyway).
#[test]
fn inner_udp() {
    let d = payload(20);
    let i4 = V4::new(S4, C4, UDP).build(&udp(53, 5353, &d, Some(Ps::V4(S4, C4))));
    let i6 = V6::new(s6(), c6(), UDP).build(&udp(53, 5353, &d, Some(Ps::V6(s6(), c6()))));
    let out = forward1(translate(&error_in(3, 3, [0; 4], &i4), &cfg(), &ctx(1500)));
    assert_bytes(&out, &error_out(r6(), 1, 4, [0; 4], &i6));
    let i4 = V4::new(S4, C4, UDP).build(&udp(53, 5353, &d, None));
    let i6 = V6::new(s6(), c6(), UDP).build(&udp(53, 5353, &d, None));
    let out = forward1(translate(&error_in(3, 3, [0; 4], &i4), &cfg(), &ctx(1500)));
    assert_bytes(&out, &error_out(r6(), 1, 4, [0; 4], &i6));
}

/// 4.3 MUST: an embedded ICMPv4 echo is translated like one (type 128 and
/// the ICMPv6 checksum with the embedded pseudo-header).
#[test]
fn inner_echo() {
    let d = payload(32);
    let i4 = V4::new(S4, C4, 1).build(&icmp4(8, 0, [0, 9, 0, 1], &d));
    let i6 = V6::new(s6(), c6(), 58).build(&icmp6(128, 0, [0, 9, 0, 1], &d, s6(), c6()));
    let out = forward1(translate(&error_in(11, 0, [0; 4], &i4), &cfg(), &ctx(1500)));
    assert_bytes(&out, &error_out(r6(), 3, 0, [0; 4], &i6));
}

/// 4.3 / RFC 1122 3.2.2: an error inside an error is not translated.
#[test]
fn nested_error_dropped() {
    let i4 = V4::new(S4, C4, 1).build(&icmp4(3, 1, [0; 4], &payload(28)));
    assert_eq!(
        dropped(translate(&error_in(11, 0, [0; 4], &i4), &cfg(), &ctx(1500))),
        "drop_icmp_error"
    );
}

/// 4.3: the embedded header is translated per 4.1: a fragment gets a
/// Fragment header (its payload length from the embedded header's fields,
/// + 8); TTL copied, not decremented.
#[test]
fn inner_fragment() {
    let d = payload(24);
    let mut f4 = V4::new(S4, C4, TCP);
    f4.df = false;
    f4.mf = true;
    f4.id = 0x7777;
    f4.ttl = 9;
    f4.total_len = Some(1500);
    let i4 = f4.build(&tcp(443, 40000, &d, Ps::V4(S4, C4)));
    let mut h6 = V6::new(s6(), c6(), 44);
    h6.hop = 9;
    h6.payload_len = Some(1480 + 8);
    let mut body = frag6(TCP, 0, true, 0x7777);
    body.extend_from_slice(&tcp(443, 40000, &d, Ps::V6(s6(), c6())));
    let i6 = h6.build(&body);
    let out = forward1(translate(&error_in(3, 1, [0; 4], &i4), &cfg(), &ctx(1500)));
    assert_bytes(&out, &error_out(r6(), 1, 0, [0; 4], &i6));
}

/// 4.3 (RFC 4443 2.4 (c)): the translated error is cut so the IPv6 packet
/// is at most 1280 bytes.
#[test]
fn cut_at_1280() {
    let d = payload(1300);
    let i4 = V4::new(S4, C4, TCP).build(&tcp(443, 40000, &d, Ps::V4(S4, C4)));
    let i6 = V6::new(s6(), c6(), TCP).build(&tcp(443, 40000, &d, Ps::V6(s6(), c6())));
    let out = forward1(translate(&error_in(11, 0, [0; 4], &i4), &cfg(), &ctx(1500)));
    assert_eq!(out.len(), 1280);
    assert_bytes(&out, &error_out(r6(), 3, 0, [0; 4], &i6[..1232]));
}

fn extension() -> Vec<u8> {
    // RFC 4884 7 extension header (version 2) + one 8-byte object; the
    // translator copies it unchanged.
    vec![0x20, 0, 0xab, 0xcd, 0, 8, 1, 1, 0xc0, 0, 2, 1]
}

/// RFC 4884 / RFC 7915 4.3: a Time Exceeded with an extension keeps it:
/// the translated datagram is zero-padded to a multiple of 8 and at least
/// 128 bytes, and the length attribute (byte 4) counts 64-bit words.
#[test]
fn rfc4884_extension_kept() {
    let d = payload(8);
    let i4 = V4::new(S4, C4, TCP).build(&tcp(443, 40000, &d, Ps::V4(S4, C4)));
    let mut field = i4.clone();
    field.resize(128, 0);
    field.extend_from_slice(&extension());
    let pkt = error_in(11, 0, [0, 32, 0, 0], &field);
    let i6 = V6::new(s6(), c6(), TCP).build(&tcp(443, 40000, &d, Ps::V6(s6(), c6())));
    let mut body = i6.clone();
    body.resize(128, 0);
    body.extend_from_slice(&extension());
    let out = forward1(translate(&pkt, &cfg(), &ctx(1500)));
    assert_bytes(&out, &error_out(r6(), 3, 0, [16, 0, 0, 0], &body));
}

/// RFC 4884 / RFC 7915 4.3 (choice): when the translated type has no
/// length attribute (Packet Too Big), or the extension would not fit in
/// 1280 bytes, the extension is dropped and the attribute is 0.
#[test]
fn rfc4884_extension_dropped() {
    let d = payload(8);
    let i4 = V4::new(S4, C4, TCP).build(&tcp(443, 40000, &d, Ps::V4(S4, C4)));
    let i6 = V6::new(s6(), c6(), TCP).build(&tcp(443, 40000, &d, Ps::V6(s6(), c6())));
    let mut field = i4.clone();
    field.resize(128, 0);
    field.extend_from_slice(&extension());
    let pkt = error_in(3, 4, [0, 32, 0x05, 0x78], &field);
    let out = forward1(translate(&pkt, &cfg(), &ctx(1500)));
    assert_bytes(&out, &error_out(r6(), 2, 0, 1420u32.to_be_bytes(), &i6));

    let d = payload(960);
    let i4 = V4::new(S4, C4, TCP).build(&tcp(443, 40000, &d, Ps::V4(S4, C4)));
    let i6 = V6::new(s6(), c6(), TCP).build(&tcp(443, 40000, &d, Ps::V6(s6(), c6())));
    assert_eq!(i4.len(), 1000);
    let mut field = i4.clone();
    field.extend_from_slice(&[0x20, 0, 0, 0]);
    field.extend_from_slice(&payload(296));
    let pkt = error_in(3, 1, [0, 250, 0, 0], &field);
    let out = forward1(translate(&pkt, &cfg(), &ctx(1500)));
    assert_bytes(&out, &error_out(r6(), 1, 0, [0; 4], &i6));
}

/// RFC 6791 / RFC 6052 3.1: with the well-known prefix a non-global router
/// address has no IPv6 form; its error takes rfc6791_pool6 as source (and is
/// dropped without it). The flow's own addresses come from the EAMT here.
#[test]
fn rfc6791_pool6_source_for_untranslatable_router() {
    let mut c = cfg();
    c.pool6 = "64:ff9b::/96".parse().unwrap();
    c.eamt = vec![
        Eam::new(
            "198.51.100.0/24".parse().unwrap(),
            "2001:db8:46::/120".parse().unwrap(),
        )
        .unwrap(),
        Eam::new(
            "192.0.2.0/24".parse().unwrap(),
            "2001:db8:44::/120".parse().unwrap(),
        )
        .unwrap(),
    ];
    let (s, cl) = (v6("2001:db8:46::2"), v6("2001:db8:44::a"));
    let d = payload(8);
    let i4 = V4::new(S4, C4, TCP).build(&tcp(443, 40000, &d, Ps::V4(S4, C4)));
    let i6 = V6::new(s, cl, TCP).build(&tcp(443, 40000, &d, Ps::V6(s, cl)));
    let pkt = V4::new([10, 1, 1, 1], S4, 1).build(&icmp4(11, 0, [0; 4], &i4));
    let mut h = V6::new(gw6(), s, 58);
    h.hop = 63;
    let want = h.build(&icmp6(3, 0, [0; 4], &i6, gw6(), s));
    assert_bytes(&forward1(translate(&pkt, &c, &ctx(1500))), &want);
    c.rfc6791_pool6 = None;
    assert_eq!(
        dropped(translate(&pkt, &c, &ctx(1500))),
        "drop_wkp_non_global"
    );
}
