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

/* Translate the IPv6 packet in `skb` (destination already known to be in
 * pool6) to IPv4 and send it on. Returns a TC action, with the outcome in
 * *counter, or a negative DROP reason. */
static __always_inline int xlat64(struct __sk_buff *skb, const struct sixgate_config *cfg, __u32 *counter)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ipv6hdr *ip6 = data + ETH_HLEN;
	struct bpf_fib_lookup fib;
	union v6addr src6, dst6;
	struct iphdr *ip4;
	struct ethhdr *eth;
	__u32 l4_len, tot_len, addr_diff, hbh_len;
	__be32 src4, dst4;
	__u16 l4_check;
	__u8 tclass, hop_limit, proto, proto4, ttl;
	enum fib_verdict verdict;
	int rc, ret;

	if ((void *)(ip6 + 1) > data_end)
		return DROP(DROP_TRUNCATED);
	ret = bigtcp_ipv6_len(skb, ip6, &proto, &hbh_len);
	if (ret < 0)
		return DROP(DROP_TRUNCATED);
	l4_len = ret;
	if (proto == IPPROTO_FRAGMENT)
		return DROP(DROP_IPV6_FRAGMENT);
	if (ipv6_is_exthdr(proto))
		return DROP(DROP_IPV6_EXTHDR);
	/* RFC 7915 5.1: hop limit is decremented; expiring packets are not
	 * translated (Time Exceeded comes in a later version). */
	if (ip6->hop_limit <= 1)
		return DROP(DROP_TTL_EXPIRED);

	src6.in6 = ip6->saddr;
	dst6.in6 = ip6->daddr;
	/* RFC 7915 5.1: the source must have an IPv4 form (pool6 here; EAMT
	 * later), and that address must be one this gateway serves: anything
	 * else would let IPv6 hosts spoof arbitrary IPv4 sources. */
	if (!rfc6052_in_pool6(cfg, &src6))
		return DROP(DROP_SRC_NOT_POOL6);
	src4 = rfc6052_extract(cfg, &src6);
	dst4 = rfc6052_extract(cfg, &dst6);
	if (!xlat46_is_served(src4))
		return DROP(DROP_SRC_NOT_SERVED);
	if (ipv4_is_illegal_source(src4))
		return DROP(DROP_ILLEGAL_SOURCE);
	if (rfc6052_wkp_forbids(cfg, src4, dst4))
		return DROP(DROP_WKP_NON_GLOBAL);

	tclass = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
	hop_limit = ip6->hop_limit;
	switch (proto) {
	case IPPROTO_TCP: {
		struct tcphdr *tcp = data + L4_OFF6 + hbh_len;

		if ((void *)(tcp + 1) > data_end)
			return DROP(DROP_TRUNCATED);
		l4_check = tcp->check;
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr *udp = data + L4_OFF6;

		if ((void *)(udp + 1) > data_end)
			return DROP(DROP_TRUNCATED);
		l4_check = udp->check;
		break;
	}
	case IPPROTO_ICMPV6: {
		struct icmp6hdr *icmp6 = data + L4_OFF6;

		if ((void *)(icmp6 + 1) > data_end)
			return DROP(DROP_TRUNCATED);
		l4_check = icmp6->icmp6_cksum;
		break;
	}
	default:
		return DROP(DROP_PROTO_UNSUPPORTED);
	}
	tot_len = l4_len + IPV4_HLEN;
	proto4 = proto == IPPROTO_ICMPV6 ? IPPROTO_ICMP : proto;

	rc = fib_lookup4(skb, &fib, src4, dst4, tclass, proto4, tot_len);
	verdict = fib_verdict_of(rc);
	if (verdict == FIB_TOO_BIG)
		return DROP(DROP_FRAG_NEEDED);
	ttl = verdict == FIB_REDIRECT ? hop_limit - 1 : hop_limit;

	/* BIG TCP: the jumbo Hop-by-Hop header has no IPv4 equivalent; IPv4
	 * says "longer than 64 KiB" with tot_len 0. gso_size is unchanged: the
	 * header was never part of the segments. */
	if (hbh_len) {
		if (bpf_skb_adjust_room(skb, -JUMBO_HBH_LEN, BPF_ADJ_ROOM_NET,
					BPF_F_ADJ_ROOM_FIXED_GSO))
			return DROP(DROP_HELPER_FAILED);
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
	}

	if (proto == IPPROTO_ICMPV6) {
		struct icmp6hdr *icmp6 = data + L4_OFF6;

		if ((void *)(icmp6 + 1) > data_end)
			return DROP(DROP_TRUNCATED);
		ret = xlat64_icmp(skb, icmp6, csum_pseudo6(&src6, &dst6, l4_len, IPPROTO_ICMPV6));
		if (ret)
			return ret;
	} else {
		/* RFC 7915 5.5: TCP/UDP checksums change by the pseudo-header
		 * address difference. A zero UDP checksum stays zero, which
		 * IPv4 reads as "none" (BPF_F_MARK_MANGLED_0). */
		__u64 flags = BPF_F_PSEUDO_HDR;
		__u32 off = L4_OFF6 + offsetof(struct tcphdr, check);

		if (proto == IPPROTO_UDP) {
			flags |= BPF_F_MARK_MANGLED_0;
			off = L4_OFF6 + offsetof(struct udphdr, check);
		}
		addr_diff = csum_add(csum_add(src4, dst4), ~csum_v6addr(csum_v6addr(0, &src6), &dst6));
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
	ip4->version = 4;
	ip4->ihl = 5;
	ip4->tos = tclass;
	if (tot_len > IPV6_MAXPLEN) {
		ip4->tot_len = 0;
		count(SG_BIGTCP_XLAT64, skb->len);
	} else {
		ip4->tot_len = bpf_htons((__u16)tot_len);
	}
	if (tot_len > XLAT64_DF_THRESHOLD) {
		ip4->id = 0;
		ip4->frag_off = bpf_htons(IPV4_FLAG_DF);
	} else {
		ip4->id = xlat64_identification(src4, dst4, proto4, l4_check);
		ip4->frag_off = 0;
	}
	ip4->ttl = ttl;
	ip4->protocol = proto4;
	ip4->saddr = src4;
	ip4->daddr = dst4;
	ip4->check = 0;
	ip4->check = csum_ipv4_header(ip4);

	if (verdict == FIB_STACK) {
		*counter = SG_XLAT64_STACK;
		return TC_ACT_OK;
	}
	*counter = SG_XLAT64_REDIRECT;
	return fib_redirect(skb, cfg, &fib, rc);
}

#endif
