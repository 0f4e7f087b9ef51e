/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Rate limits: the exception path, and the ICMP errors the gateway sends
 * itself (RFC 4443 2.4 (f) says an IPv6 node MUST limit those; RFC 1812
 * 4.3.2.8 asks the same of IPv4 routers). */
#ifndef SIXGATE_RATELIMIT_H
#define SIXGATE_RATELIMIT_H

#include "common.h"

/* Which limit: a slot of sixgate_rate_buckets. */
enum rate_slot {
	RATE_EXCEPTION = 0,
	RATE_ICMP_ERRORS = 1,
	RATE_SLOTS,
};

/* Per-CPU state of one limit: the GCRA's theoretical arrival time. */
struct rate_bucket {
	__u64 tat;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RATE_SLOTS);
	__type(key, __u32);
	__type(value, struct rate_bucket);
} sixgate_rate_buckets SEC(".maps");

/* GCRA (ITU-T I.371): admit when at most `burst_ns` of credit is owed, then
 * owe `cost_ns` more. Per CPU, so no atomics are needed; a cost of 0 admits
 * everything. */
static __always_inline bool rate_admit(__u32 slot, __u64 cost_ns, __u64 burst_ns)
{
	struct rate_bucket *b;
	__u64 now, tat;

	b = bpf_map_lookup_elem(&sixgate_rate_buckets, &slot);
	if (!b)
		return false;
	now = bpf_ktime_get_ns();
	tat = b->tat > now ? b->tat : now;
	if (tat - now > burst_ns)
		return false;
	b->tat = tat + cost_ns;
	return true;
}

#endif
