/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Stateful NAT46 services: an IPv4 VIP:port served by IPv6 backends.
 *
 * Client -> VIP (IPv4 side): service lookup, source-range check, then the
 * flow's connection-tracking entry, or for a new flow a Maglev pick and a
 * new pair of entries; then the 4->6 rewrite with the backend as
 * destination and, as source, either an SNAT address + allocated port
 * ("gateway") or preserve_prefix + client IPv4 + the client's port
 * ("preserve", RFC 6052 2.2). Backend -> client (IPv6 side): the reply is
 * found by its backend-side entry and rewritten back to VIP:port -> client. */
#ifndef SIXGATE_NAT46_H
#define SIXGATE_NAT46_H

#include "ct.h"
#include "maps.h"
#include "rfc6052.h"
#include "stats.h"
#include "xlat46.h"
#include "xlat64.h"

/* Source ports tried for a new "gateway" flow before giving up: with the
 * default 28232 ports per SNAT address and backend, eight misses in a row
 * mean the pool is all but full. */
#define NAT46_SNAT_RETRIES 8

static __always_inline void svc_count(__u32 svc_id, __u32 counter, __u32 bytes)
{
	__u32 slot = svc_id * SVC_COUNTER_MAX + counter;
	struct sixgate_count *c = bpf_map_lookup_elem(&sixgate_svc_counters, &slot);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

/* The per-service counter of a drop reason returned by the service path. */
static __always_inline __u32 svc_drop_counter(int reason)
{
	switch (reason) {
	case DROP(DROP_SVC_SOURCE_RANGE):
		return SVC_DROP_SOURCE_RANGE;
	case DROP(DROP_SVC_NO_BACKEND):
		return SVC_DROP_NO_BACKEND;
	case DROP(DROP_SNAT_PORTS_EXHAUSTED):
		return SVC_DROP_SNAT_PORTS_EXHAUSTED;
	case DROP(DROP_CT_CONFLICT):
		return SVC_DROP_CT_CONFLICT;
	default:
		return SVC_DROP_OTHER;
	}
}

/* The gateway-wide NAT46 settings (one entry, written by the daemon). */
static __always_inline const struct nat46_config *nat46_settings(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sixgate_nat46, &zero);
}

/* murmur3's 32-bit block mix and finaliser. */
static __always_inline __u32 hash_mix(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51u;
	k = (k << 15) | (k >> 17);
	k *= 0x1b873593u;
	h ^= k;
	h = (h << 13) | (h >> 19);
	return h * 5 + 0xe6546b64u;
}

/* The flow hash that picks a Maglev slot: the client's 5-tuple, seeded.
 * Mirrored by sixgate_bpf::nat46::flow_hash. */
static __always_inline __u32 nat46_flow_hash(const struct ct4_key *k, __u32 seed)
{
	__u32 h = seed;

	h = hash_mix(h, bpf_ntohl(k->client));
	h = hash_mix(h, bpf_ntohl(k->vip));
	h = hash_mix(h, ((__u32)bpf_ntohs(k->client_port) << 16) | bpf_ntohs(k->vip_port));
	h = hash_mix(h, k->proto);
	h ^= 16; /* length of the input, as murmur3 does */
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* The service a client packet is addressed to, if any: IPv4 without
 * options, not a fragment, TCP or UDP. */
static __always_inline const struct svc_value *nat46_service_of(const struct iphdr *ip4, void *data_end)
{
	const __be16 *ports = (const void *)(ip4 + 1);
	struct svc_key key = {};

	if (ip4->ihl != 5 || (ip4->protocol != IPPROTO_TCP && ip4->protocol != IPPROTO_UDP))
		return NULL;
	if (ip4->frag_off & bpf_htons(IPV4_FLAG_MF | IPV4_FRAG_OFFSET_MASK))
		return NULL; /* fragments are not tracked (not built) */
	if ((const void *)(ports + 2) > data_end)
		return NULL;
	key.vip = ip4->daddr;
	key.port = ports[1];
	key.proto = ip4->protocol;
	return bpf_map_lookup_elem(&sixgate_services, &key);
}

/* loadBalancerSourceRanges: is the client inside one of the service's? */
static __always_inline bool nat46_source_allowed(__u32 svc_id, __be32 client)
{
	struct svc_range_key key = { .prefixlen = 64, .svc_id = svc_id, .addr = client };

	return bpf_map_lookup_elem(&sixgate_svc_ranges, &key) != NULL;
}

/* "preserve": may the new flow take this backend-side key? Not while a
 * live flow of another client tuple holds it (two VIPs with the same
 * backend, one client port); a stale holder is replaced. */
static __always_inline bool nat46_preserve_key_free(const struct nat46_config *n46, const struct ct6_key *rk,
						    const struct ct4_key *key, __u64 now)
{
	struct ct6_entry *old = bpf_map_lookup_elem(&sixgate_ct6, rk);
	struct ct4_entry *holder;

	if (!old || __builtin_memcmp(&old->flow, key, sizeof(*key)) == 0)
		return true;
	holder = bpf_map_lookup_elem(&sixgate_ct4, &old->flow);
	return !holder || ct_expired(n46, holder, now) || !ct_points_to(holder, rk);
}

/* The entries a new flow writes, built in a per-CPU map rather than on the
 * stack, which the paths inlined into the program need (see fib.h). */
struct nat46_scratch {
	struct ct4_entry e;
	struct ct6_entry r;
	struct ct6_key rk;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nat46_scratch);
} sixgate_nat46_scratch SEC(".maps");

