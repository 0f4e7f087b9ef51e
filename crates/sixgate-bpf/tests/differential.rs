//! Differential test: the eBPF program (BPF_PROG_TEST_RUN) and the Rust
//! reference translator (`sixgate_wire::xlat::translate`) get the same
//! random and mutated packets with the same configuration; their outputs
//! must be byte-identical, or both must drop (or pass) with the same reason.
//! Every translated output must also pass the independent validator, unless
//! the input's transport checksum was wrong (then it stays wrong, in the
//! same way, in both).
//!
//! The generator covers what the eBPF data path implements: TCP, UDP (also
//! checksum 0) and ICMP echo both ways, IPv6 ones also behind Hop-by-Hop,
//! Destination Options and Routing headers, IPv4 ones with options
//! (padding, Record Route, Timestamp, source routes expired or not);
//! fragments both ways; IPv4 packets without DF up to larger than the link;
//! ICMP errors both ways with quoted packets cut at random lengths, some
//! with RFC 4884 extensions; bad header and transport checksums,
//! truncation, expiring TTLs and hop limits, Routing headers with Segments
//! Left, unsupported protocols and ICMP types, unserved and untranslatable
//! addresses. The IPv6-side hosts have pool6 addresses and RFC 7757 EAM
//! addresses (five EAMs: equal and unequal suffixes, one across a 32-bit
//! word, nested prefixes, a host inside the served prefix; the IPv6 bits
//! an EAM ignores set at random; sometimes the pool6 form of an EAM
//! address), in outer headers and in quoted packets; about one IPv6 packet
//! in eight goes to another IPv6-side host by an IPv4 form the gateway
//! serves, so it is hairpinned (RFC 7757 4.3): plain, fragments, ICMPv6
//! errors, too big. Half the cases run with the default policies, half
//! with the Traffic Class set and UDP checksum 0 dropped.
//!
//! What the programs hand to the exception path (fragmenting after
//! translation, IPv4 options, RFC 4884 extensions) must arrive there
//! untouched, with metadata the daemon can read; the daemon's part, the
//! reference translator with the MTU the program passed, then gives the
//! eBPF side's verdict. So the comparison covers the data path as a whole.
//!
//! Packet Too Big / Fragmentation Needed MTUs inside ICMP errors range from
//! below the minimum to above the egress link's. It leaves out what the
//! eBPF does not do yet (more than four IPv6 extension headers; no
//! hairpinned IPv6 fragment over 1280 bytes; see docs/conformance.md).
//!
//! SIXGATE_DIFF_CASES (default 100000) and SIXGATE_DIFF_SEED (default: a
//! fixed seed, so CI is reproducible) control the run. A failure prints the
//! seed, the case number and the packet in hex.

mod common;
mod frames;

use std::net::{Ipv4Addr, Ipv6Addr};

use common::*;
use frames::hex;
use sixgate_bpf::exception::{ExcMeta, ExceptionParams};
use sixgate_wire::xlat::mapping::map_4to6;
use sixgate_wire::xlat::{
    translate, Context, Eam, Outcome, TrafficClass, UdpZeroChecksum, XlatConfig,
};
use sixgate_wire::{checksum, validate, Ipv4Prefix, Rfc6052Prefix};

const POOL6: &str = "2001:db8:64::/96";
const SERVED: &str = "198.51.100.0/24";
/// The gateway's own IPv6 address (d0's in `ROUTED`): RFC 6791 pool6, the
/// source of Time Exceeded and Parameter Problem towards IPv6.
const POOL6_REPLY_SOURCE: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 6, 0, 0, 0, 0, 1);
/// d0's MTU in `ROUTED`.
const EGRESS_MTU: u32 = 1500;
const DEFAULT_SEED: u64 = 0x5157_7915_0000_0001;

/// splitmix64: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }
}

/// Transport checksum of `l4` (checksum field zeroed by the caller) with
/// the pseudo-header of `src`/`dst` (4 or 16 bytes each); ICMPv4 has none.
fn l4_checksum(src: &[u8], dst: &[u8], proto: u8, l4: &[u8]) -> u16 {
    if proto == 1 {
        return checksum::finish(checksum::sum(l4));
    }
    let pseudo = checksum::sum(src) + checksum::sum(dst) + u64::from(proto) + l4.len() as u64;
    checksum::finish(pseudo + checksum::sum(l4))
}

