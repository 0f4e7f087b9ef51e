/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* ICMP errors the gateway itself sends back to a packet's source, built in
 * place from the packet (which is still untranslated): the packet is cut to
 * the part the error quotes, a new IP + ICMP header is put in front of it,
 * and the result goes back out of the interface it came in on.
 *
 * Today: "too big after translation" (RFC 7915 4.1 and 5.1 with RFC 1191 /
 * RFC 8201 path MTU discovery): an IPv4 packet with DF set gets ICMP
 * Fragmentation Needed, an IPv6 packet ICMPv6 Packet Too Big, with the MTU
 * the sender must use so that the *translated* packet fits; a packet whose
 * TTL / hop limit expires gets Time Exceeded (RFC 7915 4.1, 5.1, RFC 1812,
 * RFC 8200 3); an IPv6 Routing header with Segments Left gets Parameter
 * Problem (RFC 7915 5.1).
 *
 * A too-big error's source is the original packet's destination: the
 * translator answers on behalf of the path towards it (for an IPv4 client
 * that is the IPv4 form of the IPv6 server, or a NAT46 VIP), which needs no
 * address of its own; path MTU discovery matches errors by the quoted
 * packet. Time Exceeded and Parameter Problem come from the RFC 6791 pool4's
 * first address / the pool6 address, so that traceroute shows the gateway
 * (and are not sent without one).
 * The layout matches sixgate_wire::xlat::reply byte for byte. */
#ifndef SIXGATE_ICMP_REPLY_H
#define SIXGATE_ICMP_REPLY_H

#include "csum.h"
#include "icmp_tables.h"
#include "maps.h"
#include "ratelimit.h"

/* RFC 4443 2.4 (f), RFC 1812 4.3.2.8: the errors the gateway sends itself
 * are rate-limited ([siit] icmp_error_rate). A global function of its own,
 * so that its stack is not added to the senders' (the call chain's 512
 * bytes are nearly all taken). Returns 1 if one may go now. */
__attribute__((noinline)) int icmp_reply_admit(void)
{
	const struct sixgate_config *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&sixgate_config, &zero);
	return cfg && rate_admit(RATE_ICMP_ERRORS, cfg->icmp_cost_ns, cfg->icmp_burst_ns);
}

/* TTL / hop limit of errors the gateway sends (as Linux does). */
#define ICMP_REPLY_TTL 64

/* An ICMPv4 error header: the second word is unused, a pointer, or (RFC
 * 1191 section 4, Fragmentation Needed) the next-hop MTU in its low 16
 * bits. */
struct icmp4_error_hdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 word;
};

/* Swap the Ethernet addresses so that the frame goes back to its sender. */
static __always_inline int icmp_reply_eth(struct __sk_buff *skb, __be16 proto)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__u8 mac[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return DROP(DROP_HELPER_FAILED);
	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	eth->h_proto = proto;
	return 0;
}

/* The IPv4 packet at ETH_HLEN (`tot_len` bytes, checked by xlat46_parse)
 * becomes the ICMP error `type_code` (type << 8 | code) with second word
 * `word` (host order), from `from` (0: the packet's destination), quoting as
 * much of the packet as fits in 576 bytes, sent back out of the ingress
 * interface. A global function: verified once, not once per caller.
 * Returns TC_ACT_REDIRECT or a negative DROP reason. */
__attribute__((noinline)) int icmp4_send_error(struct __sk_buff *skb, __u32 tot_len, __u32 type_code,
					       __u32 word, __be32 from)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct iphdr *ip4 = data + ETH_HLEN;
	struct icmp4_error_hdr *icmp;
	__u32 quote, len;
	__be32 to, sender;
	__s64 sum;

	if ((void *)(ip4 + 1) > data_end)
		return DROP(DROP_TRUNCATED);
	to = ip4->saddr; /* the error goes back to the packet's source */
	sender = from ? from : ip4->daddr;
	quote = tot_len < ICMP4_ERROR_MAX - IPV4_HLEN - ICMP_HLEN ? tot_len :
								      ICMP4_ERROR_MAX - IPV4_HLEN - ICMP_HLEN;
	if (bpf_skb_change_tail(skb, ETH_HLEN + quote, 0))
		return DROP(DROP_HELPER_FAILED);
	if (bpf_skb_adjust_room(skb, IPV4_HLEN + ICMP_HLEN, BPF_ADJ_ROOM_MAC, 0))
		return DROP(DROP_HELPER_FAILED);
	if (icmp_reply_eth(skb, bpf_htons(ETH_P_IP)))
		return DROP(DROP_HELPER_FAILED);

	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	ip4 = data + ETH_HLEN;
	icmp = (void *)(ip4 + 1);
	if ((void *)(icmp + 1) > data_end)
		return DROP(DROP_HELPER_FAILED);
	len = IPV4_HLEN + ICMP_HLEN + quote;
	/* TOS: precedence "internetwork control", as Linux sends errors. */
	ipv4_hdr_write(ip4, 0xc0, (__u16)len, 0, 0, ICMP_REPLY_TTL, IPPROTO_ICMP, sender, to);
	icmp->type = (__u8)(type_code >> 8);
	icmp->code = (__u8)type_code;
	icmp->checksum = 0;
	icmp->word = bpf_htonl(word);

	sum = csum_skb_bytes(skb, ETH_HLEN + IPV4_HLEN, ICMP_HLEN + quote, 0);
	if (sum < 0)
		return DROP(DROP_HELPER_FAILED);
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	icmp = data + ETH_HLEN + IPV4_HLEN;
	if ((void *)(icmp + 1) > data_end)
		return DROP(DROP_HELPER_FAILED);
	icmp->checksum = csum_fold((__u32)sum);
	return bpf_redirect(skb->ifindex, 0);
}

