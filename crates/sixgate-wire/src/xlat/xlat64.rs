//! IPv6 -> IPv4 (RFC 7915 section 5).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::fragment::pieces;
use super::header::{
    be16, l4_checksum_offset, put16, walk_ipv6_chain, Ipv4Out, Ipv6Chain, Ipv6Fields, IPV4_HLEN,
    IPV6_HLEN,
};
use super::icmp::{icmp6_to_4, is_icmp6_error, IcmpKind};
use super::mapping::{
    ipv6_is_illegal_source, map_6to4, map_source_6to4, rfc6791_pick4, serves_ipv4, serves_ipv6,
};
use super::reply::ReplySource;
use super::{inner, proto, reply, xlat46, Context, DropReason, Outcome, PassReason, XlatConfig};
use crate::{checksum, ipv4_is_illegal_source, xlat::ipv4_identification};

/// RFC 7915 5.1: IPv4 packets larger than this get DF=1 (and ID 0); smaller
/// ones DF=0 so IPv4 routers may fragment them (1280 - 20). Mirrors
/// `XLAT64_DF_THRESHOLD` in bpf/lib/common.h.
pub const DF_THRESHOLD: usize = 1260;
/// RFC 8200 5: the IPv6 minimum MTU.
pub const IPV6_MIN_MTU: usize = 1280;

/// RFC 7915 5: translate an IPv6 packet (version nibble already 6).
pub fn translate(pkt: &[u8], cfg: &XlatConfig, ctx: &Context) -> Outcome {
    // RFC 8200 3: the payload length must be there; bytes past it are link
    // padding. Payload length 0 (a jumbogram, RFC 2675) is not handled.
    let Some(h) = Ipv6Fields::parse(pkt) else {
        return Outcome::Drop(DropReason::Truncated);
    };
    if IPV6_HLEN + h.payload_len > pkt.len() {
        return Outcome::Drop(DropReason::Truncated);
    }
    let pkt = &pkt[..IPV6_HLEN + h.payload_len];
    if !serves_ipv6(cfg, h.dst) {
        return Outcome::Pass(PassReason::Ipv6NotPool6);
    }
    if ipv6_is_illegal_source(h.src) {
        return Outcome::Drop(DropReason::IllegalSource);
    }
    // RFC 7915 5.1: Hop-by-Hop, Destination Options, Routing and Fragment
    // headers are skipped.
    let Ok(chain) = walk_ipv6_chain(pkt, h.next_header) else {
        return Outcome::Drop(DropReason::Truncated);
    };
    let first = chain.frag.is_none_or(|f| f.offset == 0);
    let payload = &pkt[chain.l4_off..];
    let is_icmp_error = chain.proto == proto::ICMPV6
        && first
        && payload.first().is_some_and(|&t| is_icmp6_error(t));
    // RFC 4443 2.4 (e): no error about an error; none about a non-first
    // fragment either (its source cannot match it to a flow).
    let may_reply = first && !is_icmp_error;
    // RFC 7915 5.1 (translator as router, RFC 8200 3): hop limit 1 cannot
    // be decremented and forwarded: ICMPv6 Time Exceeded (3/0).
    if h.hop_limit <= 1 {
        if !may_reply {
            return Outcome::Drop(DropReason::TtlExpired);
        }
        return reply::icmp6(
            cfg,
            pkt,
            3,
            0,
            [0; 4],
            ReplySource::Pool,
            DropReason::TtlExpired,
        );
    }
    // RFC 7915 5.1: a Routing header with Segments Left > 0 MUST NOT be
    // translated; ICMPv6 Parameter Problem 4/0 pointing at Segments Left.
    if let Some(at) = chain.segments_left_at {
        if !may_reply {
            return Outcome::Drop(DropReason::Ipv6SegmentsLeft);
        }
        let ptr = (at as u32).to_be_bytes();
        return reply::icmp6(
            cfg,
            pkt,
            4,
            0,
            ptr,
            ReplySource::Pool,
            DropReason::Ipv6SegmentsLeft,
        );
    }
    match build(pkt, &h, &chain, cfg, ctx, may_reply) {
        Ok(o) => o,
        Err(r) => Outcome::Drop(r),
    }
}

