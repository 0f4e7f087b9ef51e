//! Packet tests of the NAT46 service path: the real tc program through
//! BPF_PROG_TEST_RUN, programmed through `Nat46Maps`, with whole output
//! frames compared against frames etherparse builds independently.

mod common;
mod frames;

use std::net::{Ipv4Addr, SocketAddrV6};
use std::time::Duration;

use common::*;
use etherparse::{IpNumber, Ipv4Header, Ipv6FlowLabel, Ipv6Header, PacketBuilder};
use frames::{assert_frame_eq, fix_ipv4_checksum, ETH_LEN};
use sixgate_bpf::maps::{Ct4Key, CtState};
use sixgate_bpf::nat46::{
    flow_hash, monotonic_now_ns, CtTimeouts, Nat46Maps, Nat46Params, Protocol, ServiceProgram,
    SourceMode,
};
use sixgate_wire::xlat::ipv4_identification;
use sixgate_wire::{Ipv4Prefix, Rfc6052Prefix};

const CLIENT: [u8; 4] = [192, 0, 2, 33];
const VIP: [u8; 4] = [198, 51, 100, 80];
const VIP_PORT: u16 = 80;
const PRESERVE: &str = "2001:db8:46::/96";
const SNAT: &str = "2001:db8:6::46";
/// Backends sit behind the IPv6 next hop of `ROUTED` (2001:db8::/32).
const BACKEND_A: &str = "[2001:db8:a::10]:8080";
const BACKEND_B: &str = "[2001:db8:b::10]:8081";
const TOS: u8 = 0xb9;
const SEED: u32 = 0x5eed;

/// The IPv4 header fields a frame varies.
#[derive(Debug, Clone, Copy)]
struct Ip4 {
    ttl: u8,
    id: u16,
    df: bool,
}

const CLIENT_DF: Ip4 = Ip4 {
    ttl: 64,
    id: 7,
    df: true,
};
const CLIENT_NO_DF: Ip4 = Ip4 {
    ttl: 64,
    id: 7,
    df: false,
};

#[derive(Debug, Clone, Copy)]
enum Seg {
    Syn,
    SynAck,
    Ack,
    Fin,
    Rst,
    Udp,
}

fn tcp_flags(
    b: etherparse::PacketBuilderStep<etherparse::TcpHeader>,
    seg: Seg,
) -> etherparse::PacketBuilderStep<etherparse::TcpHeader> {
    match seg {
        Seg::Syn => b.syn(),
        Seg::SynAck => b.syn().ack(1),
        Seg::Ack => b.ack(1),
        Seg::Fin => b.fin().ack(1),
        Seg::Rst => b.rst(),
        Seg::Udp => unreachable!(),
    }
}

/// A client -> VIP frame (or, with `v4` as the reply's addresses, any IPv4 frame).
fn v4_frame(
    macs: ([u8; 6], [u8; 6]),
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    ip: Ip4,
    seg: Seg,
    pay: &[u8],
) -> Vec<u8> {
    let Ip4 { ttl, id, df } = ip;
    let mut ip = Ipv4Header::new(0, ttl, IpNumber::TCP, src.0, dst.0).unwrap();
    ip.dscp = etherparse::Ipv4Dscp::try_new(TOS >> 2).unwrap();
    ip.ecn = etherparse::Ipv4Ecn::try_new(TOS & 3).unwrap();
    ip.identification = id;
    ip.dont_fragment = df;
    let b = PacketBuilder::ethernet2(macs.0, macs.1)
        .ip(etherparse::IpHeaders::Ipv4(ip, Default::default()));
    let mut out = Vec::new();
    match seg {
        Seg::Udp => b.udp(src.1, dst.1).write(&mut out, pay),
        _ => tcp_flags(b.tcp(src.1, dst.1, 1000, 64240), seg).write(&mut out, pay),
    }
    .unwrap();
    out
}

fn v6_frame(
    macs: ([u8; 6], [u8; 6]),
    src: SocketAddrV6,
    dst: SocketAddrV6,
    hop_limit: u8,
    seg: Seg,
    pay: &[u8],
) -> Vec<u8> {
    let ip = Ipv6Header {
        traffic_class: TOS,
        flow_label: Ipv6FlowLabel::ZERO,
        payload_length: 0,
        next_header: IpNumber::TCP,
        hop_limit,
        source: src.ip().octets(),
        destination: dst.ip().octets(),
    };
    let b = PacketBuilder::ethernet2(macs.0, macs.1)
        .ip(etherparse::IpHeaders::Ipv6(ip, Default::default()));
    let mut out = Vec::new();
    match seg {
        Seg::Udp => b.udp(src.port(), dst.port()).write(&mut out, pay),
        _ => tcp_flags(b.tcp(src.port(), dst.port(), 1000, 64240), seg).write(&mut out, pay),
    }
    .unwrap();
    out
}

