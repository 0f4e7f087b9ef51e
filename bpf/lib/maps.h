/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Every map of the data path, in one place. The Rust mirrors of the value and
 * key types live in crates/sixgate-bpf/src/maps.rs; a test compares them with
 * this object's BTF. */
#ifndef SIXGATE_MAPS_H
#define SIXGATE_MAPS_H

#include "common.h"

#define LIBBPF_PIN_BY_NAME 1

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
};

/* pool6 is the well-known prefix 64:ff9b::/96 (RFC 6052 3.1 applies). */
#define SIXGATE_CFG_POOL6_IS_WKP (1 << 0)
/* Allow non-global IPv4 addresses with the well-known prefix anyway. */
#define SIXGATE_CFG_WKP_ALLOW_NON_GLOBAL (1 << 1)

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

#endif
