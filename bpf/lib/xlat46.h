/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* IPv4 -> IPv6 translation, RFC 7915 section 4: the stateless SIIT path,
 * and the header rewrite the NAT46 service path shares with it. */
#ifndef SIXGATE_XLAT46_H
#define SIXGATE_XLAT46_H

#include "bigtcp.h"
#include "csum.h"
#include "exception.h"
#include "eam.h"
#include "fib.h"
#include "icmp_reply.h"
#include "rfc6052.h"
#include "stats.h"

#define L4_OFF4 (ETH_HLEN + IPV4_HLEN)

/* What the translator keeps from a validated IPv4 packet. */
struct xlat46_pkt {
	__u32 l4_len;	/* transport header + payload */
	__be32 src4;
	__be32 dst4;
	__be16 sport;	/* TCP/UDP ports (ICMP: 0) */
	__be16 dport;
	__u8 tos;
	__u8 ttl;
	__u8 proto;	/* IPv6 next header: TCP, UDP or ICMPv6 */
	__u8 tcp_flags;	/* TCP: FIN, SYN, RST, ... (connection tracking) */
	__u8 icmp_type;	/* ICMP: the ICMPv4 type */
	bool df;	/* Don't Fragment */
	bool frag;	/* a fragment: MF set or offset not 0 */
	bool first;	/* not a later fragment: the transport header is here */
	__be16 frag_off; /* IPv4 flags and offset, as received */
	__be16 id;	/* IPv4 Identification */
};

/* RFC 8200 4.5 Fragment header. */
struct ipv6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset in 8-byte units << 3, M in bit 0 */
	__be32 identification;
};

#define IPV6_FRAG_HLEN ((int)sizeof(struct ipv6_frag_hdr))
#define IPV6_FRAG_MF 1

/* Where the translated packet goes: its IPv6 addresses and, on the NAT46
 * service path, new transport ports (equal to the old ones for SIIT). */
struct xlat46_target {
	union v6addr src6;
	union v6addr dst6;
	__be16 sport;
	__be16 dport;
};

/* RFC 7915 4.1 / 5.1: the Traffic Class / TOS of a translated header,
 * copied unless the operator set one. */
static __always_inline __u8 xlat_tclass(const struct sixgate_config *cfg, __u8 received)
{
	return (cfg->flags & SIXGATE_CFG_TCLASS_SET) ? cfg->tclass : received;
}

/* Which translation a packet is getting. It picks the outcome's counters,
 * and a hairpinned packet (RFC 7757 4.3) is answered with no ICMP error:
 * its source is on the IPv6 side, where the error would have to go. */
enum xlat_path {
	XLAT_SIIT,	/* stateless, RFC 7915 */
	XLAT_NAT46,	/* a NAT46 service flow (nat46.h) */
	XLAT_HAIRPIN,	/* IPv6 -> IPv4 -> IPv6 through this gateway (prog_tc.c) */
};

/* xlat46_parse / xlat64_parse: the TTL / hop limit would expire (not an
 * error by itself: the gateway may answer Time Exceeded). */
#define XLAT_TTL_EXPIRED 1
/* xlat46_parse: the header carries options (for the exception path). */
#define XLAT_IPV4_OPTIONS 2

/* The checks RFC 7915 4.1 makes before translating, on the packet at
 * ETH_HLEN; fills *p. Returns 0, XLAT_TTL_EXPIRED (p->l4_len is set),
 * XLAT_IPV4_OPTIONS (nothing else checked), or a negative DROP reason. */
