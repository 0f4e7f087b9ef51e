/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The exception path: packets the programs cannot finish go to the daemon.
 *
 * Fragmenting after translation (RFC 7915 4.1, 5.1) makes several packets
 * out of one, and IPv4 options make the header length variable, which the
 * verifier cannot afford on the fast path. Such packets are rare (TCP, and
 * UDP and ICMP echo under the path MTU, never take this path), so they are
 * redirected, untouched, to a TAP device the daemon owns. The daemon
 * finishes them with the reference translator (sixgate_wire::xlat) and sends
 * the result. The Ethernet addresses, which mean nothing on that device,
 * carry what the daemon needs to know (struct exc_meta). */
#ifndef SIXGATE_EXCEPTION_H
#define SIXGATE_EXCEPTION_H

#include "common.h"
#include "fib.h"
#include "maps.h"
#include "ratelimit.h"

/* Written over the 12 address bytes of the Ethernet header. Mirrored in
 * crates/sixgate-bpf/src/exception.rs. */
struct exc_meta {
	__u8 magic[3];		/* EXC_MAGIC: locally administered, "sg" */
	__u8 version;		/* EXC_VERSION */
	__u8 counter;		/* the EXCEPTION_* counter: why */
	__u8 pad;
	__be16 egress_mtu;	/* MTU of the translated packet's egress link */
	__be32 ingress_ifindex;	/* where the packet arrived */
};

#define EXC_MAGIC0 0x02
#define EXC_MAGIC1 's'
#define EXC_MAGIC2 'g'
#define EXC_VERSION 1

_Static_assert(sizeof(struct exc_meta) == 2 * ETH_ALEN, "exc_meta overlays the MAC addresses");

/* Hands the packet in `skb`, not modified, to the daemon for `exc_counter`'s
 * reason; without an exception path it is dropped with `drop` instead.
 * Returns a TC action with the outcome in *counter, or a negative DROP. */
static __always_inline int exception_handoff(struct __sk_buff *skb, const struct sixgate_config *cfg,
					     __u32 exc_counter, __u32 egress_mtu, int drop,
					     __u32 *counter)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct exc_meta *m = data;

	if (!cfg->exc_ifindex)
		return drop;
	if ((void *)(m + 1) > data_end)
		return DROP(DROP_TRUNCATED);
	if (!rate_admit(RATE_EXCEPTION, cfg->exc_cost_ns, cfg->exc_burst_ns))
		return DROP(DROP_EXCEPTION_RATE_LIMITED);
	m->magic[0] = EXC_MAGIC0;
	m->magic[1] = EXC_MAGIC1;
	m->magic[2] = EXC_MAGIC2;
	m->version = EXC_VERSION;
	m->counter = (__u8)exc_counter;
	m->pad = 0;
	m->egress_mtu = bpf_htons(egress_mtu > 0xffff ? 0xffff : (__u16)egress_mtu);
	m->ingress_ifindex = bpf_htonl(skb->ifindex);
	*counter = exc_counter;
	return bpf_redirect(cfg->exc_ifindex, 0);
}

#endif