fn csum_off(proto: u8) -> Option<usize> {
    match proto {
        6 => Some(16),
        17 => Some(6),
        1 | 58 => Some(2),
        _ => None,
    }
}

/// A transport header + payload for `proto`, checksum left zero.
fn l4(rng: &mut Rng, proto: u8, icmp_type: u8, payload: usize) -> Vec<u8> {
    let mut out = match proto {
        6 => {
            let mut h = rng.bytes(20);
            h[12] = 5 << 4; // data offset, no options
            h
        }
        17 => {
            let mut h = rng.bytes(8);
            let len = (8 + payload) as u16;
            h[4..6].copy_from_slice(&len.to_be_bytes());
            h
        }
        _ => {
            let mut h = rng.bytes(8);
            h[0] = icmp_type;
            h[1] = 0;
            h
        }
    };
    if let Some(o) = csum_off(proto) {
        out[o] = 0;
        out[o + 1] = 0;
    }
    out.extend(rng.bytes(payload));
    out
}

/// The IPv4 header fields the generator varies.
struct V4Fields {
    ttl: u8,
    tos: u8,
    df: bool,
    id: u16,
}

fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, f: V4Fields, l4: &[u8]) -> Vec<u8> {
    let V4Fields { ttl, tos, df, id } = f;
    let mut h = vec![0u8; 20];
    h[0] = 0x45;
    h[1] = tos;
    h[2..4].copy_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    if df {
        h[6] = 0x40;
    }
    h[8] = ttl;
    h[9] = proto;
    h[12..16].copy_from_slice(&src);
    h[16..20].copy_from_slice(&dst);
    let c = checksum::finish(checksum::sum(&h));
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(l4);
    h
}

fn ipv6(src: [u8; 16], dst: [u8; 16], proto: u8, hop: u8, tclass: u8, l4: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 40];
    h[0] = 0x60 | (tclass >> 4);
    h[1] = tclass << 4;
    h[4..6].copy_from_slice(&(l4.len() as u16).to_be_bytes());
    h[6] = proto;
    h[7] = hop;
    h[8..24].copy_from_slice(&src);
    h[24..40].copy_from_slice(&dst);
    h.extend_from_slice(l4);
    h
}

/// Fills in the transport checksum of an L3 packet built above.
fn finish_l4(pkt: &mut [u8]) {
    let (src, dst, proto, off) = if pkt[0] >> 4 == 4 {
        (pkt[12..16].to_vec(), pkt[16..20].to_vec(), pkt[9], 20)
    } else {
        (pkt[8..24].to_vec(), pkt[24..40].to_vec(), pkt[6], 40)
    };
    if let Some(o) = csum_off(proto) {
        let c = l4_checksum(&src, &dst, proto, &pkt[off..]);
        pkt[off + o..off + o + 2].copy_from_slice(&c.to_be_bytes());
    }
}

/// RFC 7757 explicit address mappings, all of IPv6-side hosts: equal
/// suffixes, a /29 nested in it (the longest match wins), one host inside
/// the served prefix, and unequal suffixes: 7 IPv4 bits left-aligned in 16
/// IPv6 bits (the last 9 ignored on the way back), and 5 in 65, which puts
/// the IPv4 suffix across a 32-bit word boundary. Set prefix bits right
/// above the suffix check that only suffix bits are taken.
const EAMS: [(&str, &str); 5] = [
    ("192.0.2.0/28", "2001:db8:e::/124"),
    ("192.0.2.8/29", "2001:db8:e:2::ff8/125"),
    ("198.51.100.9/32", "2001:db8:e:9::9/128"),
    ("203.0.113.128/25", "2001:db8:e:1:1:1:1:0/112"),
    ("203.0.113.32/27", "2001:db8:e:40::/63"),
];

/// IPv4-side hosts: their IPv6 forms are in pool6.
const CLIENTS: [[u8; 4]; 4] = [
    [192, 0, 2, 33],
    [192, 0, 2, 34],
    [192, 0, 2, 77],
    [192, 0, 2, 200],
];