fn sa6(s: &str) -> SocketAddrV6 {
    s.parse().unwrap()
}

fn preserve_addr(client: [u8; 4], port: u16) -> SocketAddrV6 {
    let p: Rfc6052Prefix = PRESERVE.parse().unwrap();
    SocketAddrV6::new(p.embed(Ipv4Addr::from(client)), port, 0, 0)
}

fn params(ports: (u16, u16)) -> Nat46Params {
    Nat46Params {
        snat_addresses: vec![SNAT.parse().unwrap()],
        snat_ports: ports,
        preserve_prefix: Some(PRESERVE.parse().unwrap()),
        hash_seed: SEED,
        timeouts: CtTimeouts::default(),
    }
}

/// The gateway of `common` with SIIT configured and NAT46 settings written.
fn nat46(gw: &mut Gw, p: &Nat46Params) -> Nat46Maps {
    gw.configure("2001:db8:64::/96", false);
    let mut maps = Nat46Maps::open(&gw.pin).expect("open NAT46 maps");
    maps.configure(p).expect("configure NAT46");
    maps.set_enabled(true).expect("enable NAT46");
    maps
}

fn service<'a>(
    protocol: Protocol,
    mode: SourceMode,
    backends: &'a [SocketAddrV6],
    table: &'a [u32],
    ranges: &'a [Ipv4Prefix],
) -> ServiceProgram<'a> {
    ServiceProgram {
        vip: VIP.into(),
        port: VIP_PORT,
        protocol,
        mode,
        source_ranges: ranges,
        backends,
        table,
    }
}

fn svc_count(maps: &Nat46Maps, id: u32, name: &str) -> u64 {
    maps.service_counters(id)
        .unwrap()
        .into_iter()
        .find(|c| c.counter.name == name)
        .unwrap_or_else(|| panic!("no service counter {name}"))
        .packets
}

/// The IPv4 reply RFC 7915 5.1 gives for an IPv6 reply frame `input`.
fn expected_reply(input: &[u8], client_port: u16, seg: Seg, pay: &[u8]) -> Vec<u8> {
    let proto = if matches!(seg, Seg::Udp) { 17 } else { 6 };
    let off = ETH_LEN + 40 + if proto == 6 { 16 } else { 6 };
    let check = u16::from_be_bytes([input[off], input[off + 1]]);
    let id = ipv4_identification(VIP.into(), CLIENT.into(), proto, check);
    v4_frame(
        (GW_MAC, V4_NH_MAC),
        (VIP, VIP_PORT),
        (CLIENT, client_port),
        Ip4 {
            ttl: 63,
            id,
            df: false,
        },
        seg,
        pay,
    )
}

/// "preserve": the backend sees preserve_prefix + client IPv4 and the
/// client's port; its reply becomes VIP:port -> client. Both directions
/// compared byte for byte, each counted once globally and per service.
#[test]
fn preserve_mode_keeps_the_client_visible_both_ways() {
    with_gateway(ROUTED, |gw| {
        let mut maps = nat46(gw, &params((40000, 40100)));
        let backends = [sa6(BACKEND_A)];
        let id = maps
            .upsert(&service(
                Protocol::Tcp,
                SourceMode::Preserve,
                &backends,
                &[0; 7],
                &[],
            ))
            .unwrap();
        let pay = b"GET / HTTP/1.1\r\n\r\n";
        for (seg, reply) in [(Seg::Syn, Seg::SynAck), (Seg::Ack, Seg::Ack)] {
            let input = v4_frame(
                (PEER_MAC, GW_MAC),
                (CLIENT, 50123),
                (VIP, VIP_PORT),
                CLIENT_DF,
                seg,
                pay,
            );
            let out = gw.run_counted(&input, "nat46_fwd_redirect");
            assert_eq!(out.ret, TC_ACT_REDIRECT);
            let source = preserve_addr(CLIENT, 50123);
            let want = v6_frame((GW_MAC, V6_NH_MAC), source, backends[0], 63, seg, pay);
            assert_frame_eq(&out.data, &want, &format!("client {seg:?} -> backend"));

            let input = v6_frame((PEER_MAC, GW_MAC), backends[0], source, 64, reply, pay);
            let out = gw.run_counted(&input, "nat46_reply_redirect");
            assert_eq!(out.ret, TC_ACT_REDIRECT);
            let want = expected_reply(&input, 50123, reply, pay);
            assert_frame_eq(&out.data, &want, &format!("backend {reply:?} -> client"));
        }
        assert_eq!(svc_count(&maps, id, "forward"), 2);
        assert_eq!(svc_count(&maps, id, "reply"), 2);
        assert_eq!(svc_count(&maps, id, "new_flow"), 1);
        let flows = maps.flows(10).unwrap();
        assert_eq!(flows.len(), 1);
        assert_eq!(flows[0].state(), Some(CtState::TcpEstablished));
        assert_eq!(flows[0].backend(), backends[0]);
        assert_eq!(flows[0].source(), preserve_addr(CLIENT, 50123));
    });
}

