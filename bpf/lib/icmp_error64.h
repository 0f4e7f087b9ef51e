/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* ICMPv6 errors -> ICMPv4 errors, with the packet they quote translated too
 * (RFC 7915 5.2 and 5.3): an IPv4 client hears "port unreachable", "time
 * exceeded" and "packet too big" (as Fragmentation Needed) from the IPv6
 * side.
 *
 *   before: eth | IPv6 40 | ICMPv6 8 | IPv6 40 (quoted) | quoted L4 ...
 *   after:  eth | IPv4 20 | ICMP 8 | IPv4 20 (quoted) | quoted L4 ...
 *
 * The 28 new bytes (ICMP header and quoted IPv4 header) are written at the
 * end of the 48 they replace, bpf_skb_adjust_room removes the 20 in front
 * of them, bpf_skb_change_proto shrinks the outer header. The result is cut
 * to 576 bytes (RFC 1812 4.3.2.3) and its checksum computed in full. */
#ifndef SIXGATE_ICMP_ERROR64_H
#define SIXGATE_ICMP_ERROR64_H

#include "csum.h"
#include "exception.h"
#include "eam.h"
#include "fib.h"
#include "icmp_tables.h"
#include "rfc6052.h"
#include "stats.h"

/* Offsets once translated: outer IPv4, ICMP, quoted IPv4, quoted L4. */
#define ERR4_ICMP_OFF (ETH_HLEN + IPV4_HLEN)
#define ERR4_INNER_OFF (ERR4_ICMP_OFF + ICMP_HLEN)
#define ERR4_INNER_L4_OFF (ERR4_INNER_OFF + IPV4_HLEN)
/* Where the 28 new bytes go before the 20 in front of them are removed. */
#define ERR64_STAGE_OFF (ETH_HLEN + IPV6_HLEN + IP_HDR_DELTA)

struct icmp_err64_scratch {
	struct icmp6hdr icmp6;
	struct ipv6hdr in6;
	struct icmphdr icmp4;
	struct iphdr in4;
	union v6addr in_src;
	union v6addr in_dst;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct icmp_err64_scratch);
} sixgate_icmp64_scratch SEC(".maps");

/* Translate the ICMPv6 error in `skb` (outer header checked by
 * xlat64_parse, addresses mapped into `t`) and send it on, or on
 * XLAT_HAIRPIN hand it back for the way to IPv6 (xlat64_emit). */
static __always_inline int xlat64_icmp_error(struct __sk_buff *skb, const struct sixgate_config *cfg,
					     const struct xlat64_pkt *p, const struct xlat64_target *t,
					     enum xlat_path path, __u32 *counter)
{
	struct bpf_fib_lookup *fib = fib_scratch();
	struct icmp_err64_scratch *w;
	struct icmp_xlat x;
	void *data, *data_end;
	struct iphdr *ip4;
	struct ethhdr *eth;
	__u32 inner_len4, diff, tot_len, zero = 0;
	__u16 inner_check = 0;
	__u8 ttl, inner_proto, inner_icmp4_type = 0;
	bool inner_echo = false; /* echo reply's ICMPv4 type is 0 */
	enum fib_verdict verdict;
	__sum16 check;
	__be32 src4, dst4;
	__be16 id, frag_off;
	__s64 sum;
	int rc, ret;

