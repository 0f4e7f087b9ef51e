//! Packet tests: the real tc program through BPF_PROG_TEST_RUN, with whole
//! output frames compared against frames etherparse builds independently.
//! RFC 7915 sections are named where a test checks one.

mod common;
mod frames;

use std::net::{Ipv4Addr, Ipv6Addr};

use common::*;
use frames::*;
use sixgate_wire::rfc6052::vectors::RFC6052_EXAMPLES;
use sixgate_wire::xlat::{
    ipv4_identification, translate, Context, DropReason, Eam, Outcome, XlatConfig,
};
use sixgate_wire::{checksum, Ipv4Prefix, Rfc6052Prefix};

const CLIENT: [u8; 4] = [192, 0, 2, 33];
const SERVER: [u8; 4] = [198, 51, 100, 2];
const POOL6: &str = "2001:db8:64::/96";
/// TOS with DSCP EF and ECN ECT(1): must survive as the traffic class.
const TOS: u8 = 0xb9;

fn embed(prefix: &str, v4: [u8; 4]) -> [u8; 16] {
    let p: Rfc6052Prefix = prefix.parse().unwrap();
    p.embed(Ipv4Addr::from(v4)).octets()
}

fn client_v4(ttl: u8) -> V4 {
    V4 {
        src: CLIENT,
        dst: SERVER,
        ttl,
        tos: TOS,
        df: true,
        id: 0x4d2,
    }
}

fn server_v6(prefix: &str, hop_limit: u8) -> V6 {
    V6 {
        src: embed(prefix, SERVER),
        dst: embed(prefix, CLIENT),
        hop_limit,
        tclass: TOS,
    }
}

/// The IPv4 frame RFC 7915 5.1 says a 6->4 translation of `input` gives.
fn expected_6to4(input: &[u8], l4: L4, pay: &[u8], ttl: u8, macs: ([u8; 6], [u8; 6])) -> Vec<u8> {
    let off = l4_checksum_offset(l4, IPV6_LEN);
    let check = u16::from_be_bytes([input[off], input[off + 1]]);
    let proto = match l4 {
        L4::Tcp => 6,
        L4::Udp => 17,
        L4::EchoRequest | L4::EchoReply => 1,
    };
    let mut v4 = V4 {
        src: SERVER,
        dst: CLIENT,
        ttl,
        tos: TOS,
        df: false,
        id: 0,
    };
    let probe = ipv4_frame(macs.0, macs.1, v4, l4, pay);
    if probe.len() - ETH_LEN > 1260 {
        v4.df = true;
    } else {
        v4.id = ipv4_identification(SERVER.into(), CLIENT.into(), proto, check);
    }
    ipv4_frame(macs.0, macs.1, v4, l4, pay)
}

/// RFC 7915 4.1 + RFC 6052 2.2 for every prefix length, with the RFC 6052
/// 2.4 vectors as the client address: TCP, UDP, echo request and reply.
#[test]
fn translates_4to6_for_every_prefix_length_and_transport() {
    // RFC 7915 Appendix A: the server's IPv6 form with the /40 prefix; the
    // expected destinations below come from the same Rust embedding.
    let (prefix, v4, v6) = RFC6052_EXAMPLES[7];
    assert_eq!(v4.parse::<Ipv4Addr>().unwrap().octets(), SERVER);
    assert_eq!(
        embed(prefix, SERVER),
        v6.parse::<Ipv6Addr>().unwrap().octets()
    );
    with_gateway(ROUTED, |gw| {
        for (prefix, v4, v6) in RFC6052_EXAMPLES.iter().take(6) {
            assert_eq!(*v4, "192.0.2.33");
            gw.configure(prefix, false);
            let src6: Ipv6Addr = v6.parse().unwrap();
            for l4 in ALL_L4 {
                for n in [0, 33] {
                    let pay = payload(n);
                    let input = ipv4_frame(PEER_MAC, GW_MAC, client_v4(64), l4, &pay);
                    let out = gw.run_counted(&input, "xlat46_redirect");
                    assert_eq!(out.ret, TC_ACT_REDIRECT, "{prefix} {l4:?}");
                    let want = ipv6_frame(
                        GW_MAC,
                        V6_NH_MAC,
                        V6 {
                            src: src6.octets(),
                            dst: embed(prefix, SERVER),
                            hop_limit: 63,
                            tclass: TOS,
                        },
                        l4,
                        &pay,
                    );
                    assert_frame_eq(&out.data, &want, &format!("4->6 {prefix} {l4:?} {n}B"));
                }
            }
        }
    });
}

/// RFC 7915 5.1 for every prefix length: the client's IPv6 form (the RFC
/// 6052 2.4 vector) is extracted back to 192.0.2.33.
#[test]
fn translates_6to4_for_every_prefix_length_and_transport() {
    with_gateway(ROUTED, |gw| {
        for (prefix, _, v6) in RFC6052_EXAMPLES.iter().take(6) {
            gw.configure(prefix, false);
            let client6: Ipv6Addr = v6.parse().unwrap();
            for l4 in ALL_L4 {
                for n in [0, 33] {
                    let pay = payload(n);
                    let mut h = server_v6(prefix, 64);
                    h.dst = client6.octets();
                    let input = ipv6_frame(PEER_MAC, GW_MAC, h, l4, &pay);
                    let out = gw.run_counted(&input, "xlat64_redirect");
                    assert_eq!(out.ret, TC_ACT_REDIRECT, "{prefix} {l4:?}");
                    let want = expected_6to4(&input, l4, &pay, 63, (GW_MAC, V4_NH_MAC));
                    assert_frame_eq(&out.data, &want, &format!("6->4 {prefix} {l4:?} {n}B"));
                }
            }
        }
    });
}

/// RFC 7915 4.5: an IPv4 UDP datagram with checksum 0 leaves with a
/// computed checksum, never 0. Sizes cover the 512-byte block loop, the
/// word loop and odd tails.
#[test]
fn udp_zero_checksum_is_computed() {
    with_gateway(ROUTED, |gw| {
        gw.configure(POOL6, false);
        for n in [0, 1, 2, 3, 4, 5, 511, 512, 513, 1027, 1400] {
            let pay = payload(n);
            let mut input = ipv4_frame(PEER_MAC, GW_MAC, client_v4(64), L4::Udp, &pay);
            let off = l4_checksum_offset(L4::Udp, IPV4_LEN);
            input[off] = 0;
            input[off + 1] = 0;
            let out = gw.run_counted(&input, "xlat46_redirect");
            assert_eq!(out.ret, TC_ACT_REDIRECT);
            let want = ipv6_frame(
                GW_MAC,
                V6_NH_MAC,
                V6 {
                    src: embed(POOL6, CLIENT),
                    dst: embed(POOL6, SERVER),
                    hop_limit: 63,
                    tclass: TOS,
                },
                L4::Udp,
                &pay,
            );
            let off6 = l4_checksum_offset(L4::Udp, IPV6_LEN);
            assert_ne!(&want[off6..off6 + 2], &[0, 0]);
            assert_frame_eq(&out.data, &want, &format!("UDP csum 0, {n}B payload"));
        }
    });
}

/// RFC 7915 5.1: DF is set exactly when the IPv4 packet exceeds 1260 bytes;
/// smaller packets get DF=0 and a translator-chosen Identification.
#[test]
fn df_follows_the_1260_byte_rule() {
    with_gateway(ROUTED, |gw| {
        gw.configure(POOL6, false);
        // IPv4 total = 20 + 8 (UDP) + payload.
        for n in [1232, 1233] {
            let pay = payload(n);
            let input = ipv6_frame(PEER_MAC, GW_MAC, server_v6(POOL6, 64), L4::Udp, &pay);
            let out = gw.run_counted(&input, "xlat64_redirect");
            let want = expected_6to4(&input, L4::Udp, &pay, 63, (GW_MAC, V4_NH_MAC));
            let df = want[ETH_LEN + 6] & 0x40 != 0;
            assert_eq!(df, n == 1233, "DF for a {}-byte packet", n + 28);
            assert_frame_eq(&out.data, &want, &format!("{}-byte IPv4", n + 28));
        }
    });
}

