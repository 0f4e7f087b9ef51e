//! IPv4 / IPv6 / Fragment header parsing and emission for the translator.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::proto;
use crate::checksum;

/// IPv4 header length without options.
pub const IPV4_HLEN: usize = 20;
/// IPv6 header length.
pub const IPV6_HLEN: usize = 40;
/// IPv6 Fragment header length.
pub const FRAG_HLEN: usize = 8;

/// The fields of an IPv4 header the translator reads (RFC 791 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Fields {
    /// Header length in bytes (IHL * 4).
    pub hlen: usize,
    pub tos: u8,
    pub total_len: usize,
    pub ident: u16,
    pub df: bool,
    pub mf: bool,
    /// Fragment offset in 8-byte units.
    pub frag_offset: u16,
    pub ttl: u8,
    pub proto: u8,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
}

impl Ipv4Fields {
    /// Reads the header at the start of `b`: version 4, IHL >= 5 and the
    /// whole header present. Length and checksum are the caller's.
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < IPV4_HLEN || b[0] >> 4 != 4 {
            return None;
        }
        let hlen = usize::from(b[0] & 0x0f) * 4;
        if hlen < IPV4_HLEN || hlen > b.len() {
            return None;
        }
        let flags = u16::from_be_bytes([b[6], b[7]]);
        Some(Self {
            hlen,
            tos: b[1],
            total_len: usize::from(u16::from_be_bytes([b[2], b[3]])),
            ident: u16::from_be_bytes([b[4], b[5]]),
            df: flags & 0x4000 != 0,
            mf: flags & 0x2000 != 0,
            frag_offset: flags & 0x1fff,
            ttl: b[8],
            proto: b[9],
            src: Ipv4Addr::new(b[12], b[13], b[14], b[15]),
            dst: Ipv4Addr::new(b[16], b[17], b[18], b[19]),
        })
    }

    /// Whether this is a fragment (MF set or offset non-zero).
    pub fn is_fragment(&self) -> bool {
        self.mf || self.frag_offset != 0
    }
}

/// An IPv4 header to write (no options; the checksum is computed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Out {
    pub tos: u8,
    pub total_len: u16,
    pub ident: u16,
    pub df: bool,
    pub mf: bool,
    pub frag_offset: u16,
    pub ttl: u8,
    pub proto: u8,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
}

impl Ipv4Out {
    /// Appends the 20-byte header with its checksum (RFC 791 3.1).
    pub fn emit(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let flags =
            (u16::from(self.df) << 14) | (u16::from(self.mf) << 13) | (self.frag_offset & 0x1fff);
        out.push(0x45);
        out.push(self.tos);
        out.extend_from_slice(&self.total_len.to_be_bytes());
        out.extend_from_slice(&self.ident.to_be_bytes());
        out.extend_from_slice(&flags.to_be_bytes());
        out.push(self.ttl);
        out.push(self.proto);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.src.octets());
        out.extend_from_slice(&self.dst.octets());
        let c = checksum::finish(checksum::sum(&out[start..]));
        out[start + 10..start + 12].copy_from_slice(&c.to_be_bytes());
    }
}

/// Appends an IPv6 header (RFC 8200 3) with flow label 0.
pub fn emit_ipv6(
    out: &mut Vec<u8>,
    tclass: u8,
    payload_len: u16,
    next_header: u8,
    hop_limit: u8,
    src: Ipv6Addr,
    dst: Ipv6Addr,
) {
    out.push(0x60 | (tclass >> 4));
    out.push(tclass << 4);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&payload_len.to_be_bytes());
    out.push(next_header);
    out.push(hop_limit);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
}

/// Appends an IPv6 Fragment header (RFC 8200 4.5); `offset` in 8-byte units.
pub fn emit_frag6(out: &mut Vec<u8>, next_header: u8, offset: u16, more: bool, ident: u32) {
    out.push(next_header);
    out.push(0);
    out.extend_from_slice(&((offset << 3) | u16::from(more)).to_be_bytes());
    out.extend_from_slice(&ident.to_be_bytes());
}

