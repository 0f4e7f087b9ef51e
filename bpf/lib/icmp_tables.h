/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* RFC 7915's ICMP tables: error type/code translation in both directions
 * (4.2, 5.2), the Parameter Problem pointer maps (Figures 3 and 6) and the
 * Packet Too Big / Fragmentation Needed MTU arithmetic with the RFC 1191
 * plateaus. Pure functions: they look at header fields and say what the
 * translated header carries, or that the message is dropped. */
#ifndef SIXGATE_ICMP_TABLES_H
#define SIXGATE_ICMP_TABLES_H

#include "common.h"

#define ICMP_PROT_UNREACH 2
#define ICMP_PORT_UNREACH 3
#define ICMP_FRAG_NEEDED 4
#define ICMP_SR_FAILED 5
#define ICMP_NET_ANO 9
#define ICMP_HOST_ANO 10
#define ICMP_PKT_FILTERED 13
#define ICMP_PREC_VIOLATION 14
#define ICMP_PREC_CUTOFF 15
#define ICMP_PARAM_PTR 0
#define ICMP_PARAM_BADLEN 2

#define ICMPV6_ADM_PROHIBITED 1
#define ICMPV6_NOROUTE 0
#define ICMPV6_NOT_NEIGHBOUR 2
#define ICMPV6_ADDR_UNREACH 3
#define ICMPV6_PORT_UNREACH 4
#define ICMPV6_HDR_FIELD 0
#define ICMPV6_UNK_NEXTHDR 1

/* The IPv6 minimum MTU (RFC 8200 5). */
#define IPV6_MIN_MTU 1280
/* The IPv4 minimum MTU (RFC 791). */
#define IPV4_MIN_MTU 68
/* RFC 1812 4.3.2.3: an ICMPv4 error is at most 576 bytes. */
#define ICMP4_ERROR_MAX 576
/* RFC 4443 2.4(c): an ICMPv6 error is at most the minimum MTU, 1280. */
#define ICMP6_ERROR_MAX IPV6_MIN_MTU
/* Both ICMP headers are 8 bytes: type, code, checksum, one word. */
#define ICMP_HLEN 8

/* The translated error header: type, code, and the second word (MTU or
 * pointer, host order; 0 when unused). */
struct icmp_xlat {
	__u8 type;
	__u8 code;
	__u32 word;
};

/* Is this ICMPv4 type an error (RFC 792) rather than a query? */
static __always_inline bool icmp4_is_error(__u8 type)
{
	return type == ICMP_DEST_UNREACH || type == ICMP_SOURCE_QUENCH || type == ICMP_REDIRECT ||
	       type == ICMP_TIME_EXCEEDED || type == ICMP_PARAMETERPROB;
}

/* ICMPv6 types below 128 are errors (RFC 4443 2.1). */
static __always_inline bool icmp6_is_error(__u8 type)
{
	return type < 128;
}

/* RFC 1191 section 7: the greatest plateau below `tot_len`, for a
 * Fragmentation Needed that reports MTU 0 (a router older than RFC 1191). */
static __always_inline __u32 rfc1191_plateau(__u32 tot_len)
{
	if (tot_len > 32000)
		return 32000;
	if (tot_len > 17914)
		return 17914;
	if (tot_len > 8166)
		return 8166;
	if (tot_len > 4352)
		return 4352;
	if (tot_len > 2002)
		return 2002;
	if (tot_len > 1492)
		return 1492;
	if (tot_len > 1006)
		return 1006;
	if (tot_len > 508)
		return 508;
	if (tot_len > 296)
		return 296;
	return 68;
}

/* RFC 7915 Figure 3: an IPv4 Parameter Problem pointer as an IPv6 one, or
 * -1 where the figure says "n/a" or has no row (the error is dropped). */
static __always_inline int icmp46_pointer(__u8 ptr)
{
	if (ptr <= 1)
		return ptr;		/* version/IHL, TOS */
	if (ptr <= 3)
		return 4;		/* total length -> payload length */
	if (ptr == 8)
		return 7;		/* TTL -> hop limit */
	if (ptr == 9)
		return 6;		/* protocol -> next header */
	if (ptr >= 12 && ptr <= 15)
		return 8;		/* source address */
	if (ptr >= 16 && ptr <= 19)
		return 24;		/* destination address */
	return -1;			/* identification, flags/offset, checksum, options */
}

/* RFC 7915 Figure 6: an IPv6 Parameter Problem pointer as an IPv4 one, or
 * -1 (dropped). */
static __always_inline int icmp64_pointer(__u32 ptr)
{
	if (ptr <= 1)
		return ptr;		/* version/traffic class */
	if (ptr == 4 || ptr == 5)
		return 2;		/* payload length -> total length */
	if (ptr == 6)
		return 9;		/* next header -> protocol */
	if (ptr == 7)
		return 8;		/* hop limit -> TTL */
	if (ptr >= 8 && ptr <= 23)
		return 12;		/* source address */
	if (ptr >= 24 && ptr <= 39)
		return 16;		/* destination address */
	return -1;			/* flow label, beyond the header */
}

/* RFC 7915 4.2: the ICMPv6 form of an ICMPv4 error. `word` is the ICMPv4
 * header's second word (host order); `inner_tot_len` the quoted packet's
 * Total Length (for the RFC 1191 plateau). Returns 0, or a DROP reason for
 * what the RFC says to drop silently. */
static __always_inline int icmp46_error(__u8 type, __u8 code, __u32 word, __u32 inner_tot_len,
					struct icmp_xlat *out)
{
	int ptr;

