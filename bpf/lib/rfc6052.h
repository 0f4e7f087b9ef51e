/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* RFC 6052 IPv4-embedded IPv6 addresses. Mirrors sixgate_wire::rfc6052. */
#ifndef SIXGATE_RFC6052_H
#define SIXGATE_RFC6052_H

#include "maps.h"

/* Is `a` inside pool6? (prefix match only: suffix bits are ignored, 2.2) */
static __always_inline bool rfc6052_in_pool6(const struct sixgate_config *cfg, const union v6addr *a)
{
	return ((a->w[0] & cfg->pool6_mask.w[0]) == cfg->pool6.w[0]) &&
	       ((a->w[1] & cfg->pool6_mask.w[1]) == cfg->pool6.w[1]) &&
	       ((a->w[2] & cfg->pool6_mask.w[2]) == cfg->pool6.w[2]) &&
	       ((a->w[3] & cfg->pool6_mask.w[3]) == cfg->pool6.w[3]);
}

/* RFC 6052 2.2: place the IPv4 address after `prefix`, skipping bits 64-71
 * (the "u" octet, always zero); the suffix is zero. Prefixes are stored with
 * every bit past their length zero, so copying one clears u and suffix;
 * `v4_pos` says where each IPv4 octet goes for the prefix's length. */
static __always_inline void rfc6052_embed_in(const union v6addr *prefix, const __u8 *v4_pos, __be32 v4,
					     union v6addr *out)
{
	const __u8 *b = (const __u8 *)&v4;

	*out = *prefix;
	out->b[v4_pos[0] & 15] = b[0];
	out->b[v4_pos[1] & 15] = b[1];
	out->b[v4_pos[2] & 15] = b[2];
	out->b[v4_pos[3] & 15] = b[3];
}

/* RFC 6052 2.2 with pool6. */
static __always_inline void rfc6052_embed(const struct sixgate_config *cfg, __be32 v4, union v6addr *out)
{
	rfc6052_embed_in(&cfg->pool6, cfg->v4_pos, v4, out);
}

/* RFC 6052 2.2, the reverse: the IPv4 address embedded in `a`. The caller has
 * checked rfc6052_in_pool6(). */
static __always_inline __be32 rfc6052_extract(const struct sixgate_config *cfg, const union v6addr *a)
{
	__be32 v4;
	__u8 *b = (__u8 *)&v4;

	b[0] = a->b[cfg->v4_pos[0] & 15];
	b[1] = a->b[cfg->v4_pos[1] & 15];
	b[2] = a->b[cfg->v4_pos[2] & 15];
	b[3] = a->b[cfg->v4_pos[3] & 15];
	return v4;
}

#define V4_NET(a, b, c, d) bpf_htonl(((__u32)(a) << 24) | ((__u32)(b) << 16) | ((__u32)(c) << 8) | (__u32)(d))
#define V4_IN(addr, net, len) (((addr) & bpf_htonl(~0u << (32 - (len)))) == (net))

/* Not globally reachable per the IANA IPv4 Special-Purpose Address Registry
 * (RFC 6890), plus multicast. RFC 6052 3.1 forbids these with 64:ff9b::/96. */
static __always_inline bool ipv4_is_non_global(__be32 a)
{
	return V4_IN(a, V4_NET(0, 0, 0, 0), 8) ||
	       V4_IN(a, V4_NET(10, 0, 0, 0), 8) ||
	       V4_IN(a, V4_NET(100, 64, 0, 0), 10) ||
	       V4_IN(a, V4_NET(127, 0, 0, 0), 8) ||
	       V4_IN(a, V4_NET(169, 254, 0, 0), 16) ||
	       V4_IN(a, V4_NET(172, 16, 0, 0), 12) ||
	       V4_IN(a, V4_NET(192, 0, 0, 0), 24) ||
	       V4_IN(a, V4_NET(192, 0, 2, 0), 24) ||
	       V4_IN(a, V4_NET(192, 168, 0, 0), 16) ||
	       V4_IN(a, V4_NET(198, 18, 0, 0), 15) ||
	       V4_IN(a, V4_NET(198, 51, 100, 0), 24) ||
	       V4_IN(a, V4_NET(203, 0, 113, 0), 24) ||
	       V4_IN(a, V4_NET(224, 0, 0, 0), 3);
}

/* IPv6 sources that must never be forwarded: unspecified, loopback and
 * multicast (RFC 4291 2.5.2, 2.5.3, 2.7). */
static __always_inline bool ipv6_is_illegal_source(const struct in6_addr *a)
{
	const __be32 *w = a->in6_u.u6_addr32;

	if ((w[0] & bpf_htonl(0xff000000)) == bpf_htonl(0xff000000))
		return true;
	return !w[0] && !w[1] && !w[2] && (!w[3] || w[3] == bpf_htonl(1));
}

/* RFC 6052 3.1: with the well-known prefix, an embedded address must be
 * global, unless the operator relaxed that in the config. */
static __always_inline bool rfc6052_wkp_forbids(const struct sixgate_config *cfg, __be32 a)
{
	if ((cfg->flags & (SIXGATE_CFG_POOL6_IS_WKP | SIXGATE_CFG_WKP_ALLOW_NON_GLOBAL)) !=
	    SIXGATE_CFG_POOL6_IS_WKP)
		return false;
	return ipv4_is_non_global(a);
}

/* RFC 6791 4: the pool4 address for an ICMPv6 error from `src`, which has no
 * IPv4 form: a hash of the source (its four words XORed, times 0x9e3779b1),
 * so that one router always gets the same address. Mirrored by
 * sixgate_wire::xlat::mapping::rfc6791_pick4. The caller checked
 * cfg->rfc6791_count > 0. */
static __always_inline __be32 rfc6791_pick4(const struct sixgate_config *cfg, const union v6addr *src)
{
	__u32 h = (bpf_ntohl(src->w[0]) ^ bpf_ntohl(src->w[1]) ^ bpf_ntohl(src->w[2]) ^ bpf_ntohl(src->w[3])) *
		  0x9e3779b1u;

	return cfg->rfc6791_pool4[(h % cfg->rfc6791_count) & (SIXGATE_RFC6791_MAX - 1)];
}

/* Sources that must never be forwarded: "this network", loopback,
 * multicast, class E and limited broadcast (RFC 1812 5.3.7). */
static __always_inline bool ipv4_is_illegal_source(__be32 a)
{
	return V4_IN(a, V4_NET(0, 0, 0, 0), 8) ||
	       V4_IN(a, V4_NET(127, 0, 0, 0), 8) ||
	       V4_IN(a, V4_NET(224, 0, 0, 0), 3);
}

#endif