static __always_inline int xlat46_parse(struct __sk_buff *skb, struct xlat46_pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct iphdr *ip4 = data + ETH_HLEN;
	__be16 *ports = data + L4_OFF4;
	int ret;

	if ((void *)(ip4 + 1) > data_end)
		return DROP(DROP_TRUNCATED);
	if (ip4->ihl < 5)
		return DROP(DROP_TRUNCATED);
	if (ip4->ihl > 5)
		return XLAT_IPV4_OPTIONS;
	ret = bigtcp_ipv4_len(skb, ip4);
	if (ret < 0)
		return DROP(DROP_TRUNCATED);
	p->l4_len = ret - IPV4_HLEN;
	if (csum_ipv4_header(ip4) != ip4->check)
		return DROP(DROP_IPV4_CHECKSUM);
	/* RFC 7915 4.1: fragments are translated one by one (a Fragment
	 * header carries their offset, M and Identification), never
	 * reassembled; only the first holds the transport header. */
	p->df = (ip4->frag_off & bpf_htons(IPV4_FLAG_DF)) != 0;
	p->frag = (ip4->frag_off & bpf_htons(IPV4_FLAG_MF | IPV4_FRAG_OFFSET_MASK)) != 0;
	p->first = (ip4->frag_off & bpf_htons(IPV4_FRAG_OFFSET_MASK)) == 0;
	p->frag_off = ip4->frag_off;
	p->id = ip4->id;
	p->src4 = ip4->saddr;
	p->dst4 = ip4->daddr;
	if (ipv4_is_illegal_source(p->src4))
		return DROP(DROP_ILLEGAL_SOURCE);
	/* RFC 7915 4.1: TTL is decremented; a packet it would expire is not
	 * translated: the caller may answer Time Exceeded. */
	if (ip4->ttl <= 1)
		return XLAT_TTL_EXPIRED;
	p->tos = ip4->tos;
	p->ttl = ip4->ttl;
	p->sport = 0;
	p->dport = 0;
	p->tcp_flags = 0;
	p->icmp_type = 0;
	if (ip4->protocol == IPPROTO_ICMP && p->frag)
		return DROP(DROP_ICMP_FRAGMENT); /* the ICMPv6 pseudo-header needs the whole length */
	if (!p->first) {
		if (ip4->protocol != IPPROTO_TCP && ip4->protocol != IPPROTO_UDP)
			return DROP(DROP_PROTO_UNSUPPORTED);
		p->proto = ip4->protocol;
		return 0;
	}
	switch (ip4->protocol) {
	case IPPROTO_TCP:
		if (data + L4_OFF4 + sizeof(struct tcphdr) > data_end)
			return DROP(DROP_TRUNCATED);
		p->tcp_flags = ((__u8 *)data)[L4_OFF4 + TCP_FLAGS_OFF];
		break;
	case IPPROTO_UDP:
		if (data + L4_OFF4 + sizeof(struct udphdr) > data_end)
			return DROP(DROP_TRUNCATED);
		break;
	case IPPROTO_ICMP:
		if (data + L4_OFF4 + sizeof(struct icmphdr) > data_end)
			return DROP(DROP_TRUNCATED);
		p->proto = IPPROTO_ICMPV6;
		p->icmp_type = ((struct icmphdr *)(data + L4_OFF4))->type;
		return 0;
	default:
		return DROP(DROP_PROTO_UNSUPPORTED);
	}
	p->proto = ip4->protocol;
	p->sport = ports[0];
	p->dport = ports[1];
	return 0;
}

/* RFC 7915 4.5 + 4.1: an IPv4 UDP datagram without checksum gets one, as
 * IPv6 requires it (RFC 8200 8.1). Written before bpf_skb_change_proto. */
static __always_inline int xlat46_udp_zero_csum(struct __sk_buff *skb, __u32 l4_len, __u32 pseudo6)
{
	void *data, *data_end;
	struct udphdr *udp;
	__s64 full;
	__u16 check;

	if (l4_len > UDP_ZERO_CSUM_MAX_LEN)
		return DROP(DROP_UDP_ZERO_CSUM_TOO_BIG);
	full = csum_skb_bytes(skb, L4_OFF4, l4_len, pseudo6);
	if (full < 0)
		return DROP(DROP_TRUNCATED);
	check = csum_fold((__u32)full);
	if (check == 0)
		check = 0xffff; /* RFC 768: a computed 0 is sent as all ones */

	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	udp = data + L4_OFF4;
	if ((void *)(udp + 1) > data_end)
		return DROP(DROP_TRUNCATED);
	udp->check = check;
	return 0;
}

