//! Packet tests of ICMP error translation (RFC 7915 4.2/4.3 and 5.2/5.3):
//! the real tc program through BPF_PROG_TEST_RUN; the expected frame is
//! built independently with etherparse, including the quoted packet in its
//! translated form with its own checksum.

mod common;
mod frames;

use std::net::Ipv4Addr;

use common::*;
use etherparse::{
    icmpv4, icmpv6, Icmpv4Type, Icmpv6Type, IpHeaders, IpNumber, Ipv4Header, Ipv6FlowLabel,
    Ipv6Header, PacketBuilder,
};
use frames::{assert_frame_eq, ETH_LEN};
use sixgate_wire::{checksum, Rfc6052Prefix};

const POOL6: &str = "2001:db8:64::/96";
/// The IPv4 client (an IPv4 host that reports errors about packets the
/// IPv6 server sent it).
const CLIENT: [u8; 4] = [192, 0, 2, 33];
/// The IPv6 server's IPv4 form.
const SERVER: [u8; 4] = [198, 51, 100, 2];

fn embed(v4: [u8; 4]) -> [u8; 16] {
    let p: Rfc6052Prefix = POOL6.parse().unwrap();
    p.embed(Ipv4Addr::from(v4)).octets()
}

/// What the server sent, as it looks on the IPv4 side (after the gateway
/// translated it 6->4): L3 bytes. And the same packet as the server sent
/// it, IPv6, with `hop_limit`.
#[derive(Clone, Copy)]
enum Quoted {
    Udp,
    Tcp,
    Echo,
}

fn quoted_v4(q: Quoted, ttl: u8) -> Vec<u8> {
    let mut ip = Ipv4Header::new(0, ttl, IpNumber::UDP, SERVER, CLIENT).unwrap();
    ip.identification = 0x1234;
    let b = PacketBuilder::ip(IpHeaders::Ipv4(ip, Default::default()));
    let mut out = Vec::new();
    let pay = b"quoted payload, 24 bytes";
    match q {
        Quoted::Udp => b.udp(7, 40001).write(&mut out, pay),
        Quoted::Tcp => b.tcp(80, 40000, 7, 1000).ack(9).write(&mut out, pay),
        Quoted::Echo => b.icmpv4_echo_request(0x42, 3).write(&mut out, pay),
    }
    .unwrap();
    out
}

fn quoted_v6(q: Quoted, hop_limit: u8) -> Vec<u8> {
    let ip = Ipv6Header {
        traffic_class: 0,
        flow_label: Ipv6FlowLabel::ZERO,
        payload_length: 0,
        next_header: IpNumber::UDP,
        hop_limit,
        source: embed(SERVER),
        destination: embed(CLIENT),
    };
    let b = PacketBuilder::ip(IpHeaders::Ipv6(ip, Default::default()));
    let mut out = Vec::new();
    let pay = b"quoted payload, 24 bytes";
    match q {
        Quoted::Udp => b.udp(7, 40001).write(&mut out, pay),
        Quoted::Tcp => b.tcp(80, 40000, 7, 1000).ack(9).write(&mut out, pay),
        Quoted::Echo => b.icmpv6_echo_request(0x42, 3).write(&mut out, pay),
    }
    .unwrap();
    out
}

/// The client's ICMPv4 error about `quote`, as the gateway receives it.
fn error_v4(t: Icmpv4Type, quote: &[u8]) -> Vec<u8> {
    let ip = Ipv4Header::new(0, 64, IpNumber::ICMP, CLIENT, SERVER).unwrap();
    let mut out = Vec::new();
    PacketBuilder::ethernet2(PEER_MAC, GW_MAC)
        .ip(IpHeaders::Ipv4(ip, Default::default()))
        .icmpv4(t)
        .write(&mut out, quote)
        .unwrap();
    out
}

