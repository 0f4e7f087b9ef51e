//! Frames for the packet tests, built with etherparse (which computes every
//! checksum itself, independently of the code under test).
#![allow(dead_code)]

use etherparse::{
    IpHeaders, IpNumber, Ipv4Dscp, Ipv4Ecn, Ipv4Header, Ipv6FlowLabel, Ipv6Header, PacketBuilder,
};

/// Transport of a test packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4 {
    Tcp,
    Udp,
    EchoRequest,
    EchoReply,
}

pub const ALL_L4: [L4; 4] = [L4::Tcp, L4::Udp, L4::EchoRequest, L4::EchoReply];

pub const ETH_LEN: usize = 14;
pub const IPV4_LEN: usize = 20;
pub const IPV6_LEN: usize = 40;

/// IPv4 header fields a test controls.
#[derive(Debug, Clone, Copy)]
pub struct V4 {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub ttl: u8,
    pub tos: u8,
    pub df: bool,
    pub id: u16,
}

/// IPv6 header fields a test controls.
#[derive(Debug, Clone, Copy)]
pub struct V6 {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub hop_limit: u8,
    pub tclass: u8,
}

fn finish(
    eth_src: [u8; 6],
    eth_dst: [u8; 6],
    ip: IpHeaders,
    l4: L4,
    payload: &[u8],
    v6: bool,
) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(eth_src, eth_dst).ip(ip);
    let mut out = Vec::new();
    match (l4, v6) {
        (L4::Tcp, _) => b
            .tcp(40000, 80, 0x0102_0304, 64240)
            .ack(0x0a0b_0c0d)
            .psh()
            .write(&mut out, payload),
        (L4::Udp, _) => b.udp(40001, 7).write(&mut out, payload),
        (L4::EchoRequest, false) => b.icmpv4_echo_request(0x1234, 7).write(&mut out, payload),
        (L4::EchoReply, false) => b.icmpv4_echo_reply(0x1234, 7).write(&mut out, payload),
        (L4::EchoRequest, true) => b.icmpv6_echo_request(0x1234, 7).write(&mut out, payload),
        (L4::EchoReply, true) => b.icmpv6_echo_reply(0x1234, 7).write(&mut out, payload),
    }
    .expect("build frame");
    out
}

pub fn ipv4_frame(eth_src: [u8; 6], eth_dst: [u8; 6], h: V4, l4: L4, payload: &[u8]) -> Vec<u8> {
    let mut ip = Ipv4Header::new(0, h.ttl, IpNumber::TCP, h.src, h.dst).unwrap();
    ip.dscp = Ipv4Dscp::try_new(h.tos >> 2).unwrap();
    ip.ecn = Ipv4Ecn::try_new(h.tos & 3).unwrap();
    ip.dont_fragment = h.df;
    ip.identification = h.id;
    finish(
        eth_src,
        eth_dst,
        IpHeaders::Ipv4(ip, Default::default()),
        l4,
        payload,
        false,
    )
}

pub fn ipv6_frame(eth_src: [u8; 6], eth_dst: [u8; 6], h: V6, l4: L4, payload: &[u8]) -> Vec<u8> {
    let ip = Ipv6Header {
        traffic_class: h.tclass,
        flow_label: Ipv6FlowLabel::ZERO,
        payload_length: 0,
        next_header: IpNumber::TCP,
        hop_limit: h.hop_limit,
        source: h.src,
        destination: h.dst,
    };
    finish(
        eth_src,
        eth_dst,
        IpHeaders::Ipv6(ip, Default::default()),
        l4,
        payload,
        true,
    )
}

/// Offset of the transport checksum in a frame with an IP header of `ip_len`.
pub fn l4_checksum_offset(l4: L4, ip_len: usize) -> usize {
    ETH_LEN
        + ip_len
        + match l4 {
            L4::Tcp => 16,
            L4::Udp => 6,
            L4::EchoRequest | L4::EchoReply => 2,
        }
}

/// Recomputes the IPv4 header checksum of a frame after a test edited it.
pub fn fix_ipv4_checksum(frame: &mut [u8]) {
    let ihl = usize::from(frame[ETH_LEN] & 0x0f) * 4;
    frame[ETH_LEN + 10] = 0;
    frame[ETH_LEN + 11] = 0;
    let mut sum: u32 = 0;
    for w in frame[ETH_LEN..ETH_LEN + ihl].chunks(2) {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let c = !(sum as u16);
    frame[ETH_LEN + 10..ETH_LEN + 12].copy_from_slice(&c.to_be_bytes());
}

/// A payload of `n` bytes that is not all one value.
pub fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Asserts two frames are byte-identical, printing both in hex if not.
#[track_caller]
pub fn assert_frame_eq(got: &[u8], want: &[u8], what: &str) {
    assert!(
        got == want,
        "{what}: frames differ\n got:  {}\n want: {}",
        hex(got),
        hex(want)
    );
}