/// When the FIB cannot answer, the translated packet goes to the kernel
/// with TTL / hop limit untouched, because the kernel decrements it when
/// forwarding: one decrement end to end either way.
#[test]
fn stack_fallback_leaves_the_decrement_to_the_kernel() {
    with_gateway(UNROUTED, |gw| {
        gw.configure(POOL6, false);
        let pay = payload(20);
        let input = ipv4_frame(PEER_MAC, GW_MAC, client_v4(64), L4::Tcp, &pay);
        let out = gw.run_counted(&input, "xlat46_stack");
        assert_eq!(out.ret, TC_ACT_OK);
        let want = ipv6_frame(
            PEER_MAC,
            GW_MAC,
            V6 {
                src: embed(POOL6, CLIENT),
                dst: embed(POOL6, SERVER),
                hop_limit: 64,
                tclass: TOS,
            },
            L4::Tcp,
            &pay,
        );
        assert_frame_eq(&out.data, &want, "4->6 to the stack");

        let input = ipv6_frame(PEER_MAC, GW_MAC, server_v6(POOL6, 64), L4::Udp, &pay);
        let out = gw.run_counted(&input, "xlat64_stack");
        assert_eq!(out.ret, TC_ACT_OK);
        let want = expected_6to4(&input, L4::Udp, &pay, 64, (PEER_MAC, GW_MAC));
        assert_frame_eq(&out.data, &want, "6->4 to the stack");
    });
}

const ROUTED_MTU_1280: &[&str] = &[
    "ip link add d0 address 02:00:00:00:00:01 mtu 1280 type veth peer name d1",
    "ip link set d0 up",
    "ip link set d1 up",
    "ip -6 addr add 2001:db8:6::1/64 dev d0 nodad",
    "ip -6 neigh add 2001:db8:6::2 lladdr 02:00:00:00:00:62 dev d0 nud permanent",
    "ip -6 route add 2001:db8::/32 via 2001:db8:6::2 dev d0",
    "sysctl -qw net.ipv6.conf.all.forwarding=1",
];

/// RFC 7915 4.1 with RFC 1191: an IPv4 packet with DF set whose IPv6 form
/// exceeds the egress MTU is answered with ICMP Fragmentation Needed
/// (3/4) carrying that MTU less 20, quoting the packet up to 576 bytes,
/// sent back to the client; without DF it needs fragmenting, which without
/// an exception path (tests/exception.rs) means dropped by that reason.
#[test]
fn too_big_ipv4_gets_fragmentation_needed() {
    with_gateway(ROUTED_MTU_1280, |gw| {
        gw.configure(POOL6, false);
        // 1240 + 20 + 8 = 1268 bytes of IPv4 -> 1288 of IPv6 > 1280.
        let input = ipv4_frame(PEER_MAC, GW_MAC, client_v4(64), L4::Udp, &payload(1240));
        let out = gw.run_counted(&input, "icmp_frag_needed_sent");
        assert_eq!(out.ret, TC_ACT_REDIRECT);
        let mut ip =
            etherparse::Ipv4Header::new(0, 64, etherparse::IpNumber::ICMP, SERVER, CLIENT).unwrap();
        ip.dscp = etherparse::Ipv4Dscp::try_new(0xc0 >> 2).unwrap();
        ip.dont_fragment = false;
        let mut want = Vec::new();
        etherparse::PacketBuilder::ethernet2(GW_MAC, PEER_MAC)
            .ip(etherparse::IpHeaders::Ipv4(ip, Default::default()))
            .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded {
                    next_hop_mtu: 1260,
                },
            ))
            .write(&mut want, &input[ETH_LEN..ETH_LEN + 576 - 28])
            .unwrap();
        assert_frame_eq(&out.data, &want, "fragmentation needed");

        let mut no_df = client_v4(64);
        no_df.df = false;
        let input = ipv4_frame(PEER_MAC, GW_MAC, no_df, L4::Udp, &payload(1240));
        assert_dropped(gw, &input, "drop_frag_needed");

        // 1232 + 20 + 8 = 1260 -> 1280: fits.
        let input = ipv4_frame(PEER_MAC, GW_MAC, client_v4(64), L4::Udp, &payload(1232));
        assert_eq!(
            gw.run_counted(&input, "xlat46_redirect").ret,
            TC_ACT_REDIRECT
        );
    });
}

/// RFC 7915 5.1: an IPv6 packet over 1280 bytes whose IPv4 form exceeds the
/// egress MTU gets ICMPv6 Packet Too Big (2/0) with that MTU plus 20, never
/// below 1280 (RFC 8200 5), quoting the packet up to 1280 bytes; one of at
/// most 1280 bytes needs fragmenting: without an exception path
/// (tests/exception.rs), dropped.
#[test]
fn too_big_ipv6_gets_packet_too_big() {
    with_gateway(ROUTED, |gw| {
        gw.configure(POOL6, false);
        let v6 = |n| ipv6_frame(PEER_MAC, GW_MAC, server_v6(POOL6, 64), L4::Udp, &payload(n));
        let ptb = |input: &[u8], mtu| {
            let ip = etherparse::Ipv6Header {
                traffic_class: 0,
                flow_label: etherparse::Ipv6FlowLabel::ZERO,
                payload_length: 0,
                next_header: etherparse::IpNumber::IPV6_ICMP,
                hop_limit: 64,
                source: embed(POOL6, CLIENT),
                destination: embed(POOL6, SERVER),
            };
            let mut want = Vec::new();
            etherparse::PacketBuilder::ethernet2(GW_MAC, PEER_MAC)
                .ip(etherparse::IpHeaders::Ipv6(ip, Default::default()))
                .icmpv6(etherparse::Icmpv6Type::PacketTooBig { mtu })
                .write(
                    &mut want,
                    &input[ETH_LEN..(ETH_LEN + 1280 - 48).min(input.len())],
                )
                .unwrap();
            want
        };

        ipv4_route_mtu(1300);
        // 1352 + 8 + 40 = 1400 bytes of IPv6 -> 1380 of IPv4 > 1300.
        let input = v6(1352);
        let out = gw.run_counted(&input, "icmp6_packet_too_big_sent");
        assert_eq!(out.ret, TC_ACT_REDIRECT);
        assert_frame_eq(&out.data, &ptb(&input, 1320), "packet too big, MTU + 20");
        // 1252 + 8 + 40 = 1300 -> 1280 of IPv4: fits.
        gw.run_counted(&v6(1252), "xlat64_redirect");

        ipv4_route_mtu(1000);
        let input = v6(1352);
        let out = gw.run_counted(&input, "icmp6_packet_too_big_sent");
        assert_frame_eq(
            &out.data,
            &ptb(&input, 1280),
            "packet too big, at least 1280",
        );
        // 1200 bytes of IPv6 -> 1180 > 1000: would need fragmenting.
        assert_dropped(gw, &v6(1152), "drop_frag_needed");
    });
}

/// Runs `frame` and checks it was dropped and counted under `reason`.
fn assert_dropped(gw: &mut Gw, frame: &[u8], reason: &str) {
    let out = gw.run_counted(frame, reason);
    assert_eq!(out.ret, TC_ACT_SHOT, "{reason}: verdict");
}

/// Runs `frame` and checks it went to the kernel untouched under `counter`.
fn assert_passed(gw: &mut Gw, frame: &[u8], counter: &str) {
    let out = gw.run_counted(frame, counter);
    assert_eq!(out.ret, TC_ACT_OK, "{counter}: verdict");
    assert_frame_eq(&out.data, frame, counter);
}