fn build(
    pkt: &[u8],
    h: &Ipv6Fields,
    chain: &Ipv6Chain,
    cfg: &XlatConfig,
    ctx: &Context,
    may_reply: bool,
) -> Result<Outcome, DropReason> {
    let payload = &pkt[chain.l4_off..];
    let first = chain.frag.is_none_or(|f| f.offset == 0);
    let is_frag = chain.frag.is_some();
    // RFC 7915 5.1 Protocol: Next Header copied, ICMPv6 (58) -> ICMP (1).
    let proto4 = match chain.proto {
        proto::TCP | proto::UDP => chain.proto,
        proto::ICMPV6 => proto::ICMP,
        _ => return Err(DropReason::ProtoUnsupported),
    };
    if chain.proto == proto::ICMPV6 && is_frag {
        return Err(DropReason::IcmpFragment);
    }
    if first {
        let min = if chain.proto == proto::TCP { 20 } else { 8 };
        if payload.len() < min {
            return Err(DropReason::Truncated);
        }
    }
    // RFC 4443 2.1: types below 128 are errors, whether or not RFC 7915
    // has a translation for them.
    let is_error = chain.proto == proto::ICMPV6 && first && is_icmp6_error(payload[0]);

    // RFC 7915 5.1 addresses: destination by EAMT / pool6; the source must
    // have a served IPv4 form, except for ICMPv6 errors, which take an RFC
    // 6791 pool4 address instead. Addresses are checked before the ICMP
    // type, as the eBPF data path does.
    let dst4 = map_6to4(cfg, h.dst)?;
    let src4 = match map_source_6to4(cfg, h.src) {
        Ok(a) if ipv4_is_illegal_source(a) => return Err(DropReason::IllegalSource),
        Ok(a) => a,
        Err(e) if is_error => rfc6791_pick4(cfg, h.src).ok_or(e)?,
        Err(e) => return Err(e),
    };
    let kind = if chain.proto == proto::ICMPV6 {
        Some(icmp6_to_4(payload[0], payload[1]).ok_or(DropReason::IcmpUnsupported)?)
    } else {
        None
    };
    let check_rx = if first {
        l4_checksum_offset(chain.proto)
            .and_then(|o| be16(payload, o))
            .unwrap_or(0)
    } else {
        0
    };

    let l4 = match kind {
        _ if !first => payload.to_vec(),
        None => transport(payload, chain.proto, h, src4, dst4)?,
        Some(IcmpKind::Echo(t)) => echo(payload, t, h.src, h.dst),
        Some(IcmpKind::Error { ty, code, field }) => {
            inner::error64(payload, ty, code, field, cfg, ctx)?
        }
    };

    let tot = IPV4_HLEN + l4.len();
    let mut out = Ipv4Out {
        tos: cfg.traffic_class.apply(h.tclass),
        total_len: 0,
        ident: 0,
        df: false,
        mf: false,
        frag_offset: 0,
        ttl: h.hop_limit - 1,
        proto: proto4,
        src: src4,
        dst: dst4,
    };
    // RFC 7915 5.1 Identification / flags: a fragment keeps the low 16
    // bits of its ID, its offset and M, DF=0; otherwise DF=1 and ID 0 above
    // 1260 bytes, else DF=0 and a generated ID.
    match chain.frag {
        Some(f) => {
            out.ident = f.ident as u16;
            out.mf = f.more;
            out.frag_offset = f.offset;
        }
        None if tot > DF_THRESHOLD => out.df = true,
        None => out.ident = ipv4_identification(src4, dst4, proto4, check_rx),
    }

    // RFC 7757 4.3 hairpinning: an IPv4 destination this translator serves
    // goes straight back to IPv6.
    if serves_ipv4(cfg, dst4) {
        return Ok(xlat46::hairpin(&emit(&out, &l4), cfg, ctx));
    }

    let egress = (ctx.egress_mtu as usize).min(usize::from(u16::MAX));
    if tot <= egress {
        return Ok(Outcome::Forward(vec![emit(&out, &l4)]));
    }
    // RFC 7915 5.1: IPv6 packets of at most 1280 bytes were sent without
    // path MTU discovery in mind and have DF=0: fragment them. Larger ones
    // get ICMPv6 Packet Too Big with the MTU the IPv6 side may use.
    if IPV6_HLEN + h.payload_len <= IPV6_MIN_MTU {
        let cuts = pieces(l4.len(), egress - IPV4_HLEN).ok_or(DropReason::FragNeeded)?;
        let last = cuts.len() - 1;
        let (base_off, base_more) = (out.frag_offset, out.mf);
        let pkts = cuts
            .into_iter()
            .enumerate()
            .map(|(i, (s, e))| {
                let mut o = out;
                o.df = false;
                o.frag_offset = base_off + (s / 8) as u16;
                o.mf = i < last || base_more;
                emit(&o, &l4[s..e])
            })
            .collect();
        return Ok(Outcome::Forward(pkts));
    }
    if !may_reply {
        return Err(DropReason::FragNeeded);
    }
    let mtu = (egress + 20).max(IPV6_MIN_MTU) as u32;
    Ok(reply::icmp6(
        cfg,
        pkt,
        2,
        0,
        mtu.to_be_bytes(),
        ReplySource::Destination,
        DropReason::FragNeeded,
    ))
}