/// "gateway": the source is the SNAT address and an allocated port (a
/// one-port pool makes it predictable). UDP checksum 0 is filled in after
/// the port rewrite. A second flow to the same backend finds no free port:
/// dropped and counted, globally and for the service.
#[test]
fn gateway_mode_allocates_source_ports_and_counts_exhaustion() {
    with_gateway(ROUTED, |gw| {
        let mut maps = nat46(gw, &params((40000, 40000)));
        let backends = [sa6(BACKEND_B)];
        let id = maps
            .upsert(&service(
                Protocol::Udp,
                SourceMode::Gateway,
                &backends,
                &[0; 5],
                &[],
            ))
            .unwrap();
        let snat = SocketAddrV6::new(SNAT.parse().unwrap(), 40000, 0, 0);
        let pay = b"hello";
        for zero_checksum in [false, true] {
            let client_port = if zero_checksum { 5001 } else { 5000 };
            let mut input = v4_frame(
                (PEER_MAC, GW_MAC),
                (CLIENT, client_port),
                (VIP, VIP_PORT),
                CLIENT_NO_DF,
                Seg::Udp,
                pay,
            );
            if zero_checksum {
                let off = ETH_LEN + 20 + 6;
                input[off..off + 2].copy_from_slice(&[0, 0]);
            }
            if zero_checksum {
                // The one port is taken by the first flow.
                let out = gw.run_counted(&input, "drop_snat_ports_exhausted");
                assert_eq!(out.ret, TC_ACT_SHOT);
                assert_eq!(svc_count(&maps, id, "drop_snat_ports_exhausted"), 1);
                // Free it: the first flow ends (sweep with a clock far ahead).
                let far = monotonic_now_ns() + Duration::from_secs(3600).as_nanos() as u64;
                let swept = maps.sweep(far).unwrap();
                assert_eq!((swept.ct4_removed, swept.ct6_removed), (1, 1));
            }
            let out = gw.run_counted(&input, "nat46_fwd_redirect");
            assert_eq!(out.ret, TC_ACT_REDIRECT);
            let want = v6_frame((GW_MAC, V6_NH_MAC), snat, backends[0], 63, Seg::Udp, pay);
            assert_frame_eq(
                &out.data,
                &want,
                &format!("udp zero checksum {zero_checksum}"),
            );

            let input = v6_frame((PEER_MAC, GW_MAC), backends[0], snat, 64, Seg::Udp, pay);
            let out = gw.run_counted(&input, "nat46_reply_redirect");
            let want = expected_reply(&input, client_port, Seg::Udp, pay);
            assert_frame_eq(&out.data, &want, "udp reply");
        }
        assert_eq!(svc_count(&maps, id, "new_flow"), 2);
    });
}

