//! Property: every packet the translator emits (Forward or Reply) for a
//! random valid input passes `validate`, and fragments it emits reassemble
//! into a datagram that does too.

#[allow(dead_code)]
#[path = "conformance/common.rs"]
mod common;

use common::*;
use proptest::prelude::*;
use sixgate_wire::xlat::{translate, Eam, Outcome, TrafficClass, XlatConfig};
use sixgate_wire::{validate, Ipv4Prefix};

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn config(variant: u8) -> XlatConfig {
    let mut c = cfg();
    match variant % 4 {
        0 => {}
        1 => c.traffic_class = TrafficClass::Override(0x2e),
        2 => {
            c.eamt = vec![Eam::new(
                "198.51.100.128/25".parse().unwrap(),
                "2001:db8:46::/112".parse().unwrap(),
            )
            .unwrap()];
        }
        _ => {
            c.ipv4_prefixes
                .push("192.0.2.0/24".parse::<Ipv4Prefix>().unwrap());
            c.lowest_ipv6_mtu = 1400;
        }
    }
    c
}

/// Transport payload of `kind` for the given pseudo-header.
fn l4(kind: u8, len: usize, seed: u8, ps: Ps, six: bool) -> (u8, Vec<u8>) {
    let d = bytes(len, seed);
    match kind % 4 {
        0 => (6, tcp(1000 + u16::from(seed), 80, &d, ps)),
        1 => (17, udp(53, 1000 + u16::from(seed), &d, Some(ps))),
        2 if !six => (17, udp(53, 1000, &d, None)),
        _ => match ps {
            Ps::V4(..) => (1, icmp4(8 - 8 * (seed % 2), 0, [0, seed, 0, 1], &d)),
            Ps::V6(s, t) => (58, icmp6(128 + seed % 2, 0, [0, seed, 0, 1], &d, s, t)),
        },
    }
}

const TYPES4: [(u8, u8); 10] = [
    (3, 1),
    (3, 3),
    (3, 4),
    (3, 2),
    (11, 0),
    (12, 0),
    (12, 2),
    (5, 0),
    (3, 13),
    (3, 9),
];
const TYPES6: [(u8, u8); 9] = [
    (1, 0),
    (1, 4),
    (2, 0),
    (3, 0),
    (4, 0),
    (4, 1),
    (1, 1),
    (4, 2),
    (137, 0),
];

#[derive(Debug, Clone)]
struct Params {
    host: u8,
    peer: u8,
    ttl: u8,
    tos: u8,
    df: bool,
    frag: u8,
    frag_off: u16,
    kind: u8,
    len: u16,
    seed: u8,
    extra: u8,
    err: u8,
    rest: [u8; 4],
    cut: u16,
    mtu: u8,
    variant: u8,
}

fn params() -> impl Strategy<Value = Params> {
    (
        (
            any::<u8>(),
            any::<u8>(),
            0u8..10,
            any::<u8>(),
            any::<bool>(),
            0u8..10,
        ),
        (0u16..200, 0u8..6, 0u16..1800, any::<u8>(), 0u8..8),
        (0u8..20, any::<[u8; 4]>(), 0u16..1600, 0u8..5, any::<u8>()),
    )
        .prop_map(
            |(
                (host, peer, ttl, tos, df, frag),
                (frag_off, kind, len, seed, extra),
                (err, rest, cut, mtu, variant),
            )| Params {
                host,
                peer,
                ttl: [0, 1, 2, 64, 255, 128, 64, 64, 64, 64][usize::from(ttl)],
                tos,
                df,
                frag,
                frag_off,
                kind,
                len,
                seed,
                extra,
                err,
                rest,
                cut,
                mtu: [0, 1, 2, 3, 4][usize::from(mtu)],
                variant,
            },
        )
}

fn egress(p: &Params) -> u32 {
    [1280, 1400, 1500, 9000, 600][usize::from(p.mtu)]
}

