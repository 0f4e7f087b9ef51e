//! The exception path (bpf/lib/exception.h) through BPF_PROG_TEST_RUN: what
//! the programs cannot finish leaves for the daemon's device untouched but
//! for `struct exc_meta` over the Ethernet addresses; what they can finish
//! never goes there; the rate limit holds; without an exception path the
//! same packets are dropped by reason (or, fitting the link, sent whole).

mod common;
mod frames;

use std::net::Ipv4Addr;

use common::*;
use frames::*;
use sixgate_bpf::counters::counter_index;
use sixgate_bpf::exception::{ExcMeta, ExceptionParams, MAGIC, VERSION};
use sixgate_wire::Rfc6052Prefix;

const CLIENT: [u8; 4] = [192, 0, 2, 33];
const SERVER: [u8; 4] = [198, 51, 100, 2];
const POOL6: &str = "2001:db8:64::/96";
/// Any interface will do: test_run returns the redirect, it does not do it.
const EXC_IFINDEX: u32 = 1;

fn embed(v4: [u8; 4]) -> [u8; 16] {
    let p: Rfc6052Prefix = POOL6.parse().unwrap();
    p.embed(Ipv4Addr::from(v4)).octets()
}

fn v4(df: bool) -> V4 {
    V4 {
        src: CLIENT,
        dst: SERVER,
        ttl: 64,
        tos: 0,
        df,
        id: 0x4d2,
    }
}

fn v6() -> V6 {
    V6 {
        src: embed(SERVER),
        dst: embed(CLIENT),
        hop_limit: 64,
        tclass: 0,
    }
}

/// With an exception path limited to `rate` packets per second.
fn configure(gw: &mut Gw, lowest_ipv6_mtu: u16, rate: u32, burst: u32) {
    gw.configure_with(POOL6, |p| {
        p.lowest_ipv6_mtu = lowest_ipv6_mtu;
        p.exception = Some(ExceptionParams {
            ifindex: EXC_IFINDEX,
            rate,
            burst,
        });
    });
}

/// `input` as the program hands it off: the metadata over the MAC
/// addresses, every other byte as received.
fn handed_off(input: &[u8], counter: &str, egress_mtu: u16, ingress_ifindex: u32) -> Vec<u8> {
    let mut f = input.to_vec();
    f[..3].copy_from_slice(&MAGIC);
    f[3] = VERSION;
    f[4] = counter_index(counter).expect("a counter") as u8;
    f[5] = 0;
    f[6..8].copy_from_slice(&egress_mtu.to_be_bytes());
    f[8..12].copy_from_slice(&ingress_ifindex.to_be_bytes());
    f
}

fn assert_handed_off(gw: &mut Gw, input: &[u8], counter: &str, egress_mtu: u16) {
    let out = gw.run_counted(input, counter);
    assert_eq!(out.ret, TC_ACT_REDIRECT, "{counter}: verdict");
    assert_frame_eq(
        &out.data,
        &handed_off(input, counter, egress_mtu, gw.ifindex),
        counter,
    );
    let meta = ExcMeta::parse(&out.data).expect("metadata the daemon can read");
    assert_eq!(meta.counter.name, counter);
    assert_eq!(meta.egress_mtu, egress_mtu);
}

/// An IPv4 frame with `options` (a multiple of 4 bytes) in its header.
fn with_options(frame: &[u8], options: &[u8]) -> Vec<u8> {
    let mut f = frame[..ETH_LEN + IPV4_LEN].to_vec();
    f.extend_from_slice(options);
    f.extend_from_slice(&frame[ETH_LEN + IPV4_LEN..]);
    f[ETH_LEN] = 0x40 | ((IPV4_LEN + options.len()) / 4) as u8;
    let tot = (f.len() - ETH_LEN) as u16;
    f[ETH_LEN + 2..ETH_LEN + 4].copy_from_slice(&tot.to_be_bytes());
    fix_ipv4_checksum(&mut f);
    f
}

/// RFC 7915 4.1: an IPv4 packet without DF over lowest-ipv6-mtu once
/// translated is fragmented to it, by the daemon: handed off with
/// lowest-ipv6-mtu as the size to cut to. One that fits, or has DF and
/// fits the link, is translated here as always.
#[test]
fn df_clear_ipv4_over_lowest_ipv6_mtu_goes_to_the_daemon() {
    with_gateway(ROUTED, |gw| {
        configure(gw, 1280, 1_000_000, 1_000_000);
        // 1300 + 8 + 20 = 1328 bytes of IPv4 -> 1348 of IPv6 > 1280.
        let big = ipv4_frame(PEER_MAC, GW_MAC, v4(false), L4::Udp, &payload(1300));
        assert_handed_off(gw, &big, "exception_fragment46", 1280);
        // 1232 + 8 + 20 -> exactly 1280 of IPv6.
        let fits = ipv4_frame(PEER_MAC, GW_MAC, v4(false), L4::Udp, &payload(1232));
        assert_eq!(
            gw.run_counted(&fits, "xlat46_redirect").ret,
            TC_ACT_REDIRECT
        );
        let df = ipv4_frame(PEER_MAC, GW_MAC, v4(true), L4::Udp, &payload(1300));
        assert_eq!(gw.run_counted(&df, "xlat46_redirect").ret, TC_ACT_REDIRECT);

        // An operator who knows the IPv6 paths carry 1500 says so.
        configure(gw, 1500, 1_000_000, 1_000_000);
        assert_eq!(gw.run_counted(&big, "xlat46_redirect").ret, TC_ACT_REDIRECT);
    });
}