/// What the gateway does not translate yet is dropped by reason, never
/// passed on untranslated; what is not ours passes untouched.
#[test]
fn untranslatable_packets_are_dropped_by_reason() {
    with_gateway(ROUTED, |gw| {
        let v4 = |ttl| ipv4_frame(PEER_MAC, GW_MAC, client_v4(ttl), L4::Tcp, &payload(8));
        let v6 = |l4| ipv6_frame(PEER_MAC, GW_MAC, server_v6(POOL6, 64), l4, &payload(8));

        assert_dropped(gw, &v4(64), "drop_no_config");
        gw.configure(POOL6, false);

        // Not ours.
        let mut arp = v4(64);
        arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        assert_passed(gw, &arp, "pass_not_ip");
        let mut other4 = client_v4(64);
        other4.dst = [203, 0, 113, 9];
        assert_passed(
            gw,
            &ipv4_frame(PEER_MAC, GW_MAC, other4, L4::Tcp, &[]),
            "pass_ipv4_not_served",
        );
        let mut other6 = server_v6(POOL6, 64);
        other6.dst = "2001:db8:6::1".parse::<Ipv6Addr>().unwrap().octets();
        assert_passed(
            gw,
            &ipv6_frame(PEER_MAC, GW_MAC, other6, L4::Tcp, &[]),
            "pass_ipv6_not_pool6",
        );

        // IPv4 side (RFC 7915 4.1).
        assert_dropped(gw, &v4(1), "drop_ttl_expired");
        let mut bad = v4(64);
        bad[ETH_LEN + 10] ^= 0xff;
        assert_dropped(gw, &bad, "drop_ipv4_checksum");
        // Fragments are translated (fragments_are_translated_one_by_one),
        // except ICMP ones: the ICMPv6 checksum covers the whole length.
        let mut icmp_frag = ipv4_frame(PEER_MAC, GW_MAC, client_v4(64), L4::EchoRequest, &[1; 8]);
        icmp_frag[ETH_LEN + 6] = 0x20; // MF, DF off
        fix_ipv4_checksum(&mut icmp_frag);
        assert_dropped(gw, &icmp_frag, "drop_icmp_fragment");
        let mut opts = v4(64);
        opts.splice(ETH_LEN + IPV4_LEN..ETH_LEN + IPV4_LEN, [1, 1, 1, 1]); // 4 NOPs
        opts[ETH_LEN] = 0x46;
        let tot = u16::from_be_bytes([opts[ETH_LEN + 2], opts[ETH_LEN + 3]]) + 4;
        opts[ETH_LEN + 2..ETH_LEN + 4].copy_from_slice(&tot.to_be_bytes());
        fix_ipv4_checksum(&mut opts);
        assert_dropped(gw, &opts, "drop_ipv4_options");
        let mut trunc = v4(64);
        trunc[ETH_LEN + 3] = trunc[ETH_LEN + 3].wrapping_add(40); // tot_len past the frame
        fix_ipv4_checksum(&mut trunc);
        assert_dropped(gw, &trunc, "drop_truncated");
        let mut gre = v4(64);
        gre[ETH_LEN + 9] = 47;
        fix_ipv4_checksum(&mut gre);
        assert_dropped(gw, &gre, "drop_proto_unsupported");
        let mut lo = client_v4(64);
        lo.src = [127, 0, 0, 1];
        assert_dropped(
            gw,
            &ipv4_frame(PEER_MAC, GW_MAC, lo, L4::Tcp, &[]),
            "drop_illegal_source",
        );
        let mut icmp_err = ipv4_frame(
            PEER_MAC,
            GW_MAC,
            client_v4(64),
            L4::EchoRequest,
            &payload(28),
        );
        icmp_err[ETH_LEN + IPV4_LEN] = 3; // destination unreachable
                                          // ... whose quote is not an IPv4 header (tests/icmp_errors.rs has
                                          // the translated ones).
        assert_dropped(gw, &icmp_err, "drop_truncated");
        let mut tstamp = ipv4_frame(
            PEER_MAC,
            GW_MAC,
            client_v4(64),
            L4::EchoRequest,
            &payload(12),
        );
        tstamp[ETH_LEN + IPV4_LEN] = 13; // timestamp: RFC 7915 4.2 drops it
        assert_dropped(gw, &tstamp, "drop_icmp_unsupported");

        // IPv6 side (RFC 7915 5.1).
        let mut h1 = server_v6(POOL6, 1);
        h1.hop_limit = 1;
        assert_dropped(
            gw,
            &ipv6_frame(PEER_MAC, GW_MAC, h1, L4::Tcp, &[]),
            "drop_ttl_expired",
        );
        // An ICMPv6 message in a Fragment header.
        let mut frag6 = v6(L4::EchoRequest);
        frag6[ETH_LEN + 6] = 44;
        let plen = u16::from_be_bytes([frag6[ETH_LEN + 4], frag6[ETH_LEN + 5]]) + 8;
        frag6[ETH_LEN + 4..ETH_LEN + 6].copy_from_slice(&plen.to_be_bytes());
        frag6.splice(
            ETH_LEN + IPV6_LEN..ETH_LEN + IPV6_LEN,
            [58, 0, 0, 1, 0, 0, 0, 7],
        );
        assert_dropped(gw, &frag6, "drop_icmp_fragment");
        // Hop-by-Hop, Destination Options and Routing are skipped
        // (extension_headers_are_skipped); AH is not.
        assert_dropped(
            gw,
            &with_exthdrs(&v6(L4::Tcp), &[(51, 0)]),
            "drop_ipv6_exthdr",
        );
        let mut foreign = server_v6(POOL6, 64);
        foreign.src = "2001:db8:6::2".parse::<Ipv6Addr>().unwrap().octets();
        assert_dropped(
            gw,
            &ipv6_frame(PEER_MAC, GW_MAC, foreign, L4::Tcp, &[]),
            "drop_src_not_pool6",
        );
        let mut unserved = server_v6(POOL6, 64);
        unserved.src = embed(POOL6, [203, 0, 113, 5]);
        assert_dropped(
            gw,
            &ipv6_frame(PEER_MAC, GW_MAC, unserved, L4::Tcp, &[]),
            "drop_src_not_served",
        );
        let mut err6 = v6(L4::EchoRequest);
        err6[ETH_LEN + IPV6_LEN] = 1; // destination unreachable
                                      // ... whose quote is not an IPv6 header (tests/icmp_errors.rs has
                                      // the translated ones).
        assert_dropped(gw, &err6, "drop_truncated");
        let mut ns = v6(L4::EchoRequest);
        ns[ETH_LEN + IPV6_LEN] = 135; // neighbour solicitation: no IPv4 form
        assert_dropped(gw, &ns, "drop_icmp_unsupported");
        let mut trunc6 = v6(L4::Tcp);
        trunc6[ETH_LEN + 5] = trunc6[ETH_LEN + 5].wrapping_add(40);
        assert_dropped(gw, &trunc6, "drop_truncated");
    });
}