/// Maglev in the data path: the flow hash of the Rust mirror picks the
/// slot, and the slot's backend is where each new flow goes.
#[test]
fn new_flows_follow_the_maglev_table() {
    with_gateway(ROUTED, |gw| {
        let mut maps = nat46(gw, &params((40000, 40100)));
        let backends = [sa6(BACKEND_A), sa6(BACKEND_B)];
        let table: Vec<u32> = [0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1].to_vec();
        maps.upsert(&service(
            Protocol::Tcp,
            SourceMode::Preserve,
            &backends,
            &table,
            &[],
        ))
        .unwrap();
        let mut seen = [0; 2];
        for client_port in 41000..41040u16 {
            let key = Ct4Key {
                client: CLIENT,
                vip: VIP,
                client_port: client_port.to_be_bytes(),
                vip_port: VIP_PORT.to_be_bytes(),
                proto: 6,
                pad: [0; 3],
            };
            let want_backend = backends[table[(flow_hash(&key, SEED) % 13) as usize] as usize];
            let input = v4_frame(
                (PEER_MAC, GW_MAC),
                (CLIENT, client_port),
                (VIP, VIP_PORT),
                CLIENT_DF,
                Seg::Syn,
                &[],
            );
            let out = gw.run_counted(&input, "nat46_fwd_redirect");
            let want = v6_frame(
                (GW_MAC, V6_NH_MAC),
                preserve_addr(CLIENT, client_port),
                want_backend,
                63,
                Seg::Syn,
                &[],
            );
            assert_frame_eq(&out.data, &want, &format!("client port {client_port}"));
            seen[usize::from(want_backend == backends[1])] += 1;
        }
        assert!(seen[0] > 0 && seen[1] > 0, "both backends picked: {seen:?}");
    });
}

/// A flow stays on its backend when the table changes under it (drain,
/// removal); new flows follow the new table; the old table's slot counts
/// read back from the kernel.
#[test]
fn tracked_flows_stay_pinned_across_table_swaps() {
    with_gateway(ROUTED, |gw| {
        let mut maps = nat46(gw, &params((40000, 40100)));
        let a_only = [sa6(BACKEND_A)];
        maps.upsert(&service(
            Protocol::Tcp,
            SourceMode::Preserve,
            &a_only,
            &[0; 11],
            &[],
        ))
        .unwrap();
        let counts = maps
            .slot_counts(VIP.into(), VIP_PORT, Protocol::Tcp)
            .unwrap()
            .unwrap();
        assert_eq!(
            counts.into_iter().collect::<Vec<_>>(),
            vec![(a_only[0], 11)]
        );

        let syn = |port| {
            v4_frame(
                (PEER_MAC, GW_MAC),
                (CLIENT, port),
                (VIP, VIP_PORT),
                CLIENT_DF,
                Seg::Syn,
                &[],
            )
        };
        let ack = |port| {
            v4_frame(
                (PEER_MAC, GW_MAC),
                (CLIENT, port),
                (VIP, VIP_PORT),
                CLIENT_DF,
                Seg::Ack,
                &[],
            )
        };
        let out = gw.run(&syn(42000));
        assert_frame_eq(
            &out.data,
            &v6_frame(
                (GW_MAC, V6_NH_MAC),
                preserve_addr(CLIENT, 42000),
                a_only[0],
                63,
                Seg::Syn,
                &[],
            ),
            "before",
        );

        // A drained (weight 0) A: the table now names only B.
        let both = [sa6(BACKEND_A), sa6(BACKEND_B)];
        maps.upsert(&service(
            Protocol::Tcp,
            SourceMode::Preserve,
            &both,
            &[1; 11],
            &[],
        ))
        .unwrap();
        let counts = maps
            .slot_counts(VIP.into(), VIP_PORT, Protocol::Tcp)
            .unwrap()
            .unwrap();
        assert_eq!(counts.into_iter().collect::<Vec<_>>(), vec![(both[1], 11)]);
        let out = gw.run(&ack(42000));
        assert_frame_eq(
            &out.data,
            &v6_frame(
                (GW_MAC, V6_NH_MAC),
                preserve_addr(CLIENT, 42000),
                both[0],
                63,
                Seg::Ack,
                &[],
            ),
            "old flow after the swap",
        );
        let out = gw.run(&syn(42001));
        assert_frame_eq(
            &out.data,
            &v6_frame(
                (GW_MAC, V6_NH_MAC),
                preserve_addr(CLIENT, 42001),
                both[1],
                63,
                Seg::Syn,
                &[],
            ),
            "new flow after the swap",
        );

        // A removed altogether: its flow still reaches it.
        let b_only = [sa6(BACKEND_B)];
        maps.upsert(&service(
            Protocol::Tcp,
            SourceMode::Preserve,
            &b_only,
            &[0; 11],
            &[],
        ))
        .unwrap();
        let out = gw.run(&ack(42000));
        assert_frame_eq(
            &out.data,
            &v6_frame(
                (GW_MAC, V6_NH_MAC),
                preserve_addr(CLIENT, 42000),
                both[0],
                63,
                Seg::Ack,
                &[],
            ),
            "old flow after removal",
        );

        // That connection closes and the client opens a new one from the
        // same port: a new flow, which no longer reaches the removed A.
        let fin = v4_frame(
            (PEER_MAC, GW_MAC),
            (CLIENT, 42000),
            (VIP, VIP_PORT),
            CLIENT_DF,
            Seg::Fin,
            &[],
        );
        gw.run(&fin);
        let out = gw.run(&syn(42000));
        assert_frame_eq(
            &out.data,
            &v6_frame(
                (GW_MAC, V6_NH_MAC),
                preserve_addr(CLIENT, 42000),
                b_only[0],
                63,
                Seg::Syn,
                &[],
            ),
            "a new connection on a reused port after removal",
        );
    });
}

