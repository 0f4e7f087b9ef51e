//! Packet builders for the conformance vectors. Expected packets are built
//! with etherparse (headers and checksums computed by it, not by the
//! translator) or from explicit bytes.

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{
    IpFragOffset, IpNumber, Ipv4Dscp, Ipv4Ecn, Ipv4Header, Ipv4Options, Ipv6FlowLabel, Ipv6Header,
    TcpHeader, UdpHeader,
};
use sixgate_wire::xlat::{Context, Outcome, XlatConfig};
use sixgate_wire::{validate, Ipv4Prefix};

/// IPv4 client on the IPv4 side.
pub const C4: [u8; 4] = [192, 0, 2, 10];
/// IPv4 form of the IPv6 server (in the served prefix 198.51.100.0/24).
pub const S4: [u8; 4] = [198, 51, 100, 2];
/// A router on the IPv4 side.
pub const R4: [u8; 4] = [203, 0, 113, 1];
/// The gateway's RFC 6791 IPv4 address.
pub const GW4: [u8; 4] = [203, 0, 113, 254];

pub fn v6(s: &str) -> [u8; 16] {
    s.parse::<Ipv6Addr>().unwrap().octets()
}
/// C4 in pool6 2001:db8:64::/96.
pub fn c6() -> [u8; 16] {
    v6("2001:db8:64::c000:20a")
}
/// S4 in pool6.
pub fn s6() -> [u8; 16] {
    v6("2001:db8:64::c633:6402")
}
/// R4 in pool6.
pub fn r6() -> [u8; 16] {
    v6("2001:db8:64::cb00:7101")
}
/// An IPv6 router with no IPv4 form.
pub fn x6() -> [u8; 16] {
    v6("2001:db8:1::1")
}
/// The gateway's RFC 6791 IPv6 address.
pub fn gw6() -> [u8; 16] {
    v6("2001:db8:ffff::1")
}

/// pool6 2001:db8:64::/96, served 198.51.100.0/24, RFC 6791 pools set.
pub fn cfg() -> XlatConfig {
    let mut c = XlatConfig::new("2001:db8:64::/96".parse().unwrap());
    c.ipv4_prefixes = vec!["198.51.100.0/24".parse::<Ipv4Prefix>().unwrap()];
    c.rfc6791_pool4 = vec![Ipv4Addr::from(GW4)];
    c.rfc6791_pool6 = Some(Ipv6Addr::from(gw6()));
    c
}

pub fn ctx(mtu: u32) -> Context {
    Context { egress_mtu: mtu }
}

/// An IPv4 header to build.
#[derive(Clone)]
pub struct V4 {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub ttl: u8,
    pub tos: u8,
    pub id: u16,
    pub df: bool,
    pub mf: bool,
    pub off: u16,
    pub proto: u8,
    pub options: Vec<u8>,
    /// Total length override (for embedded, truncated packets).
    pub total_len: Option<u16>,
}

impl V4 {
    pub fn new(src: [u8; 4], dst: [u8; 4], proto: u8) -> Self {
        Self {
            src,
            dst,
            ttl: 64,
            tos: 0,
            id: 0x1234,
            df: true,
            mf: false,
            off: 0,
            proto,
            options: vec![],
            total_len: None,
        }
    }

    pub fn header(&self, payload_len: usize) -> Vec<u8> {
        let mut h = Ipv4Header::new(
            payload_len as u16,
            self.ttl,
            IpNumber(self.proto),
            self.src,
            self.dst,
        )
        .unwrap();
        h.dscp = Ipv4Dscp::try_new(self.tos >> 2).unwrap();
        h.ecn = Ipv4Ecn::try_new(self.tos & 3).unwrap();
        h.identification = self.id;
        h.dont_fragment = self.df;
        h.more_fragments = self.mf;
        h.fragment_offset = IpFragOffset::try_new(self.off).unwrap();
        h.options = Ipv4Options::try_from(&self.options[..]).unwrap();
        h.total_len = self
            .total_len
            .unwrap_or((h.header_len() + payload_len) as u16);
        h.header_checksum = h.calc_header_checksum();
        h.to_bytes().to_vec()
    }

    pub fn build(&self, payload: &[u8]) -> Vec<u8> {
        let mut out = self.header(payload.len());
        out.extend_from_slice(payload);
        out
    }
}

/// An IPv6 header to build (flow label 0).
#[derive(Clone)]
pub struct V6 {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub hop: u8,
    pub tc: u8,
    pub nh: u8,
    /// Payload length override (for embedded, truncated packets).
    pub payload_len: Option<u16>,
}

impl V6 {
    pub fn new(src: [u8; 16], dst: [u8; 16], nh: u8) -> Self {
        Self {
            src,
            dst,
            hop: 64,
            tc: 0,
            nh,
            payload_len: None,
        }
    }