/// IPv6-side hosts, by their IPv4 addresses: in the served prefix (pool6
/// forms; .9 also in an EAM), and in the EAMs.
const SERVERS: [[u8; 4]; 10] = [
    [198, 51, 100, 2],
    [198, 51, 100, 9],
    [198, 51, 100, 80],
    [198, 51, 100, 254],
    [192, 0, 2, 3],
    [192, 0, 2, 12],
    [203, 0, 113, 130],
    [203, 0, 113, 255],
    [203, 0, 113, 33],
    [203, 0, 113, 63],
];

struct Gen {
    cfg: XlatConfig,
}

impl Gen {
    /// An IPv6 form of `a`: mostly the one the translator maps it to (its
    /// EAM, else pool6), with the IPv6 bits its EAM ignores set at random;
    /// sometimes its pool6 form even if an EAM holds it (not a served
    /// source then, and a hairpin as a destination).
    fn v6(&self, rng: &mut Rng, a: [u8; 4]) -> [u8; 16] {
        let a = Ipv4Addr::from(a);
        if rng.chance(10) {
            return self.cfg.pool6.embed(a).octets();
        }
        let v6 = u128::from(map_4to6(&self.cfg, a).expect("not the WKP"));
        let ignored = self
            .cfg
            .eamt
            .iter()
            .filter(|e| e.ipv4.contains(a))
            .max_by_key(|e| e.ipv4.len())
            .map_or(0, |e| {
                (128 - u32::from(e.ipv6.len())) - (32 - u32::from(e.ipv4.len()))
            });
        let noise = if ignored > 0 && rng.chance(50) {
            u128::from(rng.next()) & ((1u128 << ignored.min(64)) - 1)
        } else {
            0
        };
        (v6 | noise).to_be_bytes()
    }

    fn client4(rng: &mut Rng) -> [u8; 4] {
        rng.pick(&CLIENTS)
    }

    fn server4(rng: &mut Rng) -> [u8; 4] {
        rng.pick(&SERVERS)
    }

    fn client6(&self, rng: &mut Rng) -> [u8; 16] {
        let a = Self::client4(rng);
        self.v6(rng, a)
    }

    fn server6(&self, rng: &mut Rng) -> [u8; 16] {
        let a = Self::server4(rng);
        self.v6(rng, a)
    }

    /// The destination of an IPv6-side host's packet: mostly an IPv4
    /// client, sometimes another IPv6-side host by an IPv4 form this
    /// gateway serves (RFC 7757 4.3 hairpinning).
    fn peer6(&self, rng: &mut Rng) -> [u8; 16] {
        if rng.chance(12) {
            self.server6(rng)
        } else {
            self.client6(rng)
        }
    }

    /// A plain packet (TCP, UDP, echo) in one direction, checksums right.
    fn plain(&self, rng: &mut Rng, v4: bool, payload: usize) -> Vec<u8> {
        let (proto, icmp_type) = match rng.below(4) {
            0 => (6, 0),
            1 => (17, 0),
            2 => (if v4 { 1 } else { 58 }, if v4 { 8 } else { 128 }),
            _ => (if v4 { 1 } else { 58 }, if v4 { 0 } else { 129 }),
        };
        let body = l4(rng, proto, icmp_type, payload);
        let ttl = if rng.chance(5) {
            rng.pick(&[0, 1, 2])
        } else {
            64
        };
        let tos = rng.next() as u8;
        // Without DF and over lowest-ipv6-mtu the eBPF hands the packet
        // to the exception path, which fragments it.
        let df = rng.chance(50);
        let mut p = if v4 {
            ipv4(
                Self::client4(rng),
                Self::server4(rng),
                proto,
                V4Fields {
                    ttl,
                    tos,
                    df,
                    id: rng.next() as u16,
                },
                &body,
            )
        } else {
            let (src, dst) = (self.server6(rng), self.peer6(rng));
            ipv6(src, dst, proto, ttl, tos, &body)
        };
        finish_l4(&mut p);
        if !v4 && rng.chance(10) {
            add_exthdrs(rng, &mut p);
        }
        if v4 && rng.chance(5) {
            add_ipv4_options(rng, &mut p);
        }
        p
    }

