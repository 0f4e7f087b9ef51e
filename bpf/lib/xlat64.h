/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Stateless IPv6 -> IPv4 translation, RFC 7915 section 5. */
#ifndef SIXGATE_XLAT64_H
#define SIXGATE_XLAT64_H

#include "bigtcp.h"
#include "csum.h"
#include "fib.h"
#include "rfc6052.h"
#include "stats.h"
#include "xlat46.h"

#define L4_OFF6 (ETH_HLEN + IPV6_HLEN)

/* IPv6 next-header values that are extension headers (RFC 8200 4, RFC 7045). */
static __always_inline bool ipv6_is_exthdr(__u8 nexthdr)
{
	switch (nexthdr) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
	case 135: /* Mobility */
	case 139: /* HIP */
	case 140: /* Shim6 */
		return true;
	}
	return false;
}

/* RFC 7915 5.1 Identification for packets sent with DF=0. The translator
 * must pick one; it is derived from the addresses, IPv4 protocol and transport
 * checksum so that it varies from packet to packet of a flow while the same
 * input always gives the same bytes (the Rust reference computes the same
 * value: sixgate_wire::xlat::ipv4_identification). DF=1 packets are atomic
 * (RFC 6864) and get 0. */
static __always_inline __be16 xlat64_identification(__be32 src, __be32 dst, __u8 proto, __u16 l4_check)
{
	__u32 h = bpf_ntohl(src) * 0x9e3779b1u;

	h ^= bpf_ntohl(dst);
	h *= 0x85ebca6bu;
	h ^= ((__u32)proto << 16) | bpf_ntohs(l4_check);
	h ^= h >> 16;
	h *= 0xc2b2ae35u;
	h ^= h >> 13;
	return bpf_htons((__u16)(h ^ (h >> 16)));
}

/* RFC 7915 5.2: ICMPv6 echo request (128) / reply (129) become ICMPv4 8 / 0
 * and the checksum loses the IPv6 pseudo-header. Errors and other types are
 * not translated (yet): dropped, by reason. */
static __always_inline int xlat64_icmp(struct __sk_buff *skb, struct icmp6hdr *icmp6, __u32 pseudo6)
{
	__u16 old_word = *(__u16 *)icmp6;
	__u16 new_word;

	switch (icmp6->icmp6_type) {
	case ICMPV6_ECHO_REQUEST:
		icmp6->icmp6_type = ICMP_ECHO;
		break;
	case ICMPV6_ECHO_REPLY:
		icmp6->icmp6_type = ICMP_ECHOREPLY;
		break;
	case ICMPV6_DEST_UNREACH:
	case ICMPV6_PKT_TOOBIG:
	case ICMPV6_TIME_EXCEED:
	case ICMPV6_PARAMPROB:
		return DROP(DROP_ICMP_ERROR);
	default:
		return DROP(DROP_ICMP_UNSUPPORTED);
	}
	new_word = *(__u16 *)icmp6;

	if (bpf_l4_csum_replace(skb, L4_OFF6 + offsetof(struct icmp6hdr, icmp6_cksum), 0, ~pseudo6,
				BPF_F_PSEUDO_HDR))
		return DROP(DROP_HELPER_FAILED);
	if (bpf_l4_csum_replace(skb, L4_OFF6 + offsetof(struct icmp6hdr, icmp6_cksum), old_word,
				new_word, sizeof(__u16)))
		return DROP(DROP_HELPER_FAILED);
	return 0;
}

/* RFC 7915 5.1 Identification and flags of an unfragmented packet of
 * `tot_len` bytes: over 1260 bytes DF set and ID 0 (atomic, RFC 6864),
 * else DF clear and a generated Identification. */
static __always_inline void xlat64_id_df(__u32 tot_len, __be32 src, __be32 dst, __u8 proto,
					 __u16 l4_check, __be16 *id, __be16 *frag_off)
{
	if (tot_len > XLAT64_DF_THRESHOLD) {
		*id = 0;
		*frag_off = bpf_htons(IPV4_FLAG_DF);
	} else {
		*id = xlat64_identification(src, dst, proto, l4_check);
		*frag_off = 0;
	}
}

