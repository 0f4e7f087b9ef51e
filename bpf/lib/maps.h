/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Every map of the data path, in one place. The Rust mirrors of the value and
 * key types live in crates/sixgate-bpf/src/maps.rs; a test compares them with
 * this object's BTF. */
#ifndef SIXGATE_MAPS_H
#define SIXGATE_MAPS_H

#include "common.h"

#define LIBBPF_PIN_BY_NAME 1

/* Most RFC 6791 pool4 addresses. */
#define SIXGATE_RFC6791_MAX 4

/* Translator configuration, written by the daemon (one entry). */
struct sixgate_config {
	/* RFC 6052 pool6 prefix, bits past pool6_len zero. */
	union v6addr pool6;
	/* pool6 netmask as words, so "is this address in pool6" is 4 ANDs. */
	union v6addr pool6_mask;
	/* 32, 40, 48, 56, 64 or 96; 0 means not configured. */
	__u8 pool6_len;
	/* SIXGATE_CFG_* bits. */
	__u8 flags;
	__u8 pad[2];
	/* Byte positions of the four IPv4 octets inside an address of pool6
	 * (RFC 6052 2.2, figure 1), computed by the daemon from pool6_len:
	 * embedding and extraction become four indexed moves, no branches. */
	__u8 v4_pos[4];
	/* Attached interfaces that are veth: a translated packet the FIB sends
	 * out of one of them goes straight into the peer's ingress with
	 * bpf_redirect_peer. That skips the peer's backlog queue, and it keeps
	 * BIG TCP packets intact: on this kernel, transmitting a GSO packet
	 * whose headers a BPF helper resized (SKB_GSO_DODGY) strips the IPv6
	 * jumbo header, and the receiving IPv6 stack then drops the packet.
	 * 0 = unused. */
	__u32 peer_ifindex[2];
	/* RFC 6791: IPv4 sources for translated ICMPv6 errors whose IPv6
	 * source has no IPv4 form (an IPv6 router on the path). */
	__be32 rfc6791_pool4[SIXGATE_RFC6791_MAX];
	__u32 rfc6791_count;
	/* The exception path (exception.h): the daemon's TAP device, where
	 * packets the programs cannot finish go; 0 = none (they are dropped
	 * by reason instead). */
	__u32 exc_ifindex;
	/* RFC 7915 4.1 "lowest-ipv6-mtu": an IPv4 packet without DF that
	 * is larger than this once translated is fragmented to fit. */
	__u16 lowest_ipv6_mtu;
	/* With SIXGATE_CFG_TCLASS_SET: the Traffic Class / TOS every
	 * translated header gets (RFC 7915 4.1, 5.1 let the operator choose). */
	__u8 tclass;
	__u8 pad2;
	/* Exception path rate limit, per CPU, as a GCRA: each packet costs
	 * exc_cost_ns of credit, and at most exc_burst_ns may be owed. */
	__u64 exc_cost_ns;
	__u64 exc_burst_ns;
	/* Rate limit of the ICMP errors the gateway sends itself, per CPU,
	 * as for the exception path (ratelimit.h); cost 0: no limit. */
	__u64 icmp_cost_ns;
	__u64 icmp_burst_ns;
	/* RFC 6791 for the other direction: the IPv6 source of the ICMPv6
	 * errors the gateway sends (Time Exceeded, Parameter Problem), with
	 * SIXGATE_CFG_RFC6791_POOL6. */
	union v6addr rfc6791_pool6;
};

/* pool6 is the well-known prefix 64:ff9b::/96 (RFC 6052 3.1 applies). */
#define SIXGATE_CFG_POOL6_IS_WKP (1 << 0)
/* Allow non-global IPv4 addresses with the well-known prefix anyway. */
#define SIXGATE_CFG_WKP_ALLOW_NON_GLOBAL (1 << 1)
/* At least one NAT46 service exists: look packets up in the service and
 * connection-tracking maps before the SIIT path. */
#define SIXGATE_CFG_NAT46 (1 << 2)
/* The EAMT holds at least one entry: look addresses up in sixgate_eamt4 /
 * sixgate_eamt6 before pool6 (eam.h). Without it SIIT pays nothing for EAMT. */
#define SIXGATE_CFG_EAMT (1 << 3)
/* The gateway's own ICMPv6 errors come from sixgate_config.rfc6791_pool6. */
#define SIXGATE_CFG_RFC6791_POOL6 (1 << 5)
/* Set every translated Traffic Class / TOS to sixgate_config.tclass
 * instead of copying it. */
#define SIXGATE_CFG_TCLASS_SET (1 << 6)
/* Drop IPv4 UDP datagrams with checksum 0 instead of computing one (RFC
 * 7915 4.5 lets the operator choose). */
#define SIXGATE_CFG_UDP_ZERO_DROP (1 << 7)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sixgate_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sixgate_config SEC(".maps");