    /// One fragment of a TCP or UDP datagram (or, rarely, of an echo); a
    /// large IPv4 one needs cutting again (the exception path's job).
    fn fragment(&self, rng: &mut Rng, v4: bool) -> Vec<u8> {
        let most = if rng.chance(80) { 900 } else { 2000 };
        let len = 64 + rng.below(most) as usize;
        let mut whole = self.plain(rng, v4, len);
        let l3 = if v4 {
            usize::from(whole[0] & 0x0f) * 4
        } else {
            40
        };
        let body = whole.split_off(l3);
        let offset = 8 * rng.below((body.len() / 8) as u64) as usize;
        let units = if rng.chance(80) { 64 } else { 190 };
        let end = (offset + 8 + 8 * rng.below(units) as usize).min(body.len());
        let more = end < body.len();
        let part = &body[offset..end];
        if v4 {
            let mut p = whole;
            p.extend_from_slice(part);
            let tot = p.len() as u16;
            p[2..4].copy_from_slice(&tot.to_be_bytes());
            let flags = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
            p[6..8].copy_from_slice(&flags.to_be_bytes());
            fix_v4(&mut p);
            p
        } else {
            let mut p = whole;
            let proto = p[6];
            p[6] = 44;
            p.extend_from_slice(&[proto, 0]);
            p.extend_from_slice(&((offset as u16) | u16::from(more)).to_be_bytes());
            p.extend_from_slice(&(rng.next() as u32).to_be_bytes());
            p.extend_from_slice(part);
            let plen = (p.len() - 40) as u16;
            p[4..6].copy_from_slice(&plen.to_be_bytes());
            p
        }
    }

    /// An ICMP error about a packet of the other side, cut at random.
    fn error(&self, rng: &mut Rng, v4: bool) -> Vec<u8> {
        // The quoted packet went the other way: built in the family the
        // error travels in.
        let inner_len = rng.below(300) as usize;
        let mut inner = if v4 {
            // A packet the server sent, as the client received it.
            let proto = rng.pick(&[6, 17, 1]);
            let t = rng.pick(&[8, 0, 8, 3, 13]);
            let body = l4(rng, proto, t, inner_len);
            ipv4(
                Self::server4(rng),
                Self::client4(rng),
                proto,
                V4Fields {
                    ttl: rng.next() as u8,
                    tos: rng.next() as u8,
                    df: rng.chance(50),
                    id: rng.next() as u16,
                },
                &body,
            )
        } else {
            let proto = rng.pick(&[6, 17, 58]);
            let t = rng.pick(&[128, 129, 128, 1, 135]);
            let body = l4(rng, proto, t, inner_len);
            let (src, dst) = (self.client6(rng), self.server6(rng));
            ipv6(src, dst, proto, rng.next() as u8, rng.next() as u8, &body)
        };
        finish_l4(&mut inner);
        let min = if v4 { 28 } else { 48 };
        let cut = min + rng.below((inner.len() - min + 1) as u64) as usize;
        inner.truncate(cut);

        let (t, code, word): (u8, u8, u32) = if v4 {
            match rng.below(12) {
                0 => (3, rng.below(16) as u8, 0),
                1 => (3, 4, 0),
                // MTUs below, at and above the egress link's.
                2 => (
                    3,
                    4,
                    rng.pick(&[40, 576, 1200, 1400, 1500, 9000]) + rng.below(180) as u32,
                ),
                3 => (11, rng.below(3) as u8, 0),
                4 => (12, rng.below(3) as u8, (rng.below(24) as u32) << 24),
                5 => (5, 1, rng.next() as u32),
                6 => (4, 0, 0),
                _ => (3, rng.pick(&[0, 1, 3, 13]), 0),
            }
        } else {
            match rng.below(12) {
                0 => (1, rng.below(8) as u8, 0),
                1 => (
                    2,
                    0,
                    rng.pick(&[20, 1280, 1400, 1500, 9000]) + rng.below(120) as u32,
                ),
                2 => (3, rng.below(3) as u8, 0),
                3 => (4, rng.below(3) as u8, rng.below(48) as u32),
                4 => (rng.pick(&[5, 100, 127]), 0, 0),
                _ => (1, rng.pick(&[0, 1, 3, 4]), 0),
            }
        };
        // RFC 4884: sometimes an extension after the quote, which is then
        // padded to the length attribute's unit.
        let has_attr = if v4 {
            [3, 11, 12].contains(&t)
        } else {
            [1, 3].contains(&t)
        };
        let mut word = word;
        let mut extension = Vec::new();
        if has_attr && rng.chance(15) {
            let unit = if v4 { 4 } else { 8 };
            inner.resize(inner.len().div_ceil(unit) * unit, 0);
            let attr = (inner.len() / unit) as u32;
            word |= if v4 { attr << 16 } else { attr << 24 };
            // Extension header (version 2) and one object, checksum left
            // as it comes: the translator copies the extension unchanged.
            extension = vec![0x20, 0, 0, 0, 0, 8, 1, 1];
            extension.extend(rng.bytes(4));
        }
        let mut icmp = vec![t, code, 0, 0];
        icmp.extend_from_slice(&word.to_be_bytes());
        icmp.extend_from_slice(&inner);
        icmp.extend_from_slice(&extension);
        let mut p = if v4 {
            // From the client, or from a router on the IPv4 side.
            let src = if rng.chance(70) {
                Self::client4(rng)
            } else {
                [203, 0, 113, 1]
            };
            ipv4(
                src,
                Self::server4(rng),
                1,
                V4Fields {
                    ttl: 64,
                    tos: 0,
                    df: false,
                    id: rng.next() as u16,
                },
                &icmp,
            )
        } else {
            let (src, dst) = (self.server6(rng), self.peer6(rng));
            ipv6(src, dst, 58, 64, 0, &icmp)
        };
        finish_l4(&mut p);
        p
    }
}