/* The IPv6 packet at ETH_HLEN (`len` bytes with its header) becomes the
 * ICMPv6 error `type_code` (type << 8 | code) with second word `word` (host
 * order: Packet Too Big's MTU, Parameter Problem's pointer), from the
 * packet's destination or, with `from_pool6`, from the RFC 6791 pool6
 * address, quoting as much of the packet as fits in 1280 bytes (RFC 4443
 * 2.4 (c)), sent back out of the ingress interface. A global function.
 * Returns TC_ACT_REDIRECT or a negative DROP reason. */
__attribute__((noinline)) int icmp6_send_error(struct __sk_buff *skb, __u32 len, __u32 type_code,
					       __u32 word, __u32 from_pool6)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ipv6hdr *ip6 = data + ETH_HLEN, *quoted;
	const struct sixgate_config *cfg;
	const union v6addr *from, *to;
	struct icmp6hdr *icmp6;
	__u32 quote, plen, pseudo, zero = 0;
	__s64 sum;

	if ((void *)(ip6 + 1) > data_end)
		return DROP(DROP_TRUNCATED);
	quote = len < ICMP6_ERROR_MAX - IPV6_HLEN - ICMP_HLEN ? len :
								ICMP6_ERROR_MAX - IPV6_HLEN - ICMP_HLEN;
	if (bpf_skb_change_tail(skb, ETH_HLEN + quote, 0))
		return DROP(DROP_HELPER_FAILED);
	if (bpf_skb_adjust_room(skb, IPV6_HLEN + ICMP_HLEN, BPF_ADJ_ROOM_MAC, 0))
		return DROP(DROP_HELPER_FAILED);
	if (icmp_reply_eth(skb, bpf_htons(ETH_P_IPV6)))
		return DROP(DROP_HELPER_FAILED);

	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	ip6 = data + ETH_HLEN;
	icmp6 = (void *)(ip6 + 1);
	quoted = (void *)(icmp6 + 1);
	if ((void *)(quoted + 1) > data_end)
		return DROP(DROP_HELPER_FAILED);
	/* The addresses are read from the quoted header, not copied to the
	 * stack first: this function's frame adds to a call chain whose 512
	 * bytes are nearly all taken. The config is a map value, which stays
	 * put. Back to the packet's source, from its destination or the pool. */
	to = (const union v6addr *)&quoted->saddr;
	from = (const union v6addr *)&quoted->daddr;
	if (from_pool6) {
		cfg = bpf_map_lookup_elem(&sixgate_config, &zero);
		if (!cfg)
			return DROP(DROP_NO_CONFIG);
		from = &cfg->rfc6791_pool6;
	}
	plen = ICMP_HLEN + quote;
	pseudo = csum_pseudo6(from, to, plen, IPPROTO_ICMPV6);
	ipv6_hdr_write(ip6, 0, (__u16)plen, IPPROTO_ICMPV6, ICMP_REPLY_TTL, from, to);
	icmp6->icmp6_type = (__u8)(type_code >> 8);
	icmp6->icmp6_code = (__u8)type_code;
	icmp6->icmp6_cksum = 0;
	icmp6->icmp6_dataun.un_data32[0] = bpf_htonl(word);

	sum = csum_skb_bytes(skb, ETH_HLEN + IPV6_HLEN, plen, pseudo);
	if (sum < 0)
		return DROP(DROP_HELPER_FAILED);
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	icmp6 = data + ETH_HLEN + IPV6_HLEN;
	if ((void *)(icmp6 + 1) > data_end)
		return DROP(DROP_HELPER_FAILED);
	icmp6->icmp6_cksum = csum_fold((__u32)sum);
	return bpf_redirect(skb->ifindex, 0);
}

/* The senders above behind the rate limit: what the translation paths
 * call. */
static __always_inline int icmp4_reply(struct __sk_buff *skb, __u32 tot_len, __u32 type_code,
				       __u32 word, __be32 from)
{
	if (!icmp_reply_admit())
		return DROP(DROP_ICMP_RATE_LIMITED);
	return icmp4_send_error(skb, tot_len, type_code, word, from);
}

static __always_inline int icmp6_reply(struct __sk_buff *skb, __u32 len, __u32 type_code,
				       __u32 word, __u32 from_pool6)
{
	if (!icmp_reply_admit())
		return DROP(DROP_ICMP_RATE_LIMITED);
	return icmp6_send_error(skb, len, type_code, word, from_pool6);
}

#endif