	w = bpf_map_lookup_elem(&sixgate_icmp64_scratch, &zero);
	if (!w || !fib)
		return DROP(DROP_HELPER_FAILED);
	/* RFC 4884 (RFC 7915 5.3): a length attribute means an extension
	 * follows the quote; the quote must be padded to 32-bit words and the
	 * attribute rescaled, which the daemon does (handed over as received,
	 * so before anything is removed). Without it, the extension goes
	 * along as part of the quote. */
	if (cfg->exc_ifindex) {
		__u8 head[ICMP_HLEN];

		if (!bpf_skb_load_bytes(skb, L4_OFF6 + (p->ext_len & 0x7ff), head, sizeof(head)) &&
		    head[4] && (head[0] == ICMPV6_DEST_UNREACH || head[0] == ICMPV6_TIME_EXCEED))
			return exception_handoff(skb, cfg, SG_EXCEPTION_ICMP_EXTENSION,
						 fib_route_mtu4(skb, t->src4, t->dst4, IPPROTO_ICMP),
						 DROP(DROP_HELPER_FAILED), counter);
	}
	/* Extension headers in front of the ICMPv6 header go first, so that
	 * the offsets below hold (RFC 7915 5.1: they are not translated). */
	if (p->ext_len &&
	    bpf_skb_adjust_room(skb, -(__s32)p->ext_len, BPF_ADJ_ROOM_NET, 0))
		return DROP(DROP_HELPER_FAILED);
	/* Checks in the reference translator's order (sixgate_wire::xlat):
	 * type and code, the quoted header and its addresses, its protocol, an
	 * error about an error, the pointer. */
	if (bpf_skb_load_bytes(skb, L4_OFF6, &w->icmp6, sizeof(w->icmp6)))
		return DROP(DROP_TRUNCATED);
	ret = icmp64_error(w->icmp6.icmp6_type, w->icmp6.icmp6_code, 0, &x);
	if (ret)
		return ret;
	if (bpf_skb_load_bytes(skb, L4_OFF6 + ICMP_HLEN, &w->in6, sizeof(w->in6)))
		return DROP(DROP_TRUNCATED);
	if (w->in6.version != 6)
		return DROP(DROP_TRUNCATED);
	/* RFC 7915 5.3: the quoted packet is translated like any other, so
	 * its addresses must have IPv4 forms (eam.h). */
	w->in_src.in6 = w->in6.saddr;
	w->in_dst.in6 = w->in6.daddr;
	ret = addr_map64(cfg, eam6_lookup(cfg, &w->in_src), &w->in_src, &src4);
	if (ret)
		return ret;
	ret = addr_map64(cfg, eam6_lookup(cfg, &w->in_dst), &w->in_dst, &dst4);
	if (ret)
		return ret;
	inner_proto = w->in6.nexthdr;
	if (ipv6_is_exthdr(inner_proto) || inner_proto == IPPROTO_FRAGMENT)
		return DROP(DROP_IPV6_EXTHDR); /* not translated yet */
	if (inner_proto != IPPROTO_TCP && inner_proto != IPPROTO_UDP && inner_proto != IPPROTO_ICMPV6)
		return DROP(DROP_PROTO_UNSUPPORTED);
	if (inner_proto == IPPROTO_ICMPV6) {
		__u8 in_type;

		if (bpf_skb_load_bytes(skb, L4_OFF6 + ICMP_HLEN + IPV6_HLEN, &in_type, sizeof(in_type)))
			return DROP(DROP_TRUNCATED);
		if (icmp6_is_error(in_type))
			return DROP(DROP_ICMP_ERROR); /* an error about an error */
	}
	ret = icmp64_error(w->icmp6.icmp6_type, w->icmp6.icmp6_code,
			   bpf_ntohl(w->icmp6.icmp6_dataun.un_data32[0]), &x);
	if (ret)
		return ret;
	if (x.type == ICMP_DEST_UNREACH && x.code == ICMP_FRAG_NEEDED && path != XLAT_HAIRPIN) {
		/* RFC 7915 5.2: nor more than the IPv4 next hop takes (still at
		 * least IPv4's 68). One more FIB query, for Packet Too Big only;
		 * a hairpinned one leaves by IPv6, where 4.2 applies. */
		__u32 egress = fib_route_mtu4(skb, t->src4, t->dst4, IPPROTO_ICMP);

		if (egress && x.word > egress)
			x.word = egress < IPV4_MIN_MTU ? IPV4_MIN_MTU : egress;
	}

	inner_len4 = bpf_ntohs(w->in6.payload_len) + IPV4_HLEN;
	diff = csum_add(csum_add(src4, dst4),
			~csum_v6addr(csum_v6addr(0, &w->in_src), &w->in_dst));
	if (inner_proto == IPPROTO_ICMPV6) {
		__u8 in_icmp[2];

		if (bpf_skb_load_bytes(skb, L4_OFF6 + ICMP_HLEN + IPV6_HLEN, in_icmp, sizeof(in_icmp)))
			return DROP(DROP_TRUNCATED);
		if (in_icmp[0] != ICMPV6_ECHO_REQUEST && in_icmp[0] != ICMPV6_ECHO_REPLY)
			return DROP(DROP_ICMP_UNSUPPORTED);
		inner_icmp4_type = in_icmp[0] == ICMPV6_ECHO_REQUEST ? ICMP_ECHO : ICMP_ECHOREPLY;
		inner_echo = true;
		/* Echo loses the pseudo-header and changes type. */
		diff = csum_add(~csum_pseudo6(&w->in_src, &w->in_dst, inner_len4 - IPV4_HLEN,
					      IPPROTO_ICMPV6),
				csum_sub(bpf_htons((__u16)inner_icmp4_type << 8),
					 bpf_htons((__u16)in_icmp[0] << 8)));
		inner_proto = IPPROTO_ICMP;
	}
	/* The quoted checksum as received feeds the Identification below,
	 * as for any translated packet (xlat64_identification). */
	if (bpf_skb_load_bytes(skb, L4_OFF6 + ICMP_HLEN + IPV6_HLEN +
				       (w->in6.nexthdr == IPPROTO_TCP ? offsetof(struct tcphdr, check) :
					w->in6.nexthdr == IPPROTO_UDP ? offsetof(struct udphdr, check) :
									 offsetof(struct icmp6hdr, icmp6_cksum)),
			       &inner_check, sizeof(inner_check)))
		inner_check = 0; /* not quoted */