/// What went wrong with an input, applied after it was built. Each case
/// gets at most one, so that both translators have one reason to give.
fn mutate(rng: &mut Rng, p: &mut Vec<u8>) -> &'static str {
    let v4 = p[0] >> 4 == 4;
    let l3 = if v4 { usize::from(p[0] & 0x0f) * 4 } else { 40 };
    match rng.below(20) {
        0 if v4 => {
            p[10] ^= 0x40;
            "bad IPv4 header checksum"
        }
        // A payload byte changed after the checksum was computed. In an
        // ICMP error, past the quoted IP header: a changed quoted header is
        // another packet, not a checksum error (and its fragment fields are
        // outside what the eBPF does).
        1 if p.len() > l3 + skip_for_checksum(p, l3) => {
            let skip = l3 + skip_for_checksum(p, l3);
            let i = skip + rng.below((p.len() - skip) as u64) as usize;
            p[i] ^= 0x5a;
            "bad transport checksum"
        }
        2 if p.len() > l3 + 1 => {
            let keep = l3 + rng.below((p.len() - l3) as u64) as usize;
            p.truncate(keep);
            "truncated"
        }
        3 if v4 && p[9] == 17 => {
            p[l3 + 6] = 0;
            p[l3 + 7] = 0;
            "UDP checksum 0"
        }
        4 => {
            // Unserved / untranslatable destination.
            if v4 {
                p[16..20].copy_from_slice(&[203, 0, 113, 7]);
                fix_v4(p);
            } else {
                p[24..40].copy_from_slice(&"2001:db8:99::1".parse::<Ipv6Addr>().unwrap().octets());
            }
            "not ours"
        }
        5 => {
            // Source that may never be forwarded / has no IPv4 form.
            if v4 {
                p[12..16].copy_from_slice(&[127, 0, 0, 1]);
                fix_v4(p);
            } else {
                // No IPv4 form, or never a source at all (RFC 4291).
                let src = rng.pick(&["2001:db8:6::99", "2001:db8:6::99", "::", "::1", "ff02::1"]);
                p[8..24].copy_from_slice(&src.parse::<Ipv6Addr>().unwrap().octets());
            }
            "bad source"
        }
        6 => {
            let at = if v4 { 9 } else { 6 };
            p[at] = rng.pick(&[47, 50, 132]);
            if v4 {
                fix_v4(p);
            }
            "other protocol"
        }
        _ => "none",
    }
}

