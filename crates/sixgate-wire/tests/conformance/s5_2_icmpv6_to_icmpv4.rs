//! RFC 7915 5.2: ICMPv6 -> ICMPv4, every row of the type/code table, the
//! figure 6 pointer map, and the Fragmentation Needed MTU.

use std::net::Ipv4Addr;

use sixgate_wire::xlat::{ipv4_identification, translate};

use crate::common::*;

const TCP: u8 = 6;

/// An ICMPv6 / ICMP (type, code).
type TypeCode = (u8, u8);

/// An IPv6 router with a served IPv4 form (198.51.100.1).
fn rt6() -> [u8; 16] {
    v6("2001:db8:64::c633:6401")
}
const RT4: [u8; 4] = [198, 51, 100, 1];

/// The packet C6 -> S6 an IPv6 router reports on (optionally with a
/// Fragment header), and its IPv4 form.
fn inner_pair(frag: bool) -> (Vec<u8>, Vec<u8>) {
    let d = payload(8);
    let l6 = tcp(40000, 443, &d, Ps::V6(c6(), s6()));
    let l4 = tcp(40000, 443, &d, Ps::V4(C4, S4));
    let mut i4 = V4::new(C4, S4, TCP);
    i4.df = false;
    if frag {
        let mut b = frag6(TCP, 0, true, 0x0102_0304);
        b.extend_from_slice(&l6);
        i4.id = 0x0304;
        i4.mf = true;
        i4.total_len = Some(20 + l6.len() as u16);
        (V6::new(c6(), s6(), 44).build(&b), i4.build(&l4))
    } else {
        let c = u16::from_be_bytes([l6[16], l6[17]]);
        i4.id = ipv4_identification(Ipv4Addr::from(C4), Ipv4Addr::from(S4), TCP, c);
        (V6::new(c6(), s6(), TCP).build(&l6), i4.build(&l4))
    }
}

fn error_in(ty: u8, code: u8, rest: [u8; 4], inner: &[u8]) -> Vec<u8> {
    V6::new(rt6(), c6(), 58).build(&icmp6(ty, code, rest, inner, rt6(), c6()))
}

/// The translated error: outer IPv4 per 5.1 (DF=0, ID from the ICMPv6
/// checksum as received since the message is below 1260 bytes).
fn error_out(input: &[u8], ty: u8, code: u8, rest: [u8; 4], inner: &[u8]) -> Vec<u8> {
    let c = u16::from_be_bytes([input[42], input[43]]);
    let mut h = V4::new(RT4, C4, 1);
    h.ttl = 63;
    h.df = false;
    h.id = ipv4_identification(Ipv4Addr::from(RT4), Ipv4Addr::from(C4), 1, c);
    h.build(&icmp4(ty, code, rest, inner))
}

/// 5.2 MUST: Echo Request / Reply (128 / 129) become 8 / 0; the checksum
/// loses the pseudo-header.
#[test]
fn echo_request_and_reply() {
    for (t6, t4) in [(128u8, 8u8), (129, 0)] {
        let d = payload(56);
        let m6 = icmp6(t6, 0, [0, 5, 0, 6], &d, s6(), c6());
        let pkt = V6::new(s6(), c6(), 58).build(&m6);
        let mut h = V4::new(S4, C4, 1);
        h.ttl = 63;
        h.df = false;
        h.id = ipv4_identification(
            Ipv4Addr::from(S4),
            Ipv4Addr::from(C4),
            1,
            u16::from_be_bytes([m6[2], m6[3]]),
        );
        let want = h.build(&icmp4(t4, 0, [0, 5, 0, 6], &d));
        assert_bytes(&forward1(translate(&pkt, &cfg(), &ctx(1500))), &want);
    }
}