/// RFC 7915 5.1: the IPv4 header, then the data.
fn emit(h: &Ipv4Out, data: &[u8]) -> Vec<u8> {
    let mut o = *h;
    o.total_len = (IPV4_HLEN + data.len()) as u16;
    let mut out = Vec::with_capacity(IPV4_HLEN + data.len());
    o.emit(&mut out);
    out.extend_from_slice(data);
    out
}

/// RFC 7915 5.5: TCP and UDP checksums change by the pseudo-header address
/// difference; a UDP checksum 0 stays 0 (IPv4: "none").
fn transport(
    payload: &[u8],
    l4proto: u8,
    h: &Ipv6Fields,
    src4: Ipv4Addr,
    dst4: Ipv4Addr,
) -> Result<Vec<u8>, DropReason> {
    let mut l4 = payload.to_vec();
    let old = checksum::addrs6(h.src, h.dst);
    let new = checksum::addrs4(src4, dst4);
    if l4proto == proto::TCP {
        let c = be16(&l4, 16).ok_or(DropReason::Truncated)?;
        put16(&mut l4, 16, checksum::update(c, old, new));
    } else {
        let c = be16(&l4, 6).ok_or(DropReason::Truncated)?;
        if c != 0 {
            put16(
                &mut l4,
                6,
                checksum::udp_nonzero(checksum::update(c, old, new)),
            );
        }
    }
    Ok(l4)
}

/// RFC 7915 5.2: echo request / reply get the ICMPv4 type and the checksum
/// loses the IPv6 pseudo-header, as two updates like the eBPF.
pub(super) fn echo(payload: &[u8], ty4: u8, src6: Ipv6Addr, dst6: Ipv6Addr) -> Vec<u8> {
    let mut l4 = payload.to_vec();
    let pseudo = checksum::pseudo6(src6, dst6, proto::ICMPV6, l4.len() as u32);
    let old_word = u64::from(u16::from_be_bytes([l4[0], l4[1]]));
    l4[0] = ty4;
    let new_word = u64::from(u16::from_be_bytes([l4[0], l4[1]]));
    let c = be16(&l4, 2).unwrap_or(0);
    let c = checksum::update(c, pseudo, 0);
    put16(&mut l4, 2, checksum::update(c, old_word, new_word));
    l4
}
