#!/usr/bin/env python3
"""bench_report.py RESULTS: the path benchmark's results table.

RESULTS holds lines "PATH METRIC VALUE" written by tests/bench/paths.sh.
Prints a Markdown table with every figure and its ratio to the baselines of
the same run (kernel DNAT, the NFQUEUE pass-through without and with the GSO
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
            data.setdefault(name, {})[metric] = value
    return data


def num(d, key):
    try:
        return float(d.get(key, "nan"))
    except ValueError:
        return float("nan")


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
    print("Connection rate: connect, 100 B request, 100 B reply, close; ratios to the baselines")
    print()
    print("| path | conn/s | ×dnat | ×nfq-nogso | ×nfq-gso | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for name, d in data.items():
        v = num(d, "rate")
        row = [name, "%.0f" % v]
        for b in ("dnat", "nfq-nogso", "nfq-gso"):
            row.append(ratio(v, num(base[b], "rate")))
        row += [d.get("p50_ms", "–"), d.get("p99_ms", "–"), d.get("errors", "–")]
        print("| " + " | ".join(row) + " |")
    print()
    # The targets, as information only.
    for name, d in data.items():
        if not name.startswith("svxlat"):
            continue
        parts = []
        for s in ("1", "4"):
            r = ratio(num(d, "gbps_" + s), num(base["nfq-nogso"], "gbps_" + s))
            parts.append("%s-stream %s× nfq-nogso (target ≥ 0.5)" % (s, r))
        r = ratio(num(d, "rate"), num(base["nfq-gso"], "rate"))
        parts.append("conn/s %s× nfq-gso (target ≥ 0.5)" % r)
        print("%s: %s" % (name, "; ".join(parts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