/// 5.2: the error rows of the table.
#[test]
fn error_table_rows() {
    let (i6, i4) = inner_pair(false);
    let rows: &[(TypeCode, TypeCode)] = &[
        ((1, 0), (3, 1)),
        ((1, 1), (3, 10)),
        ((1, 2), (3, 1)),
        ((1, 3), (3, 1)),
        ((1, 4), (3, 3)),
        ((3, 0), (11, 0)),
        ((3, 1), (11, 1)),
        ((4, 1), (3, 2)),
    ];
    for &((t6, c6_), (t4, c4)) in rows {
        let pkt = error_in(t6, c6_, [0; 4], &i6);
        let out = forward1(translate(&pkt, &cfg(), &ctx(1500)));
        assert_bytes(&out, &error_out(&pkt, t4, c4, [0; 4], &i4));
    }
}

/// 5.2: silently dropped: MLD (130-132), ND (133-137), other informational
/// types, Destination Unreachable codes past 4, Time Exceeded codes past 1,
/// unrecognized IPv6 option (4/2) and unknown Parameter Problem codes,
/// unknown error types.
#[test]
fn untranslatable_types_dropped() {
    let (i6, _) = inner_pair(false);
    let cases: &[(u8, u8)] = &[
        (130, 0),
        (131, 0),
        (132, 0),
        (133, 0),
        (134, 0),
        (135, 0),
        (136, 0),
        (137, 0),
        (143, 0),
        (200, 0),
        (1, 5),
        (1, 6),
        (3, 2),
        (4, 2),
        (4, 3),
        (2, 1),
        (0, 0),
        (5, 0),
        (100, 0),
        (127, 0),
    ];
    for &(t, c) in cases {
        assert_eq!(
            dropped(translate(&error_in(t, c, [0; 4], &i6), &cfg(), &ctx(1500))),
            "drop_icmp_unsupported",
            "{t}/{c}"
        );
    }
}

/// 5.2 figure 6: Parameter Problem 4/0 becomes 12/0 with the pointer
/// translated; "n/a" pointers drop the message.
#[test]
fn parameter_problem_pointer_map() {
    let (i6, i4) = inner_pair(false);
    let mut map: Vec<(u32, Option<u8>)> = vec![(0, Some(0)), (1, Some(1)), (2, None), (3, None)];
    map.extend([(4, Some(2)), (5, Some(2)), (6, Some(9)), (7, Some(8))]);
    map.extend((8..=23).map(|p| (p, Some(12))));
    map.extend((24..=39).map(|p| (p, Some(16))));
    map.extend([(40, None), (41, None), (1000, None)]);
    for (p6, p4) in map {
        let pkt = error_in(4, 0, p6.to_be_bytes(), &i6);
        let o = translate(&pkt, &cfg(), &ctx(1500));
        match p4 {
            Some(p4) => assert_bytes(&forward1(o), &error_out(&pkt, 12, 0, [p4, 0, 0, 0], &i4)),
            None => assert_eq!(dropped(o), "drop_icmp_unsupported", "pointer {p6}"),
        }
    }
}

/// 5.2 MUST: Packet Too Big becomes Fragmentation Needed (3/4) with MTU =
/// min(reported - 20, IPv4 egress MTU), taking a Fragment header in the
/// packet in error into account (- 28), at most 65535 (and, a choice, at
/// least 68).
#[test]
fn packet_too_big_mtu() {
    let cases: &[(u32, bool, u32, u16)] = &[
        (1500, false, 1500, 1480),
        (1400, false, 1300, 1300),
        (70000, false, 9000, 9000),
        (100_000, false, 100_000, 65535),
        (1500, true, 1500, 1472),
        (10, false, 1500, 68),
    ];
    for &(reported, frag, egress, want) in cases {
        let (i6, i4) = inner_pair(frag);
        let pkt = error_in(2, 0, reported.to_be_bytes(), &i6);
        let [a, b] = want.to_be_bytes();
        let o = translate(&pkt, &cfg(), &ctx(egress));
        assert_bytes(&forward1(o), &error_out(&pkt, 3, 4, [0, 0, a, b], &i4));
    }
}
