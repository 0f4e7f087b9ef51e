// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Benchmark helpers for bench/ (crates/sixgate-bench); the daemon never
 * loads this object. */
#include "lib/common.h"

/* Baseline: parses what sixgate_tc_ingress parses before it decides
 * (Ethernet, then the IPv4 or IPv6 header and the L4 ports) and passes every
 * packet untouched. Timed next to the real program, on the same frames and
 * in the same run, it removes what every tc program pays anyway (hook and
 * test_run overhead, bpf_stats' own clock reads) from the translator's cost. */
SEC("classifier")
int sixgate_bench_parse(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	volatile __u32 sink = 0;

	if ((void *)(eth + 1) > data_end)
		return TC_ACT_OK;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip4 = (void *)(eth + 1);
		struct udphdr *l4 = (void *)(ip4 + 1);

		if ((void *)(l4 + 1) > data_end)
			return TC_ACT_OK;
		sink = ip4->daddr ^ ip4->protocol ^ l4->dest;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		struct udphdr *l4 = (void *)(ip6 + 1);

		if ((void *)(l4 + 1) > data_end)
			return TC_ACT_OK;
		sink = ip6->daddr.in6_u.u6_addr32[3] ^ ip6->nexthdr ^ l4->dest;
	}
	(void)sink;
	return TC_ACT_OK;
}

/* Packet generator: run by BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES
 * and a repeat count; each frame it passes enters the stack as if received
 * on the ingress interface given in the context. The kernel recycles the
 * frames' pages without restoring their content, and the stack rewrites
 * headers in place (MACs and hop limit when forwarding, the translation
 * itself), so the frame is rewritten from the template on every run. */
#define BENCH_FRAME_LEN 64

struct bench_frame {
	__u8 data[BENCH_FRAME_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_frame);
} sixgate_bench_frame SEC(".maps");

SEC("xdp")
int sixgate_bench_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	const struct bench_frame *tmpl;
	__u32 zero = 0;

	if (data + BENCH_FRAME_LEN > data_end)
		return XDP_DROP;
	tmpl = bpf_map_lookup_elem(&sixgate_bench_frame, &zero);
	if (!tmpl)
		return XDP_DROP;
	__builtin_memcpy(data, tmpl->data, BENCH_FRAME_LEN);
	return XDP_PASS;
}

char _license[] SEC("license") = "Dual BSD/GPL";
