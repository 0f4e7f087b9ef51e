/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* ICMPv4 errors -> ICMPv6 errors, with the packet they quote translated too
 * (RFC 7915 4.2 and 4.3). This is what lets an IPv6 host behind the
 * translator hear "port unreachable", "time exceeded" (traceroute) and
 * "fragmentation needed" (path MTU discovery) from the IPv4 side.
 *
 *   before: eth | IPv4 20 | ICMP 8 | IPv4 20 (quoted) | quoted L4 ...
 *   after:  eth | IPv6 40 | ICMPv6 8 | IPv6 40 (quoted) | quoted L4 ...
 *
 * bpf_skb_change_proto grows the outer header by 20, bpf_skb_adjust_room
 * opens 20 more bytes after it, and the 48 bytes of ICMPv6 header and quoted
 * IPv6 header are written over the old 28 plus the new room. The result is
 * cut to 1280 bytes (RFC 4443 2.4(c)) and its checksum computed in full. */
#ifndef SIXGATE_ICMP_ERROR46_H
#define SIXGATE_ICMP_ERROR46_H

#include "csum.h"
#include "exception.h"
#include "eam.h"
#include "fib.h"
#include "icmp_tables.h"
#include "rfc6052.h"
#include "stats.h"

/* Headers the error path reads and writes, kept in a per-CPU map rather
 * than on the stack: the program's stack (512 bytes for the whole call
 * chain) is needed by the paths inlined into it. */
struct icmp_err_scratch {
	struct icmphdr icmp4;
	struct iphdr in4;
	struct icmp6hdr icmp6;
	struct ipv6hdr in6;
	union v6addr in_src;
	union v6addr in_dst;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct icmp_err_scratch);
} sixgate_icmp_scratch SEC(".maps");

/* Offsets once translated: outer IPv6, ICMPv6, quoted IPv6, quoted L4. */
#define ERR6_ICMP_OFF (ETH_HLEN + IPV6_HLEN)
#define ERR6_INNER_OFF (ERR6_ICMP_OFF + ICMP_HLEN)
#define ERR6_INNER_L4_OFF (ERR6_INNER_OFF + IPV6_HLEN)

/* Translate the ICMPv4 error in `skb` (outer header checked by
 * xlat46_parse, addresses mapped into `t`) and send it on; `path` picks the
 * counters. */
static __always_inline int xlat46_icmp_error(struct __sk_buff *skb, const struct sixgate_config *cfg,
					     const struct xlat46_pkt *p, const struct xlat46_target *t,
					     enum xlat_path path, __u32 *counter)
{
	struct bpf_fib_lookup *fib = fib_scratch();
	struct icmp_err_scratch *w;
	struct icmp_xlat x;
	void *data, *data_end;
	struct ipv6hdr *ip6;
	struct ethhdr *eth;
	__u32 inner_plen, diff, plen, zero = 0;
	__u8 hop_limit, inner_proto, inner_icmp6_type = 0;
	enum fib_verdict verdict;
	__sum16 check;
	__s64 sum;
	int rc, ret;

