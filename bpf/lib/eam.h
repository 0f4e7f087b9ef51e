/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Address mapping, the one place where an address changes family (RFC 7915
 * 4.1 / 5.1 "addresses per the mapping"): RFC 7757 explicit address mappings
 * (EAMT) first, then the RFC 6052 prefix pool6 (RFC 7757 3.3). Outer headers,
 * the packets quoted in ICMP errors, classification and hairpinning all map
 * through here. Mirrors sixgate_wire::xlat::mapping. */
#ifndef SIXGATE_EAM_H
#define SIXGATE_EAM_H

#include "maps.h"
#include "rfc6052.h"

/* RFC 7757 3.2: the EAM whose IPv4 prefix is the longest holding `a`, or
 * NULL (also when the EAMT is empty: then no lookup is made). */
static __always_inline const struct eamt4_value *eam4_lookup(const struct sixgate_config *cfg, __be32 a)
{
	struct eamt4_key key = { .prefixlen = 32, .addr = a };

	if (!(cfg->flags & SIXGATE_CFG_EAMT))
		return NULL;
	return bpf_map_lookup_elem(&sixgate_eamt4, &key);
}

/* RFC 7757 3.2: the EAM whose IPv6 prefix is the longest holding `a`, or NULL. */
static __always_inline const struct eamt6_value *eam6_lookup(const struct sixgate_config *cfg,
							      const union v6addr *a)
{
	struct eamt6_key key = { .prefixlen = 128, .addr = *a };

	if (!(cfg->flags & SIXGATE_CFG_EAMT))
		return NULL;
	return bpf_map_lookup_elem(&sixgate_eamt6, &key);
}

/* The low `n` bits (n = 0..32) set. */
static __always_inline __u32 eam_low_bits(__u32 n)
{
	return (__u32)(((__u64)1 << (n & 63)) - 1);
}

/* RFC 7757 3.2, IPv4 -> IPv6: the IPv4 suffix follows the IPv6 prefix,
 * left-aligned in the IPv6 suffix (the suffixes may differ in length); the
 * rest is zero. The suffix, shifted, spans at most two 32-bit words: `w` is
 * the first, counted from the right. */
static __always_inline void eam_to_ipv6(const struct eamt4_value *e, __be32 a, union v6addr *out)
{
	__u32 shift = e->shift & 127, w = shift >> 5;
	__u64 v = (__u64)(bpf_ntohl(a) & eam_low_bits(e->suffix_bits)) << (shift & 31);
	__u32 lo = (__u32)v, hi = (__u32)(v >> 32);

	*out = e->prefix6;
	out->w[3] |= bpf_htonl(w == 0 ? lo : 0);
	out->w[2] |= bpf_htonl((w == 1 ? lo : 0) | (w == 0 ? hi : 0));
	out->w[1] |= bpf_htonl((w == 2 ? lo : 0) | (w == 1 ? hi : 0));
	out->w[0] |= bpf_htonl((w == 3 ? lo : 0) | (w == 2 ? hi : 0));
}

/* RFC 7757 3.2, IPv6 -> IPv4: the IPv4 suffix is the first suffix_bits
 * bits of the IPv6 suffix; the rest of the IPv6 suffix is ignored. */
static __always_inline __be32 eam_to_ipv4(const struct eamt6_value *e, const union v6addr *a)
{
	__u32 shift = e->shift & 127, w = shift >> 5;
	/* Words counted from the right. */
	__u64 w0 = bpf_ntohl(a->w[3]), w1 = bpf_ntohl(a->w[2]), w2 = bpf_ntohl(a->w[1]),
	      w3 = bpf_ntohl(a->w[0]);
	__u64 pair = w == 0 ? (w1 << 32 | w0) : w == 1 ? (w2 << 32 | w1) : w == 2 ? (w3 << 32 | w2) : w3;

	return e->prefix4 | bpf_htonl((__u32)(pair >> (shift & 31)) & eam_low_bits(e->suffix_bits));
}

/* Is `a` in one of the served IPv4 prefixes (sixgate_served_v4)? */
static __always_inline bool served_v4_contains(__be32 a)
{
	struct served_v4_key key = { .prefixlen = 32, .addr = a };

	return bpf_map_lookup_elem(&sixgate_served_v4, &key) != NULL;
}

/* The IPv6 form of IPv4 address `a`, whose EAM (eam4_lookup) is `e`: by the
 * EAM, else embedded in pool6 (RFC 6052 2.2), where 3.1 forbids non-global
 * addresses behind the well-known prefix. EAM addresses are not subject to
 * 3.1: the operator mapped them explicitly. Returns 0 or a DROP reason. */
static __always_inline int addr_map46(const struct sixgate_config *cfg, const struct eamt4_value *e, __be32 a,
				      union v6addr *out)
{
	if (e) {
		eam_to_ipv6(e, a, out);
		return 0;
	}
	if (rfc6052_wkp_forbids(cfg, a))
		return DROP(DROP_WKP_NON_GLOBAL);
	rfc6052_embed(cfg, a, out);
	return 0;
}

/* The IPv4 form of IPv6 address `a`, whose EAM (eam6_lookup) is `e`: by the
 * EAM, else extracted from pool6 (RFC 6052 2.2; outside it `a` has no IPv4
 * form), subject to 3.1. Returns 0 or a DROP reason. */
static __always_inline int addr_map64(const struct sixgate_config *cfg, const struct eamt6_value *e,
				      const union v6addr *a, __be32 *out)
{
	if (e) {
		*out = eam_to_ipv4(e, a);
		return 0;
	}
	if (!rfc6052_in_pool6(cfg, a))
		return DROP(DROP_SRC_NOT_POOL6);
	*out = rfc6052_extract(cfg, a);
	if (rfc6052_wkp_forbids(cfg, *out))
		return DROP(DROP_WKP_NON_GLOBAL);
	return 0;
}

/* RFC 7915 5.1: the IPv4 source of a translated IPv6 packet. A pool6 source
 * must map into a served prefix, or any IPv6 host could send with any IPv4
 * source; an EAM source is the gateway's by definition (RFC 7757 3.2). */
static __always_inline int addr_map64_source(const struct sixgate_config *cfg, const union v6addr *a, __be32 *out)
{
	const struct eamt6_value *e = eam6_lookup(cfg, a);
	int ret;

	if (e) {
		*out = eam_to_ipv4(e, a);
		return 0;
	}
	ret = addr_map64(cfg, NULL, a, out);
	if (ret)
		return ret;
	if (!served_v4_contains(*out))
		return DROP(DROP_SRC_NOT_SERVED);
	return 0;
}

#endif
