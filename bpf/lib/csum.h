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

/* Sum of `len` packet bytes starting at `off` (odd tail padded with zero,
 * RFC 1071). The caller must have linearised the packet with
 * bpf_skb_pull_data(). Returns -1 when the bytes are not all present.
 * Whole 512-byte blocks go through bpf_csum_diff (one helper call each, so
 * the verifier sees a short loop), the rest word by word. */
#define CSUM_BLOCK 512
static __always_inline int csum_skb_bytes(struct __sk_buff *skb, __u32 off, __u32 len, __u32 *sum)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 acc = *sum, done = 0, i;
	__u8 *p;

	if (len > UDP_ZERO_CSUM_MAX_LEN || off > 128)
		return -1;
	for (i = 0; i < UDP_ZERO_CSUM_MAX_LEN / CSUM_BLOCK; i++) {
		__s64 r;

		if (len - done < CSUM_BLOCK)
			break;
		p = data + off + (done & 0x3fff);
		if ((void *)(p + CSUM_BLOCK) > data_end)
			return -1;
		r = bpf_csum_diff(NULL, 0, (void *)p, CSUM_BLOCK, acc);
		if (r < 0)
			return -1;
		acc = (__u32)r;
		done += CSUM_BLOCK;
	}
	for (i = 0; i < CSUM_BLOCK / 4; i++) {
		if (len - done < 4)
			break;
		p = data + off + (done & 0x3fff);
		if ((void *)(p + 4) > data_end)
			return -1;
		acc = csum_add(acc, *(__u32 *)p);
		done += 4;
	}
	if (len > done) {
		__u32 w = 0;
		__u8 *wb = (__u8 *)&w;

		p = data + off + (done & 0x3fff);
		if ((void *)(p + 1) > data_end)
			return -1;
		wb[0] = p[0];
		if (len - done > 1) {
			if ((void *)(p + 2) > data_end)
				return -1;
			wb[1] = p[1];
		}
		if (len - done > 2) {
			if ((void *)(p + 3) > data_end)
				return -1;
			wb[2] = p[2];
		}
		acc = csum_add(acc, w);
	}
	*sum = acc;
	return 0;
}

#endif
