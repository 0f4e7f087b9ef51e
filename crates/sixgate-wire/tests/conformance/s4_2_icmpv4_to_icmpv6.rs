//! RFC 7915 4.2: ICMPv4 -> ICMPv6, every row of the type/code table, the
//! figure 3 pointer map, and the Packet Too Big MTU.

use sixgate_wire::xlat::translate;

use crate::common::*;

const TCP: u8 = 6;

/// An ICMP (type, code).
type TypeCode = (u8, u8);

/// The packet S4 -> C4 that an IPv4 router reports on, and its IPv6 form.
fn inner_pair(total_len: Option<u16>) -> (Vec<u8>, Vec<u8>) {
    let data = payload(8);
    let mut i4 = V4::new(S4, C4, TCP);
    i4.total_len = total_len;
    let mut i6 = V6::new(s6(), c6(), TCP);
    i6.payload_len = total_len.map(|t| t - 20);
    (
        i4.build(&tcp(443, 40000, &data, Ps::V4(S4, C4))),
        i6.build(&tcp(443, 40000, &data, Ps::V6(s6(), c6()))),
    )
}

fn error_in(ty: u8, code: u8, rest: [u8; 4], inner: &[u8]) -> Vec<u8> {
    V4::new(R4, S4, 1).build(&icmp4(ty, code, rest, inner))
}

fn error_out(ty: u8, code: u8, rest: [u8; 4], inner: &[u8]) -> Vec<u8> {
    let mut h = V6::new(r6(), s6(), 58);
    h.hop = 63;
    h.build(&icmp6(ty, code, rest, inner, r6(), s6()))
}

/// 4.2 MUST: Echo Request / Reply (8 / 0) become 128 / 129; the checksum is
/// computed over the ICMPv6 message with its pseudo-header.
#[test]
fn echo_request_and_reply() {
    for (t4, t6) in [(8u8, 128u8), (0, 129)] {
        let data = payload(56);
        let pkt = V4::new(C4, S4, 1).build(&icmp4(t4, 0, [0x12, 0x34, 0, 7], &data));
        let mut h = V6::new(c6(), s6(), 58);
        h.hop = 63;
        let want = h.build(&icmp6(t6, 0, [0x12, 0x34, 0, 7], &data, c6(), s6()));
        assert_bytes(&forward1(translate(&pkt, &cfg(), &ctx(1500))), &want);
    }
}

/// 4.2: the error rows of the table (type, code) -> (type, code), with the
/// word after the checksum: unused (0) or the Protocol Unreachable pointer.
#[test]
fn error_table_rows() {
    let (i4, i6) = inner_pair(None);
    let rows: &[(TypeCode, TypeCode, [u8; 4])] = &[
        ((3, 0), (1, 0), [0; 4]),
        ((3, 1), (1, 0), [0; 4]),
        ((3, 2), (4, 1), [0, 0, 0, 6]),
        ((3, 3), (1, 4), [0; 4]),
        ((3, 5), (1, 0), [0; 4]),
        ((3, 6), (1, 0), [0; 4]),
        ((3, 7), (1, 0), [0; 4]),
        ((3, 8), (1, 0), [0; 4]),
        ((3, 9), (1, 1), [0; 4]),
        ((3, 10), (1, 1), [0; 4]),
        ((3, 11), (1, 0), [0; 4]),
        ((3, 12), (1, 0), [0; 4]),
        ((3, 13), (1, 1), [0; 4]),
        ((3, 15), (1, 1), [0; 4]),
        ((11, 0), (3, 0), [0; 4]),
        ((11, 1), (3, 1), [0; 4]),
    ];
    for &((t4, c4), (t6, c6_), rest) in rows {
        let out = forward1(translate(
            &error_in(t4, c4, [0; 4], &i4),
            &cfg(),
            &ctx(1500),
        ));
        assert_bytes(&out, &error_out(t6, c6_, rest, &i6));
    }
}

/// 4.2: silently dropped: Source Quench, Redirect, Alternative Host
/// Address, Router Advertisement / Solicitation, Timestamp, Information,
/// Address Mask, Host Precedence Violation (3/14), Missing Required Option
/// (12/1), unknown types and codes.
#[test]
fn untranslatable_types_dropped() {
    let (i4, _) = inner_pair(None);
    let cases: &[(u8, u8)] = &[
        (4, 0),
        (5, 0),
        (5, 1),
        (6, 0),
        (9, 0),
        (10, 0),
        (13, 0),
        (14, 0),
        (15, 0),
        (16, 0),
        (17, 0),
        (18, 0),
        (3, 14),
        (3, 16),
        (11, 2),
        (12, 1),
        (12, 3),
        (42, 0),
        (255, 0),
    ];
    for &(t, c) in cases {
        assert_eq!(
            dropped(translate(&error_in(t, c, [0; 4], &i4), &cfg(), &ctx(1500))),
            "drop_icmp_unsupported",
            "{t}/{c}"
        );
    }
}

/// 4.2 figure 3: Parameter Problem (12/0 and 12/2) becomes 4/0 with the
/// pointer translated; "n/a" pointers drop the message.
#[test]
fn parameter_problem_pointer_map() {
    let (i4, i6) = inner_pair(None);
    let map: &[(u8, Option<u32>)] = &[
        (0, Some(0)),
        (1, Some(1)),
        (2, Some(4)),
        (3, Some(4)),
        (4, None),
        (5, None),
        (6, None),
        (7, None),
        (8, Some(7)),
        (9, Some(6)),
        (10, None),
        (11, None),
        (12, Some(8)),
        (13, Some(8)),
        (14, Some(8)),
        (15, Some(8)),
        (16, Some(24)),
        (17, Some(24)),
        (18, Some(24)),
        (19, Some(24)),
        (20, None),
        (40, None),
    ];
    for code in [0u8, 2] {
        for &(p4, p6) in map {
            let o = translate(&error_in(12, code, [p4, 0, 0, 0], &i4), &cfg(), &ctx(1500));
            match p6 {
                Some(p6) => assert_bytes(&forward1(o), &error_out(4, 0, p6.to_be_bytes(), &i6)),
                None => assert_eq!(dropped(o), "drop_icmp_unsupported", "pointer {p4}"),
            }
        }
    }
}

/// 4.2 MUST: Fragmentation Needed (3/4) becomes Packet Too Big (2/0), MTU
/// = min(reported + 20, IPv6 egress MTU), and with a reported MTU of 0 the
/// greatest RFC 1191 plateau below the returned Total Length. Choice: not
/// below 1280 (RFC 8200 5).
#[test]
fn fragmentation_needed_mtu() {
    let cases: &[(u16, Option<u16>, u32, u32)] = &[
        // (reported, inner total length, egress, expected)
        (1400, None, 1500, 1420),
        (1400, None, 1300, 1300),
        (1480, None, 9000, 1500),
        (576, None, 1500, 1280),
        (0, Some(1500), 9000, 1512),
        (0, Some(1500), 1500, 1500),
        (0, Some(4000), 9000, 2022),
    ];
    for &(reported, total, egress, want) in cases {
        let (i4, i6) = inner_pair(total);
        let [a, b] = reported.to_be_bytes();
        let o = translate(&error_in(3, 4, [0, 0, a, b], &i4), &cfg(), &ctx(egress));
        assert_bytes(&forward1(o), &error_out(2, 0, want.to_be_bytes(), &i6));
    }
}