	xlat64_id_df(inner_len4, src4, dst4, inner_proto, inner_check, &id, &frag_off);
	ipv4_hdr_write(&w->in4, xlat_tclass(cfg, (w->in6.priority << 4) | (w->in6.flow_lbl[0] >> 4)),
		       (__u16)inner_len4,
		       id, frag_off, w->in6.hop_limit, inner_proto, src4, dst4);
	__builtin_memset(&w->icmp4, 0, sizeof(w->icmp4));
	w->icmp4.type = x.type;
	w->icmp4.code = x.code;
	w->icmp4.id = bpf_htons((__u16)(x.word >> 16));
	w->icmp4.sequence = bpf_htons((__u16)x.word);

	/* The outer packet: at most 576 bytes once translated. */
	tot_len = p->l4_len - IP_HDR_DELTA + IPV4_HLEN;
	if (tot_len > ICMP4_ERROR_MAX)
		tot_len = ICMP4_ERROR_MAX;
	if (path == XLAT_HAIRPIN) {
		/* Not forwarded as IPv4 (xlat64_emit). */
		rc = 0;
		verdict = FIB_STACK;
	} else {
		rc = fib_lookup4(skb, fib, t->src4, t->dst4, p->tclass, IPPROTO_ICMP, tot_len);
		verdict = fib_verdict_of(rc);
	}
	if (verdict == FIB_TOO_BIG)
		return DROP(DROP_FRAG_NEEDED);
	ttl = verdict == FIB_REDIRECT ? p->hop_limit - 1 : p->hop_limit;

	if (bpf_skb_store_bytes(skb, ERR64_STAGE_OFF, &w->icmp4, sizeof(w->icmp4), 0) ||
	    bpf_skb_store_bytes(skb, ERR64_STAGE_OFF + ICMP_HLEN, &w->in4, sizeof(w->in4), 0))
		return DROP(DROP_HELPER_FAILED);
	if (bpf_skb_adjust_room(skb, -IP_HDR_DELTA, BPF_ADJ_ROOM_NET, 0))
		return DROP(DROP_HELPER_FAILED);
	if (bpf_skb_change_proto(skb, bpf_htons(ETH_P_IP), 0))
		return DROP(DROP_HELPER_FAILED);
	if (inner_echo &&
	    bpf_skb_store_bytes(skb, ERR4_INNER_L4_OFF, &inner_icmp4_type, sizeof(inner_icmp4_type), 0))
		return DROP(DROP_HELPER_FAILED);
	ret = csum_fix_quoted_l4(skb, ERR4_INNER_L4_OFF, inner_proto, diff);
	if (ret)
		return ret;
	if (skb->len > ETH_HLEN + tot_len && bpf_skb_change_tail(skb, ETH_HLEN + tot_len, 0))
		return DROP(DROP_HELPER_FAILED);

	sum = csum_skb_bytes(skb, ERR4_ICMP_OFF, tot_len - IPV4_HLEN, 0);
	if (sum < 0)
		return DROP(DROP_HELPER_FAILED);
	check = csum_fold((__u32)sum);
	if (bpf_skb_store_bytes(skb, ERR4_ICMP_OFF + offsetof(struct icmphdr, checksum), &check,
				sizeof(check), 0))
		return DROP(DROP_HELPER_FAILED);

	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	eth = data;
	ip4 = data + ETH_HLEN;
	if ((void *)(ip4 + 1) > data_end)
		return DROP(DROP_HELPER_FAILED);
	eth->h_proto = bpf_htons(ETH_P_IP);
	xlat64_id_df(tot_len, t->src4, t->dst4, IPPROTO_ICMP, p->l4_check, &id, &frag_off);
	ipv4_hdr_write(ip4, p->tclass, (__u16)tot_len, id, frag_off, ttl, IPPROTO_ICMP, t->src4,
		       t->dst4);

	if (path == XLAT_HAIRPIN)
		return xlat64_hairpin(skb);
	return fib_send(skb, cfg, fib, rc, verdict, counter, SG_XLAT64_REDIRECT, SG_XLAT64_STACK);
}

#endif