	out->word = 0;
	switch (type) {
	case ICMP_DEST_UNREACH:
		out->type = ICMPV6_DEST_UNREACH;
		switch (code) {
		case 0: /* net unreachable */
		case 1: /* host unreachable */
		case ICMP_SR_FAILED:
		case 6: case 7: case 8: case 11: case 12:
			out->code = ICMPV6_NOROUTE;
			return 0;
		case ICMP_NET_ANO:
		case ICMP_HOST_ANO:
		case ICMP_PKT_FILTERED:
		case ICMP_PREC_CUTOFF:
			out->code = ICMPV6_ADM_PROHIBITED;
			return 0;
		case ICMP_PORT_UNREACH:
			out->code = ICMPV6_PORT_UNREACH;
			return 0;
		case ICMP_PROT_UNREACH:
			/* Parameter Problem, pointer at the Next Header field. */
			out->type = ICMPV6_PARAMPROB;
			out->code = ICMPV6_UNK_NEXTHDR;
			out->word = offsetof(struct ipv6hdr, nexthdr);
			return 0;
		case ICMP_FRAG_NEEDED: {
			/* RFC 7915 4.2: the MTU grows by the 20 bytes the IPv6
			 * header adds; MTU 0 takes the RFC 1191 plateau below the
			 * quoted length. Never below IPv6's minimum. */
			__u32 mtu = word & 0xffff;

			if (mtu == 0)
				mtu = rfc1191_plateau(inner_tot_len);
			mtu += IP_HDR_DELTA;
			out->type = ICMPV6_PKT_TOOBIG;
			out->code = 0;
			out->word = mtu < IPV6_MIN_MTU ? IPV6_MIN_MTU : mtu;
			return 0;
		}
		default: /* 14 (precedence violation) and unknown codes */
			return DROP(DROP_ICMP_UNSUPPORTED);
		}
	case ICMP_TIME_EXCEEDED:
		if (code > 1)
			return DROP(DROP_ICMP_UNSUPPORTED);
		out->type = ICMPV6_TIME_EXCEED;
		out->code = code;
		return 0;
	case ICMP_PARAMETERPROB:
		if (code != ICMP_PARAM_PTR && code != ICMP_PARAM_BADLEN)
			return DROP(DROP_ICMP_UNSUPPORTED);
		ptr = icmp46_pointer(word >> 24);
		if (ptr < 0)
			return DROP(DROP_ICMP_UNSUPPORTED);
		out->type = ICMPV6_PARAMPROB;
		out->code = ICMPV6_HDR_FIELD;
		out->word = ptr;
		return 0;
	default: /* source quench, redirect: single-hop or obsolete */
		return DROP(DROP_ICMP_UNSUPPORTED);
	}
}

/* RFC 7915 5.2: the ICMPv4 form of an ICMPv6 error. `word` is the ICMPv6
 * header's second word (host order). Returns 0 or a DROP reason. */
static __always_inline int icmp64_error(__u8 type, __u8 code, __u32 word, struct icmp_xlat *out)
{
	int ptr;

	out->word = 0;
	switch (type) {
	case ICMPV6_DEST_UNREACH:
		out->type = ICMP_DEST_UNREACH;
		switch (code) {
		case ICMPV6_NOROUTE:
		case ICMPV6_NOT_NEIGHBOUR:
		case ICMPV6_ADDR_UNREACH:
			out->code = 1; /* host unreachable */
			return 0;
		case ICMPV6_ADM_PROHIBITED:
			out->code = ICMP_HOST_ANO;
			return 0;
		case ICMPV6_PORT_UNREACH:
			out->code = ICMP_PORT_UNREACH;
			return 0;
		default:
			return DROP(DROP_ICMP_UNSUPPORTED);
		}
	case ICMPV6_PKT_TOOBIG: {
		/* RFC 7915 5.2: the MTU shrinks by the 20 bytes translation
		 * saves; IPv4's field holds 16 bits; never below IPv4's minimum
		 * (RFC 791), so a bogus tiny MTU does not read as "0: no RFC 1191". */
		__u32 mtu = word > IP_HDR_DELTA ? word - IP_HDR_DELTA : 0;

		out->type = ICMP_DEST_UNREACH;
		out->code = ICMP_FRAG_NEEDED;
		out->word = mtu > 0xffff ? 0xffff : mtu < IPV4_MIN_MTU ? IPV4_MIN_MTU : mtu;
		return 0;
	}
	case ICMPV6_TIME_EXCEED:
		if (code > 1)
			return DROP(DROP_ICMP_UNSUPPORTED);
		out->type = ICMP_TIME_EXCEEDED;
		out->code = code;
		return 0;
	case ICMPV6_PARAMPROB:
		if (code == ICMPV6_UNK_NEXTHDR) {
			out->type = ICMP_DEST_UNREACH;
			out->code = ICMP_PROT_UNREACH;
			return 0;
		}
		if (code != ICMPV6_HDR_FIELD)
			return DROP(DROP_ICMP_UNSUPPORTED);
		ptr = icmp64_pointer(word);
		if (ptr < 0)
			return DROP(DROP_ICMP_UNSUPPORTED);
		out->type = ICMP_PARAMETERPROB;
		out->code = ICMP_PARAM_PTR;
		out->word = (__u32)ptr << 24;
		return 0;
	default:
		return DROP(DROP_ICMP_UNSUPPORTED);
	}
}

#endif
