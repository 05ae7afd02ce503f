#!/usr/bin/env python3
"""Where a connection's CPU goes, per path (paths.sh BENCH_CPU_PROFILE).

Usage: cpu_groups.py [--top N] PATH=PERF_SCRIPT_FILE:CONNECTIONS:PACKETS:CPU_MS ...

Each file is the output of `perf script -F comm,ip,sym` over a system-wide
`perf record -g` taken while `connrate` ran; CONNECTIONS is how many
connections completed in the sampled window, PACKETS how many packets the
middle box handled in it (svxlat.ko's hooks, or the packets DNAT forwarded),
for its cost per packet, and CPU_MS the window's length times the number of
CPUs. Each sample is charged to the
innermost frame of its call chain that belongs to a known group (a library
routine such as memcpy counts for its caller's group). A group's share of
all samples, idle included, times CPU_MS is its CPU time, whatever rate perf
sampled at. The table gives microseconds of CPU per connection, per path.
--top N adds, per path, the N functions the middle box's own samples were
in (the innermost frame: the module's own code, or what it called), in
units of the endpoints' TCP work per connection, to see where that work goes.
"""
import collections
import re
import sys

GROUPS = [
    ("svxlat module", r"^svx_"),
    ("conntrack + NAT", r"^(nf_conntrack|__nf_conntrack|nf_nat|__nf_nat|nf_ct|nft_|nf_tables"
     r"|__nft|hash_conntrack|tcp_in_window|nf_confirm|__nf_ct_)"),
    ("netfilter core", r"^nf_hook_slow"),
    ("TCP and sockets", r"^(tcp_|__tcp|inet_csk|__inet_lookup|inet_|__inet|sk_|__sk_|release_sock"
     r"|lock_sock|sock_|tcp4_|__skb_datagram_iter|skb_copy_datagram)"),
    ("IP", r"^(ip_|__ip|fib_|rt_|dst_|ipv4_|raw_|icmp_|ip4_)"),
    ("devices, veth, bridge", r"^(veth|__dev|dev_|__netif|netif_|br_|fdb_|net_rx|process_backlog"
     r"|neigh|eth_|__br|nbp_|validate_xmit|sch_|__qdisc|qdisc|skb_network_protocol|napi_|__napi"
     r"|loopback)"),
    ("skb and slab", r"^(kmem_|__alloc_skb|alloc_skb|skb_|__skb|kfree|__kmem|___slab|consume_skb"
     r"|pskb|__kfree|kmalloc|__kmalloc|slab_|__slab|build_skb|page_|__page|free_|rcu_|call_rcu"
     r"|__call_rcu)"),
    ("scheduler + syscalls", r"^(schedule|__schedule|finish_task_switch|try_to_wake_up|pick_next"
     r"|enqueue_|dequeue_|update_curr|__wake_up|ttwu|wake_up|select_task|do_futex|futex|psi_"
     r"|__x64_sys|__sys|do_sys|entry_SYSCALL|syscall_|__libc|send|recv|connect|close|__close"
     r"|socket|ksys|do_syscall|__fput|fput|task_work)"),
]
IDLE = re.compile(r"^(native_safe_halt|default_idle|cpu_idle|do_idle|pv_native_safe_halt)")
RULES = [(name, re.compile(pattern)) for name, pattern in GROUPS]
OTHER = "other"


def frame_symbol(line):
    parts = line.strip().split(None, 1)
    if len(parts) != 2:
        return None
    return parts[1].split("+")[0].split(" (")[0]


def group_of(stack):
    for sym in stack:
        for name, rule in RULES:
            if rule.match(sym):
                return name
    return OTHER


OWN = {name: rule for name, rule in RULES if name in ("svxlat module", "conntrack + NAT")}


def count(path, inner):
    """Samples per group; inner counts the innermost frames of the own-work groups."""
    counts = collections.Counter()
    stack = []

    def flush():
        if not stack:
            return
        if IDLE.match(stack[0]):
            counts["(idle)"] += 1
        else:
            group = group_of(stack)
            counts[group] += 1
            if group in OWN:
                # A helper (memcpy, a random generator) is shown with the
                # own function that called it.
                owner = next(sym for sym in stack if OWN[group].match(sym))
                inner[stack[0] if stack[0] == owner else f"{stack[0]} (in {owner})"] += 1
        stack.clear()

    with open(path, errors="replace") as f:
        for line in f:
            if not line.strip():
                flush()
            elif line[0] in " \t":
                sym = frame_symbol(line)
                if sym:
                    stack.append(sym)
            else:
                flush()
    flush()
    return counts


def main(argv):
    top = 0
    if len(argv) >= 2 and argv[0] == "--top" and argv[1].isdigit():
        top, argv = int(argv[1]), argv[2:]
    if not argv:
        sys.exit(__doc__)
    runs = []
    inners = {}
    for arg in argv:
        label, _, rest = arg.partition("=")
        fields = rest.split(":")
        if not label or len(fields) != 4 or not all(f.isdigit() for f in fields[1:]):
            sys.exit(f"cpu_groups.py: bad argument '{arg}' (PATH=FILE:CONNECTIONS:PACKETS:CPU_MS)")
        conns, packets, cpu_ms = (int(f) for f in fields[1:])
        inners[label] = collections.Counter()
        runs.append((label, count(fields[0], inners[label]), conns, packets, cpu_ms))

    def usec(run, value):
        _, counts, conns, _, cpu_ms = run
        total = sum(counts.values())
        return value / total * cpu_ms * 1e3 / conns if total and conns > 0 else 0.0

    names = [name for name, _ in GROUPS] + [OTHER]
    print(f"   {'CPU us per connection':24s}" + "".join(f"{r[0]:>14s}" for r in runs))
    for name in names + ["all (no idle)"]:
        cells = []
        for run in runs:
            counts = run[1]
            value = sum(v for k, v in counts.items() if k != "(idle)") if name.startswith("all") \
                else counts[name]
            cells.append(f"{usec(run, value):14.1f}")
        print(f"   {name:24s}" + "".join(cells))
    print(f"   {'idle share':24s}" + "".join(
        f"{(r[1]['(idle)'] / max(1, sum(r[1].values()))):14.2f}" for r in runs))
    print(f"   {'samples':24s}" + "".join(f"{sum(r[1].values()):14d}" for r in runs))
    print(f"   {'connections sampled':24s}" + "".join(f"{r[2]:14d}" for r in runs))
    # The middle box's own work is one of the two groups (the other is ~0).
    # The endpoints' TCP work per connection is the same on every path, so
    # the middle box's work in units of it does not move when the machine's
    # speed drifts between the windows (a shared host, an emulated CPU).
    for run in runs:
        label, counts, conns, packets, _ = run
        tcp = counts["TCP and sockets"]
        if packets > 0 and conns > 0:
            own = sum(counts[name] for name in OWN)
            per_tcp = f"{own / tcp:.3f} x the endpoints' TCP work per connection," \
                f" {own / tcp * conns / packets:.4f} per packet" if tcp else "-"
            print(f"   {label}: {packets / conns:.1f} packets through the middle box per connection;"
                  f" its own work (svxlat module or conntrack + NAT) {usec(run, own) * conns / packets:.2f}"
                  f" us per packet, {per_tcp}")
        if top and tcp:
            print(f"   {label}: its own work by innermost function, x the endpoints' TCP work:")
            for sym, n in inners[label].most_common(top):
                print(f"      {n / tcp:8.4f}  {sym}")


if __name__ == "__main__":
    main(sys.argv[1:])