	w = bpf_map_lookup_elem(&sixgate_icmp_scratch, &zero);
	if (!w)
		return DROP(DROP_HELPER_FAILED);
	/* Checks in the reference translator's order (sixgate_wire::xlat),
	 * so that both give the same reason: type and code, the quoted
	 * header, its protocol, an error about an error, the pointer. */
	if (bpf_skb_load_bytes(skb, L4_OFF4, &w->icmp4, sizeof(w->icmp4)))
		return DROP(DROP_TRUNCATED);
	/* RFC 4884 (RFC 7915 4.3): a length attribute means an extension
	 * follows the quote; the quote must be padded to 64-bit words and the
	 * attribute rescaled, which the daemon does. Without it, the
	 * extension goes along as part of the quote. */
	if (path == XLAT_SIIT && cfg->exc_ifindex && ((__u8 *)&w->icmp4)[5] &&
	    (w->icmp4.type == ICMP_DEST_UNREACH || w->icmp4.type == ICMP_TIME_EXCEEDED ||
	     w->icmp4.type == ICMP_PARAMETERPROB))
		return exception_handoff(skb, cfg, SG_EXCEPTION_ICMP_EXTENSION,
					 fib_route_mtu6(skb, &t->src6, &t->dst6, IPPROTO_ICMPV6),
					 DROP(DROP_HELPER_FAILED), counter);
	ret = icmp46_error(w->icmp4.type, w->icmp4.code, 0, 0, &x);
	if (ret)
		return ret;
	/* RFC 7915 4.3: the quoted packet is translated like any other. */
	if (bpf_skb_load_bytes(skb, L4_OFF4 + ICMP_HLEN, &w->in4, sizeof(w->in4)))
		return DROP(DROP_TRUNCATED);
	if (w->in4.version != 4 || w->in4.ihl != 5)
		return DROP(DROP_TRUNCATED);
	if (w->in4.protocol != IPPROTO_TCP && w->in4.protocol != IPPROTO_UDP &&
	    w->in4.protocol != IPPROTO_ICMP)
		return DROP(DROP_PROTO_UNSUPPORTED);
	if (w->in4.protocol == IPPROTO_ICMP) {
		__u8 in_type;

		if (bpf_skb_load_bytes(skb, L4_OFF4 + ICMP_HLEN + IPV4_HLEN, &in_type, sizeof(in_type)))
			return DROP(DROP_TRUNCATED);
		if (icmp4_is_error(in_type))
			return DROP(DROP_ICMP_ERROR); /* an error about an error */
	}
	ret = icmp46_error(w->icmp4.type, w->icmp4.code,
			   ((__u32)bpf_ntohs(w->icmp4.id) << 16) | bpf_ntohs(w->icmp4.sequence),
			   bpf_ntohs(w->in4.tot_len), &x);
	if (ret)
		return ret;
	if (x.type == ICMPV6_PKT_TOOBIG) {
		/* RFC 7915 4.2: nor more than the IPv6 next hop takes (still at
		 * least 1280). One more FIB query, for Packet Too Big only. */
		__u32 egress = fib_route_mtu6(skb, &t->src6, &t->dst6, IPPROTO_ICMPV6);

		if (egress && x.word > egress)
			x.word = egress < IPV6_MIN_MTU ? IPV6_MIN_MTU : egress;
	}

	inner_proto = w->in4.protocol;
	/* RFC 7915 4.3: the quoted addresses map like any others (eam.h). */
	ret = addr_map46(cfg, eam4_lookup(cfg, w->in4.saddr), w->in4.saddr, &w->in_src);
	if (ret)
		return ret;
	ret = addr_map46(cfg, eam4_lookup(cfg, w->in4.daddr), w->in4.daddr, &w->in_dst);
	if (ret)
		return ret;
	inner_plen = bpf_ntohs(w->in4.tot_len) > IPV4_HLEN ? bpf_ntohs(w->in4.tot_len) - IPV4_HLEN : 0;
	diff = csum_sub(csum_sub(csum_v6addr(csum_v6addr(0, &w->in_src), &w->in_dst), w->in4.saddr),
			w->in4.daddr);
	if (inner_proto == IPPROTO_ICMP) {
		__u8 in_icmp[2];

		if (bpf_skb_load_bytes(skb, L4_OFF4 + ICMP_HLEN + IPV4_HLEN, in_icmp, sizeof(in_icmp)))
			return DROP(DROP_TRUNCATED);
		if (in_icmp[0] != ICMP_ECHO && in_icmp[0] != ICMP_ECHOREPLY)
			return DROP(DROP_ICMP_UNSUPPORTED);
		/* Echo becomes ICMPv6 echo: new type, pseudo-header added. */
		diff = csum_add(csum_pseudo6(&w->in_src, &w->in_dst, inner_plen, IPPROTO_ICMPV6),
				csum_sub(in_icmp[0] == ICMP_ECHO ? bpf_htons(ICMPV6_ECHO_REQUEST << 8) :
								   bpf_htons(ICMPV6_ECHO_REPLY << 8),
					 bpf_htons((__u16)in_icmp[0] << 8)));
		inner_proto = IPPROTO_ICMPV6;
		inner_icmp6_type = in_icmp[0] == ICMP_ECHO ? ICMPV6_ECHO_REQUEST : ICMPV6_ECHO_REPLY;
	}

