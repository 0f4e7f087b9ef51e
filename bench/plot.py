#!/usr/bin/env python3
"""Chart of one sixgate-bench run: plot.py RESULTS.json OUT.png

Four panels from the summaries sixgate-bench wrote into the JSON (medians,
with min-max error bars): TCP throughput, small-packet rate, the tc
program's cost under real traffic against the 123 ns budget, and the
test_run micro-benchmarks. bench/run calls it with target/bench-venv.
"""
import json
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

BUDGET_NS = 123.0
SHORT = {
    "Ceiling": "(a) routing",
    "Ceiling1508": "(a′) routing\nMTU 1508",
    "Sixgate": "(b) sixgate",
    "Tayga": "(d) Tayga",
}


def label(row):
    return f"{SHORT.get(row['kind'], row['kind'])}\n{row['direction'].replace(' ', chr(10), 1)}"


def bars(ax, groups, series, ylabel, title, log=False):
    """groups: list of x labels; series: list of (name, [summary|None])."""
    n = len(series)
    width = 0.8 / max(n, 1)
    for i, (name, values) in enumerate(series):
        xs, ys, lo, hi = [], [], [], []
        for x, s in enumerate(values):
            if s is None:
                continue
            xs.append(x - 0.4 + width * (i + 0.5))
            ys.append(s["median"])
            lo.append(s["median"] - s["min"])
            hi.append(s["max"] - s["median"])
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=name)
        for x, y in zip(xs, ys):
            ax.annotate(f"{y:.2f}" if y < 10 else f"{y:.1f}", (x, y), ha="center",
                        va="bottom", fontsize=6, rotation=90, xytext=(0, 2),
                        textcoords="offset points")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, fontsize=7)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)


def main(path, out):
    with open(path) as f:
        r = json.load(f)

    fig, axes = plt.subplots(2, 2, figsize=(16, 10))
    m = r["machine"]
    fig.suptitle(
        f"sixgate benchmark {r['date']} — {m['nproc']} CPUs, {m['cpu_model']}, "
        f"kernel {m['kernel']} — medians of {r['params']['reps']} (bars: min–max)",
        fontsize=11,
    )

    # TCP: one group per (setup, direction); BIG TCP off/on × 1/4 streams.
    keys = []
    for row in r["tcp_rows"]:
        k = (row["kind"], row["dir"])
        if k not in keys:
            keys.append(k)
    rows = {(x["kind"], x["dir"], x["big_tcp"]): x for x in r["tcp_rows"]}
    groups = [label(next(x for x in r["tcp_rows"] if (x["kind"], x["dir"]) == k)) for k in keys]
    series = []
    for big in (False, True):
        for streams, field in ((1, "one"), (4, "four")):
            series.append((
                f"BIG TCP {'on' if big else 'off'}, {streams} stream{'s' if streams > 1 else ''}",
                [rows.get((k[0], k[1], big), {}).get(field) for k in keys],
            ))
    bars(axes[0][0], groups, series, "Gbit/s (log)",
         "TCP throughput (iperf3); (a) with BIG TCP at MTU 1500 collapses", log=True)

    # Packet rate.
    urows = r["udp_rows"]
    bars(axes[0][1], [label(x) for x in urows],
         [("offered", [x["offered"] for x in urows]),
          ("delivered", [x["delivered"] for x in urows])],
         "Mpps", f"{r['params']['udp_frame_len']}-byte UDP, one generator core "
         "(XDP live frames into the gateway)")

    # Program cost under real traffic.
    ax = axes[1][0]
    cost = r["cost"]
    names, ours, base, wire = [], [], [], []
    for c in cost:
        names.append(textwrap.fill(c["load"].replace(" 1 stream", "").replace("64-byte ", ""), 16))
        s, p = c["sixgate"], c["parse_only"]
        ours.append(s["run_time_ns"] / s["run_cnt"] if s["run_cnt"] else 0)
        base.append(p["run_time_ns"] / p["run_cnt"] if p["run_cnt"] else 0)
        wp = c.get("wire_packets")
        wire.append(s["run_time_ns"] / wp if wp else ours[-1])
    xs = range(len(names))
    ax.bar([x - 0.27 for x in xs], ours, 0.27, label="sixgate ns per run")
    ax.bar(list(xs), wire, 0.27, label="sixgate ns per wire packet")
    ax.bar([x + 0.27 for x in xs], base, 0.27, label="parse-only ns per run (same run)")
    ax.axhline(BUDGET_NS, color="red", linestyle="--", label=f"{BUDGET_NS:.0f} ns budget")
    ax.set_yscale("log")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(names, fontsize=7)
    ax.set_ylabel("ns (log)")
    ax.set_title("sixgate_tc_ingress under real traffic (bpf_stats)", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)

    # Micro-benchmarks.
    ax = axes[1][1]
    micro = r["micro"]
    names = [textwrap.fill(f"{u['path']} {u['frame_len']} B", 14) for u in micro]
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [u["median_ns"] for u in micro], 0.4,
           yerr=[[u["median_ns"] - u["p10_ns"] for u in micro],
                 [u["p90_ns"] - u["median_ns"] for u in micro]],
           capsize=2, label="sixgate_tc_ingress (p10–p90)")
    ax.bar([x + 0.2 for x in xs], [u["baseline_ns"] for u in micro], 0.4,
           label="parse-only")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(names, fontsize=7)
    ax.set_ylabel("ns per run (median)")
    ax.set_title(f"test_run, repeat = 1, {r['params']['micro_runs']} runs each", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)

    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: plot.py RESULTS.json OUT.png")
    main(sys.argv[1], sys.argv[2])
