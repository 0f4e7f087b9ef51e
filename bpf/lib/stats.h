/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-CPU counters: every packet the programs see ends in exactly one. */
#ifndef SIXGATE_STATS_H
#define SIXGATE_STATS_H

#include "maps.h"

static __always_inline void count(__u32 counter, __u32 bytes)
{
	struct sixgate_count *c = bpf_map_lookup_elem(&sixgate_counters, &counter);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

#endif