/* What the translator keeps from a validated IPv6 packet. */
struct xlat64_pkt {
	union v6addr src6;
	union v6addr dst6;
	__u32 l4_len;	/* transport header + payload */
	__u32 ext_len;	/* header to remove: BIG TCP's jumbo Hop-by-Hop or a Fragment header */
	__be32 frag_id;	/* Fragment header: Identification */
	__be16 frag_off; /* Fragment header: offset << 3 | M */
	bool frag;	/* has a Fragment header */
	bool first;	/* not a later fragment: the transport header is here */
	__be16 sport;	/* TCP/UDP ports (ICMPv6: 0) */
	__be16 dport;
	__u16 l4_check;	/* transport checksum as received */
	__u8 tclass;
	__u8 hop_limit;
	__u8 proto;	/* TCP, UDP or ICMPv6 */
	__u8 tcp_flags;	/* TCP: FIN, SYN, RST, ... (connection tracking) */
	__u8 icmp_type;	/* ICMPv6: the type */
	__u16 segleft_ptr; /* offset of a non-zero Segments Left byte from the IPv6 header; 0: none */
};

/* Where the translated packet goes: its IPv4 addresses and, on the NAT46
 * reply path, new transport ports (equal to the old ones for SIIT). */
struct xlat64_target {
	__be32 src4;
	__be32 dst4;
	__be16 sport;
	__be16 dport;
};

/* Extension headers a packet may carry through the translator, at most. */
#define IPV6_MAX_EXTHDRS 4

/* The option-style extension headers' first bytes (RFC 8200 4.3-4.6). */
struct ipv6_ext_hdr {
	__u8 nexthdr;
	__u8 hdrlen;	/* 8-byte units beyond the first 8 */
	__u8 routing_type;
	__u8 segments_left; /* Routing header only */
};

/* RFC 7915 5.1: Hop-by-Hop, Destination Options and Routing headers (with
 * Segments Left 0) are skipped, and a Fragment header's fields go into the
 * IPv4 header (5.1.1); all of them are removed before translation. Walks
 * the chain after the fixed header (and after BIG TCP's jumbo header),
 * adding what it skips to p->ext_len and taking it off p->l4_len; sets
 * p->segleft_ptr for the first Routing header still to be followed. */
static __always_inline int xlat64_skip_exthdrs(struct __sk_buff *skb, struct xlat64_pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 off = p->ext_len, len, i;

	for (i = 0; i < IPV6_MAX_EXTHDRS; i++) {
		if (p->proto == IPPROTO_HOPOPTS || p->proto == IPPROTO_DSTOPTS ||
		    p->proto == IPPROTO_ROUTING) {
			struct ipv6_ext_hdr *h = data + L4_OFF6 + (off & 0x7ff);

			if ((void *)(h + 1) > data_end)
				return DROP(DROP_TRUNCATED);
			len = ((__u32)h->hdrlen + 1) * 8;
			if (p->proto == IPPROTO_ROUTING && h->segments_left && !p->segleft_ptr)
				p->segleft_ptr = (__u16)(IPV6_HLEN + (off & 0x7ff) + 3);
			p->proto = h->nexthdr;
		} else if (p->proto == IPPROTO_FRAGMENT && !p->frag) {
			struct ipv6_frag_hdr *fh = data + L4_OFF6 + (off & 0x7ff);

			if ((void *)(fh + 1) > data_end)
				return DROP(DROP_TRUNCATED);
			p->frag = true;
			p->first = (fh->frag_off & bpf_htons(~7)) == 0;
			p->frag_off = fh->frag_off;
			p->frag_id = fh->identification;
			p->proto = fh->nexthdr;
			len = IPV6_FRAG_HLEN;
		} else {
			break;
		}
		if (p->l4_len < len)
			return DROP(DROP_TRUNCATED);
		p->l4_len -= len;
		off += len;
		/* A later fragment holds data, not the headers that follow. */
		if (p->frag && !p->first) {
			p->ext_len = off;
			return 0;
		}
	}
	if (p->proto == IPPROTO_FRAGMENT)
		return DROP(DROP_IPV6_FRAGMENT);
	if (ipv6_is_exthdr(p->proto))
		return DROP(DROP_IPV6_EXTHDR);
	p->ext_len = off;
	return 0;
}

