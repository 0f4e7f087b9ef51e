/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* BIG TCP: GSO super-packets longer than 64 KiB, whose IP headers cannot
 * carry their length. The kernel marks them as
 *   IPv4: tot_len = 0 (Linux 6.3+);
 *   IPv6: payload_len = 0 plus an 8-byte Hop-by-Hop header holding an
 *         RFC 2675 Jumbo Payload option (inside the stack only; removed on
 *         segmentation), or, on newer kernels, payload_len = 0 alone.
 * Lengths then come from the skb. Only TCP is carried this way. */
#ifndef SIXGATE_BIGTCP_H
#define SIXGATE_BIGTCP_H

#include "common.h"

/* RFC 2675 section 2: Hop-by-Hop header holding only the Jumbo Payload
 * option. */
struct ipv6_jumbo_hbh {
	__u8 nexthdr;
	__u8 hdrlen;	/* 0: 8 bytes */
	__u8 opt_type;	/* IPV6_TLV_JUMBO (0xc2, linux/in6.h) */
	__u8 opt_len;	/* 4 */
	__be32 jumbo_len; /* payload length, Hop-by-Hop header included */
};

#define IPV6_MAXPLEN 65535
#define JUMBO_HBH_LEN ((int)sizeof(struct ipv6_jumbo_hbh))

/* The IPv4 total length of the packet at ETH_HLEN: tot_len, or for a TCP
 * GSO packet with tot_len 0, what the skb holds. Negative if inconsistent. */
static __always_inline int bigtcp_ipv4_len(struct __sk_buff *skb, const struct iphdr *ip4)
{
	__u32 tot_len = bpf_ntohs(ip4->tot_len);
	__u32 avail = skb->len - ETH_HLEN;

	if (tot_len == 0 && skb->gso_size && ip4->protocol == IPPROTO_TCP && avail > IPV4_HLEN)
		return avail;
	if (tot_len < IPV4_HLEN || tot_len > avail)
		return -1;
	return tot_len;
}

/* The IPv6 payload length (extension headers excluded) of the packet at
 * ETH_HLEN, with the transport protocol in *proto and the size of a jumbo
 * Hop-by-Hop header to remove in *hbh_len. Negative if inconsistent. */
static __always_inline int bigtcp_ipv6_len(struct __sk_buff *skb, const struct ipv6hdr *ip6,
					   __u8 *proto, __u32 *hbh_len)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 plen = bpf_ntohs(ip6->payload_len);
	__u32 avail = skb->len - ETH_HLEN - IPV6_HLEN;
	struct ipv6_jumbo_hbh *hbh;

	*proto = ip6->nexthdr;
	*hbh_len = 0;
	if (plen != 0 || !skb->gso_size) {
		if (plen > avail)
			return -1;
		return plen;
	}
	if (ip6->nexthdr == IPPROTO_HOPOPTS) {
		hbh = data + ETH_HLEN + IPV6_HLEN;
		if ((void *)(hbh + 1) > data_end)
			return -1;
		if (hbh->hdrlen != 0 || hbh->opt_type != IPV6_TLV_JUMBO || hbh->opt_len != 4 ||
		    bpf_ntohl(hbh->jumbo_len) != avail)
			return -1;
		*proto = hbh->nexthdr;
		*hbh_len = JUMBO_HBH_LEN;
		avail -= JUMBO_HBH_LEN;
	}
	if (*proto != IPPROTO_TCP || avail <= IPV6_MAXPLEN)
		return -1;
	return avail;
}

/* After bpf_skb_change_proto to IPv6: a translated TCP packet too long for
 * payload_len gets the jumbo Hop-by-Hop header this kernel's IPv6 stack
 * expects (it trims a payload_len-0 packet without one). gso_size stays:
 * the header is not part of the segments. */
static __always_inline int bigtcp_push_jumbo(struct __sk_buff *skb, __u32 l4_len)
{
	void *data, *data_end;
	struct ipv6_jumbo_hbh *hbh;

	if (bpf_skb_adjust_room(skb, JUMBO_HBH_LEN, BPF_ADJ_ROOM_NET, BPF_F_ADJ_ROOM_FIXED_GSO))
		return -1;
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	hbh = data + ETH_HLEN + IPV6_HLEN;
	if ((void *)(hbh + 1) > data_end)
		return -1;
	hbh->nexthdr = IPPROTO_TCP;
	hbh->hdrlen = 0;
	hbh->opt_type = IPV6_TLV_JUMBO;
	hbh->opt_len = 4;
	hbh->jumbo_len = bpf_htonl(l4_len + JUMBO_HBH_LEN);
	return 0;
}

#endif
