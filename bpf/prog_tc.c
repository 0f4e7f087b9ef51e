// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* tc entry point: classifies every packet arriving on an attached interface
 * and translates what belongs to the gateway: NAT46 service flows first
 * (nat46.h), then stateless SIIT (RFC 7915). One program serves both sides,
 * so a one-armed gateway needs one attach. A second program, reached only by
 * tail call, finishes hairpinned packets (RFC 7757 4.3). */
#include "lib/common.h"
#include "lib/eam.h"
#include "lib/maps.h"
#include "lib/nat46.h"
#include "lib/stats.h"
#include "lib/xlat46.h"
#include "lib/xlat64.h"

/* Headers the classifier and the translators read directly: Ethernet,
 * IPv6 (the larger network header) and the largest fixed L4 header. */
#define PARSE_LEN (ETH_HLEN + IPV6_HLEN + sizeof(struct tcphdr))

/* A NAT46 service packet: the outcome, with the service's own counters
 * (translated or dropped; an ICMP error sent back counts only globally). */
static __always_inline int classify_nat46_result(int ret, __u32 counter, __u32 svc_id, __u32 svc_counter,
						 __u32 len)
{
	if (ret < 0)
		svc_count(svc_id, svc_drop_counter(ret), len);
	else if (counter >= SG_NAT46_FWD_REDIRECT && counter <= SG_NAT46_REPLY_STACK)
		svc_count(svc_id, svc_counter, len);
	return ret;
}

static __always_inline int classify(struct __sk_buff *skb, __u32 *counter)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	const struct sixgate_config *cfg;
	struct ethhdr *eth = data;
	__u32 zero = 0;

	if ((void *)(eth + 1) > data_end) {
		*counter = SG_PASS_NOT_IP;
		return TC_ACT_OK;
	}
	if (eth->h_proto != bpf_htons(ETH_P_IP) && eth->h_proto != bpf_htons(ETH_P_IPV6)) {
		*counter = SG_PASS_NOT_IP;
		return TC_ACT_OK;
	}
	/* Make the headers directly readable; locally built skbs usually are
	 * already, so this helper call is rare. */
	if (data + PARSE_LEN > data_end && skb->len > (data_end - data)) {
		if (bpf_skb_pull_data(skb, skb->len < PARSE_LEN ? skb->len : PARSE_LEN))
			return DROP(DROP_HELPER_FAILED);
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		eth = data;
		if ((void *)(eth + 1) > data_end)
			return DROP(DROP_TRUNCATED);
	}

	cfg = bpf_map_lookup_elem(&sixgate_config, &zero);
	if (!cfg || cfg->pool6_len == 0)
		return DROP(DROP_NO_CONFIG);

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip4 = (void *)(eth + 1);
		const struct eamt4_value *dst_eam4;

		if ((void *)(ip4 + 1) > data_end)
			return DROP(DROP_TRUNCATED);
		if (cfg->flags & SIXGATE_CFG_NAT46) {
			const struct svc_value *svc = nat46_service_of(ip4, data_end);

			if (svc) {
				__u32 id = svc->id, len = skb->len;
				int ret = nat46_forward(skb, cfg, svc, counter);

				return classify_nat46_result(ret, *counter, id, SVC_FORWARD, len);
			}
		}
		/* RFC 7915 4.6 with RFC 7757: the destination is ours when an
		 * EAM or a served prefix holds it. */
		dst_eam4 = eam4_lookup(cfg, ip4->daddr);
		if (!dst_eam4 && !served_v4_contains(ip4->daddr)) {
			*counter = SG_PASS_IPV4_NOT_SERVED;
			return TC_ACT_OK;
		}
		return xlat46(skb, cfg, dst_eam4, XLAT_SIIT, counter);
	} else {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		const struct eamt6_value *dst_eam6;
		union v6addr dst;

		if ((void *)(ip6 + 1) > data_end)
			return DROP(DROP_TRUNCATED);
		if (cfg->flags & SIXGATE_CFG_NAT46) {
			struct ct6_key rk = {};
			struct ct6_entry *r;

			if (nat46_reply_key(ip6, data_end, &rk)) {
				r = bpf_map_lookup_elem(&sixgate_ct6, &rk);
				if (r) {
					__u32 id = r->svc_id, len = skb->len;
					int ret = nat46_reply(skb, cfg, &rk, r, counter);

					return classify_nat46_result(ret, *counter, id, SVC_REPLY, len);
				}
			}
		}
		/* RFC 7915 5.6 with RFC 7757: in an EAM or in pool6. */
		dst.in6 = ip6->daddr;
		dst_eam6 = eam6_lookup(cfg, &dst);
		if (!dst_eam6 && !rfc6052_in_pool6(cfg, &dst)) {
			*counter = SG_PASS_IPV6_NOT_POOL6;
			return TC_ACT_OK;
		}
		return xlat64(skb, cfg, dst_eam6, counter);
	}
}

/* Counts the packet's outcome, once: a drop reason or `counter`. */
static __always_inline int outcome(int ret, __u32 counter, __u32 len)
{
	if (ret < 0) {
		count((__u32)-ret, len);
		return TC_ACT_SHOT;
	}
	count(counter, len);
	return ret;
}

SEC("classifier")
int sixgate_tc_ingress(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	__u32 counter = SG_PASS_NOT_IP;
	int ret = classify(skb, &counter);

	return outcome(ret, counter, len);
}

/* RFC 7757 4.3 hairpinning, reached by tail call from xlat64 (slot
 * SIXGATE_HAIRPIN_SLOT of sixgate_hairpin): the IPv6 packet is now the IPv4
 * packet it translates to, addressed to an IPv4 address this gateway serves,
 * so it goes back to IPv6 the way any such packet would, except that the
 * gateway answers it with no ICMPv4 error (its source is an IPv6 host). The
 * TTL is still the hop limit as received: one decrement happens here. */
SEC("classifier")
int sixgate_tc_hairpin(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 len = skb->cb[SIXGATE_HAIRPIN_CB_LEN];
	struct iphdr *ip4 = data + ETH_HLEN;
	const struct sixgate_config *cfg;
	__u32 counter = SG_HAIRPIN_STACK, zero = 0;
	int ret;

	cfg = bpf_map_lookup_elem(&sixgate_config, &zero);
	if (!cfg)
		ret = DROP(DROP_NO_CONFIG);
	else if ((void *)(ip4 + 1) > data_end)
		ret = DROP(DROP_TRUNCATED);
	else
		ret = xlat46(skb, cfg, eam4_lookup(cfg, ip4->daddr), XLAT_HAIRPIN, &counter);
	return outcome(ret, counter, len);
}

char _license[] SEC("license") = "Dual BSD/GPL";