/* xlat64_parse: a Routing header with Segments Left not 0 (p->segleft_ptr
 * points at it; the gateway may answer Parameter Problem). */
#define XLAT_SEGMENTS_LEFT 3

/* The checks RFC 7915 5.1 makes before translating, on the packet at
 * ETH_HLEN; fills *p. Returns 0, XLAT_TTL_EXPIRED or XLAT_SEGMENTS_LEFT
 * (p's lengths and fragment fields set), or a negative DROP reason. */
static __always_inline int xlat64_parse(struct __sk_buff *skb, struct xlat64_pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ipv6hdr *ip6 = data + ETH_HLEN;
	__be16 *ports;
	int ret;

	if ((void *)(ip6 + 1) > data_end)
		return DROP(DROP_TRUNCATED);
	ret = bigtcp_ipv6_len(skb, ip6, &p->proto, &p->ext_len);
	if (ret < 0)
		return DROP(DROP_TRUNCATED);
	p->l4_len = ret;
	/* RFC 7915 5.1 with RFC 4291: such a source has no IPv4 form and is
	 * never forwarded, whatever the rest of the packet says. */
	if (ipv6_is_illegal_source(&ip6->saddr))
		return DROP(DROP_ILLEGAL_SOURCE);
	p->frag = false;
	p->first = true;
	p->segleft_ptr = 0;
	ret = xlat64_skip_exthdrs(skb, p);
	if (ret)
		return ret;
	/* RFC 7915 5.1: hop limit is decremented; an expiring packet is not
	 * translated (the caller may answer Time Exceeded), nor one whose
	 * Routing header has Segments Left (Parameter Problem). */
	if (ip6->hop_limit <= 1)
		return XLAT_TTL_EXPIRED;
	if (p->segleft_ptr)
		return XLAT_SEGMENTS_LEFT;
	p->src6.in6 = ip6->saddr;
	p->dst6.in6 = ip6->daddr;
	p->tclass = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
	p->hop_limit = ip6->hop_limit;
	p->sport = 0;
	p->dport = 0;
	p->tcp_flags = 0;
	p->icmp_type = 0;
	p->l4_check = 0;
	if (p->proto == IPPROTO_ICMPV6 && p->frag)
		return DROP(DROP_ICMP_FRAGMENT); /* its checksum needs the whole message */
	if (!p->first) {
		if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP)
			return DROP(DROP_PROTO_UNSUPPORTED);
		return 0;
	}
	switch (p->proto) {
	case IPPROTO_TCP: {
		struct tcphdr *tcp = data + L4_OFF6 + (p->ext_len & 0x7ff);

		if ((void *)(tcp + 1) > data_end)
			return DROP(DROP_TRUNCATED);
		p->l4_check = tcp->check;
		p->tcp_flags = ((__u8 *)tcp)[TCP_FLAGS_OFF];
		ports = (__be16 *)tcp;
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr *udp = data + L4_OFF6 + (p->ext_len & 0x7ff);

		if ((void *)(udp + 1) > data_end)
			return DROP(DROP_TRUNCATED);
		p->l4_check = udp->check;
		ports = (__be16 *)udp;
		break;
	}
	case IPPROTO_ICMPV6: {
		struct icmp6hdr *icmp6 = data + L4_OFF6 + (p->ext_len & 0x7ff);

		if ((void *)(icmp6 + 1) > data_end)
			return DROP(DROP_TRUNCATED);
		p->l4_check = icmp6->icmp6_cksum;
		p->icmp_type = icmp6->icmp6_type;
		return 0;
	}
	default:
		return DROP(DROP_PROTO_UNSUPPORTED);
	}
	p->sport = ports[0];
	p->dport = ports[1];
	return 0;
}