/// loadBalancerSourceRanges: a client outside the ranges is dropped and
/// counted (globally and per service); inside, it gets through.
#[test]
fn source_ranges_admit_only_their_clients() {
    with_gateway(ROUTED, |gw| {
        let mut maps = nat46(gw, &params((40000, 40100)));
        let backends = [sa6(BACKEND_A)];
        let other: Vec<Ipv4Prefix> = vec!["203.0.113.0/24".parse().unwrap()];
        let id = maps
            .upsert(&service(
                Protocol::Tcp,
                SourceMode::Preserve,
                &backends,
                &[0; 7],
                &other,
            ))
            .unwrap();
        let input = v4_frame(
            (PEER_MAC, GW_MAC),
            (CLIENT, 43000),
            (VIP, VIP_PORT),
            CLIENT_DF,
            Seg::Syn,
            &[],
        );
        let out = gw.run_counted(&input, "drop_svc_source_range");
        assert_eq!(out.ret, TC_ACT_SHOT);
        assert_eq!(svc_count(&maps, id, "drop_source_range"), 1);

        let mine: Vec<Ipv4Prefix> = vec![
            "203.0.113.0/24".parse().unwrap(),
            "192.0.2.32/28".parse().unwrap(),
        ];
        let same_id = maps
            .upsert(&service(
                Protocol::Tcp,
                SourceMode::Preserve,
                &backends,
                &[0; 7],
                &mine,
            ))
            .unwrap();
        assert_eq!(same_id, id);
        gw.run_counted(&input, "nat46_fwd_redirect");

        // Ranges removed again: everyone is let in, the LPM entries go.
        maps.upsert(&service(
            Protocol::Tcp,
            SourceMode::Preserve,
            &backends,
            &[0; 7],
            &[],
        ))
        .unwrap();
        let from_elsewhere = v4_frame(
            (PEER_MAC, GW_MAC),
            ([192, 0, 2, 34], 43000),
            (VIP, VIP_PORT),
            CLIENT_DF,
            Seg::Syn,
            &[],
        );
        gw.run_counted(&from_elsewhere, "nat46_fwd_redirect");
    });
}