/// Bytes after the IP header that the checksum mutation leaves alone: the
/// transport header, and for an ICMP error the quoted IP header too.
fn skip_for_checksum(p: &[u8], l3: usize) -> usize {
    let v4 = p[0] >> 4 == 4;
    let proto = if v4 { p[9] } else { p[6] };
    let is_error = match (proto, p.get(l3)) {
        (1, Some(&t)) => [3, 4, 5, 11, 12].contains(&t),
        (58, Some(&t)) => t < 128,
        _ => false,
    };
    8 + if is_error {
        if v4 {
            20
        } else {
            40
        }
    } else {
        0
    }
}

/// Puts IPv4 options (RFC 791 3.1) into the header: padding, Record Route,
/// Timestamp, or a loose / strict source route, expired or not.
fn add_ipv4_options(rng: &mut Rng, p: &mut Vec<u8>) {
    let mut opts = match rng.below(5) {
        0 => vec![1, 1, 1, 0],
        1 => vec![7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0],
        2 => vec![68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        kind => {
            let code = if kind == 3 { 131 } else { 137 };
            // Pointer 4: the first address is still to be visited; past
            // the end: the route is done.
            let pointer = if rng.chance(50) { 4 } else { 12 };
            let mut o = vec![1, code, 11, pointer];
            o.extend(rng.bytes(8));
            o
        }
    };
    while opts.len() % 4 != 0 {
        opts.push(0);
    }
    p.splice(20..20, opts.iter().copied());
    p[0] = 0x40 | (5 + opts.len() / 4) as u8;
    let tot = p.len() as u16;
    p[2..4].copy_from_slice(&tot.to_be_bytes());
    fix_v4(p);
}

/// Puts up to three extension headers (Hop-by-Hop first, then Destination
/// Options or Routing, Segments Left mostly 0) between the IPv6 header and
/// the transport header, each padded with a PadN option.
fn add_exthdrs(rng: &mut Rng, p: &mut Vec<u8>) {
    let n = 1 + rng.below(3) as usize;
    let mut kinds: Vec<u8> = (0..n).map(|_| rng.pick(&[60, 43])).collect();
    if rng.chance(50) {
        kinds[0] = 0;
    }
    let mut next = p[6];
    let mut chain = Vec::new();
    for &kind in kinds.iter().rev() {
        let units = rng.below(3) as usize; // 8, 16 or 24 bytes
        let mut h = vec![0u8; 8 * (units + 1)];
        h[0] = next;
        h[1] = units as u8;
        if kind == 43 {
            h[2] = rng.pick(&[2, 3, 4]);
            h[3] = if rng.chance(80) {
                0
            } else {
                1 + rng.below(3) as u8
            };
        } else {
            h[2] = 1; // PadN over the rest
            h[3] = (h.len() - 4) as u8;
        }
        chain.splice(0..0, h);
        next = kind;
    }
    p[6] = next;
    let plen = (p.len() - 40 + chain.len()) as u16;
    p[4..6].copy_from_slice(&plen.to_be_bytes());
    p.splice(40..40, chain);
}

/// Whether an outer address of the L3 packet `p` is in an EAM prefix.
fn touches_eamt(cfg: &XlatConfig, p: &[u8]) -> bool {
    let in_eam4 = |b: &[u8]| {
        let a = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
        cfg.eamt.iter().any(|e| e.ipv4.contains(a))
    };
    let in_eam6 = |b: &[u8]| {
        let a = Ipv6Addr::from(<[u8; 16]>::try_from(b).unwrap());
        cfg.eamt.iter().any(|e| e.ipv6.contains(a))
    };
    match p.first().map(|b| b >> 4) {
        Some(4) if p.len() >= 20 => in_eam4(&p[12..16]) || in_eam4(&p[16..20]),
        Some(6) if p.len() >= 40 => in_eam6(&p[8..24]) || in_eam6(&p[24..40]),
        _ => false,
    }
}

fn fix_v4(p: &mut [u8]) {
    let hlen = (usize::from(p[0] & 0x0f) * 4).clamp(20, p.len());
    p[10] = 0;
    p[11] = 0;
    let c = checksum::finish(checksum::sum(&p[..hlen]));
    p[10..12].copy_from_slice(&c.to_be_bytes());
}

/// One side's verdict, comparable with the other's.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Forward(Vec<u8>),
    /// Fragmented after translation (by the exception path, for the eBPF).
    Fragments(Vec<Vec<u8>>),
    /// An ICMP error the gateway sends back.
    Reply(Vec<u8>),
    Drop(String),
    Pass(String),
    Other(String),
}