/* A new flow: Maglev pick, source selection, both entries. Fills *t. */
static __always_inline int nat46_new_flow(const struct nat46_config *n46, const struct svc_value *svc,
					  const struct ct4_key *key, __u8 tcp_flags, __u64 now,
					  struct xlat46_target *t)
{
	struct nat46_scratch *w;
	struct backend *be;
	__u32 hash, slot, *id, i, range, zero = 0;
	void *table;

	w = bpf_map_lookup_elem(&sixgate_nat46_scratch, &zero);
	if (!w)
		return DROP(DROP_HELPER_FAILED);
	__builtin_memset(w, 0, sizeof(*w));

	if (svc->table_size == 0)
		return DROP(DROP_SVC_NO_BACKEND);
	table = bpf_map_lookup_elem(&sixgate_maglev, &svc->id);
	if (!table)
		return DROP(DROP_SVC_NO_BACKEND);
	hash = nat46_flow_hash(key, n46->hash_seed);
	slot = hash % svc->table_size;
	id = bpf_map_lookup_elem(table, &slot);
	if (!id)
		return DROP(DROP_SVC_NO_BACKEND);
	be = bpf_map_lookup_elem(&sixgate_backends, id);
	if (!be)
		return DROP(DROP_SVC_NO_BACKEND);

	w->rk.backend = be->addr;
	w->rk.backend_port = be->port;
	w->rk.proto = key->proto;
	w->r.flow = *key;
	w->r.svc_id = svc->id;
	if (svc->mode == SVC_MODE_PRESERVE) {
		/* The backend sees the client itself (RFC 6052 2.2) and its
		 * port; replies route back by the prefix. */
		if (n46->preserve_len == 0)
			return DROP(DROP_NAT46_NO_CONFIG);
		rfc6052_embed_in(&n46->preserve_prefix, n46->preserve_v4_pos, key->client, &w->rk.source);
		w->rk.source_port = key->client_port;
		if (!nat46_preserve_key_free(n46, &w->rk, key, now))
			return DROP(DROP_CT_CONFLICT);
		if (bpf_map_update_elem(&sixgate_ct6, &w->rk, &w->r, BPF_ANY))
			return DROP(DROP_HELPER_FAILED);
	} else {
		/* One of the SNAT addresses, by flow hash, and a random free
		 * port: the backend-side key must be unique, and
		 * BPF_NOEXIST makes taking it atomic across CPUs. */
		if (n46->snat_count == 0 || n46->port_max < n46->port_min)
			return DROP(DROP_NAT46_NO_CONFIG);
		w->rk.source = n46->snat[(hash >> 16) % n46->snat_count % NAT46_MAX_SNAT_ADDRS];
		range = (__u32)n46->port_max - n46->port_min + 1;
		for (i = 0; i < NAT46_SNAT_RETRIES; i++) {
			w->rk.source_port = bpf_htons((__u16)(n46->port_min + bpf_get_prandom_u32() % range));
			if (!bpf_map_update_elem(&sixgate_ct6, &w->rk, &w->r, BPF_NOEXIST))
				break;
		}
		if (i == NAT46_SNAT_RETRIES)
			return DROP(DROP_SNAT_PORTS_EXHAUSTED);
	}

	w->e.backend = w->rk.backend;
	w->e.backend_port = w->rk.backend_port;
	w->e.source = w->rk.source;
	w->e.source_port = w->rk.source_port;
	w->e.svc_id = svc->id;
	w->e.last_seen = now;
	w->e.state = ct_next_state(CT_NONE, key->proto, tcp_flags, false);
	if (bpf_map_update_elem(&sixgate_ct4, key, &w->e, BPF_ANY)) {
		bpf_map_delete_elem(&sixgate_ct6, &w->rk);
		return DROP(DROP_HELPER_FAILED);
	}
	t->src6 = w->rk.source;
	t->dst6 = w->rk.backend;
	t->sport = w->rk.source_port;
	t->dport = w->rk.backend_port;
	return 0;
}