/* RFC 7915 4.2: ICMPv4 echo (8) / echo reply (0) become ICMPv6 128 / 129 and
 * the checksum gains the IPv6 pseudo-header. Errors and every other type are
 * not translated (yet): dropped, by reason. */
static __always_inline int xlat46_icmp(struct __sk_buff *skb, struct icmphdr *icmp, __u32 pseudo6)
{
	__u16 old_word = *(__u16 *)icmp;
	__u16 new_word;

	switch (icmp->type) {
	case ICMP_ECHO:
		icmp->type = ICMPV6_ECHO_REQUEST;
		break;
	case ICMP_ECHOREPLY:
		icmp->type = ICMPV6_ECHO_REPLY;
		break;
	case ICMP_DEST_UNREACH:
	case ICMP_SOURCE_QUENCH:
	case ICMP_REDIRECT:
	case ICMP_TIME_EXCEEDED:
	case ICMP_PARAMETERPROB:
		return DROP(DROP_ICMP_ERROR);
	default:
		return DROP(DROP_ICMP_UNSUPPORTED);
	}
	new_word = *(__u16 *)icmp;

	/* Two updates: the pseudo-header is not packet data (skb->csum must
	 * not see it), the type change is. */
	if (bpf_l4_csum_replace(skb, L4_OFF4 + offsetof(struct icmphdr, checksum), 0, pseudo6,
				BPF_F_PSEUDO_HDR))
		return DROP(DROP_HELPER_FAILED);
	if (bpf_l4_csum_replace(skb, L4_OFF4 + offsetof(struct icmphdr, checksum), old_word, new_word,
				sizeof(__u16)))
		return DROP(DROP_HELPER_FAILED);
	return 0;
}

/* The outcome counter of a packet translated to IPv6 on `path`, sent by
 * redirect or handed to the stack. */
static __always_inline __u32 xlat46_counter(enum xlat_path path, bool redirect)
{
	if (path == XLAT_NAT46)
		return redirect ? SG_NAT46_FWD_REDIRECT : SG_NAT46_FWD_STACK;
	if (path == XLAT_HAIRPIN)
		return redirect ? SG_HAIRPIN_REDIRECT : SG_HAIRPIN_STACK;
	return redirect ? SG_XLAT46_REDIRECT : SG_XLAT46_STACK;
}

/* The offset of the TCP or UDP checksum field in a packet at IPv4 layout. */
static __always_inline __u32 xlat46_l4_csum_off(__u8 proto)
{
	return proto == IPPROTO_TCP ? L4_OFF4 + offsetof(struct tcphdr, check) :
				      L4_OFF4 + offsetof(struct udphdr, check);
}

/* Rewrite the parsed IPv4 packet in `skb` as IPv6 per `t` (RFC 7915 4.1,
 * 4.5) and send it on. `path` selects the counters. Returns a TC action,
 * with the outcome in *counter, or a negative DROP reason. */
static __always_inline int xlat46_emit(struct __sk_buff *skb, const struct sixgate_config *cfg,
				       const struct xlat46_pkt *p, const struct xlat46_target *t,
				       enum xlat_path path, __u32 *counter)
{
	void *data, *data_end;
	struct bpf_fib_lookup *fib = fib_scratch();
	struct ipv6hdr *ip6;
	struct ethhdr *eth;
	__u32 addr_diff, pseudo6, l4_len = p->l4_len;
	__u32 size6 = l4_len + IPV6_HLEN + (p->frag ? IPV6_FRAG_HLEN : 0);
	__u8 hop_limit;
	enum fib_verdict verdict;
	int rc, ret;