/// The ICMPv6 error RFC 7915 4.2/4.3 says the server gets.
fn error_v6(t: Icmpv6Type, quote: &[u8]) -> Vec<u8> {
    let ip = Ipv6Header {
        traffic_class: 0,
        flow_label: Ipv6FlowLabel::ZERO,
        payload_length: 0,
        next_header: IpNumber::IPV6_ICMP,
        hop_limit: 63,
        source: embed(CLIENT),
        destination: embed(SERVER),
    };
    let mut out = Vec::new();
    PacketBuilder::ethernet2(GW_MAC, V6_NH_MAC)
        .ip(IpHeaders::Ipv6(ip, Default::default()))
        .icmpv6(t)
        .write(&mut out, quote)
        .unwrap();
    out
}

/// RFC 7915 4.2 (type/code table) and 4.3 (the quoted packet is
/// translated: addresses, header, transport checksum; no TTL decrement).
#[test]
fn icmpv4_errors_become_icmpv6_errors_with_the_quoted_packet_translated() {
    use icmpv4::{
        DestUnreachableHeader as D4, ParameterProblemHeader as P4, TimeExceededCode as T4,
    };
    use icmpv6::{
        DestUnreachableCode as D6, ParameterProblemCode as P6, ParameterProblemHeader as PH6,
        TimeExceededCode as T6,
    };
    let cases: Vec<(&str, Icmpv4Type, Icmpv6Type, Quoted)> = vec![
        (
            "net unreachable",
            Icmpv4Type::DestinationUnreachable(D4::Network),
            Icmpv6Type::DestinationUnreachable(D6::NoRoute),
            Quoted::Udp,
        ),
        (
            "host unreachable",
            Icmpv4Type::DestinationUnreachable(D4::Host),
            Icmpv6Type::DestinationUnreachable(D6::NoRoute),
            Quoted::Tcp,
        ),
        (
            "port unreachable",
            Icmpv4Type::DestinationUnreachable(D4::Port),
            Icmpv6Type::DestinationUnreachable(D6::Port),
            Quoted::Udp,
        ),
        (
            "source route failed",
            Icmpv4Type::DestinationUnreachable(D4::SourceRouteFailed),
            Icmpv6Type::DestinationUnreachable(D6::NoRoute),
            Quoted::Udp,
        ),
        (
            "network unknown",
            Icmpv4Type::DestinationUnreachable(D4::NetworkUnknown),
            Icmpv6Type::DestinationUnreachable(D6::NoRoute),
            Quoted::Udp,
        ),
        (
            "host unknown",
            Icmpv4Type::DestinationUnreachable(D4::HostUnknown),
            Icmpv6Type::DestinationUnreachable(D6::NoRoute),
            Quoted::Udp,
        ),
        (
            "isolated",
            Icmpv4Type::DestinationUnreachable(D4::Isolated),
            Icmpv6Type::DestinationUnreachable(D6::NoRoute),
            Quoted::Udp,
        ),
        (
            "net prohibited",
            Icmpv4Type::DestinationUnreachable(D4::NetworkProhibited),
            Icmpv6Type::DestinationUnreachable(D6::Prohibited),
            Quoted::Udp,
        ),
        (
            "host prohibited",
            Icmpv4Type::DestinationUnreachable(D4::HostProhibited),
            Icmpv6Type::DestinationUnreachable(D6::Prohibited),
            Quoted::Udp,
        ),
        (
            "net TOS",
            Icmpv4Type::DestinationUnreachable(D4::TosNetwork),
            Icmpv6Type::DestinationUnreachable(D6::NoRoute),
            Quoted::Udp,
        ),
        (
            "host TOS",
            Icmpv4Type::DestinationUnreachable(D4::TosHost),
            Icmpv6Type::DestinationUnreachable(D6::NoRoute),
            Quoted::Udp,
        ),
        (
            "filtered",
            Icmpv4Type::DestinationUnreachable(D4::FilterProhibited),
            Icmpv6Type::DestinationUnreachable(D6::Prohibited),
            Quoted::Udp,
        ),
        (
            "precedence cutoff",
            Icmpv4Type::DestinationUnreachable(D4::PrecedenceCutoff),
            Icmpv6Type::DestinationUnreachable(D6::Prohibited),
            Quoted::Udp,
        ),
        (
            "protocol unreachable",
            Icmpv4Type::DestinationUnreachable(D4::Protocol),
            Icmpv6Type::ParameterProblem(PH6 {
                code: P6::UnrecognizedNextHeader,
                pointer: 6,
            }),
            Quoted::Udp,
        ),
        (
            "fragmentation needed",
            Icmpv4Type::DestinationUnreachable(D4::FragmentationNeeded { next_hop_mtu: 1400 }),
            Icmpv6Type::PacketTooBig { mtu: 1420 },
            Quoted::Tcp,
        ),
        (
            "TTL exceeded",
            Icmpv4Type::TimeExceeded(T4::TtlExceededInTransit),
            Icmpv6Type::TimeExceeded(T6::HopLimitExceeded),
            Quoted::Echo,
        ),
        (
            "reassembly exceeded",
            Icmpv4Type::TimeExceeded(T4::FragmentReassemblyTimeExceeded),
            Icmpv6Type::TimeExceeded(T6::FragmentReassemblyTimeExceeded),
            Quoted::Udp,
        ),
        (
            "parameter problem, TTL",
            Icmpv4Type::ParameterProblem(P4::PointerIndicatesError(8)),
            Icmpv6Type::ParameterProblem(PH6 {
                code: P6::ErroneousHeaderField,
                pointer: 7,
            }),
            Quoted::Udp,
        ),
        (
            "parameter problem, protocol",
            Icmpv4Type::ParameterProblem(P4::PointerIndicatesError(9)),
            Icmpv6Type::ParameterProblem(PH6 {
                code: P6::ErroneousHeaderField,
                pointer: 6,
            }),
            Quoted::Udp,
        ),
        (
            "parameter problem, destination",
            Icmpv4Type::ParameterProblem(P4::PointerIndicatesError(17)),
            Icmpv6Type::ParameterProblem(PH6 {
                code: P6::ErroneousHeaderField,
                pointer: 24,
            }),
            Quoted::Udp,
        ),
        (
            "parameter problem, bad length",
            Icmpv4Type::ParameterProblem(P4::BadLength),
            Icmpv6Type::ParameterProblem(PH6 {
                code: P6::ErroneousHeaderField,
                pointer: 0,
            }),
            Quoted::Udp,
        ),
    ];
    with_gateway(ROUTED, move |gw| {
        gw.configure(POOL6, false);
        for (what, v4, v6, q) in cases {
            let input = error_v4(v4, &quoted_v4(q, 7));
            let out = gw.run_counted(&input, "xlat46_redirect");
            assert_eq!(out.ret, TC_ACT_REDIRECT, "{what}");
            assert_frame_eq(&out.data, &error_v6(v6, &quoted_v6(q, 7)), what);
        }
    });
}

