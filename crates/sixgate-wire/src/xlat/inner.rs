//! ICMP errors: the outer message and the packet inside it (RFC 7915 4.3,
//! 5.3), with RFC 4884 extensions.
//!
//! The embedded packet is translated like a packet (addresses by the same
//! mapping, header per 4.1 / 5.1) with these differences: lengths come
//! from the embedded header's own fields (it is usually truncated), the
//! TTL / hop limit is not decremented, only the transport checksum's
//! pseudo-header part is updated (UDP 0 stays 0), and an embedded ICMP echo
//! gets its type translated and its checksum updated with the pseudo-header
//! computed from the embedded header's payload length. What is there is
//! translated; nothing is reassembled or padded except as RFC 4884 asks.
//!
//! Size: the translated error is cut so that the whole IPv6 packet is at
//! most 1280 bytes (4->6) and the IPv4 packet at most 576 bytes (6->4).
//!
//! RFC 4884: an error that carries a length attribute (ICMPv4 3, 11, 12
//! byte 5 in 32-bit words; ICMPv6 1, 3 byte 4 in 64-bit words) with a
//! non-zero value shorter than the message has an extension structure
//! after the original datagram field. When the translated type also has a
//! length attribute, the translated datagram (cut at its header's length,
//! dropping the old padding) is zero-padded to the new word size and to
//! at least 128 bytes, the attribute set, and the extension copied
//! unchanged after it. If that would not fit in the size limit, or the
//! translated type has no length attribute (Packet Too Big, Parameter
//! Problem), the extension is dropped and the attribute is 0.

use std::net::Ipv6Addr;

use super::header::{
    be16, emit_frag6, emit_ipv6, l4_checksum_offset, put16, walk_ipv6_chain, Ipv4Fields, Ipv4Out,
    Ipv6Fields, IPV4_HLEN, IPV6_HLEN,
};
use super::icmp::{
    icmp4_to_6, icmp6_to_4, is_icmp4_error, is_icmp6_error, plateau_below, pointer_4to6,
    pointer_6to4,
};
use super::icmp::{ErrorField, IcmpKind};
use super::mapping::{map_4to6, map_6to4};
use super::reply::{ICMP4_ERROR_MAX, ICMP6_ERROR_MAX};
use super::xlat64::{DF_THRESHOLD, IPV6_MIN_MTU};
use super::{ipv4_identification, proto, Context, DropReason, XlatConfig};
use crate::checksum;

/// RFC 4884 4: the original datagram field is at least 128 bytes when an
/// extension follows.
const RFC4884_MIN_ORIGINAL: usize = 128;
/// RFC 791: every IPv4 link carries 68 bytes.
const IPV4_MIN_MTU: u32 = 68;

/// RFC 4884: the length of the original datagram field if `icmp` (whose
/// length attribute is `attr`, in `unit`-byte words) has an extension.
fn rfc4884_field(icmp: &[u8], attr: u8, unit: usize, min_hdr: usize) -> Option<usize> {
    let n = usize::from(attr) * unit;
    (attr != 0 && n >= min_hdr && 8 + n < icmp.len()).then_some(n)
}

/// RFC 4884 5: the field padded with zeros to `unit` and at least 128 bytes.
fn padded_len(len: usize, unit: usize) -> usize {
    len.div_ceil(unit).max(1).max(RFC4884_MIN_ORIGINAL / unit) * unit
}

/// Assembles the translated error: header word + field, the datagram and
/// the extension as described in the module documentation. `attr_at` is
/// where the output's length attribute goes, if its type has one.
fn assemble(
    mut msg: Vec<u8>,
    datagram: &[u8],
    ext: Option<&[u8]>,
    attr_at: Option<usize>,
    unit: usize,
    max_msg: usize,
) -> Vec<u8> {
    if let (Some(ext), Some(at)) = (ext, attr_at) {
        let padded = padded_len(datagram.len(), unit);
        if 8 + padded + ext.len() <= max_msg {
            msg[at] = (padded / unit) as u8;
            msg.extend_from_slice(datagram);
            msg.resize(8 + padded, 0);
            msg.extend_from_slice(ext);
            return msg;
        }
    }
    let keep = datagram.len().min(max_msg - 8);
    msg.extend_from_slice(&datagram[..keep]);
    msg
}

