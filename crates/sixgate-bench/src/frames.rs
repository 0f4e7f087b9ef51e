//! Ethernet frames for the packet generator and the test_run
//! micro-benchmarks, built with etherparse (checksums included).

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::PacketBuilder;

/// Ethernet header length.
pub const ETH_HLEN: usize = 14;
/// IPv4 header length without options.
pub const IPV4_HLEN: usize = 20;
/// IPv6 header length.
pub const IPV6_HLEN: usize = 40;
/// UDP header length.
pub const UDP_HLEN: usize = 8;
/// TCP header length without options.
pub const TCP_HLEN: usize = 20;
/// Offset of the UDP checksum in a frame carrying IPv4 without options.
const UDP4_CSUM_OFFSET: usize = ETH_HLEN + IPV4_HLEN + 6;

/// Source and destination MAC addresses of a frame.
#[derive(Debug, Clone, Copy)]
pub struct Macs {
    /// Sender.
    pub src: [u8; 6],
    /// Receiver.
    pub dst: [u8; 6],
}

/// The addresses of a frame, which also pick its IP version.
#[derive(Debug, Clone, Copy)]
enum Ips {
    V4(Ipv4Addr, Ipv4Addr),
    V6(Ipv6Addr, Ipv6Addr),
}

/// UDP, or a TCP ACK segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Udp,
    TcpAck,
}

/// A frame of `frame_len` bytes (or the smallest the headers allow), with
/// valid checksums.
fn build(macs: Macs, ips: Ips, l4: Transport, ports: (u16, u16), frame_len: usize) -> Vec<u8> {
    let ip_len = match ips {
        Ips::V4(..) => IPV4_HLEN,
        Ips::V6(..) => IPV6_HLEN,
    };
    let (l4_len, fill) = match l4 {
        Transport::Udp => (UDP_HLEN, 0u8),
        Transport::TcpAck => (TCP_HLEN, 0x5a),
    };
    let payload = vec![fill; frame_len.saturating_sub(ETH_HLEN + ip_len + l4_len)];
    let eth = PacketBuilder::ethernet2(macs.src, macs.dst);
    let ip = match ips {
        Ips::V4(src, dst) => eth.ipv4(src.octets(), dst.octets(), 64),
        Ips::V6(src, dst) => eth.ipv6(src.octets(), dst.octets(), 64),
    };
    let mut out = Vec::with_capacity(frame_len);
    match l4 {
        Transport::Udp => ip.udp(ports.0, ports.1).write(&mut out, &payload),
        Transport::TcpAck => ip
            .tcp(ports.0, ports.1, 1000, 65000)
            .ack(2000)
            .write(&mut out, &payload),
    }
    .expect("write to a Vec");
    out
}

/// An IPv4 UDP frame of `frame_len` bytes (at least 42), valid checksum.
pub fn udp4(
    macs: Macs,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ports: (u16, u16),
    frame_len: usize,
) -> Vec<u8> {
    build(macs, Ips::V4(src, dst), Transport::Udp, ports, frame_len)
}

/// An IPv4 frame with `options` (a multiple of 4 bytes) put into its header:
/// a packet the translator's programs hand to the exception path.
pub fn with_ipv4_options(frame: &[u8], options: &[u8]) -> Vec<u8> {
    assert!(
        options.len().is_multiple_of(4),
        "options pad to 32-bit words"
    );
    let hlen = IPV4_HLEN + options.len();
    let mut f = frame[..ETH_HLEN + IPV4_HLEN].to_vec();
    f.extend_from_slice(options);
    f.extend_from_slice(&frame[ETH_HLEN + IPV4_HLEN..]);
    f[ETH_HLEN] = 0x40 | (hlen / 4) as u8;
    let tot = (f.len() - ETH_HLEN) as u16;
    f[ETH_HLEN + 2..ETH_HLEN + 4].copy_from_slice(&tot.to_be_bytes());
    f[ETH_HLEN + 10..ETH_HLEN + 12].fill(0);
    let c =
        sixgate_wire::checksum::finish(sixgate_wire::checksum::sum(&f[ETH_HLEN..ETH_HLEN + hlen]));
    f[ETH_HLEN + 10..ETH_HLEN + 12].copy_from_slice(&c.to_be_bytes());
    f
}