	ipv6_hdr_write(&w->in6, xlat_tclass(cfg, w->in4.tos), (__u16)inner_plen, inner_proto, w->in4.ttl, &w->in_src,
		       &w->in_dst);
	__builtin_memset(&w->icmp6, 0, sizeof(w->icmp6));
	w->icmp6.icmp6_type = x.type;
	w->icmp6.icmp6_code = x.code;
	w->icmp6.icmp6_dataun.un_data32[0] = bpf_htonl(x.word);

	/* The outer packet: at most 1280 bytes once translated. */
	plen = p->l4_len + IP_HDR_DELTA;
	if (plen > IPV6_MIN_MTU - IPV6_HLEN)
		plen = IPV6_MIN_MTU - IPV6_HLEN;
	if (!fib)
		return DROP(DROP_HELPER_FAILED);
	rc = fib_lookup6(skb, fib, &t->src6, &t->dst6, IPPROTO_ICMPV6, plen + IPV6_HLEN);
	verdict = fib_verdict_of(rc);
	if (verdict == FIB_TOO_BIG)
		return DROP(DROP_FRAG_NEEDED);
	hop_limit = verdict == FIB_REDIRECT ? p->ttl - 1 : p->ttl;

	if (bpf_skb_change_proto(skb, bpf_htons(ETH_P_IPV6), 0))
		return DROP(DROP_HELPER_FAILED);
	if (bpf_skb_adjust_room(skb, IP_HDR_DELTA, BPF_ADJ_ROOM_NET, 0))
		return DROP(DROP_HELPER_FAILED);
	if (bpf_skb_store_bytes(skb, ERR6_ICMP_OFF, &w->icmp6, sizeof(w->icmp6), 0) ||
	    bpf_skb_store_bytes(skb, ERR6_INNER_OFF, &w->in6, sizeof(w->in6), 0))
		return DROP(DROP_HELPER_FAILED);
	if (inner_icmp6_type &&
	    bpf_skb_store_bytes(skb, ERR6_INNER_L4_OFF, &inner_icmp6_type, sizeof(inner_icmp6_type), 0))
		return DROP(DROP_HELPER_FAILED);
	ret = csum_fix_quoted_l4(skb, ERR6_INNER_L4_OFF, inner_proto, diff);
	if (ret)
		return ret;
	if (skb->len > ETH_HLEN + IPV6_HLEN + plen &&
	    bpf_skb_change_tail(skb, ETH_HLEN + IPV6_HLEN + plen, 0))
		return DROP(DROP_HELPER_FAILED);

	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	eth = data;
	ip6 = data + ETH_HLEN;
	if ((void *)(ip6 + 1) > data_end)
		return DROP(DROP_HELPER_FAILED);
	eth->h_proto = bpf_htons(ETH_P_IPV6);
	ipv6_hdr_write(ip6, p->tos, (__u16)plen, IPPROTO_ICMPV6, hop_limit, &t->src6, &t->dst6);

	sum = csum_skb_bytes(skb, ERR6_ICMP_OFF, plen,
			     csum_pseudo6(&t->src6, &t->dst6, plen, IPPROTO_ICMPV6));
	if (sum < 0)
		return DROP(DROP_HELPER_FAILED);
	check = csum_fold((__u32)sum);
	if (bpf_skb_store_bytes(skb, ERR6_ICMP_OFF + offsetof(struct icmp6hdr, icmp6_cksum), &check,
				sizeof(check), 0))
		return DROP(DROP_HELPER_FAILED);

	return fib_send(skb, cfg, fib, rc, verdict, counter, xlat46_counter(path, true),
			xlat46_counter(path, false));
}

#endif
