// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* tc entry point: classifies every packet arriving on an attached interface
 * and translates what belongs to the gateway: NAT46 service flows first
 * (nat46.h), then stateless SIIT (RFC 7915). One program serves both sides,
 * so a one-armed gateway needs one attach. */
#include "lib/common.h"
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
		if (!xlat46_is_served(ip4->daddr)) {
			*counter = SG_PASS_IPV4_NOT_SERVED;
			return TC_ACT_OK;
		}
		return xlat46(skb, cfg, counter);
	} else {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
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
		dst.in6 = ip6->daddr;
		if (!rfc6052_in_pool6(cfg, &dst)) {
			*counter = SG_PASS_IPV6_NOT_POOL6;
			return TC_ACT_OK;
		}
		return xlat64(skb, cfg, counter);
	}
}

SEC("classifier")
int sixgate_tc_ingress(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	__u32 counter = SG_PASS_NOT_IP;
	int ret = classify(skb, &counter);

	if (ret < 0) {
		count((__u32)-ret, len);
		return TC_ACT_SHOT;
	}
	count(counter, len);
	return ret;
}

char _license[] SEC("license") = "Dual BSD/GPL";