/// RFC 7915 4.2 / 4.3: an ICMPv4 error (`icmp`, the whole message) as an
/// ICMPv6 message of `ty`/`code`, checksum computed in full.
#[allow(clippy::too_many_arguments)]
pub fn error46(
    icmp: &[u8],
    ty: u8,
    code: u8,
    field: ErrorField,
    cfg: &XlatConfig,
    ctx: &Context,
    src6: Ipv6Addr,
    dst6: Ipv6Addr,
) -> Result<Vec<u8>, DropReason> {
    let all = &icmp[8..];
    let ih = Ipv4Fields::parse(all).ok_or(DropReason::Truncated)?;
    let attr = if matches!(icmp[0], 3 | 11 | 12) {
        icmp[5]
    } else {
        0
    };
    let (orig, ext) = match rfc4884_field(icmp, attr, 4, ih.hlen) {
        Some(n) => (&all[..n.min(ih.total_len.max(ih.hlen))], Some(&all[n..])),
        None => (all, None),
    };
    let inner6 = inner46(orig, &ih, cfg)?;

    let mut msg = vec![ty, code, 0, 0, 0, 0, 0, 0];
    match field {
        ErrorField::Unused => {}
        ErrorField::Mtu => {
            // RFC 7915 4.2: MTU + 20, not above the IPv6 egress MTU; a
            // reported 0 means "use the RFC 1191 plateau below the Total
            // Length". Not below 1280 (RFC 8200 5: no IPv6 link is smaller;
            // the IPv6 host keeps sending <= 1280 and the 6->4 path sends
            // those with DF=0).
            let reported = u32::from(be16(icmp, 6).unwrap_or(0));
            let reported = if reported == 0 {
                u32::from(plateau_below(ih.total_len as u16))
            } else {
                reported
            };
            let mtu = (reported + 20).min(ctx.egress_mtu).max(IPV6_MIN_MTU as u32);
            msg[4..8].copy_from_slice(&mtu.to_be_bytes());
        }
        ErrorField::Pointer => {
            let p = pointer_4to6(icmp[4]).ok_or(DropReason::IcmpUnsupported)?;
            msg[4..8].copy_from_slice(&p.to_be_bytes());
        }
        ErrorField::FixedPointer(p) => msg[7] = p,
    }
    let attr_at = matches!(ty, 1 | 3).then_some(4);
    let mut msg = assemble(msg, &inner6, ext, attr_at, 8, ICMP6_ERROR_MAX - IPV6_HLEN);
    let s = checksum::pseudo6(src6, dst6, proto::ICMPV6, msg.len() as u32) + checksum::sum(&msg);
    put16(&mut msg, 2, checksum::finish(s));
    Ok(msg)
}

