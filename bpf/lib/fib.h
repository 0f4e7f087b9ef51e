/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Forwarding of translated packets: bpf_fib_lookup, then a direct redirect
 * (or bpf_redirect_neigh when the neighbour is not resolved yet). */
#ifndef SIXGATE_FIB_H
#define SIXGATE_FIB_H

#include "common.h"
#include "maps.h"

/* What to do with a translated packet, decided before it is modified so that
 * the TTL / hop limit is written once, with the right value. */
enum fib_verdict {
	FIB_REDIRECT, /* we forward it: decrement TTL / hop limit */
	FIB_STACK,    /* the kernel forwards it and decrements itself */
	FIB_TOO_BIG,  /* exceeds the egress MTU */
};

static __always_inline enum fib_verdict fib_verdict_of(int rc)
{
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		return FIB_REDIRECT;
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		return FIB_TOO_BIG;
	default:
		/* Blackhole, unreachable, forwarding disabled, ...: the kernel
		 * applies its own policy (and sends its own errors). */
		return FIB_STACK;
	}
}

/* The FIB query and answer live in a per-CPU map, not on the stack: three
 * paths inlined into the one program each need one, and the stack (512
 * bytes for the whole call chain) is too small for all of them. A per-CPU
 * array lookup is inlined by the verifier: no helper call. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpf_fib_lookup);
} sixgate_fib_scratch SEC(".maps");

static __always_inline struct bpf_fib_lookup *fib_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sixgate_fib_scratch, &zero);
}

/* For non-GSO packets pass the translated length so the FIB checks it
 * against the route MTU; GSO packets are segmented later, and a length of 0
 * makes the kernel check the skb itself, which accepts GSO. */
static __always_inline __u16 fib_tot_len(struct __sk_buff *skb, __u32 xlat_len)
{
	return skb->gso_size ? 0 : (__u16)xlat_len;
}

static __always_inline int fib_lookup6(struct __sk_buff *skb, struct bpf_fib_lookup *p,
				       const union v6addr *src, const union v6addr *dst,
				       __u8 l4_proto, __u32 xlat_len)
{
	__builtin_memset(p, 0, sizeof(*p));
	p->family = AF_INET6;
	p->ifindex = skb->ifindex;
	p->l4_protocol = l4_proto;
	p->tot_len = fib_tot_len(skb, xlat_len);
	__builtin_memcpy(p->ipv6_src, src, 16);
	__builtin_memcpy(p->ipv6_dst, dst, 16);
	return bpf_fib_lookup(skb, p, sizeof(*p), 0);
}

static __always_inline int fib_lookup4(struct __sk_buff *skb, struct bpf_fib_lookup *p,
				       __be32 src, __be32 dst, __u8 tos, __u8 l4_proto, __u32 xlat_len)
{
	__builtin_memset(p, 0, sizeof(*p));
	p->family = AF_INET;
	p->ifindex = skb->ifindex;
	p->tos = tos;
	p->l4_protocol = l4_proto;
	p->tot_len = fib_tot_len(skb, xlat_len);
	p->ipv4_src = src;
	p->ipv4_dst = dst;
	return bpf_fib_lookup(skb, p, sizeof(*p), 0);
}

/* Send the (already translated) packet out of the FIB's egress device, or
 * into its veth peer (see sixgate_config.peer_ifindex). */
static __always_inline int fib_redirect(struct __sk_buff *skb, const struct sixgate_config *cfg,
					struct bpf_fib_lookup *p, int rc)
{
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		void *data = (void *)(long)skb->data;
		void *data_end = (void *)(long)skb->data_end;
		struct ethhdr *eth = data;

		if ((void *)(eth + 1) > data_end)
			return DROP(DROP_TRUNCATED);
		__builtin_memcpy(eth->h_dest, p->dmac, ETH_ALEN);
		__builtin_memcpy(eth->h_source, p->smac, ETH_ALEN);
		if (p->ifindex == cfg->peer_ifindex[0] || p->ifindex == cfg->peer_ifindex[1])
			return bpf_redirect_peer(p->ifindex, 0);
		return bpf_redirect(p->ifindex, 0);
	} else {
		/* NO_NEIGH: the FIB left the next hop in ipv4_dst / ipv6_dst;
		 * the kernel resolves it (ARP / ND) and queues the packet. */
		struct bpf_redir_neigh nh = {};

		nh.nh_family = p->family;
		if (p->family == AF_INET6)
			__builtin_memcpy(nh.ipv6_nh, p->ipv6_dst, 16);
		else
			nh.ipv4_nh = p->ipv4_dst;
		return bpf_redirect_neigh(p->ifindex, &nh, sizeof(nh), 0);
	}
}

/* Sends the translated packet on after the FIB's `verdict`: to the kernel
 * stack (which forwards it and decrements the TTL itself), or redirected.
 * *counter gets `stack_counter` or `redirect_counter`. */
static __always_inline int fib_send(struct __sk_buff *skb, const struct sixgate_config *cfg,
				    struct bpf_fib_lookup *p, int rc, enum fib_verdict verdict,
				    __u32 *counter, __u32 redirect_counter, __u32 stack_counter)
{
	if (verdict == FIB_STACK) {
		*counter = stack_counter;
		return TC_ACT_OK;
	}
	*counter = redirect_counter;
	return fib_redirect(skb, cfg, p, rc);
}

/* The MTU of the IPv6 route to `dst`, or 0 without one: asking about a
 * packet of the largest size makes the FIB report the MTU it compares. */
static __always_inline __u32 fib_route_mtu6(struct __sk_buff *skb, const union v6addr *src,
					     const union v6addr *dst, __u8 proto)
{
	struct bpf_fib_lookup *fib = fib_scratch();
	int rc;

	if (!fib)
		return 0;
	rc = fib_lookup6(skb, fib, src, dst, proto, 0xffff);
	return rc == BPF_FIB_LKUP_RET_FRAG_NEEDED ? fib->mtu_result : 0;
}

/* The same for the IPv4 route to `dst`. */
static __always_inline __u32 fib_route_mtu4(struct __sk_buff *skb, __be32 src, __be32 dst, __u8 proto)
{
	struct bpf_fib_lookup *fib = fib_scratch();
	int rc;

	if (!fib)
		return 0;
	rc = fib_lookup4(skb, fib, src, dst, 0, proto, 0xffff);
	return rc == BPF_FIB_LKUP_RET_FRAG_NEEDED ? fib->mtu_result : 0;
}

#endif
