//! IPv4 -> IPv6 (RFC 7915 section 4).

use std::net::Ipv6Addr;

use super::fragment::pieces;
use super::header::{
    be16, emit_frag6, emit_ipv6, put16, Frag6, Ipv4Fields, FRAG_HLEN, IPV4_HLEN, IPV6_HLEN,
};
use super::icmp::{icmp4_to_6, is_icmp4_error, IcmpKind};
use super::mapping::{map_4to6, serves_ipv4};
use super::reply::ReplySource;
use super::{
    inner, proto, reply, Context, DropReason, Outcome, PassReason, UdpZeroChecksum, XlatConfig,
};
use crate::{checksum, ipv4_is_illegal_source};

/// RFC 7915 4: translate an IPv4 packet (version nibble already 4).
pub fn translate(pkt: &[u8], cfg: &XlatConfig, ctx: &Context) -> Outcome {
    // Length fields (RFC 791 3.1; RFC 1812 5.2.2): the header and the
    // total length must be there; bytes past Total Length (link padding)
    // are not part of the datagram.
    let Some(h) = Ipv4Fields::parse(pkt) else {
        return Outcome::Drop(DropReason::Truncated);
    };
    if h.total_len < h.hlen || h.total_len > pkt.len() {
        return Outcome::Drop(DropReason::Truncated);
    }
    let pkt = &pkt[..h.total_len];
    if !serves_ipv4(cfg, h.dst) {
        return Outcome::Pass(PassReason::Ipv4NotServed);
    }
    // RFC 1812 5.2.2: a router verifies the header checksum.
    if !checksum::verifies(checksum::sum(&pkt[..h.hlen])) {
        return Outcome::Drop(DropReason::Ipv4Checksum);
    }
    // RFC 1812 5.3.7: never forward these sources.
    if ipv4_is_illegal_source(h.src) {
        return Outcome::Drop(DropReason::IllegalSource);
    }
    let may_reply = may_reply(&h, &pkt[h.hlen..]);
    // RFC 7915 4.1 (translator as router, RFC 1812 5.3.1): TTL 1 cannot be
    // decremented and forwarded: ICMPv4 Time Exceeded (11/0).
    if h.ttl <= 1 {
        if !may_reply {
            return Outcome::Drop(DropReason::TtlExpired);
        }
        return reply::icmp4(
            cfg,
            pkt,
            11,
            0,
            [0; 4],
            ReplySource::Pool,
            DropReason::TtlExpired,
        );
    }
    // RFC 7915 4.1: options are ignored, but an unexpired source route
    // option MUST NOT be translated: ICMPv4 Source Route Failed (3/5).
    match source_route_unexpired(&pkt[IPV4_HLEN..h.hlen]) {
        None => return Outcome::Drop(DropReason::Truncated),
        Some(true) if may_reply => {
            return reply::icmp4(
                cfg,
                pkt,
                3,
                5,
                [0; 4],
                ReplySource::Pool,
                DropReason::Ipv4SourceRoute,
            )
        }
        Some(true) => return Outcome::Drop(DropReason::Ipv4SourceRoute),
        Some(false) => {}
    }
    forward(pkt, &h, cfg, ctx, 1, may_reply)
}

/// Translates an IPv4 packet built by the 6->4 path back to IPv6 (RFC 7757
/// 4.3 hairpinning). Its TTL was already decremented; a packet too big for
/// the egress link is dropped (no error can go back in IPv4).
pub fn hairpin(pkt: &[u8], cfg: &XlatConfig, ctx: &Context) -> Outcome {
    let Some(h) = Ipv4Fields::parse(pkt) else {
        return Outcome::Drop(DropReason::Truncated);
    };
    match forward(pkt, &h, cfg, ctx, 0, false) {
        Outcome::Reply(_) => Outcome::Drop(DropReason::FragNeeded),
        other => other,
    }
}

/// RFC 1812 4.3.2.7: no ICMP error about an ICMP error or a non-first
/// fragment.
fn may_reply(h: &Ipv4Fields, payload: &[u8]) -> bool {
    if h.frag_offset != 0 {
        return false;
    }
    !(h.proto == proto::ICMP && payload.first().is_some_and(|&t| is_icmp4_error(t)))
}

/// RFC 791 3.1 options: is there a Loose (131) or Strict (137) Source Route
/// whose pointer is not past its length (RFC 7915 4.1 "unexpired")? `None`
/// if the options are malformed.
fn source_route_unexpired(opts: &[u8]) -> Option<bool> {
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => break,
            1 => i += 1,
            t => {
                let len = usize::from(*opts.get(i + 1)?);
                if len < 2 || i + len > opts.len() {
                    return None;
                }
                if (t == 131 || t == 137) && len >= 3 && usize::from(opts[i + 2]) <= len {
                    return Some(true);
                }
                i += len;
            }
        }
    }
    Some(false)
}