/// The reference's outcome as a comparable verdict.
fn verdict(outcome: Outcome) -> Verdict {
    match outcome {
        Outcome::Forward(mut p) if p.len() == 1 => Verdict::Forward(p.remove(0)),
        Outcome::Forward(p) => Verdict::Fragments(p),
        Outcome::Reply(p) => Verdict::Reply(p),
        Outcome::Drop(r) => Verdict::Drop(r.counter_name().to_string()),
        Outcome::Pass(r) => Verdict::Pass(r.counter_name().to_string()),
    }
}

#[test]
fn ebpf_and_reference_agree_on_random_packets() {
    let cases: u64 = std::env::var("SIXGATE_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let seed: u64 = std::env::var("SIXGATE_DIFF_SEED")
        .ok()
        .and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok())
        .unwrap_or(DEFAULT_SEED);
    with_gateway(ROUTED, move |gw| {
        // RFC 6791 pool4 and pool6: Time Exceeded both ways, Parameter
        // Problem, and ICMPv6 errors from IPv6 routers are compared too. The second
        // half of the cases runs with the other policies: Traffic Class
        // set, UDP checksum 0 dropped.
        let rfc6791 = vec![Ipv4Addr::new(203, 0, 113, 1)];
        let eamt: Vec<Eam> = EAMS
            .iter()
            .map(|(a, b)| Eam::new(a.parse().unwrap(), b.parse().unwrap()).unwrap())
            .collect();
        let pool6: Rfc6052Prefix = POOL6.parse().unwrap();
        let configure = |gw: &mut Gw, traffic_class, udp_zero_checksum| {
            gw.dp
                .configure(&sixgate_bpf::SiitParams {
                    rfc6791_pool4: rfc6791.clone(),
                    rfc6791_pool6: Some(POOL6_REPLY_SOURCE),
                    // test_run returns the redirect without doing it.
                    exception: Some(ExceptionParams {
                        ifindex: 1,
                        rate: u32::MAX,
                        burst: u32::MAX,
                    }),
                    traffic_class,
                    udp_zero_checksum,
                    eamt: eamt.clone(),
                    ..sixgate_bpf::SiitParams::new(pool6, vec![SERVED.parse().unwrap()])
                })
                .unwrap();
            let mut cfg = XlatConfig::new(pool6);
            cfg.ipv4_prefixes = vec![SERVED.parse::<Ipv4Prefix>().unwrap()];
            cfg.rfc6791_pool4 = rfc6791.clone();
            cfg.rfc6791_pool6 = Some(POOL6_REPLY_SOURCE);
            cfg.traffic_class = traffic_class;
            cfg.udp_zero_checksum = udp_zero_checksum;
            cfg.eamt = eamt.clone();
            cfg
        };
        let mut cfg = configure(gw, TrafficClass::Copy, UdpZeroChecksum::Compute);
        let ctx = Context {
            egress_mtu: EGRESS_MTU,
        };
        let gen = Gen { cfg: cfg.clone() };
        let mut rng = Rng(seed);
        let mut tally = std::collections::BTreeMap::<String, u64>::new();
        for case in 0..cases {
            if case == cases / 2 {
                cfg = configure(gw, TrafficClass::Override(0xb8), UdpZeroChecksum::Drop);
            }
            let v4 = rng.chance(50);
            let mut pkt = if rng.chance(30) {
                gen.error(&mut rng, v4)
            } else if rng.chance(15) {
                gen.fragment(&mut rng, v4)
            } else {
                // Up to too big for the 1500-byte link once translated
                // (Fragmentation Needed / Packet Too Big from the gateway).
                let payload =
                    rng.pick(&[0, 1, 7, 40, 300, 1000, 1420, 1460, 1540]) + rng.below(40) as usize;
                gen.plain(&mut rng, v4, payload)
            };
            let mutation = mutate(&mut rng, &mut pkt);
            let csum_broken = mutation == "bad transport checksum";

            let mut frame = Vec::with_capacity(14 + pkt.len());
            frame.extend_from_slice(&GW_MAC);
            frame.extend_from_slice(&PEER_MAC);
            frame.extend_from_slice(&(if v4 { 0x0800u16 } else { 0x86dd }).to_be_bytes());
            frame.extend_from_slice(&pkt);

            let before = gw.counts();
            let out = gw.run(&frame);
            let moved: Vec<&str> = gw
                .counts()
                .into_iter()
                .filter(|(k, v)| before[k] != *v && !k.starts_with("bigtcp"))
                .map(|(k, _)| k)
                .collect();
            let ebpf = match (out.ret, moved.as_slice()) {
                (TC_ACT_REDIRECT, [c]) if c.contains("redirect") => {
                    Verdict::Forward(out.data[14..].to_vec())
                }
                (TC_ACT_REDIRECT, [c]) if c.starts_with("exception") => {
                    // What the daemon does with it: the reference, with
                    // the MTU the program passed. The packet must arrive
                    // as it was received.
                    let meta = ExcMeta::parse(&out.data).expect("exception metadata");
                    assert_eq!(meta.counter.name, *c);
                    assert_eq!(out.data[12..], frame[12..], "handed off changed");
                    *tally.entry(c.to_string()).or_default() += 1;
                    let daemon_ctx = meta.context(cfg.lowest_ipv6_mtu);
                    verdict(translate(&out.data[14..], &cfg, &daemon_ctx))
                }
                (TC_ACT_REDIRECT, [c]) if c.starts_with("icmp") => {
                    Verdict::Reply(out.data[14..].to_vec())
                }
                (TC_ACT_SHOT, [c]) => Verdict::Drop(c.to_string()),
                (TC_ACT_OK, [c]) if c.starts_with("pass") => Verdict::Pass(c.to_string()),
                (ret, moved) => Verdict::Other(format!("ret {ret}, counters {moved:?}")),
            };
            let reference = verdict(translate(&pkt, &cfg, &ctx));
            let describe = || {
                format!(
                    "seed {seed:#x} case {case} ({mutation}):\n  input {}\n  eBPF      {ebpf:?}\n  reference {reference:?}",
                    hex(&pkt)
                )
            };
            assert_eq!(ebpf, reference, "{}", describe());
            let emitted = match &ebpf {
                Verdict::Forward(p) | Verdict::Reply(p) => std::slice::from_ref(p),
                Verdict::Fragments(ps) => ps.as_slice(),
                _ => &[],
            };
            for p in emitted {
                let valid = validate(p);
                // A fragment's transport checksum covers the whole datagram.
                if !csum_broken && !matches!(ebpf, Verdict::Fragments(_)) {
                    assert!(valid.is_ok(), "{:?}: {}", valid, describe());
                }
            }
            let key = match &ebpf {
                Verdict::Forward(_) if moved.contains(&"hairpin_redirect") => "hairpin".to_string(),
                Verdict::Forward(p) if touches_eamt(&cfg, &pkt) || touches_eamt(&cfg, p) => {
                    "forward (EAM)".to_string()
                }
                Verdict::Forward(_) => "forward".to_string(),
                Verdict::Fragments(_) => "fragments".to_string(),
                Verdict::Reply(_) => "reply".to_string(),
                Verdict::Drop(r) | Verdict::Pass(r) | Verdict::Other(r) => r.clone(),
            };
            *tally.entry(key).or_default() += 1;
        }
        eprintln!("differential: {cases} cases, seed {seed:#x}: {tally:?}");
        // The generator must mostly produce packets that translate, or the
        // comparison says little.
        let count = |k: &str| tally.get(k).copied().unwrap_or(0);
        let translated: u64 = ["forward", "forward (EAM)", "fragments", "hairpin", "reply"]
            .iter()
            .map(|k| count(k))
            .sum();
        assert!(translated * 2 > cases, "{tally:?}");
        // ... and a fair share of them through the EAMT and hairpinning.
        assert!(count("forward (EAM)") * 10 > cases, "{tally:?}");
        assert!(count("hairpin") * 50 > cases, "{tally:?}");
    });
}