/* RFC 7757 4.3 hairpinning: hand the IPv4 packet just built, addressed to
 * this gateway, to sixgate_tc_hairpin (prog_tc.c), which translates it back
 * to IPv6 and counts it. Returns only if the tail call fails: the daemon has
 * not filled the slot. */
static __always_inline int xlat64_hairpin(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &sixgate_hairpin, SIXGATE_HAIRPIN_SLOT);
	return DROP(DROP_HELPER_FAILED);
}

/* Rewrite the parsed IPv6 packet in `skb` as IPv4 per `t` (RFC 7915 5.1,
 * 5.5) and send it on, or, on XLAT_HAIRPIN, hand it back for the way to
 * IPv6 (its hop limit is then decremented there, once). `path` selects the
 * counters. Returns a TC action, with the outcome in *counter, or a
 * negative DROP reason. */
static __always_inline int xlat64_emit(struct __sk_buff *skb, const struct sixgate_config *cfg,
				       const struct xlat64_pkt *p, const struct xlat64_target *t,
				       enum xlat_path path, __u32 *counter)
{
	void *data, *data_end;
	struct bpf_fib_lookup *fib = fib_scratch();
	struct iphdr *ip4;
	struct ethhdr *eth;
	__u32 tot_len = p->l4_len + IPV4_HLEN, addr_diff;
	__u8 proto4 = p->proto == IPPROTO_ICMPV6 ? IPPROTO_ICMP : p->proto;
	__be16 id, frag_off;
	__u8 ttl;
	enum fib_verdict verdict;
	int rc, ret;

	if (!fib)
		return DROP(DROP_HELPER_FAILED);
	if (path == XLAT_HAIRPIN) {
		/* Not forwarded as IPv4: no FIB, no size check, TTL as received. */
		rc = 0;
		verdict = FIB_STACK;
	} else {
		rc = fib_lookup4(skb, fib, t->src4, t->dst4, p->tclass, proto4, tot_len);
		verdict = fib_verdict_of(rc);
	}
	if (verdict == FIB_TOO_BIG) {
		/* RFC 7915 5.1: a packet of at most 1280 bytes is fragmented
		 * after translation, by the daemon (a NAT46 service flow's
		 * state is here, so that one is dropped); a larger one gets
		 * Packet Too Big with the IPv4 path's MTU plus the 20 bytes
		 * translation saves, never below IPv6's 1280 (RFC 8200 5). */
		__u32 len6 = p->l4_len + p->ext_len + IPV6_HLEN;
		__u32 mtu = (__u32)fib->mtu_result + IP_HDR_DELTA;

		if (len6 <= ICMP6_ERROR_MAX) {
			if (path == XLAT_NAT46)
				return DROP(DROP_FRAG_NEEDED);
			return exception_handoff(skb, cfg, SG_EXCEPTION_FRAGMENT64, fib->mtu_result,
						 DROP(DROP_FRAG_NEEDED), counter);
		}
		*counter = SG_ICMP6_PACKET_TOO_BIG_SENT;
		return icmp6_reply(skb, len6, ICMPV6_PKT_TOOBIG << 8,
				   mtu < ICMP6_ERROR_MAX ? ICMP6_ERROR_MAX : mtu, 0);
	}
	ttl = verdict == FIB_REDIRECT ? p->hop_limit - 1 : p->hop_limit;

	/* BIG TCP: the jumbo Hop-by-Hop header has no IPv4 equivalent; IPv4
	 * says "longer than 64 KiB" with tot_len 0. gso_size is unchanged: the
	 * header was never part of the segments. A Fragment header's fields
	 * move into the IPv4 header (RFC 7915 5.1.1). */
	if (p->ext_len) {
		if (bpf_skb_adjust_room(skb, -(__s32)p->ext_len, BPF_ADJ_ROOM_NET,
					BPF_F_ADJ_ROOM_FIXED_GSO))
			return DROP(DROP_HELPER_FAILED);
	}