/// A valid IPv4 packet from the parameters.
fn input4(p: &Params) -> Vec<u8> {
    let client = [192, 0, 2, p.peer.max(1)];
    let server = [198, 51, 100, p.host];
    let len = usize::from(p.len);
    let (proto, mut body) = if p.kind == 5 {
        // an ICMPv4 error about server -> client
        let (ip, inner_l4) = l4(p.seed, len.min(1400), p.seed, Ps::V4(server, client), false);
        let mut inner = V4::new(server, client, ip).build(&inner_l4);
        inner.truncate(20 + usize::from(p.cut).min(inner.len() - 20));
        let (t, c) = TYPES4[usize::from(p.err) % TYPES4.len()];
        let mut rest = p.rest;
        if p.extra.is_multiple_of(2) {
            rest = [p.rest[0] % 24, 0, p.rest[2], p.rest[3]];
        }
        if p.extra == 7 && t != 12 {
            // RFC 4884 extension
            inner.resize(128.max(inner.len().div_ceil(4) * 4), 0);
            rest[1] = (inner.len() / 4) as u8;
            inner.extend_from_slice(&[0x20, 0, 0, 0, 0, 8, 1, 1, 1, 2, 3, 4]);
        }
        (1, icmp4(t, c, rest, &inner))
    } else {
        l4(p.kind, len, p.seed, Ps::V4(client, server), false)
    };
    let mut h = V4::new(client, server, proto);
    h.ttl = p.ttl;
    h.tos = p.tos;
    h.df = p.df;
    h.id = u16::from(p.seed) << 8 | u16::from(p.host);
    match p.frag {
        1 => {
            h.mf = true;
            h.df = false;
            body.truncate((body.len() / 8 * 8).max(8));
        }
        2 => {
            h.mf = true;
            h.df = false;
            h.off = p.frag_off + 1;
            body.truncate((body.len() / 8 * 8).max(8));
        }
        3 => {
            h.df = false;
            h.off = p.frag_off + 1;
        }
        _ => {}
    }
    match p.extra {
        1 => h.options = vec![1, 1, 1, 0],
        2 => h.options = vec![7, 7, 4, 0, 0, 0, 0, 0],
        3 => h.options = vec![131, 7, 4, 192, 0, 2, 1, 0],
        _ => {}
    }
    h.build(&body)
}

/// A valid IPv6 packet from the parameters.
fn input6(p: &Params) -> Vec<u8> {
    let server = v6(&format!("2001:db8:64::c633:64{:02x}", p.host));
    let client = if p.extra == 6 {
        v6(&format!("2001:db8:64::c633:64{:02x}", p.peer)) // hairpin
    } else {
        v6(&format!("2001:db8:64::c000:2{:02x}", p.peer))
    };
    let len = usize::from(p.len);
    let (nh, mut body) = if p.kind == 5 {
        let (ip, inner_l4) = l4(p.seed, len.min(1400), p.seed, Ps::V6(client, server), true);
        let mut inner = V6::new(client, server, ip).build(&inner_l4);
        inner.truncate(40 + usize::from(p.cut).min(inner.len() - 40));
        let (t, c) = TYPES6[usize::from(p.err) % TYPES6.len()];
        let mut rest = p.rest;
        if p.extra.is_multiple_of(2) && t == 4 {
            rest = [0, 0, 0, p.rest[3] % 48];
        }
        if p.extra == 7 && matches!(t, 1 | 3) {
            inner.resize(128.max(inner.len().div_ceil(8) * 8), 0);
            rest[0] = (inner.len() / 8) as u8;
            inner.extend_from_slice(&[0x20, 0, 0, 0, 0, 8, 1, 1, 1, 2, 3, 4]);
        }
        (58, icmp6(t, c, rest, &inner, server, client))
    } else {
        l4(p.kind, len, p.seed, Ps::V6(server, client), true)
    };
    let mut first = nh;
    if (1..=3).contains(&p.frag) {
        let (off, more) = match p.frag {
            1 => (0, true),
            2 => (p.frag_off + 1, true),
            _ => (p.frag_off + 1, false),
        };
        if more {
            body.truncate((body.len() / 8 * 8).max(8));
        }
        let mut b = frag6(nh, off, more, u32::from(p.seed) << 16 | 0x55);
        b.extend_from_slice(&body);
        body = b;
        first = 44;
    }
    match p.extra {
        1 => {
            let mut b = vec![first, 0, 1, 4, 0, 0, 0, 0];
            b.extend_from_slice(&body);
            body = b;
            first = 0;
        }
        3 => {
            let mut b = vec![first, 2, 0, p.seed % 2, 0, 0, 0, 0];
            b.extend_from_slice(&[0; 16]);
            b.extend_from_slice(&body);
            body = b;
            first = 43;
        }
        _ => {}
    }
    let mut h = V6::new(server, client, first);
    h.hop = p.ttl;
    h.tc = p.tos;
    h.build(&body)
}