/// RFC 7915 4.3: the IPv4 packet inside an ICMPv4 error, as IPv6.
fn inner46(orig: &[u8], ih: &Ipv4Fields, cfg: &XlatConfig) -> Result<Vec<u8>, DropReason> {
    let src6 = map_4to6(cfg, ih.src)?;
    let dst6 = map_4to6(cfg, ih.dst)?;
    let nh = match ih.proto {
        proto::TCP | proto::UDP => ih.proto,
        proto::ICMP => proto::ICMPV6,
        _ => return Err(DropReason::ProtoUnsupported),
    };
    let upper_len = ih.total_len.saturating_sub(ih.hlen);
    let mut l4 = orig[ih.hlen..].to_vec();
    if ih.frag_offset == 0 {
        let old = checksum::addrs4(ih.src, ih.dst);
        let new = checksum::addrs6(src6, dst6);
        match ih.proto {
            proto::TCP => update_if_present(&mut l4, 16, old, new, false),
            proto::UDP => update_if_present(&mut l4, 6, old, new, true),
            _ => inner_icmp(
                &mut l4,
                true,
                checksum::pseudo6(src6, dst6, proto::ICMPV6, upper_len as u32),
            )?,
        }
    }
    let is_frag = ih.is_fragment();
    let payload_len = upper_len + if is_frag { 8 } else { 0 };
    let mut out = Vec::with_capacity(IPV6_HLEN + 8 + l4.len());
    let first_nh = if is_frag { proto::FRAGMENT } else { nh };
    let tclass = cfg.traffic_class.apply(ih.tos);
    let plen = u16::try_from(payload_len).unwrap_or(u16::MAX);
    emit_ipv6(&mut out, tclass, plen, first_nh, ih.ttl, src6, dst6);
    if is_frag {
        emit_frag6(&mut out, nh, ih.frag_offset, ih.mf, u32::from(ih.ident));
    }
    out.extend_from_slice(&l4);
    Ok(out)
}

/// Updates a TCP / UDP checksum at `off` for the address change if the
/// (truncated) data holds it; a UDP 0 stays 0.
fn update_if_present(l4: &mut [u8], off: usize, old: u64, new: u64, udp: bool) {
    let Some(c) = be16(l4, off) else { return };
    if udp && c == 0 {
        return;
    }
    let n = checksum::update(c, old, new);
    put16(l4, off, if udp { checksum::udp_nonzero(n) } else { n });
}

/// An embedded ICMP message: an error inside an error is not translated;
/// echo gets its type and checksum translated (`to6`: ICMPv4 -> ICMPv6,
/// adding `pseudo`; else removing it); other types are dropped.
fn inner_icmp(l4: &mut [u8], to6: bool, pseudo: u64) -> Result<(), DropReason> {
    let Some(&t) = l4.first() else { return Ok(()) };
    let code = l4.get(1).copied().unwrap_or(0);
    let (err, kind) = if to6 {
        (is_icmp4_error(t), icmp4_to_6(t, code))
    } else {
        (is_icmp6_error(t), icmp6_to_4(t, code))
    };
    if err {
        return Err(DropReason::IcmpNestedError);
    }
    let Some(IcmpKind::Echo(new_t)) = kind else {
        return Err(DropReason::IcmpUnsupported);
    };
    let old_word = u64::from(u16::from_be_bytes([t, code]));
    l4[0] = new_t;
    let new_word = u64::from(u16::from_be_bytes([new_t, code]));
    if let Some(c) = be16(l4, 2) {
        let c = if to6 {
            checksum::update(c, 0, pseudo)
        } else {
            checksum::update(c, pseudo, 0)
        };
        put16(l4, 2, checksum::update(c, old_word, new_word));
    }
    Ok(())
}