    pub fn header(&self, payload_len: usize) -> Vec<u8> {
        Ipv6Header {
            traffic_class: self.tc,
            flow_label: Ipv6FlowLabel::try_new(0).unwrap(),
            payload_length: self.payload_len.unwrap_or(payload_len as u16),
            next_header: IpNumber(self.nh),
            hop_limit: self.hop,
            source: self.src,
            destination: self.dst,
        }
        .to_bytes()
        .to_vec()
    }

    pub fn build(&self, payload: &[u8]) -> Vec<u8> {
        let mut out = self.header(payload.len());
        out.extend_from_slice(payload);
        out
    }
}

/// An IPv6 Fragment header; `off` in 8-byte units. Written by hand from
/// RFC 8200 4.5 (offset in the top 13 bits of bytes 2-3, M the lowest bit):
/// etherparse 0.16's `Ipv6FragmentHeader::to_bytes` puts these bits in the
/// wrong places (etherparse issue #150, fixed in 0.20).
pub fn frag6(nh: u8, off: u16, more: bool, id: u32) -> Vec<u8> {
    let mut out = vec![nh, 0];
    out.extend_from_slice(&((off << 3) | u16::from(more)).to_be_bytes());
    out.extend_from_slice(&id.to_be_bytes());
    out
}

/// Pseudo-header addresses for a transport checksum.
#[derive(Clone, Copy)]
pub enum Ps {
    V4([u8; 4], [u8; 4]),
    V6([u8; 16], [u8; 16]),
}

/// A TCP segment (ACK+PSH, seq 1000, ack 2000) with its checksum.
pub fn tcp(sport: u16, dport: u16, payload: &[u8], ps: Ps) -> Vec<u8> {
    let mut t = TcpHeader::new(sport, dport, 1000, 65000);
    t.ack = true;
    t.psh = true;
    t.acknowledgment_number = 2000;
    t.checksum = match ps {
        Ps::V4(s, d) => t.calc_checksum_ipv4_raw(s, d, payload).unwrap(),
        Ps::V6(s, d) => t.calc_checksum_ipv6_raw(s, d, payload).unwrap(),
    };
    let mut out = t.to_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// A UDP datagram with its checksum (or 0 with `ps` = None).
pub fn udp(sport: u16, dport: u16, payload: &[u8], ps: Option<Ps>) -> Vec<u8> {
    let mut u = UdpHeader {
        source_port: sport,
        destination_port: dport,
        length: (8 + payload.len()) as u16,
        checksum: 0,
    };
    u.checksum = match ps {
        Some(Ps::V4(s, d)) => u.calc_checksum_ipv4_raw(s, d, payload).unwrap(),
        Some(Ps::V6(s, d)) => u.calc_checksum_ipv6_raw(s, d, payload).unwrap(),
        None => 0,
    };
    let mut out = u.to_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// An ICMPv4 message (header word `rest` = bytes 4-7) with its checksum.
pub fn icmp4(ty: u8, code: u8, rest: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let h = etherparse::Icmpv4Header::with_checksum(
        etherparse::Icmpv4Type::Unknown {
            type_u8: ty,
            code_u8: code,
            bytes5to8: rest,
        },
        payload,
    );
    let mut out = h.to_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// An ICMPv6 message with its checksum over the pseudo-header.
pub fn icmp6(
    ty: u8,
    code: u8,
    rest: [u8; 4],
    payload: &[u8],
    src: [u8; 16],
    dst: [u8; 16],
) -> Vec<u8> {
    let h = etherparse::Icmpv6Header::with_checksum(
        etherparse::Icmpv6Type::Unknown {
            type_u8: ty,
            code_u8: code,
            bytes5to8: rest,
        },
        src,
        dst,
        payload,
    )
    .unwrap();
    let mut out = h.to_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// The single translated packet of a Forward outcome, checked by the
/// validator.
#[track_caller]
pub fn forward1(o: Outcome) -> Vec<u8> {
    match o {
        Outcome::Forward(mut v) if v.len() == 1 => {
            let p = v.pop().unwrap();
            validate(&p).unwrap_or_else(|e| panic!("invalid output: {e}"));
            p
        }
        other => panic!("expected one forwarded packet, got {other:?}"),
    }
}

/// The packet of a Reply outcome, checked by the validator.
#[track_caller]
pub fn reply(o: Outcome) -> Vec<u8> {
    match o {
        Outcome::Reply(p) => {
            validate(&p).unwrap_or_else(|e| panic!("invalid reply: {e}"));
            p
        }
        other => panic!("expected a reply, got {other:?}"),
    }
}

/// The drop counter name of a Drop outcome.
#[track_caller]
pub fn dropped(o: Outcome) -> &'static str {
    match o {
        Outcome::Drop(r) => r.counter_name(),
        other => panic!("expected a drop, got {other:?}"),
    }
}

/// Bytes as hex lines, for readable assertion failures.
pub fn hex(b: &[u8]) -> String {
    b.chunks(16)
        .map(|c| {
            c.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[track_caller]
pub fn assert_bytes(got: &[u8], want: &[u8]) {
    assert!(
        got == want,
        "bytes differ\n got:\n{}\nwant:\n{}",
        hex(got),
        hex(want)
    );
}

pub fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}
