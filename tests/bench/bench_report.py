#!/usr/bin/env python3
"""bench_report.py RESULTS: the path benchmark's results table.

RESULTS holds lines "PATH METRIC VALUE" written by tests/bench/paths.sh, one
per round. Prints Markdown tables of the medians over the rounds, each with
its ratio to the baselines of the same run (kernel DNAT, the NFQUEUE pass-through without and with the GSO
flag), then the issue's targets as information. Never fails on a figure:
timings are reported, not asserted.
"""
import sys
from collections import OrderedDict


def load(path):
    data = OrderedDict()
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 3:
                continue
            name, metric, value = parts
            try:
                v = float(value)
            except ValueError:
                continue
            data.setdefault(name, {}).setdefault(metric, []).append(v)
    return data


def median(values):
    v = sorted(values)
    if not v:
        return float("nan")
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def num(d, key):
    return median(d.get(key, []))


def runs(d, key, fmt="%.2f"):
    return "/".join(fmt % x for x in d.get(key, [])) or "–"


def ratio(a, b):
    if b != b or a != a or b == 0:
        return "–"
    return "%.2f" % (a / b)


def main():
    data = load(sys.argv[1])
    base = {k: data.get(k, {}) for k in ("dnat", "nfq-nogso", "nfq-gso")}
    print("Throughput: iperf3 receiver side, Gbit/s (median); ratios to the baselines of this run")
    print()
    print("| path | 1 stream | ×dnat | ×nfq-nogso | ×nfq-gso | 4 streams | ×dnat | ×nfq-nogso | ×nfq-gso |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, d in data.items():
        row = [name]
        for s in ("1", "4"):
            v = num(d, "gbps_" + s)
            row.append("%.2f" % v)
            for b in ("dnat", "nfq-nogso", "nfq-gso"):
                row.append(ratio(v, num(base[b], "gbps_" + s)))
        print("| " + " | ".join(row) + " |")
    print()
    print("Runs (Gbit/s, 1 stream | 4 streams | conn/s) and TCP retransmits (1 | 4 streams, summed):")
    for name, d in data.items():
        print("  %-10s %s | %s | %s   retr %d | %d" % (
            name, runs(d, "gbps_1"), runs(d, "gbps_4"), runs(d, "rate", "%.0f"),
            sum(d.get("retrans_1", [])), sum(d.get("retrans_4", []))))
    print()
    print("Connection rate: connect, 100 B request, 100 B reply, close; ratios to the baselines")
    print()
    print("| path | conn/s | ×dnat | ×nfq-nogso | ×nfq-gso | p50 ms | p99 ms | failed conns | LAN packets/conn |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, d in data.items():
        v = num(d, "rate")
        row = [name, "%.0f" % v]
        for b in ("dnat", "nfq-nogso", "nfq-gso"):
            row.append(ratio(v, num(base[b], "rate")))
        row += ["%.2f" % num(d, "p50_ms"), "%.2f" % num(d, "p99_ms"),
                "%d" % sum(d.get("errors", [])), "%.1f" % num(d, "lan_pkts")]
        print("| " + " | ".join(row) + " |")
    print()
    # The targets, as information only.
    for name, d in data.items():
        if not name.startswith(("svxlat", "alt")):
            continue
        parts = []
        for s in ("1", "4"):
            r = ratio(num(d, "gbps_" + s), num(base["nfq-nogso"], "gbps_" + s))
            parts.append("%s-stream %s× nfq-nogso (target ≥ 0.5)" % (s, r))
        r = ratio(num(d, "rate"), num(base["nfq-gso"], "rate"))
        parts.append("conn/s %s× nfq-gso (target ≥ 0.5)" % r)
        print("%s: %s" % (name, "; ".join(parts)))
    # The kernel engine (kmod phase, in a VM): against DNAT and against the
    # user-space engine of the same run.
    for kname in ("kernel", "kernel-direct"):
        if kname not in data:
            continue
        d, user = data[kname], data.get("svxlat-q1", {})
        parts = []
        for s in ("1", "4"):
            parts.append("%s-stream %s× dnat, %s× svxlat-q1" % (
                s, ratio(num(d, "gbps_" + s), num(base["dnat"], "gbps_" + s)),
                ratio(num(d, "gbps_" + s), num(user, "gbps_" + s))))
        parts.append("conn/s %s× dnat, %s× svxlat-q1" % (
            ratio(num(d, "rate"), num(base["dnat"], "rate")), ratio(num(d, "rate"), num(user, "rate"))))
        print("%s: %s (target ≥ 0.9× dnat)" % (kname, "; ".join(parts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