/// RFC 7915 5.2 / 5.3: an ICMPv6 error (`icmp`, the whole message) as an
/// ICMPv4 message of `ty`/`code`, checksum computed in full.
#[allow(clippy::too_many_arguments)]
pub fn error64(
    icmp: &[u8],
    ty: u8,
    code: u8,
    field: ErrorField,
    cfg: &XlatConfig,
    ctx: &Context,
) -> Result<Vec<u8>, DropReason> {
    let all = &icmp[8..];
    let ih = Ipv6Fields::parse(all).ok_or(DropReason::Truncated)?;
    let attr = if matches!(icmp[0], 1 | 3) { icmp[4] } else { 0 };
    let (orig, ext) = match rfc4884_field(icmp, attr, 8, IPV6_HLEN) {
        Some(n) => (&all[..n.min(IPV6_HLEN + ih.payload_len)], Some(&all[n..])),
        None => (all, None),
    };
    let (inner4, had_frag) = inner64(orig, &ih, cfg)?;

    let mut msg = vec![ty, code, 0, 0, 0, 0, 0, 0];
    match field {
        ErrorField::Unused => {}
        ErrorField::Mtu => {
            // RFC 7915 5.2: MTU - 20 (- 8 more when the packet in error has
            // a Fragment header, which its IPv4 form does not), not above
            // the IPv4 egress MTU, at most 65535; choice: not below 68, the
            // IPv4 minimum (RFC 791), so a bogus tiny MTU never reads as
            // "0 = no RFC 1191 support".
            let reported = icmp[4..8].try_into().map(u32::from_be_bytes).unwrap_or(0);
            let less = if had_frag { 28 } else { 20 };
            let mtu = reported
                .saturating_sub(less)
                .min(ctx.egress_mtu)
                .min(u32::from(u16::MAX))
                .max(IPV4_MIN_MTU);
            msg[6..8].copy_from_slice(&(mtu as u16).to_be_bytes());
        }
        ErrorField::Pointer => {
            let p = icmp[4..8].try_into().map(u32::from_be_bytes).unwrap_or(0);
            msg[4] = pointer_6to4(p).ok_or(DropReason::IcmpUnsupported)?;
        }
        ErrorField::FixedPointer(p) => msg[4] = p,
    }
    let attr_at = matches!(ty, 3 | 11 | 12).then_some(5);
    let mut msg = assemble(msg, &inner4, ext, attr_at, 4, ICMP4_ERROR_MAX - IPV4_HLEN);
    let c = checksum::finish(checksum::sum(&msg));
    put16(&mut msg, 2, c);
    Ok(msg)
}

/// RFC 7915 5.3: the IPv6 packet inside an ICMPv6 error, as IPv4; and
/// whether it had a Fragment header.
fn inner64(orig: &[u8], ih: &Ipv6Fields, cfg: &XlatConfig) -> Result<(Vec<u8>, bool), DropReason> {
    let chain = walk_ipv6_chain(orig, ih.next_header).map_err(|_| DropReason::Truncated)?;
    let src4 = map_6to4(cfg, ih.src)?;
    let dst4 = map_6to4(cfg, ih.dst)?;
    let proto4 = match chain.proto {
        proto::TCP | proto::UDP => chain.proto,
        proto::ICMPV6 => proto::ICMP,
        _ => return Err(DropReason::ProtoUnsupported),
    };
    let upper_len = ih.payload_len.saturating_sub(chain.l4_off - IPV6_HLEN);
    let tot = upper_len + IPV4_HLEN;
    let first = chain.frag.is_none_or(|f| f.offset == 0);
    let mut l4 = orig[chain.l4_off..].to_vec();
    let check_rx = l4_checksum_offset(chain.proto)
        .and_then(|o| be16(&l4, o))
        .unwrap_or(0);
    if first {
        let old = checksum::addrs6(ih.src, ih.dst);
        let new = checksum::addrs4(src4, dst4);
        match chain.proto {
            proto::TCP => update_if_present(&mut l4, 16, old, new, false),
            proto::UDP => update_if_present(&mut l4, 6, old, new, true),
            _ => inner_icmp(
                &mut l4,
                false,
                checksum::pseudo6(ih.src, ih.dst, proto::ICMPV6, upper_len as u32),
            )?,
        }
    }
    let mut h = Ipv4Out {
        tos: cfg.traffic_class.apply(ih.tclass),
        total_len: u16::try_from(tot).unwrap_or(u16::MAX),
        ident: 0,
        df: false,
        mf: false,
        frag_offset: 0,
        ttl: ih.hop_limit,
        proto: proto4,
        src: src4,
        dst: dst4,
    };
    match chain.frag {
        Some(f) => {
            h.ident = f.ident as u16;
            h.mf = f.more;
            h.frag_offset = f.offset;
        }
        None if tot > DF_THRESHOLD => h.df = true,
        None => h.ident = ipv4_identification(src4, dst4, proto4, check_rx),
    }
    let mut out = Vec::with_capacity(IPV4_HLEN + l4.len());
    h.emit(&mut out);
    out.extend_from_slice(&l4);
    Ok((out, chain.frag.is_some()))
}