/// The fields of an IPv6 header the translator reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Fields {
    pub tclass: u8,
    pub payload_len: usize,
    pub next_header: u8,
    pub hop_limit: u8,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
}

impl Ipv6Fields {
    /// Reads the fixed header at the start of `b` (version 6, 40 bytes).
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < IPV6_HLEN || b[0] >> 4 != 6 {
            return None;
        }
        let mut s = [0u8; 16];
        let mut d = [0u8; 16];
        s.copy_from_slice(&b[8..24]);
        d.copy_from_slice(&b[24..40]);
        Some(Self {
            tclass: (b[0] << 4) | (b[1] >> 4),
            payload_len: usize::from(u16::from_be_bytes([b[4], b[5]])),
            next_header: b[6],
            hop_limit: b[7],
            src: Ipv6Addr::from(s),
            dst: Ipv6Addr::from(d),
        })
    }
}

/// An IPv6 Fragment header's contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frag6 {
    /// Offset in 8-byte units.
    pub offset: u16,
    pub more: bool,
    pub ident: u32,
}

/// What follows the IPv6 header once the extension headers are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Chain {
    /// Offset of the upper-layer header from the start of the packet.
    pub l4_off: usize,
    /// The upper-layer protocol (the last Next Header).
    pub proto: u8,
    /// The Fragment header, if any.
    pub frag: Option<Frag6>,
    /// Offset of the Segments Left byte of a Routing header whose Segments
    /// Left is not zero.
    pub segments_left_at: Option<usize>,
}

/// Why an extension header chain could not be walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainError {
    /// A header runs past the data.
    Truncated,
}

/// Walks Hop-by-Hop, Routing, Destination Options and Fragment headers
/// (RFC 8200 4; RFC 7915 5.1 skips them) of the packet `b` (starting with
/// its IPv6 header). Stops after a Fragment header with a non-zero offset
/// (what follows is not a header).
pub fn walk_ipv6_chain(b: &[u8], first: u8) -> Result<Ipv6Chain, ChainError> {
    let mut off = IPV6_HLEN;
    let mut nh = first;
    let mut frag = None;
    let mut segments_left_at = None;
    loop {
        match nh {
            proto::HOPOPTS | proto::ROUTING | proto::DSTOPTS => {
                let h = b.get(off..off + 2).ok_or(ChainError::Truncated)?;
                let len = (usize::from(h[1]) + 1) * 8;
                if b.len() < off + len {
                    return Err(ChainError::Truncated);
                }
                if nh == proto::ROUTING && b[off + 3] != 0 && segments_left_at.is_none() {
                    segments_left_at = Some(off + 3);
                }
                nh = h[0];
                off += len;
            }
            proto::FRAGMENT => {
                let h = b.get(off..off + FRAG_HLEN).ok_or(ChainError::Truncated)?;
                let fo = u16::from_be_bytes([h[2], h[3]]);
                let f = Frag6 {
                    offset: fo >> 3,
                    more: fo & 1 != 0,
                    ident: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                };
                frag = Some(f);
                nh = h[0];
                off += FRAG_HLEN;
                if f.offset != 0 {
                    break;
                }
            }
            _ => break,
        }
    }
    Ok(Ipv6Chain {
        l4_off: off,
        proto: nh,
        frag,
        segments_left_at,
    })
}

/// Offset of the checksum field in a TCP, UDP, ICMP or ICMPv6 header.
pub fn l4_checksum_offset(proto: u8) -> Option<usize> {
    match proto {
        proto::TCP => Some(16),
        proto::UDP => Some(6),
        proto::ICMP | proto::ICMPV6 => Some(2),
        _ => None,
    }
}

/// Reads a big-endian u16 at `off`, if present.
pub fn be16(b: &[u8], off: usize) -> Option<u16> {
    b.get(off..off + 2)
        .map(|w| u16::from_be_bytes([w[0], w[1]]))
}

/// Writes a big-endian u16 at `off`.
pub fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_be_bytes());
}