/// TCP state tracking decides the timeout: SYN, answer, FIN, RST. An
/// expired flow is a new flow; a reply to it is stale and dropped.
#[test]
fn tcp_states_and_expiry() {
    with_gateway(ROUTED, |gw| {
        let mut p = params((40000, 40100));
        let mut maps = nat46(gw, &p);
        let backends = [sa6(BACKEND_A)];
        let id = maps
            .upsert(&service(
                Protocol::Tcp,
                SourceMode::Preserve,
                &backends,
                &[0; 7],
                &[],
            ))
            .unwrap();
        let source = preserve_addr(CLIENT, 44000);
        let fwd = |seg| {
            v4_frame(
                (PEER_MAC, GW_MAC),
                (CLIENT, 44000),
                (VIP, VIP_PORT),
                CLIENT_DF,
                seg,
                &[],
            )
        };
        let back = |seg| v6_frame((PEER_MAC, GW_MAC), backends[0], source, 64, seg, &[]);
        let state = |maps: &Nat46Maps| maps.flows(1).unwrap()[0].state();

        gw.run(&fwd(Seg::Syn));
        assert_eq!(state(&maps), Some(CtState::TcpSynSent));
        gw.run(&back(Seg::SynAck));
        assert_eq!(state(&maps), Some(CtState::TcpEstablished));
        gw.run(&fwd(Seg::Fin));
        assert_eq!(state(&maps), Some(CtState::TcpClosing));
        gw.run(&back(Seg::Rst));
        assert_eq!(state(&maps), Some(CtState::TcpReset));
        assert_eq!(svc_count(&maps, id, "new_flow"), 1);

        // Reset flows time out after 1 ns: the next packet is a new flow
        // and the reply to the old one would be stale.
        p.timeouts.tcp_reset = Duration::from_nanos(1);
        maps.configure(&p).unwrap();
        gw.run_counted(&fwd(Seg::Syn), "nat46_fwd_redirect");
        assert_eq!(svc_count(&maps, id, "new_flow"), 2);
        assert_eq!(state(&maps), Some(CtState::TcpSynSent));

        p.timeouts.tcp_syn = Duration::from_nanos(1);
        maps.configure(&p).unwrap();
        std::thread::sleep(Duration::from_millis(2));
        gw.run_counted(&back(Seg::SynAck), "drop_ct_stale");
        assert_eq!(svc_count(&maps, id, "drop_other"), 1);
        let swept = maps.sweep(monotonic_now_ns()).unwrap();
        assert_eq!((swept.ct4_removed, swept.ct6_removed), (1, 1));
        assert!(maps.flows(10).unwrap().is_empty());
        // With both entries gone the reply is no longer the gateway's
        // business: not in pool6, passed.
        gw.run_counted(&back(Seg::SynAck), "pass_ipv6_not_pool6");
    });
}

/// A service without a table (every backend drained, or none) drops new
/// flows with a reason; other ports of the VIP and other VIPs are not the
/// service path's business; removing the service ends the lookup.
#[test]
fn services_without_backends_drop_and_others_pass() {
    with_gateway(ROUTED, |gw| {
        let mut maps = nat46(gw, &params((40000, 40100)));
        let id = maps
            .upsert(&service(Protocol::Tcp, SourceMode::Gateway, &[], &[], &[]))
            .unwrap();
        let syn = |dport, proto_udp: bool| {
            let seg = if proto_udp { Seg::Udp } else { Seg::Syn };
            v4_frame(
                (PEER_MAC, GW_MAC),
                (CLIENT, 45000),
                ([198, 51, 100, 81], dport),
                CLIENT_DF,
                seg,
                &[],
            )
        };
        let mut to_vip = v4_frame(
            (PEER_MAC, GW_MAC),
            (CLIENT, 45000),
            (VIP, VIP_PORT),
            CLIENT_DF,
            Seg::Syn,
            &[],
        );
        gw.run_counted(&to_vip, "drop_svc_no_backend");
        assert_eq!(svc_count(&maps, id, "drop_no_backend"), 1);

        // Same VIP, UDP: no such service, so SIIT translates it (the VIP is
        // inside the served 198.51.100.0/24).
        gw.run_counted(&syn(80, true), "xlat46_redirect");
        // Another port of the VIP's network: SIIT as well.
        gw.run_counted(&syn(443, false), "xlat46_redirect");

        assert!(maps.remove(VIP.into(), VIP_PORT, Protocol::Tcp).unwrap());
        assert!(!maps.remove(VIP.into(), VIP_PORT, Protocol::Tcp).unwrap());
        gw.run_counted(&to_vip, "xlat46_redirect");
        // With the bit off the data path skips the lookup entirely.
        maps.set_enabled(false).unwrap();
        to_vip[ETH_LEN + 8] = 64;
        fix_ipv4_checksum(&mut to_vip);
        gw.run_counted(&to_vip, "xlat46_redirect");
    });
}

/// Reprogramming SIIT (as a restart does) keeps the NAT46 switch on.
#[test]
fn siit_reconfiguration_keeps_services_on() {
    with_gateway(ROUTED, |gw| {
        let mut maps = nat46(gw, &params((40000, 40100)));
        let backends = [sa6(BACKEND_A)];
        maps.upsert(&service(
            Protocol::Tcp,
            SourceMode::Preserve,
            &backends,
            &[0; 7],
            &[],
        ))
        .unwrap();
        gw.configure("2001:db8:64::/96", false);
        let input = v4_frame(
            (PEER_MAC, GW_MAC),
            (CLIENT, 46000),
            (VIP, VIP_PORT),
            CLIENT_DF,
            Seg::Syn,
            &[],
        );
        gw.run_counted(&input, "nat46_fwd_redirect");
    });
}