/// Reassembles fragments the translator emitted into one datagram.
fn reassemble(frags: &[Vec<u8>]) -> Vec<u8> {
    if frags[0][0] >> 4 == 4 {
        let mut data = Vec::new();
        for f in frags {
            let off = usize::from(u16::from_be_bytes([f[6], f[7]]) & 0x1fff) * 8;
            let first_off =
                usize::from(u16::from_be_bytes([frags[0][6], frags[0][7]]) & 0x1fff) * 8;
            assert_eq!(off - first_off, data.len(), "fragments contiguous");
            data.extend_from_slice(&f[20..]);
        }
        let mut h = frags[0][..20].to_vec();
        h[2..4].copy_from_slice(&((20 + data.len()) as u16).to_be_bytes());
        let keep_mf = frags.last().unwrap()[6] & 0x20;
        let off0 = u16::from_be_bytes([frags[0][6], frags[0][7]]) & 0x1fff;
        h[6] = keep_mf | (off0 >> 8) as u8;
        h[7] = off0 as u8;
        h[10] = 0;
        h[11] = 0;
        let c = sixgate_wire::checksum::finish(sixgate_wire::checksum::sum(&h));
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h.extend_from_slice(&data);
        h
    } else {
        let mut data = Vec::new();
        for f in frags {
            assert_eq!(f[6], 44);
            data.extend_from_slice(&f[48..]);
        }
        let f0 = &frags[0];
        let off0 = u16::from_be_bytes([f0[42], f0[43]]) >> 3;
        let more = frags.last().unwrap()[43] & 1 != 0;
        let mut h = f0[..40].to_vec();
        if off0 == 0 && !more {
            h[6] = f0[40];
            h[4..6].copy_from_slice(&(data.len() as u16).to_be_bytes());
        } else {
            h[4..6].copy_from_slice(&((8 + data.len()) as u16).to_be_bytes());
            h.extend_from_slice(&f0[40..48]);
            let n = h.len();
            h[n - 2 - 4..n - 4].copy_from_slice(&((off0 << 3) | u16::from(more)).to_be_bytes());
        }
        h.extend_from_slice(&data);
        h
    }
}

fn check(o: &Outcome) -> Result<(), TestCaseError> {
    match o {
        Outcome::Forward(pkts) => {
            for p in pkts {
                prop_assert!(validate(p).is_ok(), "{:?}: {}", validate(p), hex(p));
            }
            if pkts.len() > 1 {
                let whole = reassemble(pkts);
                prop_assert!(
                    validate(&whole).is_ok(),
                    "reassembled: {:?}",
                    validate(&whole)
                );
            }
        }
        Outcome::Reply(p) => {
            prop_assert!(validate(p).is_ok(), "reply {:?}: {}", validate(p), hex(p))
        }
        _ => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn ipv4_inputs_give_valid_outputs(p in params()) {
        let pkt = input4(&p);
        prop_assert!(validate(&pkt).is_ok() || p.frag != 0, "bad input");
        check(&translate(&pkt, &config(p.variant), &ctx(egress(&p))))?;
    }

    #[test]
    fn ipv6_inputs_give_valid_outputs(p in params()) {
        let pkt = input6(&p);
        check(&translate(&pkt, &config(p.variant), &ctx(egress(&p))))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// The translator never panics, whatever the bytes (it runs on packets
    /// from the network in the daemon): valid packets with a few bytes
    /// changed or cut short. The errors it sends still validate.
    #[test]
    fn mutated_inputs_never_panic(
        p in params(),
        six in any::<bool>(),
        flips in proptest::collection::vec((any::<u16>(), any::<u8>()), 1..4),
        cut in any::<u16>(),
    ) {
        let mut pkt = if six { input6(&p) } else { input4(&p) };
        for (at, x) in flips {
            let i = usize::from(at) % pkt.len();
            pkt[i] ^= x;
        }
        if cut % 4 == 0 {
            pkt.truncate(usize::from(cut) % (pkt.len() + 1));
        }
        let o = translate(&pkt, &config(p.variant), &ctx(egress(&p)));
        if let Outcome::Reply(r) = &o {
            prop_assert!(validate(r).is_ok());
        }
        // Forwarded packets carry the input's (possibly broken) transport
        // checksum forward, as RFC 7915 4.5 / 5.5 incremental updates do.
        if let Outcome::Forward(v) = &o {
            prop_assert!(!v.is_empty());
        }
    }
}

/// How many of the random inputs are actually translated (not dropped):
/// the property is only worth something if most are.
#[test]
fn most_random_inputs_are_translated() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut fwd, mut reply, mut total) = (0, 0, 0);
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..2000 {
        let p = params().new_tree(&mut runner).unwrap().current();
        for pkt in [input4(&p), input6(&p)] {
            total += 1;
            match translate(&pkt, &config(p.variant), &ctx(egress(&p))) {
                Outcome::Forward(_) => fwd += 1,
                Outcome::Reply(_) => reply += 1,
                Outcome::Drop(r) => *seen.entry(r.counter_name()).or_insert(0) += 1,
                Outcome::Pass(r) => *seen.entry(r.counter_name()).or_insert(0) += 1,
            }
        }
    }
    assert!(
        fwd * 2 > total,
        "only {fwd} of {total} forwarded ({reply} replies, {seen:?})"
    );
    eprintln!("{fwd} forwarded, {reply} replies of {total}; others: {seen:?}");
    assert!(reply * 20 > total, "only {reply} of {total} replies");
}