	if (!p->first) {
		/* later fragment: no transport header */
	} else if (p->proto == IPPROTO_ICMPV6) {
		struct icmp6hdr *icmp6;

		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		icmp6 = data + L4_OFF6;
		if ((void *)(icmp6 + 1) > data_end)
			return DROP(DROP_TRUNCATED);
		ret = xlat64_icmp(skb, icmp6, csum_pseudo6(&p->src6, &p->dst6, p->l4_len, IPPROTO_ICMPV6));
		if (ret)
			return ret;
	} else {
		/* RFC 7915 5.5: TCP/UDP checksums change by the pseudo-header
		 * address difference. A zero UDP checksum stays zero, which
		 * IPv4 reads as "none" (BPF_F_MARK_MANGLED_0). */
		__u64 flags = BPF_F_PSEUDO_HDR;
		__u32 off = L4_OFF6 + offsetof(struct tcphdr, check);

		ret = l4_rewrite_ports(skb, L4_OFF6, p->proto, p->sport, p->dport, t->sport, t->dport);
		if (ret)
			return ret;
		if (p->proto == IPPROTO_UDP) {
			flags |= BPF_F_MARK_MANGLED_0;
			off = L4_OFF6 + offsetof(struct udphdr, check);
		}
		addr_diff = csum_add(csum_add(t->src4, t->dst4),
				     ~csum_v6addr(csum_v6addr(0, &p->src6), &p->dst6));
		if (bpf_l4_csum_replace(skb, off, 0, addr_diff, flags))
			return DROP(DROP_HELPER_FAILED);
	}

	if (bpf_skb_change_proto(skb, bpf_htons(ETH_P_IP), 0))
		return DROP(DROP_HELPER_FAILED);

	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	eth = data;
	ip4 = data + ETH_HLEN;
	if ((void *)(ip4 + 1) > data_end)
		return DROP(DROP_HELPER_FAILED);
	eth->h_proto = bpf_htons(ETH_P_IP);
	/* RFC 7915 5.1: version 4, IHL 5, TOS = traffic class, total length =
	 * payload length + 20 (BIG TCP: 0), DF by the 1260-byte rule, MF 0, offset 0,
	 * TTL = hop limit - 1, protocol = next header (58 -> 1). */
	if (tot_len > IPV6_MAXPLEN)
		count(SG_BIGTCP_XLAT64, skb->len);
	if (p->frag) {
		/* RFC 7915 5.1.1: ID = low 16 bits, MF = M, DF = 0, offset. */
		id = bpf_htons((__u16)bpf_ntohl(p->frag_id));
		frag_off = bpf_htons((bpf_ntohs(p->frag_off) >> 3) |
				     ((bpf_ntohs(p->frag_off) & IPV6_FRAG_MF) ? IPV4_FLAG_MF : 0));
	} else {
		xlat64_id_df(tot_len, t->src4, t->dst4, proto4, p->l4_check, &id, &frag_off);
	}
	ipv4_hdr_write(ip4, p->tclass, tot_len > IPV6_MAXPLEN ? 0 : (__u16)tot_len, id, frag_off, ttl,
		       proto4, t->src4, t->dst4);

	if (path == XLAT_HAIRPIN)
		return xlat64_hairpin(skb);
	return fib_send(skb, cfg, fib, rc, verdict, counter,
			path == XLAT_NAT46 ? SG_NAT46_REPLY_REDIRECT : SG_XLAT64_REDIRECT,
			path == XLAT_NAT46 ? SG_NAT46_REPLY_STACK : SG_XLAT64_STACK);
}

/* RFC 7915 5.1 (the translator is a router, RFC 8200 3 and 4.4): a packet
 * whose hop limit expires here gets Time Exceeded (3/0), one with a Routing
 * header still to be followed Parameter Problem (4/0) pointing at its
 * Segments Left, both from the RFC 6791 pool6 address, never about an
 * ICMPv6 error or a later fragment (RFC 4443 2.4 (e)). Without a pool6
 * address the packet is dropped by that reason. */
