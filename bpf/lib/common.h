/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Types, constants and small helpers shared by every part of the data path. */
#ifndef SIXGATE_COMMON_H
#define SIXGATE_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/icmpv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <stdbool.h>
#include <stddef.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* One counter per outcome; see counters.def. */
enum sixgate_counter {
#define SG_COUNTER(name, help) SG_##name,
#include "counters.def"
#undef SG_COUNTER
	SG_COUNTER_MAX,
};

/* Drop reasons travel up the call chain as negative numbers and are counted
 * once, at the entry point (Cilium's DROP_* convention). */
#define DROP(reason) (-(int)SG_##reason)

#define IPV4_HLEN ((int)sizeof(struct iphdr))
#define IPV6_HLEN ((int)sizeof(struct ipv6hdr))
/* bpf_skb_change_proto grows/shrinks the network header by exactly this. */
#define IP_HDR_DELTA (IPV6_HLEN - IPV4_HLEN)

/* The byte of the TCP header holding FIN, SYN, RST, PSH, ACK, URG (RFC 9293 3.1). */
#define TCP_FLAGS_OFF 13

#define IPV4_FLAG_DF 0x4000
#define IPV4_FLAG_MF 0x2000
#define IPV4_FRAG_OFFSET_MASK 0x1fff

/* RFC 7915 5.1: DF is set when the translated IPv4 packet is larger than
 * 1260 bytes (1280-byte IPv6 minimum MTU minus the 20 bytes of header the
 * translation saves), so that PMTUD keeps working. */
#define XLAT64_DF_THRESHOLD 1260

/* Largest IPv4 UDP datagram with checksum 0 that the data path checksums
 * itself (RFC 7915 4.5); larger ones are dropped and counted. */
#define UDP_ZERO_CSUM_MAX_LEN 9216

/* ICMPv4 (RFC 792). <linux/icmp.h> drags in libc socket headers, so the
 * few definitions needed are here. */
struct icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 id;
	__be16 sequence;
};

#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_SOURCE_QUENCH 4
#define ICMP_REDIRECT 5
#define ICMP_ECHO 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12

/* Addresses as four big-endian 32-bit words. */
union v6addr {
	__u8 b[16];
	__be32 w[4];
	struct in6_addr in6;
};

#endif