/// RFC 7915 4.1-4.5 on a validated packet: transport, addresses, header,
/// then the size rules. `decrement` is 1 for a forwarded packet.
fn forward(
    pkt: &[u8],
    h: &Ipv4Fields,
    cfg: &XlatConfig,
    ctx: &Context,
    decrement: u8,
    may_reply: bool,
) -> Outcome {
    match build(pkt, h, cfg, ctx, decrement, may_reply) {
        Ok(o) => o,
        Err(r) => Outcome::Drop(r),
    }
}

fn build(
    pkt: &[u8],
    h: &Ipv4Fields,
    cfg: &XlatConfig,
    ctx: &Context,
    decrement: u8,
    may_reply: bool,
) -> Result<Outcome, DropReason> {
    let payload = &pkt[h.hlen..];
    let first = h.frag_offset == 0;
    let is_frag = h.is_fragment();
    // RFC 7915 4.1 Next Header: protocol copied, ICMP (1) -> ICMPv6 (58).
    // Only TCP, UDP and ICMP are translated (their checksums are known).
    let nh = match h.proto {
        proto::TCP | proto::UDP => h.proto,
        proto::ICMP => proto::ICMPV6,
        _ => return Err(DropReason::ProtoUnsupported),
    };
    if h.proto == proto::ICMP && is_frag {
        return Err(DropReason::IcmpFragment);
    }
    if first {
        let min = if h.proto == proto::TCP { 20 } else { 8 };
        if payload.len() < min {
            return Err(DropReason::Truncated);
        }
    }
    let kind = if h.proto == proto::ICMP {
        Some(icmp4_to_6(payload[0], payload[1]).ok_or(DropReason::IcmpUnsupported)?)
    } else {
        None
    };
    let is_error = matches!(kind, Some(IcmpKind::Error { .. }));

    // RFC 7915 4.1 addresses (RFC 7757 EAMT, then RFC 6052). An ICMP error
    // from a source with no IPv6 form takes the RFC 6791 pool6 address.
    let dst6 = map_4to6(cfg, h.dst)?;
    let src6 = match map_4to6(cfg, h.src) {
        Ok(a) => a,
        Err(e) if is_error => cfg.rfc6791_pool6.ok_or(e)?,
        Err(e) => return Err(e),
    };

    let l4 = match kind {
        _ if !first => payload.to_vec(),
        None => transport(payload, h, cfg, src6, dst6)?,
        Some(IcmpKind::Echo(t)) => echo(payload, t, src6, dst6),
        Some(IcmpKind::Error { ty, code, field }) => {
            inner::error46(payload, ty, code, field, cfg, ctx, src6, dst6)?
        }
    };

    let out = Out6 {
        tclass: cfg.traffic_class.apply(h.tos),
        hop_limit: h.ttl - decrement,
        nh,
        src: src6,
        dst: dst6,
    };
    let frag = is_frag.then_some(Frag6 {
        offset: h.frag_offset,
        more: h.mf,
        ident: u32::from(h.ident),
    });
    let size6 = IPV6_HLEN + if is_frag { FRAG_HLEN } else { 0 } + l4.len();
    let egress = ctx.egress_mtu as usize;
    if h.df {
        // RFC 7915 4.1: DF set and too big for the next hop: ICMPv4
        // Fragmentation Needed (3/4) with the MTU an IPv4 packet may have.
        if size6 > egress {
            if !may_reply {
                return Err(DropReason::FragNeeded);
            }
            let mtu = u16::try_from(egress.saturating_sub(20)).unwrap_or(u16::MAX);
            let [hi, lo] = mtu.to_be_bytes();
            return Ok(reply::icmp4(
                cfg,
                pkt,
                3,
                4,
                [0, 0, hi, lo],
                ReplySource::Destination,
                DropReason::FragNeeded,
            ));
        }
        return Ok(Outcome::Forward(vec![out.emit(frag, &l4)]));
    }
    // RFC 7915 4.1: DF clear and larger than lowest-ipv6-mtu (or the
    // egress link): fragment so each IPv6 fragment fits.
    let limit = usize::from(cfg.lowest_ipv6_mtu).min(egress);
    if size6 <= limit {
        return Ok(Outcome::Forward(vec![out.emit(frag, &l4)]));
    }
    let base = frag.unwrap_or(Frag6 {
        offset: 0,
        more: false,
        ident: u32::from(h.ident),
    });
    let cuts = pieces(l4.len(), limit.saturating_sub(IPV6_HLEN + FRAG_HLEN))
        .ok_or(DropReason::FragNeeded)?;
    let last = cuts.len() - 1;
    let pkts = cuts
        .into_iter()
        .enumerate()
        .map(|(i, (s, e))| {
            let f = Frag6 {
                offset: base.offset + (s / 8) as u16,
                more: i < last || base.more,
                ident: base.ident,
            };
            out.emit(Some(f), &l4[s..e])
        })
        .collect();
    Ok(Outcome::Forward(pkts))
}