/// RFC 6052 3.1: 64:ff9b::/96 must not carry non-global IPv4 addresses
/// (strict by default); the operator can relax it, and then the 2.4
/// vector 64:ff9b::192.0.2.33 is what the client becomes.
#[test]
fn well_known_prefix_rejects_non_global_unless_relaxed() {
    const WKP: &str = "64:ff9b::/96";
    with_gateway(ROUTED, |gw| {
        let pay = payload(10);
        let input = ipv4_frame(PEER_MAC, GW_MAC, client_v4(64), L4::Udp, &pay);
        gw.configure(WKP, false);
        assert_dropped(gw, &input, "drop_wkp_non_global");
        let back = ipv6_frame(PEER_MAC, GW_MAC, server_v6(WKP, 64), L4::Udp, &pay);
        assert_dropped(gw, &back, "drop_wkp_non_global");

        gw.configure(WKP, true);
        let out = gw.run_counted(&input, "xlat46_redirect");
        let (_, _, v6) = RFC6052_EXAMPLES[6];
        let src6: Ipv6Addr = v6.parse().unwrap();
        let want = ipv6_frame(
            GW_MAC,
            V6_NH_MAC,
            V6 {
                src: src6.octets(),
                dst: embed(WKP, SERVER),
                hop_limit: 63,
                tclass: TOS,
            },
            L4::Udp,
            &pay,
        );
        assert_frame_eq(&out.data, &want, "relaxed well-known prefix");
    });
}

/// The config validator's limit on IPv4 prefixes is the map's real size.
#[test]
fn served_prefix_limit_matches_the_map() {
    with_gateway(UNROUTED, |gw| {
        assert_eq!(
            gw.dp.served_v4_max_entries().unwrap(),
            sixgate_bpf::maps::SERVED_V4_MAX_ENTRIES
        );
    });
}

/// A map pinned by another version with another layout is replaced, not
/// reused (aya would reuse it blindly and the program would misread it).
#[test]
fn incompatible_pinned_map_is_replaced() {
    with_gateway(UNROUTED, |gw| {
        let pin = gw.pin.clone();
        let config = pin.join(sixgate_bpf::maps::CONFIG_MAP);
        std::fs::remove_file(&config).unwrap();
        // A one-entry array with a 36-byte value, like an older sixgate_config.
        let made = std::process::Command::new("bpftool")
            .args(["map", "create"])
            .arg(&config)
            .args([
                "type",
                "array",
                "key",
                "4",
                "value",
                "36",
                "entries",
                "1",
                "name",
                "sixgate_config",
            ])
            .status()
            .expect("bpftool");
        assert!(made.success());
        let mut dp = sixgate_bpf::Datapath::load(&pin).expect("load over a stale pin");
        dp.configure(&sixgate_bpf::SiitParams::new(
            POOL6.parse().unwrap(),
            vec!["198.51.100.0/24".parse().unwrap()],
        ))
        .unwrap();
        let info = aya::maps::MapInfo::from_pin(&config).unwrap();
        assert_eq!(
            info.value_size() as usize,
            std::mem::size_of::<sixgate_bpf::maps::SixgateConfig>()
        );
    });
}

/// Reconfiguring replaces the served prefixes: the old one stops being
/// translated, and the pinned map holds exactly the new set.
#[test]
fn reconfiguring_removes_stale_served_prefixes() {
    with_gateway(ROUTED, |gw| {
        gw.configure(POOL6, false);
        let to_server = ipv4_frame(PEER_MAC, GW_MAC, client_v4(64), L4::Udp, &payload(8));
        assert_eq!(
            gw.run_counted(&to_server, "xlat46_redirect").ret,
            TC_ACT_REDIRECT
        );

        gw.dp
            .configure(&sixgate_bpf::SiitParams::new(
                POOL6.parse().unwrap(),
                vec!["203.0.113.0/24".parse().unwrap()],
            ))
            .unwrap();
        let served = sixgate_bpf::pinned::read_served_prefixes(&gw.pin).unwrap();
        assert_eq!(served, vec!["203.0.113.0/24".parse().unwrap()]);
        assert_passed(gw, &to_server, "pass_ipv4_not_served");
    });
}