	if (!fib)
		return DROP(DROP_HELPER_FAILED);
	/* RFC 7915 4.5: the operator may have UDP without a checksum dropped
	 * rather than given one (a fragment's cannot be computed: below). */
	if ((cfg->flags & SIXGATE_CFG_UDP_ZERO_DROP) && p->proto == IPPROTO_UDP && !p->frag) {
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		if (data + L4_OFF4 + sizeof(struct udphdr) > data_end)
			return DROP(DROP_TRUNCATED);
		if (((struct udphdr *)(data + L4_OFF4))->check == 0)
			return DROP(DROP_UDP_ZERO_CSUM);
	}
	rc = fib_lookup6(skb, fib, &t->src6, &t->dst6, p->proto, size6);
	verdict = fib_verdict_of(rc);
	if (verdict == FIB_TOO_BIG) {
		/* RFC 7915 4.1 with RFC 1191: with DF set the sender learns the
		 * IPv6 path's MTU less the 20 bytes translation adds; without
		 * DF the translator fragments: the daemon does (a NAT46 service
		 * flow's state is here, and a hairpinned packet was built here,
		 * so those are dropped). A hairpinned packet's source is an IPv6
		 * host: no IPv4 error can reach it (RFC 7757 4.3), so it is
		 * dropped with DF too. */
		if (!p->df) {
			if (path != XLAT_SIIT)
				return DROP(DROP_FRAG_NEEDED);
			return exception_handoff(skb, cfg, SG_EXCEPTION_FRAGMENT46, fib->mtu_result,
						 DROP(DROP_FRAG_NEEDED), counter);
		}
		if (path == XLAT_HAIRPIN)
			return DROP(DROP_FRAG_NEEDED);
		*counter = SG_ICMP_FRAG_NEEDED_SENT;
		return icmp4_reply(skb, l4_len + IPV4_HLEN, ICMP_DEST_UNREACH << 8 | ICMP_FRAG_NEEDED,
				   (__u32)fib->mtu_result - IP_HDR_DELTA, 0);
	}
	/* RFC 7915 4.1: without DF, fragments of at most lowest-ipv6-mtu,
	 * which any IPv6 path carries. Only with an exception path to cut
	 * them: without one, a packet the egress link takes goes whole. */
	if (!p->df && path == XLAT_SIIT && cfg->exc_ifindex && size6 > cfg->lowest_ipv6_mtu)
		return exception_handoff(skb, cfg, SG_EXCEPTION_FRAGMENT46, cfg->lowest_ipv6_mtu,
					 DROP(DROP_FRAG_NEEDED), counter);
	/* Exactly one decrement end to end: ours when we forward, the
	 * kernel's when it does. */
	hop_limit = verdict == FIB_REDIRECT ? p->ttl - 1 : p->ttl;

	if (p->proto != IPPROTO_ICMPV6) {
		ret = l4_rewrite_ports(skb, L4_OFF4, p->proto, p->sport, p->dport, t->sport, t->dport);
		if (ret)
			return ret;
	}
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;

	/* Transport checksums (RFC 7915 4.5): only the pseudo-header changes
	 * for TCP and UDP, so the update is the address difference. Later
	 * fragments carry no transport header. */
	addr_diff = csum_sub(csum_sub(csum_v6addr(csum_v6addr(0, &t->src6), &t->dst6), p->src4),
			     p->dst4);
	if (!p->first) {
		/* nothing to update */
	} else if (p->proto == IPPROTO_TCP) {
		ret = bpf_l4_csum_replace(skb, xlat46_l4_csum_off(IPPROTO_TCP), 0, addr_diff,
					  BPF_F_PSEUDO_HDR);
		if (ret)
			return DROP(DROP_HELPER_FAILED);
	} else if (p->proto == IPPROTO_UDP) {
		struct udphdr *udp = data + L4_OFF4;

		if ((void *)(udp + 1) > data_end)
			return DROP(DROP_TRUNCATED);
		if (udp->check == 0 && p->frag) {
			/* Cannot be computed without the other fragments. */
			ret = DROP(DROP_UDP_ZERO_CSUM_FRAGMENT);
		} else if (udp->check == 0) {
			ret = xlat46_udp_zero_csum(skb, l4_len,
						   csum_pseudo6(&t->src6, &t->dst6, l4_len, IPPROTO_UDP));
		} else {
			ret = bpf_l4_csum_replace(skb, xlat46_l4_csum_off(IPPROTO_UDP), 0, addr_diff,
						  BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0);
			if (ret)
				ret = DROP(DROP_HELPER_FAILED);
		}
		if (ret)
			return ret;
	} else {
		struct icmphdr *icmp = data + L4_OFF4;

		if ((void *)(icmp + 1) > data_end)
			return DROP(DROP_TRUNCATED);
		pseudo6 = csum_pseudo6(&t->src6, &t->dst6, l4_len, IPPROTO_ICMPV6);
		ret = xlat46_icmp(skb, icmp, pseudo6);
		if (ret)
			return ret;
	}

