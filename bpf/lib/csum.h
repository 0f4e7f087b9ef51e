/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Internet checksum arithmetic (RFC 1071, incremental updates per RFC 1624).
 *
 * Sums are kept as 32-bit one's-complement accumulators over the raw
 * (network-order) words, the same convention as the kernel's __wsum, so a
 * difference computed here can be handed to bpf_l4_csum_replace() directly. */
#ifndef SIXGATE_CSUM_H
#define SIXGATE_CSUM_H

#include "common.h"

static __always_inline __u32 csum_add(__u32 sum, __u32 addend)
{
	sum += addend;
	return sum + (sum < addend); /* end-around carry */
}

static __always_inline __u32 csum_sub(__u32 sum, __u32 subtrahend)
{
	return csum_add(sum, ~subtrahend);
}

/* Fold to 16 bits and complement: the value that goes into a header. */
static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static __always_inline __u32 csum_v6addr(__u32 sum, const union v6addr *a)
{
	sum = csum_add(sum, a->w[0]);
	sum = csum_add(sum, a->w[1]);
	sum = csum_add(sum, a->w[2]);
	return csum_add(sum, a->w[3]);
}

/* Sum of the IPv6 pseudo-header (RFC 8200 8.1). */
static __always_inline __u32 csum_pseudo6(const union v6addr *src, const union v6addr *dst,
					  __u32 l4_len, __u8 nexthdr)
{
	__u32 sum = csum_v6addr(0, src);

	sum = csum_v6addr(sum, dst);
	sum = csum_add(sum, bpf_htonl(l4_len));
	return csum_add(sum, bpf_htonl(nexthdr));
}

/* IPv4 header checksum over a 20-byte header whose check field may hold
 * anything: the old value is subtracted out. */
static __always_inline __u16 csum_ipv4_header(const struct iphdr *ip4)
{
	const __u32 *w = (const __u32 *)ip4;
	__u32 sum = 0;

	sum = csum_add(sum, w[0]);
	sum = csum_add(sum, w[1]);
	sum = csum_add(sum, w[2]);
	sum = csum_add(sum, w[3]);
	sum = csum_add(sum, w[4]);
	sum = csum_sub(sum, ip4->check);
	return csum_fold(sum);
}

/* Writes a 40-byte IPv6 header: traffic class `tclass`, flow label 0. */
static __always_inline void ipv6_hdr_write(struct ipv6hdr *ip6, __u8 tclass, __u16 payload_len,
					   __u8 nexthdr, __u8 hop_limit, const union v6addr *src,
					   const union v6addr *dst)
{
	ip6->version = 6;
	ip6->priority = tclass >> 4;
	ip6->flow_lbl[0] = (__u8)(tclass << 4);
	ip6->flow_lbl[1] = 0;
	ip6->flow_lbl[2] = 0;
	ip6->payload_len = bpf_htons(payload_len);
	ip6->nexthdr = nexthdr;
	ip6->hop_limit = hop_limit;
	ip6->saddr = src->in6;
	ip6->daddr = dst->in6;
}

/* Writes a 20-byte IPv4 header (no options) with its checksum. `tot_len`
 * 0 is BIG TCP's "longer than 64 KiB". */
static __always_inline void ipv4_hdr_write(struct iphdr *ip4, __u8 tos, __u16 tot_len, __be16 id,
					   __be16 frag_off, __u8 ttl, __u8 protocol, __be32 src,
					   __be32 dst)
{
	ip4->version = 4;
	ip4->ihl = 5;
	ip4->tos = tos;
	ip4->tot_len = bpf_htons(tot_len);
	ip4->id = id;
	ip4->frag_off = frag_off;
	ip4->ttl = ttl;
	ip4->protocol = protocol;
	ip4->saddr = src;
	ip4->daddr = dst;
	ip4->check = 0;
	ip4->check = csum_ipv4_header(ip4);
}

/* Scratch space for csum_skb_bytes: packet bytes are copied here with
 * bpf_skb_load_bytes, so the skb need not be linear. */
#define CSUM_BLOCK 512
struct csum_scratch {
	__u8 b[CSUM_BLOCK];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct csum_scratch);
} sixgate_csum_scratch SEC(".maps");

/* Sum of `len` packet bytes starting at `off` (odd tail padded with zero,
 * RFC 1071), added to `seed`. Returns the 32-bit sum, or -1 if the bytes
 * are not there. 512-byte blocks are copied out and summed by
 * bpf_csum_diff; the tail is zero-padded to a whole word.
 *
 * A global (non-static, noinline) function: the verifier checks it once, on
 * its own, instead of once per path that reaches it, which keeps the main
 * program far below the verifier's complexity limit. */
