/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Connection tracking of NAT46 service flows: the state machine and the
 * idle-timeout rule. Entries live in sixgate_ct4 (the client's side, which
 * holds the state) and sixgate_ct6 (the backend's side, which points back
 * to it); maps.h has the layouts. */
#ifndef SIXGATE_CT_H
#define SIXGATE_CT_H

#include "maps.h"

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10

/* last_seen is rewritten at most this often while the state stays the same:
 * every packet writing the same cache line from every CPU would cost more
 * than the precision is worth (timeouts are 10 s and more). */
#define CT_REFRESH_NS 1000000000ULL

/* The state after a packet with TCP `flags` (ignored for UDP) going in the
 * reply direction or not. A tracker, not a validator: it only decides
 * which idle timeout applies (RFC 5382 REQ-5 for established flows). */
static __always_inline __u8 ct_next_state(__u8 state, __u8 proto, __u8 flags, bool reply)
{
	if (proto != IPPROTO_TCP)
		return CT_UDP;
	if (flags & TCP_FLAG_RST)
		return CT_TCP_RESET;
	if (flags & TCP_FLAG_FIN)
		return CT_TCP_CLOSING;
	switch (state) {
	case CT_NONE:
		/* A flow first seen mid-way (e.g. after its entry was lost)
		 * is taken as established. */
		return (flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN ? CT_TCP_SYN_SENT :
										 CT_TCP_ESTABLISHED;
	case CT_TCP_SYN_SENT:
		return reply ? CT_TCP_ESTABLISHED : CT_TCP_SYN_SENT;
	default:
		/* Established, closing and reset stay; a client SYN on a
		 * closed or reset flow opens a new one (ct_reopened). */
		return state;
	}
}

/* A SYN (without ACK) on a flow that has closed or been reset is a new
 * connection on a reused client port: it is picked a backend afresh, as
 * Linux conntrack reopens a TIME_WAIT entry. Maglev gives it the same
 * backend as before unless the table changed meanwhile (a drain or a
 * removal), which is the point: no new connection reaches such a backend. */
static __always_inline bool ct_reopened(const struct ct4_entry *e, __u8 proto, __u8 tcp_flags)
{
	return proto == IPPROTO_TCP && (tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN &&
	       (e->state == CT_TCP_CLOSING || e->state == CT_TCP_RESET);
}

/* Has the entry been idle longer than its state's timeout? An expired entry
 * is as good as absent; the daemon sweeps it later. Another CPU may have
 * stamped last_seen after this one read `now`: that entry is fresh, not
 * 2^64 ns old. */
static __always_inline bool ct_expired(const struct nat46_config *n46, const struct ct4_entry *e, __u64 now)
{
	__u32 state = e->state;

	if (state >= CT_STATE_MAX)
		return true;
	return now > e->last_seen && now - e->last_seen > n46->timeout_ns[state];
}

/* Record a packet on the flow: new state, and last_seen when it changed or
 * is more than CT_REFRESH_NS old. */
static __always_inline void ct_touch(struct ct4_entry *e, __u8 proto, __u8 tcp_flags, bool reply, __u64 now)
{
	__u8 state = ct_next_state(e->state, proto, tcp_flags, reply);

	if (state != e->state || (now > e->last_seen && now - e->last_seen > CT_REFRESH_NS)) {
		e->state = state;
		e->last_seen = now;
	}
}

/* Does the client-side entry still belong to this backend-side key? It
 * does not once the flow expired and the client's next connection on the
 * same ports was pinned elsewhere. */
static __always_inline bool ct_points_to(const struct ct4_entry *e, const struct ct6_key *k)
{
	return e->backend.w[0] == k->backend.w[0] && e->backend.w[1] == k->backend.w[1] &&
	       e->backend.w[2] == k->backend.w[2] && e->backend.w[3] == k->backend.w[3] &&
	       e->source.w[0] == k->source.w[0] && e->source.w[1] == k->source.w[1] &&
	       e->source.w[2] == k->source.w[2] && e->source.w[3] == k->source.w[3] &&
	       e->backend_port == k->backend_port && e->source_port == k->source_port;
}

#endif
