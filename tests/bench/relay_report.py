#!/usr/bin/env python3
"""relay_report.py RESULTS [STREAMS]: the stream-relay benchmark's tables.

RESULTS holds lines "PATH METRIC VALUE" written by tests/bench/relay.sh, one
per round; STREAMS the stream counts measured ("1 4 16"). Prints Markdown
tables of the medians over the rounds: part 1 (the relay alone) with each
path's ratio to haproxy-splice and to direct, part 2 (end to end) with the
ratio stream / packet, then the issue's target as information. Never fails
on a figure: timings are reported, not asserted.
"""
import sys

# The results file format and the medians are the path benchmark's.
from bench_report import load, num  # same directory


def fmt(v, f="%.2f"):
    return "–" if v != v else f % v


def ratio(a, b):
    if b != b or a != a or b == 0:
        return "–"
    return "%.2f" % (a / b)


def runs(d, key, f="%.2f"):
    return "/".join(f % x for x in d.get(key, [])) or "–"


def throughput_table(data, names, streams, bases):
    head = ["path"] + ["%s str Gbit/s" % s for s in streams]
    for b in bases:
        head.append("×%s (%s)" % (b, " / ".join(streams)))
    head.append("CPU s/GB (%s)" % " / ".join(streams))
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name in names:
        d = data[name]
        row = [name] + [fmt(num(d, "gbps_" + s)) for s in streams]
        for b in bases:
            bd = data.get(b, {})
            row.append(" / ".join(ratio(num(d, "gbps_" + s), num(bd, "gbps_" + s))
                                  for s in streams))
        cpu = [num(d, "cpu_s_per_gb_" + s) for s in streams]
        row.append(" / ".join(fmt(c) for c in cpu) if any(c == c for c in cpu) else "–")
        print("| " + " | ".join(row) + " |")


def conn_table(data, names, bases):
    head = ["path", "conn/s"] + ["×%s" % b for b in bases] + \
        ["p50 ms", "p99 ms", "failed", "CPU µs/conn"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name in names:
        d = data[name]
        v = num(d, "rate")
        row = [name, fmt(v, "%.0f")]
        row += [ratio(v, num(data.get(b, {}), "rate")) for b in bases]
        row += [fmt(num(d, "p50_ms")), fmt(num(d, "p99_ms")),
                "%d" % sum(d.get("errors", [])), fmt(num(d, "cpu_us_per_conn"), "%.0f")]
        print("| " + " | ".join(row) + " |")


def main():
    data = load(sys.argv[1])
    streams = (sys.argv[2] if len(sys.argv) > 2 else "1 4 16").split()
    part1 = [n for n in data if not n.startswith("e2e-")]
    part2 = [n for n in data if n.startswith("e2e-")]

    if part1:
        bases = [b for b in ("haproxy-splice", "haproxy-splice-always", "direct") if b in data]
        print("Part 1, the relay alone: iperf3 receiver side, Gbit/s (median)%s;" %
              ("; ratios to %s of this run" % ", ".join(bases) if bases else ""))
        print("middle box CPU seconds per GB received")
        print()
        throughput_table(data, part1, streams, bases)
        print()
        print("Connection rate (connect, 100 B request, 100 B reply, close); middle box CPU per connection")
        print()
        conn_table(data, part1, bases)
        print()
    if part2:
        print("Part 2, end to end (translator -> router -> host agent -> server):")
        print("stream mode (e2e-relay) against packet mode (e2e-packet); CPU: the three daemons")
        print()
        bases = ["e2e-packet"] if "e2e-packet" in data else []
        throughput_table(data, part2, streams, bases)
        print()
        conn_table(data, part2, bases)
        print()

    print("Runs (Gbit/s per stream count | conn/s) and TCP retransmits (summed per stream count):")
    for name, d in data.items():
        print("  %-15s %s | %s   retr %s" % (
            name, " | ".join(runs(d, "gbps_" + s) for s in streams), runs(d, "rate", "%.0f"),
            " | ".join("%d" % sum(d.get("retrans_" + s, [])) for s in streams)))
    print()

    # The targets, as information only.
    for base in ("haproxy-splice", "haproxy-splice-always"):
        hs = data.get(base)
        for name in part1:
            if not name.startswith("relay") or hs is None:
                continue
            parts = ["%s-stream %s×" % (s, ratio(num(data[name], "gbps_" + s),
                                                 num(hs, "gbps_" + s))) for s in streams]
            parts.append("conn/s %s×" % ratio(num(data[name], "rate"), num(hs, "rate")))
            print("%s vs %s (target ≥ 1; differences under ~20 %% are noise): %s" %
                  (name, base, "; ".join(parts)))
    if "e2e-relay" in data and "e2e-packet" in data:
        r, p = data["e2e-relay"], data["e2e-packet"]
        parts = ["%s-stream %s×" % (s, ratio(num(r, "gbps_" + s), num(p, "gbps_" + s)))
                 for s in streams]
        parts.append("conn/s %s×" % ratio(num(r, "rate"), num(p, "rate")))
        print("stream / packet mode end to end: %s" % "; ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