static __always_inline int xlat64_gateway_error(struct __sk_buff *skb, const struct sixgate_config *cfg,
						const struct xlat64_pkt *p, int why, __u32 *counter)
{
	bool expired = why == XLAT_TTL_EXPIRED;
	int drop = expired ? DROP(DROP_TTL_EXPIRED) : DROP(DROP_IPV6_SEGMENTS_LEFT);
	__u8 type;

	if (!(cfg->flags & SIXGATE_CFG_RFC6791_POOL6) || !p->first)
		return drop;
	if (p->proto == IPPROTO_ICMPV6 &&
	    !bpf_skb_load_bytes(skb, L4_OFF6 + (p->ext_len & 0x7ff), &type, sizeof(type)) &&
	    icmp6_is_error(type))
		return drop;
	if (expired) {
		*counter = SG_ICMP6_TIME_EXCEEDED_SENT;
		return icmp6_reply(skb, p->l4_len + p->ext_len + IPV6_HLEN, ICMPV6_TIME_EXCEED << 8, 0, 1);
	}
	*counter = SG_ICMP6_PARAM_PROBLEM_SENT;
	return icmp6_reply(skb, p->l4_len + p->ext_len + IPV6_HLEN, ICMPV6_PARAMPROB << 8,
			   p->segleft_ptr, 1);
}

/* ICMPv6 errors need the structs above. */
#include "icmp_error64.h"

/* Stateless SIIT (RFC 7915 5): translate the IPv6 packet in `skb`, whose
 * destination is ours (in an EAM, `dst_eam`, or in pool6), to IPv4; or, if
 * that IPv4 destination is served here too, back to IPv6 (hairpinning). */
static __always_inline int xlat64(struct __sk_buff *skb, const struct sixgate_config *cfg,
				  const struct eamt6_value *dst_eam, __u32 *counter)
{
	enum xlat_path path = XLAT_SIIT;
	struct xlat64_target t;
	struct xlat64_pkt p;
	bool error;
	int ret;

	ret = xlat64_parse(skb, &p);
	if (ret == XLAT_TTL_EXPIRED || ret == XLAT_SEGMENTS_LEFT)
		return xlat64_gateway_error(skb, cfg, &p, ret, counter);
	if (ret)
		return ret;
	p.tclass = xlat_tclass(cfg, p.tclass);
	error = p.proto == IPPROTO_ICMPV6 && icmp6_is_error(p.icmp_type);
	/* RFC 7915 5.1 addresses (eam.h), in the reference's order: the
	 * destination by the EAMT or pool6; the source must have an IPv4 form
	 * this gateway serves, or any IPv6 host could send with any IPv4
	 * source; an ICMPv6 error from elsewhere (an IPv6 router) takes an RFC
	 * 6791 address instead. */
	ret = addr_map64(cfg, dst_eam, &p.dst6, &t.dst4);
	if (ret)
		return ret;
	ret = addr_map64_source(cfg, &p.src6, &t.src4);
	if (!ret && ipv4_is_illegal_source(t.src4))
		return DROP(DROP_ILLEGAL_SOURCE);
	if (ret && error && cfg->rfc6791_count)
		t.src4 = rfc6791_pick4(cfg, &p.src6);
	else if (ret)
		return ret;
	/* RFC 7757 4.3 hairpinning: an IPv4 destination this gateway serves
	 * is not sent out as IPv4 but translated straight back to IPv6. The
	 * length as received goes along for the counter. */
	if (eam4_lookup(cfg, t.dst4) || served_v4_contains(t.dst4)) {
		path = XLAT_HAIRPIN;
		skb->cb[SIXGATE_HAIRPIN_CB_LEN] = skb->len;
	}
	t.sport = p.sport;
	t.dport = p.dport;
	if (error)
		return xlat64_icmp_error(skb, cfg, &p, &t, path, counter);
	return xlat64_emit(skb, cfg, &p, &t, path, counter);
}

#endif