/// RFC 7915 4.2: Fragmentation Needed with MTU 0 (a pre-RFC 1191 router)
/// takes the greatest RFC 1191 plateau below the quoted Total Length; the
/// MTU then grows by 20 but never past the IPv6 next hop's MTU.
#[test]
fn fragmentation_needed_with_mtu_zero_uses_the_rfc1191_plateau() {
    with_gateway(ROUTED, |gw| {
        gw.configure(POOL6, false);
        let frag_needed_about = |total_len: u16| {
            let mut quote = quoted_v4(Quoted::Udp, 7);
            // The quoted header says `total_len` bytes (the rest was not quoted).
            quote[2..4].copy_from_slice(&total_len.to_be_bytes());
            fix_ip_checksum(&mut quote);
            let input = error_v4(
                Icmpv4Type::DestinationUnreachable(
                    icmpv4::DestUnreachableHeader::FragmentationNeeded { next_hop_mtu: 0 },
                ),
                &quote,
            );
            let mut want_quote = quoted_v6(Quoted::Udp, 7);
            want_quote[4..6].copy_from_slice(&(total_len - 20).to_be_bytes());
            (input, want_quote)
        };
        // 1492 (the plateau below 1500) + 20 = 1512, more than d0 takes.
        let (input, want_quote) = frag_needed_about(1500);
        let out = gw.run_counted(&input, "xlat46_redirect");
        let want = error_v6(Icmpv6Type::PacketTooBig { mtu: 1500 }, &want_quote);
        assert_frame_eq(&out.data, &want, "plateau, capped by the next hop");
        // With a 9000-byte link: 4352 (the plateau below 4500) + 20.
        let out = std::process::Command::new("ip")
            .args(["link", "set", "d0", "mtu", "9000"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (input, want_quote) = frag_needed_about(4500);
        let out = gw.run_counted(&input, "xlat46_redirect");
        let want = error_v6(Icmpv6Type::PacketTooBig { mtu: 4372 }, &want_quote);
        assert_frame_eq(&out.data, &want, "plateau");
    });
}

/// Errors the RFC says to drop: single-hop or obsolete types, codes with no
/// translation, pointers with none, and an error quoting an error.
#[test]
fn untranslatable_icmpv4_errors_are_dropped_by_reason() {
    with_gateway(ROUTED, |gw| {
        gw.configure(POOL6, false);
        let quote = quoted_v4(Quoted::Udp, 7);
        let redirect = {
            let mut f = error_v4(
                Icmpv4Type::DestinationUnreachable(icmpv4::DestUnreachableHeader::Port),
                &quote,
            );
            set_icmp4_type(&mut f, 5, 1);
            f
        };
        gw.run_counted(&redirect, "drop_icmp_unsupported");
        let precedence = {
            let mut f = error_v4(
                Icmpv4Type::DestinationUnreachable(icmpv4::DestUnreachableHeader::Port),
                &quote,
            );
            set_icmp4_type(&mut f, 3, 14);
            f
        };
        gw.run_counted(&precedence, "drop_icmp_unsupported");
        let bad_pointer = error_v4(
            Icmpv4Type::ParameterProblem(icmpv4::ParameterProblemHeader::PointerIndicatesError(4)),
            &quote,
        );
        gw.run_counted(&bad_pointer, "drop_icmp_unsupported");
        let inner_error = error_v4(
            Icmpv4Type::DestinationUnreachable(icmpv4::DestUnreachableHeader::Port),
            &error_v4(
                Icmpv4Type::DestinationUnreachable(icmpv4::DestUnreachableHeader::Host),
                &quote,
            )[ETH_LEN..],
        );
        gw.run_counted(&inner_error, "drop_icmp_error");
    });
}

/// A long quote is cut so that the translated error is at most 1280 bytes
/// (RFC 4443 2.4(c)); the quoted header keeps the lengths it had.
#[test]
fn translated_errors_fit_in_1280_bytes() {
    with_gateway(ROUTED, |gw| {
        gw.configure(POOL6, false);
        let mut ip = Ipv4Header::new(0, 7, IpNumber::UDP, SERVER, CLIENT).unwrap();
        ip.identification = 0x1234;
        let mut quote = Vec::new();
        PacketBuilder::ip(IpHeaders::Ipv4(ip, Default::default()))
            .udp(7, 40001)
            .write(&mut quote, &[0x5a; 1300])
            .unwrap();
        let input = error_v4(
            Icmpv4Type::DestinationUnreachable(icmpv4::DestUnreachableHeader::Port),
            &quote,
        );
        let out = gw.run_counted(&input, "xlat46_redirect");
        assert_eq!(out.data.len(), ETH_LEN + 1280);
        // The whole translated quote, then cut: the checksum of the cut
        // message is the ICMPv6 checksum of exactly those bytes.
        let ip6 = Ipv6Header {
            traffic_class: 0,
            flow_label: Ipv6FlowLabel::ZERO,
            payload_length: 0,
            next_header: IpNumber::UDP,
            hop_limit: 7,
            source: embed(SERVER),
            destination: embed(CLIENT),
        };
        let mut full = Vec::new();
        PacketBuilder::ip(IpHeaders::Ipv6(ip6, Default::default()))
            .udp(7, 40001)
            .write(&mut full, &[0x5a; 1300])
            .unwrap();
        let want = error_v6(
            Icmpv6Type::DestinationUnreachable(icmpv6::DestUnreachableCode::Port),
            &full[..1280 - 48],
        );
        assert_frame_eq(&out.data, &want, "cut to 1280");
    });
}

fn fix_ip_checksum(ip: &mut [u8]) {
    ip[10..12].fill(0);
    let c = checksum::finish(checksum::sum(&ip[..20]));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
}

/// Sets the ICMPv4 type and code of a frame, fixing the ICMP checksum.
fn set_icmp4_type(frame: &mut [u8], t: u8, c: u8) {
    let icmp = ETH_LEN + 20;
    frame[icmp] = t;
    frame[icmp + 1] = c;
    frame[icmp + 2..icmp + 4].fill(0);
    let c = checksum::finish(checksum::sum(&frame[icmp..]));
    frame[icmp + 2..icmp + 4].copy_from_slice(&c.to_be_bytes());
}

/// What the client sent, as the server received it (IPv6, translated by
/// the gateway), and as the client sent it (IPv4).
fn client_packet_v6(q: Quoted) -> Vec<u8> {
    let ip = Ipv6Header {
        traffic_class: 0,
        flow_label: Ipv6FlowLabel::ZERO,
        payload_length: 0,
        next_header: IpNumber::UDP,
        hop_limit: 5,
        source: embed(CLIENT),
        destination: embed(SERVER),
    };
    let b = PacketBuilder::ip(IpHeaders::Ipv6(ip, Default::default()));
    let mut out = Vec::new();
    let pay = b"quoted payload, 24 bytes";
    match q {
        Quoted::Udp => b.udp(40001, 7).write(&mut out, pay),
        Quoted::Tcp => b.tcp(40000, 80, 7, 1000).ack(9).write(&mut out, pay),
        Quoted::Echo => b.icmpv6_echo_request(0x42, 3).write(&mut out, pay),
    }
    .unwrap();
    out
}

/// The quoted packet translated back to IPv4 (RFC 7915 5.1 applied to it:
/// no TTL decrement, Identification as for any packet of at most 1260
/// bytes, from the checksum the quote carried).
fn client_packet_v4(q: Quoted, quoted_v6: &[u8]) -> Vec<u8> {
    let (proto, check_off) = match q {
        Quoted::Udp => (17, 6),
        Quoted::Tcp => (6, 16),
        Quoted::Echo => (1, 2),
    };
    let check = u16::from_be_bytes([quoted_v6[40 + check_off], quoted_v6[40 + check_off + 1]]);
    let mut ip = Ipv4Header::new(0, 5, IpNumber::UDP, CLIENT, SERVER).unwrap();
    ip.dont_fragment = false;
    ip.identification =
        sixgate_wire::xlat::ipv4_identification(CLIENT.into(), SERVER.into(), proto, check);
    let b = PacketBuilder::ip(IpHeaders::Ipv4(ip, Default::default()));
    let mut out = Vec::new();
    let pay = b"quoted payload, 24 bytes";
    match q {
        Quoted::Udp => b.udp(40001, 7).write(&mut out, pay),
        Quoted::Tcp => b.tcp(40000, 80, 7, 1000).ack(9).write(&mut out, pay),
        Quoted::Echo => b.icmpv4_echo_request(0x42, 3).write(&mut out, pay),
    }
    .unwrap();
    out
}

/// The server's ICMPv6 error about `quote`, as the gateway receives it.
fn error6_in(t: Icmpv6Type, quote: &[u8]) -> Vec<u8> {
    let ip = Ipv6Header {
        traffic_class: 0,
        flow_label: Ipv6FlowLabel::ZERO,
        payload_length: 0,
        next_header: IpNumber::IPV6_ICMP,
        hop_limit: 64,
        source: embed(SERVER),
        destination: embed(CLIENT),
    };
    let mut out = Vec::new();
    PacketBuilder::ethernet2(PEER_MAC, GW_MAC)
        .ip(IpHeaders::Ipv6(ip, Default::default()))
        .icmpv6(t)
        .write(&mut out, quote)
        .unwrap();
    out
}

/// The ICMPv4 error RFC 7915 5.2/5.3 says the client gets for `input`.
fn error4_out(input: &[u8], t: Icmpv4Type, quote: &[u8]) -> Vec<u8> {
    let check = u16::from_be_bytes([input[ETH_LEN + 42], input[ETH_LEN + 43]]);
    let mut ip = Ipv4Header::new(0, 63, IpNumber::ICMP, SERVER, CLIENT).unwrap();
    ip.dont_fragment = false;
    ip.identification =
        sixgate_wire::xlat::ipv4_identification(SERVER.into(), CLIENT.into(), 1, check);
    let mut out = Vec::new();
    PacketBuilder::ethernet2(GW_MAC, V4_NH_MAC)
        .ip(IpHeaders::Ipv4(ip, Default::default()))
        .icmpv4(t)
        .write(&mut out, quote)
        .unwrap();
    out
}

/// RFC 7915 5.2 (type/code table, pointer map, PTB MTU - 20) and 5.3 (the
/// quoted packet translated back to IPv4).
#[test]
fn icmpv6_errors_become_icmpv4_errors_with_the_quoted_packet_translated() {
    use icmpv4::{
        DestUnreachableHeader as D4, ParameterProblemHeader as P4, TimeExceededCode as T4,
    };
    use icmpv6::{
        DestUnreachableCode as D6, ParameterProblemCode as P6, ParameterProblemHeader as PH6,
        TimeExceededCode as T6,
    };
    let cases: Vec<(&str, Icmpv6Type, Icmpv4Type, Quoted)> = vec![
        (
            "no route",
            Icmpv6Type::DestinationUnreachable(D6::NoRoute),
            Icmpv4Type::DestinationUnreachable(D4::Host),
            Quoted::Udp,
        ),
        (
            "prohibited",
            Icmpv6Type::DestinationUnreachable(D6::Prohibited),
            Icmpv4Type::DestinationUnreachable(D4::HostProhibited),
            Quoted::Tcp,
        ),
        (
            "beyond scope",
            Icmpv6Type::DestinationUnreachable(D6::BeyondScope),
            Icmpv4Type::DestinationUnreachable(D4::Host),
            Quoted::Udp,
        ),
        (
            "address unreachable",
            Icmpv6Type::DestinationUnreachable(D6::Address),
            Icmpv4Type::DestinationUnreachable(D4::Host),
            Quoted::Udp,
        ),
        (
            "port unreachable",
            Icmpv6Type::DestinationUnreachable(D6::Port),
            Icmpv4Type::DestinationUnreachable(D4::Port),
            Quoted::Udp,
        ),
        (
            "packet too big",
            Icmpv6Type::PacketTooBig { mtu: 1400 },
            Icmpv4Type::DestinationUnreachable(D4::FragmentationNeeded { next_hop_mtu: 1380 }),
            Quoted::Tcp,
        ),
        (
            "hop limit",
            Icmpv6Type::TimeExceeded(T6::HopLimitExceeded),
            Icmpv4Type::TimeExceeded(T4::TtlExceededInTransit),
            Quoted::Echo,
        ),
        (
            "reassembly",
            Icmpv6Type::TimeExceeded(T6::FragmentReassemblyTimeExceeded),
            Icmpv4Type::TimeExceeded(T4::FragmentReassemblyTimeExceeded),
            Quoted::Udp,
        ),
        (
            "pointer: next header",
            Icmpv6Type::ParameterProblem(PH6 {
                code: P6::ErroneousHeaderField,
                pointer: 6,
            }),
            Icmpv4Type::ParameterProblem(P4::PointerIndicatesError(9)),
            Quoted::Udp,
        ),
        (
            "pointer: hop limit",
            Icmpv6Type::ParameterProblem(PH6 {
                code: P6::ErroneousHeaderField,
                pointer: 7,
            }),
            Icmpv4Type::ParameterProblem(P4::PointerIndicatesError(8)),
            Quoted::Udp,
        ),
        (
            "pointer: payload length",
            Icmpv6Type::ParameterProblem(PH6 {
                code: P6::ErroneousHeaderField,
                pointer: 5,
            }),
            Icmpv4Type::ParameterProblem(P4::PointerIndicatesError(2)),
            Quoted::Udp,
        ),
        (
            "pointer: source",
            Icmpv6Type::ParameterProblem(PH6 {
                code: P6::ErroneousHeaderField,
                pointer: 10,
            }),
            Icmpv4Type::ParameterProblem(P4::PointerIndicatesError(12)),
            Quoted::Udp,
        ),
        (
            "pointer: destination",
            Icmpv6Type::ParameterProblem(PH6 {
                code: P6::ErroneousHeaderField,
                pointer: 30,
            }),
            Icmpv4Type::ParameterProblem(P4::PointerIndicatesError(16)),
            Quoted::Udp,
        ),
        (
            "unrecognized next header",
            Icmpv6Type::ParameterProblem(PH6 {
                code: P6::UnrecognizedNextHeader,
                pointer: 6,
            }),
            Icmpv4Type::DestinationUnreachable(D4::Protocol),
            Quoted::Udp,
        ),
    ];
    with_gateway(ROUTED, move |gw| {
        gw.configure(POOL6, false);
        for (what, v6, v4, q) in cases {
            let quoted = client_packet_v6(q);
            let input = error6_in(v6, &quoted);
            let out = gw.run_counted(&input, "xlat64_redirect");
            assert_eq!(out.ret, TC_ACT_REDIRECT, "{what}");
            let want = error4_out(&input, v4, &client_packet_v4(q, &quoted));
            assert_frame_eq(&out.data, &want, what);
        }
    });
}

/// RFC 7915 5.2: what has no ICMPv4 form is dropped; an error quoting an
/// error too. A long quote is cut to 576 bytes (RFC 1812 4.3.2.3).
#[test]
fn icmpv6_errors_without_translation_are_dropped_and_long_ones_cut() {
    use icmpv6::{
        DestUnreachableCode as D6, ParameterProblemCode as P6, ParameterProblemHeader as PH6,
    };
    with_gateway(ROUTED, |gw| {
        gw.configure(POOL6, false);
        let quoted = client_packet_v6(Quoted::Udp);
        for (what, t) in [
            (
                "unrecognized option",
                Icmpv6Type::ParameterProblem(PH6 {
                    code: P6::UnrecognizedIpv6Option,
                    pointer: 40,
                }),
            ),
            (
                "pointer into the flow label",
                Icmpv6Type::ParameterProblem(PH6 {
                    code: P6::ErroneousHeaderField,
                    pointer: 2,
                }),
            ),
            (
                "source address failed policy",
                Icmpv6Type::DestinationUnreachable(D6::SourceAddressFailedPolicy),
            ),
        ] {
            let input = error6_in(t, &quoted);
            let out = gw.run_counted(&input, "drop_icmp_unsupported");
            assert_eq!(out.ret, TC_ACT_SHOT, "{what}");
        }
        let inner_error = error6_in(
            Icmpv6Type::DestinationUnreachable(D6::Port),
            &error6_in(Icmpv6Type::DestinationUnreachable(D6::NoRoute), &quoted)[ETH_LEN..],
        );
        gw.run_counted(&inner_error, "drop_icmp_error");

        // A 1200-byte quote: 20 + 8 + 548 = 576 bytes of IPv4 error.
        let ip = Ipv6Header {
            traffic_class: 0,
            flow_label: Ipv6FlowLabel::ZERO,
            payload_length: 0,
            next_header: IpNumber::UDP,
            hop_limit: 5,
            source: embed(CLIENT),
            destination: embed(SERVER),
        };
        let mut long = Vec::new();
        PacketBuilder::ip(IpHeaders::Ipv6(ip, Default::default()))
            .udp(40001, 7)
            .write(&mut long, &[0xa5; 1152])
            .unwrap();
        let input = error6_in(Icmpv6Type::DestinationUnreachable(D6::Port), &long);
        let out = gw.run_counted(&input, "xlat64_redirect");
        assert_eq!(out.data.len(), ETH_LEN + 576);
        let check = u16::from_be_bytes([long[46], long[47]]);
        let mut ip4 = Ipv4Header::new(0, 5, IpNumber::UDP, CLIENT, SERVER).unwrap();
        ip4.dont_fragment = false;
        ip4.identification =
            sixgate_wire::xlat::ipv4_identification(CLIENT.into(), SERVER.into(), 17, check);
        let mut full4 = Vec::new();
        PacketBuilder::ip(IpHeaders::Ipv4(ip4, Default::default()))
            .udp(40001, 7)
            .write(&mut full4, &[0xa5; 1152])
            .unwrap();
        let want = error4_out(
            &input,
            Icmpv4Type::DestinationUnreachable(icmpv4::DestUnreachableHeader::Port),
            &full4[..576 - 28],
        );
        assert_frame_eq(&out.data, &want, "cut to 576");
    });
}

/// RFC 6791: an ICMPv6 error from an address without an IPv4 form (an IPv6
/// router) takes a source from the pool4, picked by a hash of the router's
/// address (its words XORed, times 0x9e3779b1, modulo the pool size);
/// without a pool it is dropped.
#[test]
fn icmpv6_errors_from_untranslatable_routers_take_an_rfc6791_source() {
    with_gateway(ROUTED, |gw| {
        gw.configure(POOL6, false);
        let router: std::net::Ipv6Addr = "2001:db8:6::2".parse().unwrap();
        let quoted = client_packet_v6(Quoted::Tcp);
        let mut input = error6_in(Icmpv6Type::PacketTooBig { mtu: 1400 }, &quoted);
        // From the router: new source, and the checksum fixed for it.
        input[ETH_LEN + 8..ETH_LEN + 24].copy_from_slice(&router.octets());
        let icmp = ETH_LEN + 40;
        input[icmp + 2..icmp + 4].fill(0);
        let check = icmpv6_checksum(&router.octets(), &embed(CLIENT), &input[icmp..]);
        input[icmp + 2..icmp + 4].copy_from_slice(&check.to_be_bytes());
        gw.run_counted(&input, "drop_src_not_pool6");

        let pool = [Ipv4Addr::new(203, 0, 113, 1), Ipv4Addr::new(203, 0, 113, 2)];
        gw.dp
            .configure(&sixgate_bpf::SiitParams {
                rfc6791_pool4: pool.to_vec(),
                ..sixgate_bpf::SiitParams::new(
                    POOL6.parse().unwrap(),
                    vec!["198.51.100.0/24".parse().unwrap()],
                )
            })
            .unwrap();
        let out = gw.run_counted(&input, "xlat64_redirect");
        let h = router
            .octets()
            .chunks(4)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
            .fold(0, |a, w| a ^ w)
            .wrapping_mul(0x9e37_79b1);
        let source = pool[h as usize % pool.len()];
        let mut want = error4_out(
            &input,
            Icmpv4Type::DestinationUnreachable(
                icmpv4::DestUnreachableHeader::FragmentationNeeded { next_hop_mtu: 1380 },
            ),
            &client_packet_v4(Quoted::Tcp, &quoted),
        );
        // error4_out sources the error from SERVER; here it is the pool
        // address, and the Identification hashes that source.
        let check = u16::from_be_bytes([input[icmp + 2], input[icmp + 3]]);
        let id = sixgate_wire::xlat::ipv4_identification(source, CLIENT.into(), 1, check);
        want[ETH_LEN + 4..ETH_LEN + 6].copy_from_slice(&id.to_be_bytes());
        want[ETH_LEN + 12..ETH_LEN + 16].copy_from_slice(&source.octets());
        frames::fix_ipv4_checksum(&mut want);
        assert_frame_eq(&out.data, &want, "RFC 6791 source");
    });
}

/// The ICMPv6 checksum of `msg` (checksum field zero) from `src` to `dst`.
fn icmpv6_checksum(src: &[u8; 16], dst: &[u8; 16], msg: &[u8]) -> u16 {
    let pseudo = checksum::pseudo6((*src).into(), (*dst).into(), 58, msg.len() as u32);
    checksum::finish(pseudo + checksum::sum(msg))
}