/* IPv4 prefixes this gateway serves: an IPv4 packet is translated to IPv6
 * when its destination falls in one of them. */
struct served_v4_key {
	__u32 prefixlen;
	__be32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__type(key, struct served_v4_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sixgate_served_v4 SEC(".maps");

/* ---- RFC 7757 explicit address mappings (eam.h) ------------------------- */

/* Most EAMs (each is one entry in both maps). */
#define SIXGATE_EAMT_MAX_ENTRIES 1024

/* An EAM as the data path uses it (RFC 7757 3.2): the other side's prefix
 * and how the suffix moves, computed by the daemon from the two prefix
 * lengths. The IPv4 suffix (the last suffix_bits bits of an IPv4 address)
 * sits left-aligned in the IPv6 suffix: IPv6 = prefix6 | suffix << shift,
 * where shift = IPv6 suffix length - IPv4 suffix length (never negative:
 * the daemon rejects an IPv4 suffix longer than the IPv6 one). */
struct eamt4_key {
	__u32 prefixlen;
	__be32 addr;
};

struct eamt4_value {
	/* The IPv6 prefix, bits past its length zero. */
	union v6addr prefix6;
	/* 32 - IPv4 prefix length: 0..32 */
	__u8 suffix_bits;
	/* (128 - IPv6 prefix length) - suffix_bits: 0..96 */
	__u8 shift;
	__u8 pad[2];
};

struct eamt6_key {
	__u32 prefixlen;
	union v6addr addr;
};

struct eamt6_value {
	/* The IPv4 prefix, bits past its length zero. */
	__be32 prefix4;
	__u8 suffix_bits;
	__u8 shift;
	__u8 pad[2];
};

/* IPv4 prefix of each EAM -> its IPv6 side. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SIXGATE_EAMT_MAX_ENTRIES);
	__type(key, struct eamt4_key);
	__type(value, struct eamt4_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sixgate_eamt4 SEC(".maps");

/* IPv6 prefix of each EAM -> its IPv4 side. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SIXGATE_EAMT_MAX_ENTRIES);
	__type(key, struct eamt6_key);
	__type(value, struct eamt6_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sixgate_eamt6 SEC(".maps");

/* RFC 7757 4.3 hairpinning: slot 0 holds the program sixgate_tc_hairpin
 * (prog_tc.c), which xlat64 tail-calls with an IPv4 packet addressed to
 * this gateway. The daemon fills the slot when it loads the programs;
 * pinned so that the running programs keep it when the daemon exits. */
#define SIXGATE_HAIRPIN_SLOT 0
/* The skb->cb word that carries the packet's length as received across
 * the tail call, for the byte counter. */
#define SIXGATE_HAIRPIN_CB_LEN 0

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sixgate_hairpin SEC(".maps");

/* Per-CPU packet and byte counts, one slot per enum sixgate_counter. */
struct sixgate_count {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SG_COUNTER_MAX);
	__type(key, __u32);
	__type(value, struct sixgate_count);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sixgate_counters SEC(".maps");

/* The exception path's outcomes in the daemon (which finishes what
 * exception.h hands it), one slot per entry of EXC_COUNTERS in
 * crates/sixgate-bpf/src/exception.rs. Only the daemon writes it; it is a
 * map so that it is pinned and `sixgate stats` reads it like the rest. */
#define SIXGATE_EXC_COUNTERS_MAX 64

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SIXGATE_EXC_COUNTERS_MAX);
	__type(key, __u32);
	__type(value, struct sixgate_count);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sixgate_exc_counters SEC(".maps");

/* ---- Stateful NAT46 services (nat46.h, ct.h) ---------------------------- */

/* Most services, backends per service, SNAT addresses. Mirrored in
 * crates/sixgate-bpf/src/maps.rs. */
#define NAT46_MAX_SERVICES 1024
#define NAT46_MAX_BACKENDS_PER_SERVICE 1024
#define NAT46_MAX_SNAT_ADDRS 16
/* Connection-tracking entries per direction. */
#define NAT46_CT_MAX_ENTRIES 262144

/* Connection-tracking states; each has its own idle timeout. */
enum ct_state {
	CT_NONE = 0,
	CT_TCP_SYN_SENT = 1,	/* client SYN seen, no reply yet */
	CT_TCP_ESTABLISHED = 2,	/* the backend answered */
	CT_TCP_CLOSING = 3,	/* a FIN was seen */
	CT_TCP_RESET = 4,	/* an RST was seen */
	CT_UDP = 5,
	CT_STATE_MAX,
};

/* NAT46 settings, written by the daemon (one entry). */
struct nat46_config {
	/* RFC 6052 prefix of "preserve" services: the backend sees
	 * preserve_prefix + client IPv4. */
	union v6addr preserve_prefix;
	__u8 preserve_v4_pos[4];
	/* 0 = no preserve prefix configured. */
	__u8 preserve_len;
	/* Entries of snat[] in use ("gateway" services). */
	__u8 snat_count;
	__u16 pad;
	/* Source ports "gateway" services allocate from, host order, inclusive. */
	__u16 port_min;
	__u16 port_max;
	/* Seed of the flow hash that indexes the Maglev tables; gateways with
	 * the same seed and tables send a flow to the same backend. */
	__u32 hash_seed;
	/* Idle timeout per enum ct_state, nanoseconds. */
	__u64 timeout_ns[CT_STATE_MAX];
	union v6addr snat[NAT46_MAX_SNAT_ADDRS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nat46_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sixgate_nat46 SEC(".maps");

/* A service: IPv4 VIP, port, protocol. */
struct svc_key {
	__be32 vip;
	__be16 port;
	__u8 proto;
	__u8 pad;
};

#define SVC_MODE_GATEWAY 0	/* source = an SNAT address + allocated port */
#define SVC_MODE_PRESERVE 1	/* source = preserve_prefix + client IPv4, same port */

/* The service has source ranges: clients outside them are dropped. */
#define SVC_F_SOURCE_RANGES (1 << 0)

struct svc_value {
	/* Index into sixgate_maglev and the per-service counters. */
	__u32 id;
	/* Slots of the service's Maglev table (a prime, M). */
	__u32 table_size;
	/* Which half of the service's backend ids the table in force uses
	 * (backend_id), so the daemon can fill the other half and swap. */
	__u8 generation;
	__u8 mode;
	__u8 flags;
	__u8 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NAT46_MAX_SERVICES);
	__type(key, struct svc_key);
	__type(value, struct svc_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sixgate_services SEC(".maps");

/* A service's Maglev table: slot -> backend id. Tables are built by the
 * daemon (crates/sixgate-maglev) and swapped whole, so a backend-set change
 * is atomic. BPF_F_INNER_MAP lets tables of different sizes share the map. */
struct maglev_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, NAT46_MAX_SERVICES);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct maglev_table);
} sixgate_maglev SEC(".maps");

/* Backend id = service id, generation, index (backend_id()): each service
 * owns two ranges and fills the idle one before a swap. */
static __always_inline __u32 backend_id(__u32 svc_id, __u32 generation, __u32 index)
{
	return (svc_id << 11) | ((generation & 1) << 10) | (index & (NAT46_MAX_BACKENDS_PER_SERVICE - 1));
}

struct backend {
	union v6addr addr;
	__be16 port;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * 65536);
	__type(key, __u32);
	__type(value, struct backend);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sixgate_backends SEC(".maps");

/* loadBalancerSourceRanges: {service id, client prefix}. prefixlen counts
 * the 32 bits of svc_id too. */
struct svc_range_key {
	__u32 prefixlen;
	__u32 svc_id;
	__be32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__type(key, struct svc_range_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sixgate_svc_ranges SEC(".maps");

/* Connection tracking, IPv4 side: the client's flow to a VIP. */
struct ct4_key {
	__be32 client;
	__be32 vip;
	__be16 client_port;
	__be16 vip_port;
	__u8 proto;
	__u8 pad[3];
};

struct ct4_entry {
	/* Where the flow is pinned: the backend, and the source it sees. */
	union v6addr backend;
	union v6addr source;
	__be16 backend_port;
	__be16 source_port;
	__u32 svc_id;
	/* bpf_ktime_get_ns() of the last packet either way (refreshed at
	 * most once a second: fewer writes to a shared cache line). */
	__u64 last_seen;
	__u8 state;	/* enum ct_state */
	__u8 pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NAT46_CT_MAX_ENTRIES);
	__type(key, struct ct4_key);
	__type(value, struct ct4_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sixgate_ct4 SEC(".maps");

/* Connection tracking, IPv6 side: a backend's reply, as it arrives. */
struct ct6_key {
	union v6addr backend;
	union v6addr source;
	__be16 backend_port;
	__be16 source_port;
	__u8 proto;
	__u8 pad[3];
};

struct ct6_entry {
	/* The flow's IPv4 side: what the reply becomes, and where its state
	 * lives. */
	struct ct4_key flow;
	__u32 svc_id;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NAT46_CT_MAX_ENTRIES);
	__type(key, struct ct6_key);
	__type(value, struct ct6_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sixgate_ct6 SEC(".maps");

/* Per-service, per-CPU counters: slot svc_id * SVC_COUNTER_MAX + counter. */
enum svc_counter {
#define SVC_COUNTER(name, help) SVC_##name,
#include "svc_counters.def"
#undef SVC_COUNTER
	SVC_COUNTER_MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NAT46_MAX_SERVICES * SVC_COUNTER_MAX);
	__type(key, __u32);
	__type(value, struct sixgate_count);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sixgate_svc_counters SEC(".maps");

#endif