__attribute__((noinline)) __s64 csum_skb_bytes(struct __sk_buff *skb, __u32 off, __u32 len, __u32 seed)
{
	struct csum_scratch *buf;
	__u32 zero = 0, acc = seed, done = 0, rest, padded, i;
	__s64 r;

	buf = bpf_map_lookup_elem(&sixgate_csum_scratch, &zero);
	if (!buf || len > UDP_ZERO_CSUM_MAX_LEN)
		return -1;
	for (i = 0; i < UDP_ZERO_CSUM_MAX_LEN / CSUM_BLOCK; i++) {
		if (len - done < CSUM_BLOCK)
			break;
		if (bpf_skb_load_bytes(skb, off + done, buf->b, CSUM_BLOCK))
			return -1;
		r = bpf_csum_diff(NULL, 0, (__be32 *)buf->b, CSUM_BLOCK, acc);
		if (r < 0)
			return -1;
		acc = (__u32)r;
		done += CSUM_BLOCK;
	}
	rest = (len - done) & (CSUM_BLOCK - 1);
	if (rest == 0)
		return acc;
	padded = (rest + 3) & ~3u;
	if (padded > CSUM_BLOCK) /* cannot happen; tells the verifier */
		return -1;
	/* Zero the pad bytes first: the copy below only covers `rest`. */
	if (padded > rest)
		buf->b[rest & (CSUM_BLOCK - 1)] = 0;
	if (padded > rest + 1)
		buf->b[(rest + 1) & (CSUM_BLOCK - 1)] = 0;
	if (padded > rest + 2)
		buf->b[(rest + 2) & (CSUM_BLOCK - 1)] = 0;
	if (bpf_skb_load_bytes(skb, off + done, buf->b, rest))
		return -1;
	r = bpf_csum_diff(NULL, 0, (__be32 *)buf->b, padded, acc);
	if (r < 0)
		return -1;
	return (__u32)r;
}

/* NAT46 service path: write new TCP/UDP ports at `l4_off`. Ports are packet
 * data, so the checksum update is a plain one (no BPF_F_PSEUDO_HDR): with
 * CHECKSUM_PARTIAL the field holds only the pseudo-header sum and the ports
 * are summed at transmit. A UDP checksum of 0 stays 0 (BPF_F_MARK_MANGLED_0;
 * the caller fills it in later if it must). */
static __always_inline int l4_rewrite_ports(struct __sk_buff *skb, __u32 l4_off, __u8 proto,
					    __be16 old_sport, __be16 old_dport,
					    __be16 new_sport, __be16 new_dport)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__be16 *ports = data + l4_off;
	__u32 old_word, new_word, check_off;

	if (old_sport == new_sport && old_dport == new_dport)
		return 0;
	if ((void *)(ports + 2) > data_end)
		return DROP(DROP_TRUNCATED);
	old_word = *(__u32 *)ports;
	ports[0] = new_sport;
	ports[1] = new_dport;
	new_word = *(__u32 *)ports;
	check_off = l4_off + (proto == IPPROTO_TCP ? offsetof(struct tcphdr, check) :
						     offsetof(struct udphdr, check));
	if (bpf_l4_csum_replace(skb, check_off, old_word, new_word,
				sizeof(__u32) | (proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0)))
		return DROP(DROP_HELPER_FAILED);
	return 0;
}

/* ICMP errors (icmp_error46.h, icmp_error64.h): the quoted packet's
 * transport checksum, at `l4_off` once translated, updated by `diff` for
 * its translated addresses (TCP, UDP) or for ICMP echo's type and
 * pseudo-header, if the quote reaches it. Incremental, as RFC 7915 4.3 and
 * 5.3 ask for the quoted packet "as if it were a packet": its checksum was
 * over the full original, which the quote may not hold. */
static __always_inline int csum_fix_quoted_l4(struct __sk_buff *skb, __u32 l4_off, __u8 proto, __u32 diff)
{
	__u32 off;
	__u16 check;

	switch (proto) {
	case IPPROTO_TCP:
		off = l4_off + offsetof(struct tcphdr, check);
		break;
	case IPPROTO_UDP:
		off = l4_off + offsetof(struct udphdr, check);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		/* ICMP and ICMPv6 keep the checksum at the same place */
		off = l4_off + offsetof(struct icmp6hdr, icmp6_cksum);
		break;
	default:
		return 0;
	}
	if (off + sizeof(check) > skb->len)
		return 0; /* not quoted */
	if (bpf_skb_load_bytes(skb, off, &check, sizeof(check)))
		return DROP(DROP_HELPER_FAILED);
	if (check == 0 && proto == IPPROTO_UDP)
		return 0; /* "no checksum" stays so */
	check = csum_fold(csum_add((__u16)~check, diff));
	if (check == 0 && proto == IPPROTO_UDP)
		check = 0xffff; /* RFC 768: a computed 0 is sent as all ones */
	if (bpf_skb_store_bytes(skb, off, &check, sizeof(check), 0))
		return DROP(DROP_HELPER_FAILED);
	return 0;
}

#endif