/// Without DF and over the egress link's MTU, which is below
/// lowest-ipv6-mtu: handed off with the link's MTU.
#[test]
fn df_clear_ipv4_over_the_egress_link_goes_with_the_link_mtu() {
    const ROUTED_MTU_1400: &[&str] = &[
        "ip link add d0 address 02:00:00:00:00:01 mtu 1400 type veth peer name d1",
        "ip link set d0 up",
        "ip link set d1 up",
        "ip -6 addr add 2001:db8:6::1/64 dev d0 nodad",
        "ip -6 neigh add 2001:db8:6::2 lladdr 02:00:00:00:00:62 dev d0 nud permanent",
        "ip -6 route add 2001:db8::/32 via 2001:db8:6::2 dev d0",
        "sysctl -qw net.ipv6.conf.all.forwarding=1",
    ];
    with_gateway(ROUTED_MTU_1400, |gw| {
        configure(gw, 1500, 1_000_000, 1_000_000);
        // 1400 + 8 + 20 -> 1448 of IPv6 > 1400.
        let big = ipv4_frame(PEER_MAC, GW_MAC, v4(false), L4::Udp, &payload(1400));
        assert_handed_off(gw, &big, "exception_fragment46", 1400);
    });
}

/// RFC 7915 4.1: options are ignored, an unexpired source route answered;
/// the daemon does both, told the MTU of the IPv6 route. Without an
/// exception path they are dropped by that reason.
#[test]
fn ipv4_options_go_to_the_daemon_with_the_route_mtu() {
    with_gateway(ROUTED, |gw| {
        configure(gw, 1280, 1_000_000, 1_000_000);
        let plain = ipv4_frame(PEER_MAC, GW_MAC, v4(true), L4::EchoRequest, &payload(56));
        // Record Route with room for one address (RFC 791), then End.
        let rr = with_options(&plain, &[7, 7, 4, 0, 0, 0, 0, 0]);
        assert_handed_off(gw, &rr, "exception_ipv4_options", 1500);
        let nops = with_options(&plain, &[1, 1, 1, 0]);
        assert_handed_off(gw, &nops, "exception_ipv4_options", 1500);

        gw.configure(POOL6, false);
        let out = gw.run_counted(&rr, "drop_ipv4_options");
        assert_eq!(out.ret, TC_ACT_SHOT);
    });
}

/// RFC 7915 5.1: an IPv6 packet of at most 1280 bytes whose IPv4 form
/// exceeds the egress link is fragmented, by the daemon: handed off with the
/// IPv4 link's MTU. Without an exception path: dropped by that reason.
#[test]
fn small_ipv6_over_the_ipv4_link_goes_to_the_daemon() {
    with_gateway(ROUTED, |gw| {
        configure(gw, 1280, 1_000_000, 1_000_000);
        ipv4_route_mtu(1000);
        // 1100 + 8 + 40 = 1148 bytes of IPv6 -> 1128 of IPv4 > 1000.
        let input = ipv6_frame(PEER_MAC, GW_MAC, v6(), L4::Udp, &payload(1100));
        assert_handed_off(gw, &input, "exception_fragment64", 1000);

        gw.configure(POOL6, false);
        let out = gw.run_counted(&input, "drop_frag_needed");
        assert_eq!(out.ret, TC_ACT_SHOT);
    });
}

/// Without an exception path, an IPv4 packet without DF that the egress
/// link takes is sent whole: better than dropping it for want of cutting.
#[test]
fn without_an_exception_path_df_clear_packets_that_fit_go_whole() {
    with_gateway(ROUTED, |gw| {
        gw.configure(POOL6, false);
        let big = ipv4_frame(PEER_MAC, GW_MAC, v4(false), L4::Udp, &payload(1300));
        assert_eq!(gw.run_counted(&big, "xlat46_redirect").ret, TC_ACT_REDIRECT);
    });
}