	if (bpf_skb_change_proto(skb, bpf_htons(ETH_P_IPV6), 0))
		return DROP(DROP_HELPER_FAILED);
	if (l4_len > IPV6_MAXPLEN) {
		if (bigtcp_push_jumbo(skb, l4_len))
			return DROP(DROP_HELPER_FAILED);
		count(SG_BIGTCP_XLAT46, skb->len);
	}
	if (p->frag) {
		/* RFC 7915 4.1: Fragment header, offset and M copied, the
		 * Identification's low 16 bits from IPv4. */
		struct ipv6_frag_hdr fh = {
			.nexthdr = p->proto,
			.frag_off = bpf_htons(((bpf_ntohs(p->frag_off) & IPV4_FRAG_OFFSET_MASK) << 3) |
					      ((p->frag_off & bpf_htons(IPV4_FLAG_MF)) ? IPV6_FRAG_MF : 0)),
			.identification = bpf_htonl(bpf_ntohs(p->id)),
		};

		if (bpf_skb_adjust_room(skb, IPV6_FRAG_HLEN, BPF_ADJ_ROOM_NET, 0) ||
		    bpf_skb_store_bytes(skb, ETH_HLEN + IPV6_HLEN, &fh, sizeof(fh), 0))
			return DROP(DROP_HELPER_FAILED);
	}

	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	eth = data;
	ip6 = data + ETH_HLEN;
	if ((void *)(ip6 + 1) > data_end)
		return DROP(DROP_HELPER_FAILED);
	eth->h_proto = bpf_htons(ETH_P_IPV6);
	/* RFC 7915 4.1: traffic class = TOS, flow label 0, payload length =
	 * total length - IPv4 header (BIG TCP: 0 and a jumbo header), next
	 * header = protocol (ICMP -> 58), hop limit = TTL - 1. */
	if (l4_len > IPV6_MAXPLEN)
		ipv6_hdr_write(ip6, p->tos, 0, IPPROTO_HOPOPTS, hop_limit, &t->src6, &t->dst6);
	else if (p->frag)
		ipv6_hdr_write(ip6, p->tos, (__u16)(l4_len + IPV6_FRAG_HLEN), IPPROTO_FRAGMENT,
			       hop_limit, &t->src6, &t->dst6);
	else
		ipv6_hdr_write(ip6, p->tos, (__u16)l4_len, p->proto, hop_limit, &t->src6, &t->dst6);

	return fib_send(skb, cfg, fib, rc, verdict, counter, xlat46_counter(path, true),
			xlat46_counter(path, false));
}

/* ICMP errors need the structs above. */
#include "icmp_error46.h"

/* RFC 7915 4.1 (the translator is a router, RFC 1812 5.3.1): an IPv4 packet
 * whose TTL expires here is answered with Time Exceeded (11/0) from the RFC
 * 6791 pool4's first address, unless it is an ICMP error or a later
 * fragment (RFC 1812 4.3.2.7), or there is no pool: then it is dropped. */