/* Client -> VIP:port of service `svc`. */
static __always_inline int nat46_forward(struct __sk_buff *skb, const struct sixgate_config *cfg,
					 const struct svc_value *svc, __u32 *counter)
{
	const struct nat46_config *n46;
	struct xlat46_target t;
	struct xlat46_pkt p;
	struct ct4_key key = {};
	struct ct4_entry *e;
	__u64 now;
	int ret;

	n46 = nat46_settings();
	if (!n46)
		return DROP(DROP_NAT46_NO_CONFIG);
	ret = xlat46_parse(skb, &p);
	if (ret == XLAT_TTL_EXPIRED)
		return DROP(DROP_TTL_EXPIRED);
	if (ret == XLAT_IPV4_OPTIONS)
		return DROP(DROP_IPV4_OPTIONS);
	if (ret)
		return ret;
	p.tos = xlat_tclass(cfg, p.tos);
	if ((svc->flags & SVC_F_SOURCE_RANGES) && !nat46_source_allowed(svc->id, p.src4))
		return DROP(DROP_SVC_SOURCE_RANGE);

	key.client = p.src4;
	key.vip = p.dst4;
	key.client_port = p.sport;
	key.vip_port = p.dport;
	key.proto = p.proto;
	now = bpf_ktime_get_ns();
	e = bpf_map_lookup_elem(&sixgate_ct4, &key);
	if (e && e->svc_id == svc->id && !ct_expired(n46, e, now) &&
	    !ct_reopened(e, p.proto, p.tcp_flags)) {
		/* Pinned: the flow keeps its backend whatever the table
		 * says now (drain, removal, weight change). */
		ct_touch(e, p.proto, p.tcp_flags, false, now);
		t.src6 = e->source;
		t.dst6 = e->backend;
		t.sport = e->source_port;
		t.dport = e->backend_port;
	} else {
		ret = nat46_new_flow(n46, svc, &key, p.tcp_flags, now, &t);
		if (ret)
			return ret;
		svc_count(svc->id, SVC_NEW_FLOW, 0);
	}
	return xlat46_emit(skb, cfg, &p, &t, XLAT_NAT46, counter);
}

/* The backend-side key of an IPv6 packet, if it is TCP or UDP (directly or
 * behind a BIG TCP jumbo header). */
static __always_inline bool nat46_reply_key(const struct ipv6hdr *ip6, void *data_end, struct ct6_key *k)
{
	const __u8 *l4 = (const void *)(ip6 + 1);
	const __be16 *ports;
	__u8 proto = ip6->nexthdr;

	if (proto == IPPROTO_HOPOPTS) {
		if ((const void *)(l4 + JUMBO_HBH_LEN) > data_end)
			return false;
		proto = l4[0];
		l4 += JUMBO_HBH_LEN;
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return false;
	ports = (const void *)l4;
	if ((const void *)(ports + 2) > data_end)
		return false;
	k->backend.in6 = ip6->saddr;
	k->source.in6 = ip6->daddr;
	k->backend_port = ports[0];
	k->source_port = ports[1];
	k->proto = proto;
	return true;
}

/* Backend -> client: the reply of a tracked flow `r`, found by its key `rk`. */
static __always_inline int nat46_reply(struct __sk_buff *skb, const struct sixgate_config *cfg,
				       const struct ct6_key *rk, const struct ct6_entry *r, __u32 *counter)
{
	const struct nat46_config *n46;
	struct xlat64_target t;
	struct xlat64_pkt p;
	struct ct4_entry *e;
	__u64 now;
	int ret;

	n46 = nat46_settings();
	if (!n46)
		return DROP(DROP_NAT46_NO_CONFIG);
	ret = xlat64_parse(skb, &p);
	if (ret == XLAT_TTL_EXPIRED)
		return DROP(DROP_TTL_EXPIRED);
	if (ret == XLAT_SEGMENTS_LEFT)
		return DROP(DROP_IPV6_SEGMENTS_LEFT);
	if (ret)
		return ret;
	p.tclass = xlat_tclass(cfg, p.tclass);
	/* Replies keep a flow alive only while its client side agrees: an
	 * expired or re-pinned flow is gone in both directions. */
	now = bpf_ktime_get_ns();
	e = bpf_map_lookup_elem(&sixgate_ct4, &r->flow);
	if (!e || ct_expired(n46, e, now) || !ct_points_to(e, rk))
		return DROP(DROP_CT_STALE);
	ct_touch(e, p.proto, p.tcp_flags, true, now);

	t.src4 = r->flow.vip;
	t.dst4 = r->flow.client;
	t.sport = r->flow.vip_port;
	t.dport = r->flow.client_port;
	return xlat64_emit(skb, cfg, &p, &t, XLAT_NAT46, counter);
}

#endif