/// A UDP datagram of `len` payload bytes between `src` and `dst` (4 or 16
/// bytes each), checksum for that family's pseudo-header (RFC 768, 8200).
fn udp_datagram(src: &[u8], dst: &[u8], len: usize) -> Vec<u8> {
    let mut d = vec![0x9c, 0x41, 0x00, 0x07];
    d.extend_from_slice(&((8 + len) as u16).to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend(payload(len));
    let pseudo = checksum::sum(src) + checksum::sum(dst) + 17 + d.len() as u64;
    let c = checksum::finish(pseudo + checksum::sum(&d));
    d[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
    d
}

fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// An IPv4 fragment frame: `part` at byte `offset` of the datagram, MF.
#[allow(clippy::too_many_arguments)] // one per header field the tests vary
fn ipv4_fragment(
    macs: ([u8; 6], [u8; 6]),
    src: [u8; 4],
    dst: [u8; 4],
    ttl: u8,
    id: u16,
    offset: usize,
    mf: bool,
    part: &[u8],
) -> Vec<u8> {
    let mut f = eth(macs.1, macs.0, 0x0800);
    let flags = ((offset / 8) as u16) | if mf { 0x2000 } else { 0 };
    f.extend_from_slice(&[0x45, TOS]);
    f.extend_from_slice(&((20 + part.len()) as u16).to_be_bytes());
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(&flags.to_be_bytes());
    f.extend_from_slice(&[ttl, 17, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(part);
    fix_ipv4_checksum(&mut f);
    f
}

/// An IPv6 frame with a Fragment header (written by hand: etherparse 0.16
/// puts the offset and M in the wrong bits).
#[allow(clippy::too_many_arguments)] // one per header field the tests vary
fn ipv6_fragment(
    macs: ([u8; 6], [u8; 6]),
    src: [u8; 16],
    dst: [u8; 16],
    hop: u8,
    id: u32,
    offset: usize,
    m: bool,
    part: &[u8],
) -> Vec<u8> {
    let mut f = eth(macs.1, macs.0, 0x86dd);
    f.extend_from_slice(&[0x60 | (TOS >> 4), TOS << 4, 0, 0]);
    f.extend_from_slice(&((8 + part.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[44, hop]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&[17, 0]);
    f.extend_from_slice(&(((offset as u16) & !7) | u16::from(m)).to_be_bytes());
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(part);
    f
}

/// RFC 7915 4.1 and 5.1.1: fragments cross one by one, never reassembled.
/// IPv4 -> IPv6 gains a Fragment header (offset, M, the Identification's
/// low 16 bits); IPv6 -> IPv4 moves those into the IPv4 header with DF 0.
/// Only the first fragment holds the UDP header; its checksum changes by
/// the pseudo-header as for a whole datagram; later ones are copied.
#[test]
fn fragments_are_translated_one_by_one() {
    with_gateway(ROUTED, |gw| {
        gw.configure(POOL6, false);
        let (c6, s6) = (embed(POOL6, CLIENT), embed(POOL6, SERVER));
        // 4 -> 6: a 100-byte datagram in two fragments (48 + 60 bytes).
        let d4 = udp_datagram(&CLIENT, &SERVER, 100);
        let d6 = udp_datagram(&c6, &s6, 100);
        for (offset, end, mf) in [(0, 48, true), (48, d4.len(), false)] {
            let input = ipv4_fragment(
                (PEER_MAC, GW_MAC),
                CLIENT,
                SERVER,
                64,
                0xbeef,
                offset,
                mf,
                &d4[offset..end],
            );
            let out = gw.run_counted(&input, "xlat46_redirect");
            let want = ipv6_fragment(
                (GW_MAC, V6_NH_MAC),
                c6,
                s6,
                63,
                0xbeef,
                offset,
                mf,
                &d6[offset..end],
            );
            assert_frame_eq(&out.data, &want, &format!("4->6 fragment at {offset}"));
        }
        // 6 -> 4: the same, the other way.
        let d6 = udp_datagram(&s6, &c6, 100);
        let d4 = udp_datagram(&SERVER, &CLIENT, 100);
        for (offset, end, m) in [(0, 48, true), (48, d6.len(), false)] {
            let input = ipv6_fragment(
                (PEER_MAC, GW_MAC),
                s6,
                c6,
                64,
                0x1234_5678,
                offset,
                m,
                &d6[offset..end],
            );
            let out = gw.run_counted(&input, "xlat64_redirect");
            let want = ipv4_fragment(
                (GW_MAC, V4_NH_MAC),
                SERVER,
                CLIENT,
                63,
                0x5678,
                offset,
                m,
                &d4[offset..end],
            );
            assert_frame_eq(&out.data, &want, &format!("6->4 fragment at {offset}"));
        }
        // A first fragment with UDP checksum 0 cannot get a checksum.
        let mut zero = udp_datagram(&CLIENT, &SERVER, 100);
        zero[6..8].fill(0);
        let input = ipv4_fragment(
            (PEER_MAC, GW_MAC),
            CLIENT,
            SERVER,
            64,
            1,
            0,
            true,
            &zero[..48],
        );
        assert_dropped(gw, &input, "drop_udp_zero_csum_fragment");
    });
}

/// RFC 7915 4.1 (the translator is a router): an IPv4 packet whose TTL
/// expires at the gateway is answered with Time Exceeded (11/0) from the
/// RFC 6791 pool4's first address, quoting it; never about an ICMP error;
/// without a pool it is dropped.
#[test]
fn expiring_ipv4_packets_get_time_exceeded_from_the_pool() {
    with_gateway(ROUTED, |gw| {
        gw.configure(POOL6, false);
        let input = ipv4_frame(PEER_MAC, GW_MAC, client_v4(1), L4::Tcp, &payload(30));
        assert_dropped(gw, &input, "drop_ttl_expired");

        let pool = Ipv4Addr::new(203, 0, 113, 1);
        gw.dp
            .configure(&sixgate_bpf::SiitParams {
                rfc6791_pool4: vec![pool],
                ..sixgate_bpf::SiitParams::new(
                    POOL6.parse().unwrap(),
                    vec!["198.51.100.0/24".parse().unwrap()],
                )
            })
            .unwrap();
        let out = gw.run_counted(&input, "icmp_time_exceeded_sent");
        assert_eq!(out.ret, TC_ACT_REDIRECT);
        let mut ip =
            etherparse::Ipv4Header::new(0, 64, etherparse::IpNumber::ICMP, pool.octets(), CLIENT)
                .unwrap();
        ip.dscp = etherparse::Ipv4Dscp::try_new(0xc0 >> 2).unwrap();
        ip.dont_fragment = false;
        let mut want = Vec::new();
        etherparse::PacketBuilder::ethernet2(GW_MAC, PEER_MAC)
            .ip(etherparse::IpHeaders::Ipv4(ip, Default::default()))
            .icmpv4(etherparse::Icmpv4Type::TimeExceeded(
                etherparse::icmpv4::TimeExceededCode::TtlExceededInTransit,
            ))
            .write(&mut want, &input[ETH_LEN..])
            .unwrap();
        assert_frame_eq(&out.data, &want, "time exceeded");

        // Not about an ICMP error.
        let mut err = ipv4_frame(
            PEER_MAC,
            GW_MAC,
            client_v4(1),
            L4::EchoRequest,
            &payload(28),
        );
        err[ETH_LEN + IPV4_LEN] = 3;
        assert_dropped(gw, &err, "drop_ttl_expired");
    });
}

/// RFC 7915 5.1 (the translator is a router, RFC 8200 3 and 4.4): an IPv6
/// packet whose hop limit expires at the gateway gets Time Exceeded (3/0),
/// one whose Routing header still has Segments Left gets Parameter Problem
/// (4/0) pointing at that byte, both from the RFC 6791 pool6 address and
/// quoting the packet; never about an ICMPv6 error; without a pool6
/// address both are dropped by reason.
#[test]
fn ipv6_gateway_errors_come_from_the_pool6_address() {
    with_gateway(ROUTED, |gw| {
        let pay = payload(30);
        let expiring = ipv6_frame(PEER_MAC, GW_MAC, server_v6(POOL6, 1), L4::Udp, &pay);
        let routed = with_exthdrs(
            &ipv6_frame(PEER_MAC, GW_MAC, server_v6(POOL6, 64), L4::Udp, &pay),
            &[(60, 0), (43, 2)],
        );
        gw.configure(POOL6, false);
        assert_dropped(gw, &expiring, "drop_ttl_expired");
        assert_dropped(gw, &routed, "drop_ipv6_segments_left");

        let pool6: Ipv6Addr = "2001:db8:6::1".parse().unwrap();
        gw.configure_with(POOL6, |p| p.rfc6791_pool6 = Some(pool6));
        let want = |input: &[u8], ty: etherparse::Icmpv6Type| {
            let ip = etherparse::Ipv6Header {
                traffic_class: 0,
                flow_label: etherparse::Ipv6FlowLabel::ZERO,
                payload_length: 0,
                next_header: etherparse::IpNumber::IPV6_ICMP,
                hop_limit: 64,
                source: pool6.octets(),
                destination: embed(POOL6, SERVER),
            };
            let mut want = Vec::new();
            etherparse::PacketBuilder::ethernet2(GW_MAC, PEER_MAC)
                .ip(etherparse::IpHeaders::Ipv6(ip, Default::default()))
                .icmpv6(ty)
                .write(&mut want, &input[ETH_LEN..])
                .unwrap();
            want
        };
        let out = gw.run_counted(&expiring, "icmp6_time_exceeded_sent");
        assert_eq!(out.ret, TC_ACT_REDIRECT);
        assert_frame_eq(
            &out.data,
            &want(
                &expiring,
                etherparse::Icmpv6Type::TimeExceeded(
                    etherparse::icmpv6::TimeExceededCode::HopLimitExceeded,
                ),
            ),
            "time exceeded",
        );
        let out = gw.run_counted(&routed, "icmp6_param_problem_sent");
        assert_eq!(out.ret, TC_ACT_REDIRECT);
        // Segments Left is byte 3 of the Routing header, which follows the
        // 40-byte IPv6 header and an 8-byte Destination Options header.
        assert_frame_eq(
            &out.data,
            &want(
                &routed,
                etherparse::Icmpv6Type::ParameterProblem(
                    etherparse::icmpv6::ParameterProblemHeader {
                        code: etherparse::icmpv6::ParameterProblemCode::ErroneousHeaderField,
                        pointer: 40 + 8 + 3,
                    },
                ),
            ),
            "parameter problem",
        );

        // Not about an ICMPv6 error.
        let mut err = ipv6_frame(PEER_MAC, GW_MAC, server_v6(POOL6, 1), L4::EchoRequest, &pay);
        err[ETH_LEN + IPV6_LEN] = 1;
        assert_dropped(gw, &err, "drop_ttl_expired");
    });
}

/// Inserts extension headers `(type, segments_left)` (8 bytes each) after
/// the IPv6 header of `frame`, fixing Next Header and Payload Length.
fn with_exthdrs(frame: &[u8], headers: &[(u8, u8)]) -> Vec<u8> {
    let ip = ETH_LEN;
    let mut out = frame[..ip + IPV6_LEN].to_vec();
    let mut next = frame[ip + 6];
    let mut chain = Vec::new();
    for &(kind, segments_left) in headers.iter().rev() {
        let mut h = [next, 0, 0, 0, 1, 2, 0, 0]; // PadN covers the rest
        if kind == 43 {
            h[2] = 4; // routing type (any, with nothing left to follow)
            h[3] = segments_left;
        }
        chain.splice(0..0, h);
        next = kind;
    }
    out[ip + 6] = next;
    let plen = u16::from_be_bytes([frame[ip + 4], frame[ip + 5]]) + chain.len() as u16;
    out[ip + 4..ip + 6].copy_from_slice(&plen.to_be_bytes());
    out.extend_from_slice(&chain);
    out.extend_from_slice(&frame[ip + IPV6_LEN..]);
    out
}

/// RFC 7915 5.1: Hop-by-Hop, Destination Options and Routing headers with
/// Segments Left 0 are skipped: the IPv4 packet is the one the plain IPv6
/// packet gives. A Routing header still to be followed is not translated.
#[test]
fn extension_headers_are_skipped() {
    with_gateway(ROUTED, |gw| {
        gw.configure(POOL6, false);
        let pay = payload(33);
        let plain = ipv6_frame(PEER_MAC, GW_MAC, server_v6(POOL6, 64), L4::Udp, &pay);
        let want = expected_6to4(&plain, L4::Udp, &pay, 63, (GW_MAC, V4_NH_MAC));
        for chain in [
            vec![(0, 0)],
            vec![(60, 0)],
            vec![(43, 0)],
            vec![(0, 0), (60, 0), (43, 0), (60, 0)],
        ] {
            let input = with_exthdrs(&plain, &chain);
            let out = gw.run_counted(&input, "xlat64_redirect");
            assert_frame_eq(&out.data, &want, &format!("{chain:?}"));
        }
        assert_dropped(
            gw,
            &with_exthdrs(&plain, &[(43, 2)]),
            "drop_ipv6_segments_left",
        );
        // A Fragment header behind them.
        let input = with_exthdrs(&plain, &[(60, 0), (44, 0)]);
        gw.run_counted(&input, "xlat64_redirect");
        // More than four: not walked further.
        let five = [(0, 0), (60, 0), (43, 0), (60, 0), (60, 0)];
        assert_dropped(gw, &with_exthdrs(&plain, &five), "drop_ipv6_exthdr");
    });
}

// ---- RFC 7757 EAMT and hairpinning ----------------------------------------

/// The EAMs of the tests below (RFC 7757 3.2), all of IPv6 hosts: the
/// server's /25 with unequal suffixes (7 IPv4 bits left-aligned in 16 IPv6
/// bits, so 198.51.100.2 is 2001:db8:46::400), one host inside it (the
/// longest match wins), and a range outside every served prefix with equal
/// suffixes (203.0.113.5 is 2001:db8:cb::5). The IPv4 client has no EAM:
/// its IPv6 form is in pool6.
const EAMS: [(&str, &str); 3] = [
    ("198.51.100.0/25", "2001:db8:46::/112"),
    ("198.51.100.9/32", "2001:db8:99::9/128"),
    ("203.0.113.0/28", "2001:db8:cb::/124"),
];

fn v6(a: &str) -> [u8; 16] {
    a.parse::<Ipv6Addr>().unwrap().octets()
}

/// Programs `pool6`, the served prefix 198.51.100.0/24 and [`EAMS`], and
/// returns the same configuration for the reference translator.
fn configure_eamt(gw: &mut Gw, pool6: &str) -> XlatConfig {
    let served: Ipv4Prefix = "198.51.100.0/24".parse().unwrap();
    let eamt: Vec<Eam> = EAMS
        .iter()
        .map(|(a, b)| Eam::new(a.parse().unwrap(), b.parse().unwrap()).unwrap())
        .collect();
    gw.configure_with(pool6, |p| p.eamt = eamt.clone());
    let mut cfg = XlatConfig::new(pool6.parse().unwrap());
    cfg.ipv4_prefixes = vec![served];
    cfg.eamt = eamt;
    cfg
}

/// What the reference translator does with `frame` (d0's MTU is 1500).
fn reference(cfg: &XlatConfig, frame: &[u8]) -> Outcome {
    translate(&frame[ETH_LEN..], cfg, &Context { egress_mtu: 1500 })
}

/// Asserts that the reference translator forwards `input` as exactly the
/// program's output `out` (both without the Ethernet header).
#[track_caller]
fn assert_reference_forwards(cfg: &XlatConfig, input: &[u8], out: &[u8], what: &str) {
    match reference(cfg, input) {
        Outcome::Forward(p) if p.len() == 1 => assert_frame_eq(
            &out[ETH_LEN..],
            &p[0],
            &format!("{what}: against the reference"),
        ),
        other => panic!("{what}: the reference gives {other:?}"),
    }
}

/// RFC 7757 3.2 / 3.3, 4->6: the EAMT before pool6, the longest match
/// first; the IPv4 suffix left-aligned after the IPv6 prefix; a destination
/// in an EAM is served even outside every served prefix (RFC 7915 4.6).
#[test]
fn eamt_maps_ipv4_addresses_before_pool6() {
    with_gateway(ROUTED, |gw| {
        let cfg = configure_eamt(gw, POOL6);
        let cases = [
            // (source, destination, the destination's IPv6 form)
            (CLIENT, SERVER, v6("2001:db8:46::400")),
            (CLIENT, [198, 51, 100, 9], v6("2001:db8:99::9")),
            (
                CLIENT,
                [198, 51, 100, 200],
                embed(POOL6, [198, 51, 100, 200]),
            ),
            ([192, 0, 2, 77], [203, 0, 113, 5], v6("2001:db8:cb::5")),
        ];
        let pay = payload(21);
        for (src4, dst4, dst6) in cases {
            for l4 in ALL_L4 {
                let h = V4 {
                    src: src4,
                    dst: dst4,
                    ..client_v4(64)
                };
                let input = ipv4_frame(PEER_MAC, GW_MAC, h, l4, &pay);
                let out = gw.run_counted(&input, "xlat46_redirect");
                assert_eq!(out.ret, TC_ACT_REDIRECT);
                let want = ipv6_frame(
                    GW_MAC,
                    V6_NH_MAC,
                    V6 {
                        src: embed(POOL6, src4),
                        dst: dst6,
                        hop_limit: 63,
                        tclass: TOS,
                    },
                    l4,
                    &pay,
                );
                let what = format!("4->6 to {dst4:?} {l4:?}");
                assert_frame_eq(&out.data, &want, &what);
                assert_reference_forwards(&cfg, &input, &out.data, &what);
            }
        }
        // In no EAM (203.0.113.0/28 ends at .15) and no served prefix.
        let h = V4 {
            dst: [203, 0, 113, 16],
            ..client_v4(64)
        };
        let input = ipv4_frame(PEER_MAC, GW_MAC, h, L4::Tcp, &pay);
        assert_passed(gw, &input, "pass_ipv4_not_served");
    });
}

/// RFC 7757 3.2, 6->4: the IPv4 suffix is the first bits of the IPv6
/// suffix, the rest is ignored; an EAM source needs no served prefix, a
/// pool6 source does; a destination in an EAM is ours outside pool6 too.
#[test]
fn eamt_maps_ipv6_addresses_before_pool6() {
    with_gateway(ROUTED, |gw| {
        let cfg = configure_eamt(gw, POOL6);
        let pay = payload(21);
        let from = |src: [u8; 16]| V6 {
            src,
            dst: embed(POOL6, CLIENT),
            hop_limit: 64,
            tclass: TOS,
        };
        for l4 in ALL_L4 {
            // Suffix 0x05ff: its first 7 bits are 2, so 198.51.100.2.
            let input = ipv6_frame(PEER_MAC, GW_MAC, from(v6("2001:db8:46::5ff")), l4, &pay);
            let out = gw.run_counted(&input, "xlat64_redirect");
            assert_eq!(out.ret, TC_ACT_REDIRECT);
            let want = expected_6to4(&input, l4, &pay, 63, (GW_MAC, V4_NH_MAC));
            let what = format!("6->4 {l4:?}");
            assert_frame_eq(&out.data, &want, &what);
            assert_reference_forwards(&cfg, &input, &out.data, &what);
        }
        // 203.0.113.7 is in no served prefix, but it is an EAM address.
        let input = ipv6_frame(PEER_MAC, GW_MAC, from(v6("2001:db8:cb::7")), L4::Udp, &pay);
        let out = gw.run_counted(&input, "xlat64_redirect");
        let ip = ETH_LEN;
        assert_eq!(out.data[ip + 12..ip + 16], [203, 0, 113, 7]);
        assert_eq!(out.data[ip + 16..ip + 20], CLIENT);
        assert_reference_forwards(&cfg, &input, &out.data, "EAM source");
        // The same address by its pool6 form needs a served prefix.
        let h = from(embed(POOL6, [203, 0, 113, 7]));
        let input = ipv6_frame(PEER_MAC, GW_MAC, h, L4::Udp, &pay);
        assert_dropped(gw, &input, "drop_src_not_served");
        assert_eq!(
            reference(&cfg, &input),
            Outcome::Drop(DropReason::SrcNotServed)
        );
        // In no EAM (2001:db8:99::9 is one host) and not in pool6.
        let h = V6 {
            dst: v6("2001:db8:99::a"),
            ..from(v6("2001:db8:46::400"))
        };
        let input = ipv6_frame(PEER_MAC, GW_MAC, h, L4::Udp, &pay);
        assert_passed(gw, &input, "pass_ipv6_not_pool6");
    });
}

/// RFC 6052 3.1 governs pool6 only: with the well-known prefix,
/// documentation (non-global) addresses translate by their EAMs and are
/// dropped by their pool6 forms.
#[test]
fn eam_addresses_are_not_subject_to_the_well_known_prefix_rule() {
    with_gateway(ROUTED, |gw| {
        let cfg = configure_eamt(gw, "64:ff9b::/96");
        let pay = payload(8);
        let h = V4 {
            src: [203, 0, 113, 1],
            ..client_v4(64)
        };
        let input = ipv4_frame(PEER_MAC, GW_MAC, h, L4::Udp, &pay);
        let out = gw.run_counted(&input, "xlat46_redirect");
        let want = ipv6_frame(
            GW_MAC,
            V6_NH_MAC,
            V6 {
                src: v6("2001:db8:cb::1"),
                dst: v6("2001:db8:46::400"),
                hop_limit: 63,
                tclass: TOS,
            },
            L4::Udp,
            &pay,
        );
        assert_frame_eq(&out.data, &want, "EAM addresses with the WKP");
        assert_reference_forwards(&cfg, &input, &out.data, "EAM addresses with the WKP");

        let h = V4 {
            dst: [198, 51, 100, 200],
            ..client_v4(64)
        };
        let input = ipv4_frame(PEER_MAC, GW_MAC, h, L4::Udp, &pay);
        assert_dropped(gw, &input, "drop_wkp_non_global");
        assert_eq!(
            reference(&cfg, &input),
            Outcome::Drop(DropReason::WkpNonGlobal)
        );
        let h = V6 {
            src: v6("2001:db8:46::400"),
            dst: embed("64:ff9b::/96", [192, 0, 2, 77]),
            hop_limit: 64,
            tclass: 0,
        };
        let input = ipv6_frame(PEER_MAC, GW_MAC, h, L4::Udp, &pay);
        assert_dropped(gw, &input, "drop_wkp_non_global");
        assert_eq!(
            reference(&cfg, &input),
            Outcome::Drop(DropReason::WkpNonGlobal)
        );
    });
}

/// An IPv4 packet (L3) from `src` to `dst` carrying `body` as `proto`.
fn ipv4_l3(src: [u8; 4], dst: [u8; 4], proto: u8, body: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0];
    h[2..4].copy_from_slice(&((20 + body.len()) as u16).to_be_bytes());
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    let c = checksum::finish(checksum::sum(&h));
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(body);
    h
}

/// An IPv6 packet (L3) from `src` to `dst` carrying `body` as `proto`.
fn ipv6_l3(src: [u8; 16], dst: [u8; 16], proto: u8, body: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0, 0, 0, proto, 64];
    h[4..6].copy_from_slice(&(body.len() as u16).to_be_bytes());
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(body);
    h
}

/// An ICMP (v4, or v6 when `v6` holds the addresses) error message of
/// `type_code` quoting `quote`, checksum filled in.
fn icmp_error(type_code: [u8; 2], quote: &[u8], v6: Option<([u8; 16], [u8; 16])>) -> Vec<u8> {
    let mut m = vec![type_code[0], type_code[1], 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(quote);
    let pseudo = v6.map_or(0, |(s, d)| {
        checksum::sum(&s) + checksum::sum(&d) + 58 + m.len() as u64
    });
    let c = checksum::finish(pseudo + checksum::sum(&m));
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// RFC 7915 4.3 / 5.3: the packet an ICMP error quotes maps through the
/// EAMT like any other.
#[test]
fn icmp_errors_quote_eam_addresses() {
    with_gateway(ROUTED, |gw| {
        let cfg = configure_eamt(gw, POOL6);
        let (client6, server6) = (embed(POOL6, CLIENT), v6("2001:db8:46::400"));

        // Port unreachable from the IPv4 client about the server's datagram.
        let quoted = ipv4_l3(SERVER, CLIENT, 17, &udp_datagram(&SERVER, &CLIENT, 20));
        let error = ipv4_l3(CLIENT, SERVER, 1, &icmp_error([3, 3], &quoted, None));
        let mut input = eth(GW_MAC, PEER_MAC, 0x0800);
        input.extend_from_slice(&error);
        let out = gw.run_counted(&input, "xlat46_redirect");
        let ip = ETH_LEN;
        assert_eq!(out.data[ip + 8..ip + 24], client6, "outer source");
        assert_eq!(out.data[ip + 24..ip + 40], server6, "outer destination");
        let inner = ip + 48;
        assert_eq!(out.data[inner + 8..inner + 24], server6, "quoted source");
        assert_eq!(
            out.data[inner + 24..inner + 40],
            client6,
            "quoted destination"
        );
        assert_reference_forwards(&cfg, &input, &out.data, "ICMPv4 error");

        // Port unreachable from the IPv6 server about the client's datagram.
        let quoted = ipv6_l3(client6, server6, 17, &udp_datagram(&client6, &server6, 20));
        let msg = icmp_error([1, 4], &quoted, Some((server6, client6)));
        let mut input = eth(GW_MAC, PEER_MAC, 0x86dd);
        input.extend_from_slice(&ipv6_l3(server6, client6, 58, &msg));
        let out = gw.run_counted(&input, "xlat64_redirect");
        assert_eq!(out.data[ip + 12..ip + 16], SERVER, "outer source");
        assert_eq!(out.data[ip + 16..ip + 20], CLIENT, "outer destination");
        let inner = ip + 28;
        assert_eq!(out.data[inner + 12..inner + 16], CLIENT, "quoted source");
        assert_eq!(
            out.data[inner + 16..inner + 20],
            SERVER,
            "quoted destination"
        );
        assert_reference_forwards(&cfg, &input, &out.data, "ICMPv6 error");
    });
}

/// RFC 7757 4.3 hairpinning: an IPv6 packet whose IPv4 destination this
/// gateway serves comes back as IPv6, with the IPv6 forms of its IPv4
/// addresses and the hop limit decremented once; counted as hairpin_*,
/// with the length it arrived with.
#[test]
fn hairpinning_translates_back_to_ipv6() {
    with_gateway(ROUTED, |gw| {
        let cfg = configure_eamt(gw, POOL6);
        let pay = payload(21);
        let cases = [
            // pool6 to pool6 (s5_1::hairpinning)
            (
                embed(POOL6, [198, 51, 100, 200]),
                embed(POOL6, [198, 51, 100, 201]),
                embed(POOL6, [198, 51, 100, 201]),
            ),
            // one EAM host reaching another by its pool6 form gets the
            // peer's EAM address (rfc6052_7757_6791::eamt_hairpinning)
            (
                v6("2001:db8:46::400"),
                embed(POOL6, [198, 51, 100, 9]),
                v6("2001:db8:99::9"),
            ),
            // EAM to EAM, outside every served prefix
            (
                v6("2001:db8:46::400"),
                v6("2001:db8:cb::5"),
                v6("2001:db8:cb::5"),
            ),
        ];
        for (src, dst, dst_out) in cases {
            for l4 in ALL_L4 {
                let h = V6 {
                    src,
                    dst,
                    hop_limit: 64,
                    tclass: TOS,
                };
                let input = ipv6_frame(PEER_MAC, GW_MAC, h, l4, &pay);
                let out = gw.run_counted(&input, "hairpin_redirect");
                assert_eq!(out.ret, TC_ACT_REDIRECT);
                let want = ipv6_frame(
                    GW_MAC,
                    V6_NH_MAC,
                    V6 {
                        dst: dst_out,
                        hop_limit: 63,
                        ..h
                    },
                    l4,
                    &pay,
                );
                let what = format!("hairpin to {:?} {l4:?}", Ipv6Addr::from(dst));
                assert_frame_eq(&out.data, &want, &what);
                assert_reference_forwards(&cfg, &input, &out.data, &what);
            }
        }

        let h = V6 {
            src: v6("2001:db8:46::400"),
            dst: embed(POOL6, [198, 51, 100, 9]),
            hop_limit: 64,
            tclass: TOS,
        };
        let back = V6 {
            dst: v6("2001:db8:99::9"),
            hop_limit: 63,
            ..h
        };
        // UDP checksum 0 (RFC 6935) stays 0 in IPv4 and is computed on the
        // way back (RFC 7915 4.5).
        let mut input = ipv6_frame(PEER_MAC, GW_MAC, h, L4::Udp, &pay);
        let off = l4_checksum_offset(L4::Udp, IPV6_LEN);
        input[off..off + 2].copy_from_slice(&[0, 0]);
        let before = gw.dp.counters().unwrap();
        let out = gw.run_counted(&input, "hairpin_redirect");
        let want = ipv6_frame(GW_MAC, V6_NH_MAC, back, L4::Udp, &pay);
        assert_frame_eq(&out.data, &want, "hairpin, UDP checksum 0");
        assert_reference_forwards(&cfg, &input, &out.data, "hairpin, UDP checksum 0");
        let bytes = |c: &[sixgate_bpf::CounterValue]| {
            c.iter()
                .find(|c| c.counter.name == "hairpin_redirect")
                .unwrap()
                .bytes
        };
        let after = gw.dp.counters().unwrap();
        assert_eq!(bytes(&after) - bytes(&before), input.len() as u64);

        // An ICMPv6 error goes through both error translations.
        let quoted = ipv6_l3(back.dst, h.src, 17, &udp_datagram(&back.dst, &h.src, 20));
        let quoted = {
            // As the peer sent it: to our pool6 form of it, from its EAM form.
            let mut q = quoted;
            q[8..24].copy_from_slice(&h.dst);
            q[24..40].copy_from_slice(&h.src);
            q
        };
        let msg = icmp_error([1, 4], &quoted, Some((h.src, h.dst)));
        let mut input = eth(GW_MAC, PEER_MAC, 0x86dd);
        input.extend_from_slice(&ipv6_l3(h.src, h.dst, 58, &msg));
        let out = gw.run_counted(&input, "hairpin_redirect");
        assert_reference_forwards(&cfg, &input, &out.data, "hairpinned ICMPv6 error");

        // Too big for the link once back in IPv6: no ICMPv4 error can reach
        // an IPv6 source, so it is dropped.
        let input = ipv6_frame(PEER_MAC, GW_MAC, h, L4::Udp, &payload(1500));
        assert_dropped(gw, &input, "drop_frag_needed");
        assert_eq!(
            reference(&cfg, &input),
            Outcome::Drop(DropReason::FragNeeded)
        );
    });
}

/// A hairpinned packet the FIB cannot route goes to the kernel with the
/// hop limit untouched, as any translated packet does.
#[test]
fn hairpinning_to_the_stack_leaves_the_decrement_to_the_kernel() {
    with_gateway(UNROUTED, |gw| {
        configure_eamt(gw, POOL6);
        let pay = payload(20);
        let h = V6 {
            src: v6("2001:db8:46::400"),
            dst: embed(POOL6, [198, 51, 100, 9]),
            hop_limit: 64,
            tclass: TOS,
        };
        let input = ipv6_frame(PEER_MAC, GW_MAC, h, L4::Tcp, &pay);
        let out = gw.run_counted(&input, "hairpin_stack");
        assert_eq!(out.ret, TC_ACT_OK);
        let want = ipv6_frame(
            PEER_MAC,
            GW_MAC,
            V6 {
                dst: v6("2001:db8:99::9"),
                ..h
            },
            L4::Tcp,
            &pay,
        );
        assert_frame_eq(&out.data, &want, "hairpin to the stack");
    });
}

/// Reconfiguring replaces the EAMT: an EAM no longer configured stops
/// being translated, and the pinned maps hold exactly the new set.
#[test]
fn reconfiguring_replaces_the_eamt() {
    with_gateway(ROUTED, |gw| {
        configure_eamt(gw, POOL6);
        let mut want: Vec<Eam> = EAMS
            .iter()
            .map(|(a, b)| Eam::new(a.parse().unwrap(), b.parse().unwrap()).unwrap())
            .collect();
        want.sort_by_key(|e| (e.ipv4, e.ipv6.addr(), e.ipv6.len()));
        assert_eq!(sixgate_bpf::pinned::read_eamt(&gw.pin).unwrap(), want);
        let h = V4 {
            dst: [203, 0, 113, 5],
            ..client_v4(64)
        };
        let input = ipv4_frame(PEER_MAC, GW_MAC, h, L4::Udp, &payload(8));
        assert_eq!(
            gw.run_counted(&input, "xlat46_redirect").ret,
            TC_ACT_REDIRECT
        );

        gw.configure(POOL6, false);
        assert!(sixgate_bpf::pinned::read_eamt(&gw.pin).unwrap().is_empty());
        let flags = sixgate_bpf::pinned::read_config(&gw.pin).unwrap().flags;
        assert_eq!(flags & sixgate_bpf::maps::CFG_EAMT, 0);
        assert_passed(gw, &input, "pass_ipv4_not_served");
    });
}

/// RFC 4443 2.4 (f), RFC 1812 4.3.2.8: the ICMP errors the gateway sends
/// itself are rate-limited. With 1 per second and a burst of 1 for the
/// whole gateway, at most one per CPU goes out of a quick run of 20; the
/// rest are dropped and counted.
#[test]
fn the_gateways_own_icmp_errors_are_rate_limited() {
    with_gateway(ROUTED, |gw| {
        gw.configure_with(POOL6, |p| {
            p.rfc6791_pool6 = Some("2001:db8:6::1".parse().unwrap());
            p.icmp_errors = Some(sixgate_bpf::ratelimit::RateLimit { rate: 1, burst: 1 });
        });
        let expiring = ipv6_frame(PEER_MAC, GW_MAC, server_v6(POOL6, 1), L4::Udp, &payload(40));
        let before = gw.counts();
        for _ in 0..20 {
            gw.run(&expiring);
        }
        let after = gw.counts();
        let delta = |k: &str| after[k] - before[k];
        let cpus = u64::from(sixgate_bpf::ratelimit::online_cpus().unwrap());
        let sent = delta("icmp6_time_exceeded_sent");
        assert!((1..=cpus).contains(&sent), "{sent} sent on {cpus} CPUs");
        assert_eq!(delta("drop_icmp_rate_limited"), 20 - sent);
    });
}