/// The same as [`udp4`] with the UDP checksum 0 ("not computed", RFC 768),
/// which a translator must compute itself (RFC 7915 4.5).
pub fn udp4_zero_csum(
    macs: Macs,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ports: (u16, u16),
    frame_len: usize,
) -> Vec<u8> {
    let mut f = udp4(macs, src, dst, ports, frame_len);
    f[UDP4_CSUM_OFFSET..UDP4_CSUM_OFFSET + 2].fill(0);
    f
}

/// An IPv6 UDP frame of `frame_len` bytes (at least 62), valid checksum.
pub fn udp6(
    macs: Macs,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    ports: (u16, u16),
    frame_len: usize,
) -> Vec<u8> {
    build(macs, Ips::V6(src, dst), Transport::Udp, ports, frame_len)
}

/// An IPv4 TCP ACK segment frame of `frame_len` bytes (at least 54).
pub fn tcp4(
    macs: Macs,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ports: (u16, u16),
    frame_len: usize,
) -> Vec<u8> {
    build(macs, Ips::V4(src, dst), Transport::TcpAck, ports, frame_len)
}

/// An IPv6 TCP ACK segment frame of `frame_len` bytes (at least 74).
pub fn tcp6(
    macs: Macs,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    ports: (u16, u16),
    frame_len: usize,
) -> Vec<u8> {
    build(macs, Ips::V6(src, dst), Transport::TcpAck, ports, frame_len)
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.trim().split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    const MACS: Macs = Macs {
        src: [2, 0, 0, 0, 0, 1],
        dst: [2, 0, 0, 0, 0, 2],
    };

    #[test]
    fn frames_have_the_asked_length_and_parse() {
        let a4 = Ipv4Addr::new(192, 0, 2, 10);
        let b4 = Ipv4Addr::new(198, 51, 100, 2);
        let a6: Ipv6Addr = "2001:db8:64::c633:6402".parse().unwrap();
        let b6: Ipv6Addr = "2001:db8:64::c000:20a".parse().unwrap();
        for f in [
            udp4(MACS, a4, b4, (1, 2), 64),
            udp6(MACS, a6, b6, (1, 2), 64),
            tcp4(MACS, a4, b4, (1, 2), 64),
            tcp6(MACS, a6, b6, (1, 2), 80),
            udp4(MACS, a4, b4, (1, 2), 1514),
        ] {
            assert!(
                f.len() == 64 || f.len() == 80 || f.len() == 1514,
                "{}",
                f.len()
            );
            let p = SlicedPacket::from_ethernet(&f).unwrap();
            assert!(p.net.is_some() && p.transport.is_some());
        }
    }

    #[test]
    fn zero_checksum_is_zero() {
        let f = udp4_zero_csum(
            MACS,
            Ipv4Addr::new(192, 0, 2, 10),
            Ipv4Addr::new(198, 51, 100, 2),
            (1, 2),
            64,
        );
        let p = SlicedPacket::from_ethernet(&f).unwrap();
        assert!(matches!(p.net, Some(NetSlice::Ipv4(_))));
        match p.transport {
            Some(TransportSlice::Udp(u)) => assert_eq!(u.checksum(), 0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn macs_parse() {
        assert_eq!(
            parse_mac("5e:06:44:0e:b9:8a"),
            Some([0x5e, 0x06, 0x44, 0x0e, 0xb9, 0x8a])
        );
        assert_eq!(parse_mac("5e:06:44:0e:b9"), None);
        assert_eq!(parse_mac("5e:06:44:0e:b9:8a:00"), None);
        assert_eq!(parse_mac("zz:06:44:0e:b9:8a"), None);
    }
}