static __always_inline int xlat46_time_exceeded(struct __sk_buff *skb, const struct sixgate_config *cfg,
						__u32 tot_len, __u32 *counter)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct iphdr *ip4 = data + ETH_HLEN;
	struct icmphdr *icmp = data + L4_OFF4;

	if ((void *)(ip4 + 1) > data_end)
		return DROP(DROP_TRUNCATED);
	if (cfg->rfc6791_count == 0 || (ip4->frag_off & bpf_htons(IPV4_FRAG_OFFSET_MASK)))
		return DROP(DROP_TTL_EXPIRED);
	if (ip4->protocol == IPPROTO_ICMP &&
	    ((void *)(icmp + 1) > data_end || icmp4_is_error(icmp->type)))
		return DROP(DROP_TTL_EXPIRED);
	*counter = SG_ICMP_TIME_EXCEEDED_SENT;
	return icmp4_reply(skb, tot_len, ICMP_TIME_EXCEEDED << 8, 0, cfg->rfc6791_pool4[0]);
}

/* RFC 7915 4.1: options are ignored, but an unexpired source route is
 * answered with Source Route Failed. The header length varies with them,
 * which the verifier cannot afford here: the daemon translates these, told
 * the MTU of the route the translated packet takes. */
static __always_inline int xlat46_options(struct __sk_buff *skb, const struct sixgate_config *cfg,
					  const struct eamt4_value *dst_eam, __u32 *counter)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct iphdr *ip4 = data + ETH_HLEN;
	union v6addr src6, dst6;
	__u8 proto;

	if ((void *)(ip4 + 1) > data_end)
		return DROP(DROP_TRUNCATED);
	if (!cfg->exc_ifindex)
		return DROP(DROP_IPV4_OPTIONS);
	proto = ip4->protocol == IPPROTO_ICMP ? IPPROTO_ICMPV6 : ip4->protocol;
	/* Addresses that do not map (the daemon will say why): no route MTU. */
	if (addr_map46(cfg, eam4_lookup(cfg, ip4->saddr), ip4->saddr, &src6) ||
	    addr_map46(cfg, dst_eam, ip4->daddr, &dst6))
		return exception_handoff(skb, cfg, SG_EXCEPTION_IPV4_OPTIONS, 0, DROP(DROP_IPV4_OPTIONS),
					 counter);
	return exception_handoff(skb, cfg, SG_EXCEPTION_IPV4_OPTIONS,
				 fib_route_mtu6(skb, &src6, &dst6, proto), DROP(DROP_IPV4_OPTIONS),
				 counter);
}

/* Stateless SIIT (RFC 7915 4): translate the IPv4 packet in `skb`, whose
 * destination is served (in an EAM, `dst_eam`, or in a served prefix), with
 * both addresses mapped by the EAMT or pool6 (eam.h). `path` is XLAT_SIIT,
 * or XLAT_HAIRPIN for a packet xlat64 built (RFC 7757 4.3). */
static __always_inline int xlat46(struct __sk_buff *skb, const struct sixgate_config *cfg,
				  const struct eamt4_value *dst_eam, enum xlat_path path, __u32 *counter)
{
	struct xlat46_target t;
	struct xlat46_pkt p;
	int ret;

	ret = xlat46_parse(skb, &p);
	if (ret == XLAT_TTL_EXPIRED)
		return xlat46_time_exceeded(skb, cfg, p.l4_len + IPV4_HLEN, counter);
	if (ret == XLAT_IPV4_OPTIONS)
		return xlat46_options(skb, cfg, dst_eam, counter);
	if (ret)
		return ret;
	p.tos = xlat_tclass(cfg, p.tos);
	ret = addr_map46(cfg, dst_eam, p.dst4, &t.dst6);
	if (ret)
		return ret;
	ret = addr_map46(cfg, eam4_lookup(cfg, p.src4), p.src4, &t.src6);
	if (ret)
		return ret;
	t.sport = p.sport;
	t.dport = p.dport;
	if (p.proto == IPPROTO_ICMPV6 && icmp4_is_error(p.icmp_type))
		return xlat46_icmp_error(skb, cfg, &p, &t, path, counter);
	return xlat46_emit(skb, cfg, &p, &t, path, counter);
}

#endif