/// The IPv6 header of a translated packet (RFC 7915 4.1).
struct Out6 {
    tclass: u8,
    hop_limit: u8,
    nh: u8,
    src: Ipv6Addr,
    dst: Ipv6Addr,
}

impl Out6 {
    /// RFC 7915 4.1: the IPv6 header, plus a Fragment header (next header
    /// 44; ID = IPv4 ID in the low 16 bits, offset, M) for a fragment.
    fn emit(&self, frag: Option<Frag6>, data: &[u8]) -> Vec<u8> {
        let extra = if frag.is_some() { FRAG_HLEN } else { 0 };
        let mut out = Vec::with_capacity(IPV6_HLEN + extra + data.len());
        let nh = if frag.is_some() {
            proto::FRAGMENT
        } else {
            self.nh
        };
        emit_ipv6(
            &mut out,
            self.tclass,
            (extra + data.len()) as u16,
            nh,
            self.hop_limit,
            self.src,
            self.dst,
        );
        if let Some(f) = frag {
            emit_frag6(&mut out, self.nh, f.offset, f.more, f.ident);
        }
        out.extend_from_slice(data);
        out
    }
}

/// RFC 7915 4.5: TCP and UDP checksums change by the pseudo-header address
/// difference. UDP checksum 0: computed in full (RFC 7915 4.5 / RFC 8200
/// 8.1) or dropped by policy; on a first fragment it cannot be computed.
fn transport(
    payload: &[u8],
    h: &Ipv4Fields,
    cfg: &XlatConfig,
    src6: Ipv6Addr,
    dst6: Ipv6Addr,
) -> Result<Vec<u8>, DropReason> {
    let mut l4 = payload.to_vec();
    let old = checksum::addrs4(h.src, h.dst);
    let new = checksum::addrs6(src6, dst6);
    if h.proto == proto::TCP {
        let c = be16(&l4, 16).ok_or(DropReason::Truncated)?;
        put16(&mut l4, 16, checksum::update(c, old, new));
        return Ok(l4);
    }
    let c = be16(&l4, 6).ok_or(DropReason::Truncated)?;
    if c != 0 {
        put16(
            &mut l4,
            6,
            checksum::udp_nonzero(checksum::update(c, old, new)),
        );
        return Ok(l4);
    }
    if h.is_fragment() {
        return Err(DropReason::UdpZeroChecksumFragment);
    }
    if cfg.udp_zero_checksum == UdpZeroChecksum::Drop {
        return Err(DropReason::UdpZeroChecksum);
    }
    let s = checksum::pseudo6(src6, dst6, proto::UDP, l4.len() as u32) + checksum::sum(&l4);
    put16(&mut l4, 6, checksum::udp_nonzero(checksum::finish(s)));
    Ok(l4)
}

/// RFC 7915 4.2: echo request / reply get the ICMPv6 type, and the checksum
/// gains the IPv6 pseudo-header (ICMPv4 has none), as two updates like the
/// eBPF: pseudo-header, then the type word.
pub(super) fn echo(payload: &[u8], ty6: u8, src6: Ipv6Addr, dst6: Ipv6Addr) -> Vec<u8> {
    let mut l4 = payload.to_vec();
    let pseudo = checksum::pseudo6(src6, dst6, proto::ICMPV6, l4.len() as u32);
    let old_word = u64::from(u16::from_be_bytes([l4[0], l4[1]]));
    l4[0] = ty6;
    let new_word = u64::from(u16::from_be_bytes([l4[0], l4[1]]));
    let c = be16(&l4, 2).unwrap_or(0);
    let c = checksum::update(c, 0, pseudo);
    put16(&mut l4, 2, checksum::update(c, old_word, new_word));
    l4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_route_options() {
        // NOP, LSRR len 7 ptr 4 (unexpired)
        assert_eq!(
            source_route_unexpired(&[1, 131, 7, 4, 1, 2, 3, 4]),
            Some(true)
        );
        // LSRR len 7 ptr 8 (expired)
        assert_eq!(
            source_route_unexpired(&[131, 7, 8, 1, 2, 3, 4, 0]),
            Some(false)
        );
        // record route (7) only
        assert_eq!(
            source_route_unexpired(&[7, 7, 4, 0, 0, 0, 0, 0]),
            Some(false)
        );
        // length past the header
        assert_eq!(source_route_unexpired(&[137, 9, 4, 0]), None);
        assert_eq!(source_route_unexpired(&[]), Some(false));
    }
}
