//! ICMP errors the gateway itself sends back to a packet's source, in the
//! packet's family: Time Exceeded, Fragmentation Needed / Packet Too Big,
//! Source Route Failed, Parameter Problem.
//!
//! Layout (a choice; RFC 7915 leaves it open; the eBPF data path,
//! bpf/lib/icmp_reply.h, builds the same bytes): ICMPv4 errors have IPv4
//! header TOS 0xc0 (precedence "internetwork control") , Identification 0,
//! DF=0, TTL 64, as Linux sends its own, and quote as much of the offending
//! datagram as received as keeps the whole error within 576 bytes (RFC 1812
//! 4.3.2.3). ICMPv6 errors have Traffic Class 0, flow label 0, hop limit 64,
//! and quote as much of the offending packet as keeps the error within 1280
//! bytes (RFC 4443 2.4 (c)).
//!
//! Sources ([`ReplySource`]): "too big" errors come from the offending
//! packet's destination, answering for the path towards it, which needs no
//! address of the translator's own (path MTU discovery matches them by the
//! quote); Time Exceeded, Source Route Failed and Parameter Problem come
//! from `rfc6791_pool4[0]` / `rfc6791_pool6`, so that traceroute shows the
//! gateway, and without one the packet is dropped with the error's reason.

use super::header::{emit_ipv6, Ipv4Out, IPV4_HLEN, IPV6_HLEN};
use super::{proto, DropReason, Outcome, XlatConfig};
use crate::checksum;

/// Hop limit / TTL of the errors the gateway sends.
pub const REPLY_HOP_LIMIT: u8 = 64;
/// RFC 1812 4.3.2.3: an ICMPv4 error is at most 576 bytes.
pub const ICMP4_ERROR_MAX: usize = 576;
/// RFC 4443 2.4 (c): an ICMPv6 error is at most 1280 bytes.
pub const ICMP6_ERROR_MAX: usize = 1280;

/// Where an error the gateway sends comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplySource {
    /// The RFC 6791 pool's first address (dropped without one).
    Pool,
    /// The offending packet's destination.
    Destination,
}

/// TOS of the ICMPv4 errors the gateway sends (IPTOS_PREC_INTERNETCONTROL).
pub const REPLY_TOS: u8 = 0xc0;

/// An ICMPv4 error of `ty`/`code` with `field` as bytes 4-7 about `orig`
/// (an IPv4 packet, as received), sent to its source.
pub fn icmp4(
    cfg: &XlatConfig,
    orig: &[u8],
    ty: u8,
    code: u8,
    field: [u8; 4],
    from: ReplySource,
    why: DropReason,
) -> Outcome {
    let src = match from {
        ReplySource::Destination => std::net::Ipv4Addr::new(orig[16], orig[17], orig[18], orig[19]),
        ReplySource::Pool => match cfg.rfc6791_pool4.first() {
            Some(&a) => a,
            None => return Outcome::Drop(why),
        },
    };
    let dst = std::net::Ipv4Addr::new(orig[12], orig[13], orig[14], orig[15]);
    let quote = &orig[..orig.len().min(ICMP4_ERROR_MAX - IPV4_HLEN - 8)];
    let mut msg = vec![ty, code, 0, 0];
    msg.extend_from_slice(&field);
    msg.extend_from_slice(quote);
    let c = checksum::finish(checksum::sum(&msg));
    msg[2..4].copy_from_slice(&c.to_be_bytes());
    let mut out = Vec::with_capacity(IPV4_HLEN + msg.len());
    Ipv4Out {
        tos: REPLY_TOS,
        total_len: (IPV4_HLEN + msg.len()) as u16,
        ident: 0,
        df: false,
        mf: false,
        frag_offset: 0,
        ttl: REPLY_HOP_LIMIT,
        proto: proto::ICMP,
        src,
        dst,
    }
    .emit(&mut out);
    out.extend_from_slice(&msg);
    Outcome::Reply(out)
}

/// An ICMPv6 error of `ty`/`code` with `field` as bytes 4-7 about `orig`
/// (an IPv6 packet, as received), sent to its source.
pub fn icmp6(
    cfg: &XlatConfig,
    orig: &[u8],
    ty: u8,
    code: u8,
    field: [u8; 4],
    from: ReplySource,
    why: DropReason,
) -> Outcome {
    let src = match from {
        ReplySource::Destination => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&orig[24..40]);
            std::net::Ipv6Addr::from(a)
        }
        ReplySource::Pool => match cfg.rfc6791_pool6 {
            Some(a) => a,
            None => return Outcome::Drop(why),
        },
    };
    let mut d = [0u8; 16];
    d.copy_from_slice(&orig[8..24]);
    let dst = std::net::Ipv6Addr::from(d);
    let quote = &orig[..orig.len().min(ICMP6_ERROR_MAX - IPV6_HLEN - 8)];
    let mut msg = vec![ty, code, 0, 0];
    msg.extend_from_slice(&field);
    msg.extend_from_slice(quote);
    let s = checksum::pseudo6(src, dst, proto::ICMPV6, msg.len() as u32) + checksum::sum(&msg);
    msg[2..4].copy_from_slice(&checksum::finish(s).to_be_bytes());
    let mut out = Vec::with_capacity(IPV6_HLEN + msg.len());
    emit_ipv6(
        &mut out,
        0,
        msg.len() as u16,
        proto::ICMPV6,
        REPLY_HOP_LIMIT,
        src,
        dst,
    );
    out.extend_from_slice(&msg);
    Outcome::Reply(out)
}