/// What hosts send under the path MTU (TCP and ICMP echo with DF, as Linux
/// sends them, UDP either way up to 1232 bytes of payload) is translated in
/// the program, both ways, and never reaches the exception path.
#[test]
fn normal_traffic_never_takes_the_exception_path() {
    with_gateway(ROUTED, |gw| {
        configure(gw, 1280, 1_000_000, 1_000_000);
        for l4 in ALL_L4 {
            for n in [0, 100, 1232, 1400] {
                let df = n > 1232 || l4 != L4::Udp;
                let input = ipv4_frame(PEER_MAC, GW_MAC, v4(df), l4, &payload(n));
                gw.run_counted(&input, "xlat46_redirect");
                let input = ipv6_frame(PEER_MAC, GW_MAC, v6(), l4, &payload(n));
                gw.run_counted(&input, "xlat64_redirect");
            }
        }
    });
}

/// The rate limit: a burst of 1 and 1 packet/s for the whole gateway lets
/// at most one packet per CPU through at once; the rest are dropped and
/// counted as rate-limited.
#[test]
fn the_exception_path_is_rate_limited() {
    with_gateway(ROUTED, |gw| {
        configure(gw, 1280, 1, 1);
        let big = ipv4_frame(PEER_MAC, GW_MAC, v4(false), L4::Udp, &payload(1300));
        let before = gw.counts();
        for _ in 0..20 {
            gw.run(&big);
        }
        let after = gw.counts();
        let delta = |k: &str| after[k] - before[k];
        let cpus = aya::util::online_cpus().unwrap().len() as u64;
        let sent = delta("exception_fragment46");
        assert!(
            (1..=cpus).contains(&sent),
            "{sent} handed off on {cpus} CPUs"
        );
        assert_eq!(delta("drop_exception_rate_limited"), 20 - sent);
    });
}

/// An L3 header in front of `l4`, in a frame: IPv4 (protocol 1) from the
/// client to the server, or IPv6 (next header 58) from the server to the
/// client.
fn error_frame(v4: bool, l4: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&GW_MAC);
    f.extend_from_slice(&PEER_MAC);
    if v4 {
        f.extend_from_slice(&[0x08, 0x00]);
        let tot = (IPV4_LEN + l4.len()) as u16;
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&tot.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0, 64, 1, 0, 0]);
        f.extend_from_slice(&CLIENT);
        f.extend_from_slice(&SERVER);
    } else {
        f.extend_from_slice(&[0x86, 0xdd]);
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        f.extend_from_slice(&[58, 64]);
        f.extend_from_slice(&embed(SERVER));
        f.extend_from_slice(&embed(CLIENT));
    }
    f.extend_from_slice(l4);
    if v4 {
        fix_ipv4_checksum(&mut f);
    }
    f
}

/// RFC 4884 (RFC 7915 4.3, 5.3): an ICMP error whose length attribute
/// says an extension follows the quote goes to the daemon, which pads the
/// quote to the other family's word size and rescales the attribute; one
/// without goes on in the program.
#[test]
fn icmp_errors_with_rfc4884_extensions_go_to_the_daemon() {
    with_gateway(ROUTED, |gw| {
        configure(gw, 1280, 1_000_000, 1_000_000);
        // The quoted packet: 128 bytes of a UDP datagram the other side sent.
        let quoted4 = {
            let f = ipv4_frame(PEER_MAC, GW_MAC, v4(false), L4::Udp, &payload(100));
            let mut q = f[ETH_LEN..].to_vec();
            q[12..16].copy_from_slice(&SERVER);
            q[16..20].copy_from_slice(&CLIENT);
            q
        };
        let quoted6 = {
            let mut h = v6();
            std::mem::swap(&mut h.src, &mut h.dst);
            let f = ipv6_frame(PEER_MAC, GW_MAC, h, L4::Udp, &payload(80));
            f[ETH_LEN..].to_vec()
        };
        let extension = [0x20, 0, 0, 0, 0, 8, 1, 1, 9, 9, 9, 9];
        // Port unreachable, attribute in 32-bit words (ICMPv4 byte 5).
        let mut icmp4 = vec![3, 3, 0, 0, 0, (quoted4.len() / 4) as u8, 0, 0];
        icmp4.extend_from_slice(&quoted4);
        icmp4.extend_from_slice(&extension);
        assert_handed_off(
            gw,
            &error_frame(true, &icmp4),
            "exception_icmp_extension",
            1500,
        );
        // Port unreachable, attribute in 64-bit words (ICMPv6 byte 4).
        let mut icmp6 = vec![1, 4, 0, 0, (quoted6.len() / 8) as u8, 0, 0, 0];
        icmp6.extend_from_slice(&quoted6);
        icmp6.extend_from_slice(&extension);
        assert_handed_off(
            gw,
            &error_frame(false, &icmp6),
            "exception_icmp_extension",
            1500,
        );

        // No attribute: translated in the program (the checksums are not
        // checked by the translator, so they may stay zero here).
        icmp4[5] = 0;
        gw.run_counted(&error_frame(true, &icmp4), "xlat46_redirect");
        icmp6[4] = 0;
        gw.run_counted(&error_frame(false, &icmp6), "xlat64_redirect");
    });
}
