#!/usr/bin/env bash
# paths.sh BUILD_DIR: what a connection costs through each middle box, all in
# ONE run on ONE network-namespace topology (tests/e2e/topology.sh):
#
#   cli ──veth── xlt ── bridge (lan) ── i1 (servers), sr (service router)
#
# veth MTU 1500, TSO/GSO on, GRO off on every veth. The client in cli always
# connects to 192.0.2.10 (owned by xlt); the servers always run in i1:
# iperf3 on 10.0.2.11:5201 and `connrate server` on 10.0.2.11:7000.
#
#   dnat         nft DNAT + masquerade in xlt (the in-kernel ceiling)
#   nfq-gso      the same DNAT, every forwarded TCP packet through an NFQUEUE
#                accept-everything loop (bench_nfq_accept: svxlat's nfq::Queue
#                with the GSO flag, batched verdicts, 16 MiB rcvbuf, 8192 queue)
#   nfq-nogso    the same loop without the GSO flag
#   svxlat-q1    svxlatd: translator in xlt, service router in sr, host agent
#                in i1 (packet mode), one queue per daemon
#   svxlat-q2    the same with two queues (threads) per daemon
#   kernel       svxlatd with engine = kernel in xlt, sr and i1: svxlat.ko
#                does the per-packet work, the service router's SYN
#                forwarding included (only where the module is loaded: the
#                kmod phase of run-bench runs this script in a VM)
#   kernel-urouter  the same, but the service router on NFQUEUE (its SYNs
#                resolved in user space): what the kernel router saves
#   kernel-direct  the same as kernel, but the translator sends its SAL SYNs
#                straight to the instance (router = 10.0.2.11): what the
#                router hop costs at all
#
# BENCH_REPEAT rounds (default 3) go over every path in turn, so that a
# change in the machine's background load hits all paths alike. Each round
# of a path: iperf3 receiver-side throughput with 1 and 4 streams
# (BENCH_SECONDS s after a 1 s omitted warm-up) and BENCH_CONN_SECONDS s of
# `connrate client` (BENCH_CONN_THREADS threads of connect / 100 B request /
# 100 B reply / close), with the packets each connection put on the LAN
# (counted at the bridge's ports). The table prints the medians over the
# rounds and each one's ratio to dnat, nfq-nogso and nfq-gso of the same run.
# BENCH_PATHS chooses paths; BENCH_PERF=1 adds a perf profile of svxlatd;
# BENCH_CPU_PROFILE="dnat kernel" (for example) adds, after the rounds, a
# system-wide profile of BENCH_PROFILE_SECONDS (15) of connection-rate load
# per listed path, grouped per connection by cpu_groups.py; BENCH_CPU_TOP=N
# lists the N functions the middle box's own work was in.
#
# Everything is bounded by `timeout`; every process is started by PID and
# stopped by PID, and the namespaces are removed on exit (also on errors and
# signals). docs/performance.md explains the method and the results.
set -euo pipefail

build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

B_SECONDS=${BENCH_SECONDS:-4}
B_REPEAT=${BENCH_REPEAT:-3}
B_CONN_SECONDS=${BENCH_CONN_SECONDS:-3}
B_CONN_THREADS=${BENCH_CONN_THREADS:-8}
B_PATHS=${BENCH_PATHS:-"dnat nfq-gso nfq-nogso svxlat-q1 svxlat-q2"}
B_PERF=${BENCH_PERF:-0} # 1: perf record the svxlat daemons during one 1-stream run
B_CPU_PROFILE=${BENCH_CPU_PROFILE:-} # paths to profile system-wide (cpu_profile)
B_PROFILE_SECONDS=${BENCH_PROFILE_SECONDS:-15}
B_CPU_TOP=${BENCH_CPU_TOP:-0}
# The client's net.ipv4.tcp_max_tw_buckets (empty: as is). Its TIME-WAIT
# sockets outlive a path's windows (60 s) and slow the next path's connects.
B_CLIENT_MAX_TW=${BENCH_CLIENT_MAX_TW:-}

NFQ_ACCEPT=$build/tests/bench/bench_nfq_accept
CONNRATE=$build/tests/bench/connrate
SVXLATD=$build/userspace/daemon/svxlatd
# BENCH_SVXLATD_ALT=/path/to/svxlatd: paths alt-q1 / alt-q2 run that build
# instead (A/B of an engine change in one run, same topology and rounds).
SVXLATD_ALT=${BENCH_SVXLATD_ALT:-}

export SVXLATD

TOPO=svb$$
TOPO_DIR=/tmp/$TOPO
# shellcheck source-path=SCRIPTDIR source=../e2e/topology.sh
source "$repo/tests/e2e/topology.sh"

BENCH_NAME=paths
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, netfilter); run: sudo make bench"
for tool in ip iperf3 ethtool nft iptables python3 timeout ss; do
    command -v "$tool" >/dev/null || die "missing program '$tool' (make deps installs it)"
done
for bin in "$NFQ_ACCEPT" "$CONNRATE" "$SVXLATD"; do
    [[ -x $bin ]] || die "missing $bin (build first: make)"
done

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    topo_down
    rm -rf "$TOPO_DIR"
    exit $rc
}
trap cleanup EXIT
trap 'echo "paths: interrupted" >&2; exit 130' INT TERM

# measure PATH: one round of a path: throughput with 1 and 4 streams, then
# the connection rate. Every figure is recorded; the report takes medians.
measure() {
    local path=$1 streams line kv out="" conns=0 lan_before lan_after lan_per_conn
    for streams in 1 4; do
        iperf_once "$streams"
        record "$path" "gbps_$streams" "${IPERF% *}"
        record "$path" "retrans_$streams" "${IPERF#* }"
        out+=" ${streams}x: ${IPERF% *} Gbit/s (${IPERF#* } retr);"
    done
    lan_before=$(lan_packets)
    line=$(connrate_once 192.0.2.10)
    lan_after=$(lan_packets)
    for kv in $line; do
        case ${kv%%=*} in
        rate | p50_ms | p99_ms | errors) record "$path" "${kv%%=*}" "${kv#*=}" ;;
        conns) conns=${kv#*=} ;;
        esac
    done
    # What one connection puts on the LAN (translator, router, instance).
    lan_per_conn=$(awk -v p=$((lan_after - lan_before)) -v c="${conns:-0}" \
        'BEGIN { printf "%.1f", (c > 0 ? p / c : 0) }')
    record "$path" lan_pkts "$lan_per_conn"
    printf '  %-10s%s %s lan_pkts/conn=%s\n' "$path" "$out" "${line#conns=* seconds=* }" "$lan_per_conn"
}


dnat_on() {
    in_ns xlt nft -f - <<'NFT'
table ip svbench {
    chain pre {
        type nat hook prerouting priority dstnat;
        ip daddr 192.0.2.10 tcp dport { 5201, 7000 } dnat to 10.0.2.11
    }
    chain post {
        type nat hook postrouting priority srcnat;
        oifname "s0" masquerade
    }
}
NFT
}

# dnat_off: the rules go, and so do the connections DNAT tracked: their
# entries (TIME_WAIT for 120 s) would otherwise be expired by conntrack's
# garbage collection inside the next paths' windows and charged to them.
dnat_off() {
    in_ns xlt nft delete table ip svbench
    in_ns xlt conntrack -F >/dev/null 2>&1 ||
        echo "   (conntrack -F failed in xlt: DNAT's entries stay until they expire)"
}

# nfq_on FLAGS...: the accept loop on queue 0, then every forwarded TCP packet
# to it (iptables-nft: this kernel has no nft queue statement).
nfq_on() {
    bg_start nfq xlt "$NFQ_ACCEPT" --queue 0 "$@"
    wait_log nfq ready
    in_ns xlt iptables -A FORWARD -p tcp -j NFQUEUE --queue-num 0
}

# nfq_off [ROUND]: removes the rule, stops the loop; its counters after the
# last round.
nfq_off() {
    in_ns xlt iptables -D FORWARD -p tcp -j NFQUEUE --queue-num 0
    bg_stop nfq
    if [[ ${1:-$B_REPEAT} == "$B_REPEAT" ]]; then
        echo "             counters: $(grep '^queue' "$TOPO_DIR/nfq.log" || true)"
    fi
}

# perf_svxlat: samples both packet daemons (kernel call graphs) during one
# 1-stream run and prints where their CPU time goes: the injection syscall
# (sendmmsg on the raw socket, which runs the whole downstream path in the
# caller's context), queue receive (recvmmsg), verdicts (sendmsg), and user
# space (the engine itself).
perf_svxlat() {
    command -v perf >/dev/null || { echo "  perf: not installed"; return 0; }
    local n perf_pids=()
    for n in xlt i1; do
        timeout $((B_SECONDS + 10)) perf record -F 999 -g -p "${PID[svxlatd-$n]}" \
            -o "$TOPO_DIR/perf-$n.data" -- sleep $((B_SECONDS + 1)) >/dev/null 2>&1 &
        perf_pids+=("$!")
        TOPO_PIDS+=("$!")
    done
    iperf_once 1
    echo "  perf run, 1 stream: ${IPERF% *} Gbit/s (slowed by the sampling)"
    wait "${perf_pids[@]}" 2>/dev/null || true
    for n in xlt i1; do
        echo "  svxlatd in $n, share of its samples (children included):"
        perf report -i "$TOPO_DIR/perf-$n.data" --children --sort sym -g none --stdio 2>/dev/null |
            awk '$3 == "[k]" && $4 ~ /^(__x64_sys_sendmmsg|__x64_sys_recvmmsg|__x64_sys_sendmsg|__x64_sys_epoll_wait|raw_sendmsg|handle_softirqs|nf_hook_slow|__nfqnl_enqueue_packet|tcp_v4_rcv|br_handle_frame|nfqnl_recv_verdict)$/ {
                printf "    %-24s %s\n", $4, $1 }'
        perf report -i "$TOPO_DIR/perf-$n.data" --no-children --sort dso -g none --stdio 2>/dev/null |
            awk '$1 ~ /%$/ && $2 != "[kernel.kallsyms]" { u += $1 } END { printf "    %-24s %.2f%%\n", "user space (self)", u }'
    done
}

# ---------------------------------------------------------------------------

topo_up
: >"$RESULTS"
bench_offloads
in_ns cli sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
in_ns xlt sysctl -qw net.ipv4.ip_forward=1
# The bridge only switches: no bridged packet through the IPv4 hooks of the
# lan namespace (br_netfilter is built into this kernel), as on a plain veth.
in_ns lan sysctl -qw net.bridge.bridge-nf-call-iptables=0 2>/dev/null || true
start_servers
[[ -z $B_CLIENT_MAX_TW ]] || in_ns cli sysctl -qw net.ipv4.tcp_max_tw_buckets="$B_CLIENT_MAX_TW"

echo "== paths: cli -> xlt -> bridge -> i1 (veth MTU 1500, TSO/GSO on, GRO off)"
echo "   $(uname -sr), $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   $B_REPEAT round(s) over the paths; each: iperf3 -t $B_SECONDS (+1 s omitted) with 1 and 4"
echo "   streams, connrate $B_CONN_THREADS threads x ${B_CONN_SECONDS}s. Medians over the rounds."
# path_on PATH / path_off PATH [ROUND]: sets one path up and takes it down.
path_on() {
    case $1 in
    dnat) dnat_on ;;
    nfq-gso) dnat_on && nfq_on ;;
    nfq-nogso) dnat_on && nfq_on --no-gso ;;
    svxlat-q*) svxlat_on "${1#svxlat-q}" ;;
    kernel) SVXLAT_ENGINE=kernel svxlat_on 1 ;;
    kernel-urouter) SVXLAT_ENGINE=kernel SVXLAT_ROUTER_ENGINE=nfqueue svxlat_on 1 ;;
    kernel-direct) SVXLAT_ENGINE=kernel SVXLAT_XLT_ROUTER=10.0.2.11 svxlat_on 1 ;;
    alt-q*)
        [[ -x $SVXLATD_ALT ]] || die "path $1 needs BENCH_SVXLATD_ALT"
        svxlat_on "${1#alt-q}" "$SVXLATD_ALT"
        ;;
    *) die "unknown path $1" ;;
    esac
}

path_off() {
    case $1 in
    dnat) dnat_off ;;
    nfq-*) nfq_off "${2:-}" && dnat_off ;;
    *) svxlat_off "${2:-}" ;;
    esac
}

# svxlat_packets: packets handed to the engine so far, summed over the
# translator, router and host agent (svxlat.ko's hooks on the kernel paths).
svxlat_packets() {
    local n
    for n in xlt sr i1; do
        "$build/userspace/cli/svxlat" -s "$TOPO_DIR/run/$n.sock" counters 2>/dev/null || true
    done | awk '$1 == "engine" && $2 == "packets" { s += $3 } END { print s + 0 }'
}

# server_accepts: connections the servers in i1 have accepted so far
# (PassiveOpens of i1's TCP): what completed in a window, whatever the path.
server_accepts() {
    in_ns i1 awk '$1 == "Tcp:" && ++n == 2 { print $7 }' /proc/net/snmp
}

# window_counts PATH: "NS ACCEPTS PACKETS": the time (CLOCK_REALTIME, ns)
# and, so far, the servers' accepted connections and the packets through
# the middle box of PATH (DNAT: those it forwarded, counted at the LAN's
# bridge ports; svxlat: those its engine handled). Run as perf's workload
# (bash -c), so exported.
window_counts() {
    local packets
    # The slow count first, then the time and the accepts together.
    if [[ $1 == dnat ]]; then packets=$(lan_packets); else packets=$(svxlat_packets); fi
    echo "$(date +%s%N) $(server_accepts) $packets"
}

# cpu_profile PATHS: for each path, a system-wide perf profile (call graphs)
# of B_PROFILE_SECONDS in the middle of a connection-rate load, and then one
# table of where a connection's CPU goes by group (cpu_groups.py), with the
# middle box's packets per connection and its own cost per packet (DNAT: the
# packets it forwards, counted at the LAN's bridge ports; svxlat: the packets
# its engine handled). A diagnosis: the sampling slows every path.
cpu_profile() {
    command -v perf >/dev/null || { echo "  cpu profile: perf not installed"; return 0; }
    local path args=() conn_pid conns accepts0 packets0 packets max_percent max_rate ns0 ns1 ms
    local secs=$B_PROFILE_SECONDS
    echo
    echo "== where a connection's CPU goes: perf record -a -g, ${secs}s of connrate load per path"
    # Under emulation perf's own interrupt is slow, and the kernel would
    # lower the sampling rate as it goes (restored afterwards; the rate
    # cannot be set while the limit is off, so the rate goes first).
    max_percent=$(sysctl -n kernel.perf_cpu_time_max_percent)
    max_rate=$(sysctl -n kernel.perf_event_max_sample_rate)
    sysctl -qw kernel.perf_event_max_sample_rate=$((max_rate > 1000 ? max_rate : 1000)) \
        kernel.perf_cpu_time_max_percent=0 || true
    export -f ns in_ns lan_packets svxlat_packets server_accepts window_counts
    export TOPO TOPO_DIR build
    for path in $1; do
        path_on "$path"
        # The load runs past the window and is stopped once it is sampled.
        in_ns cli timeout $((secs + 60)) "$CONNRATE" client 192.0.2.10 7000 "$B_CONN_THREADS" \
            $((secs + 40)) >/dev/null 2>&1 &
        conn_pid=$!
        TOPO_PIDS+=("$conn_pid")
        sleep 3
        # The counts are read by perf's workload itself, so that they cover
        # the sampled time and not perf's start-up and wrap-up.
        timeout $((secs + 60)) perf record -a -g -e cpu-clock -F 999 --no-buildid \
            -o "$TOPO_DIR/profile-$path.data" -- bash -c 'window_counts "$1" >"$2.0"; sleep "$3"
                window_counts "$1" >"$2.1"' _ "$path" "$TOPO_DIR/profile-$path.counts" "$secs" \
            >/dev/null 2>&1 || true
        read -r ns0 accepts0 packets0 <"$TOPO_DIR/profile-$path.counts.0" || true
        read -r ns1 conns packets <"$TOPO_DIR/profile-$path.counts.1" || true
        conns=$((${conns:-0} - ${accepts0:-0}))
        packets=$((${packets:-0} - ${packets0:-0}))
        ms=$(((${ns1:-0} - ${ns0:-0}) / 1000000))
        kill "$conn_pid" 2>/dev/null || true
        wait "$conn_pid" 2>/dev/null || true
        echo "  $path: $conns connections in ${ms} ms sampled ($((ms > 0 ? conns * 1000 / ms : 0))/s, slowed by the sampling)"
        perf script -i "$TOPO_DIR/profile-$path.data" -F comm,ip,sym >"$TOPO_DIR/profile-$path.txt" \
            2>/dev/null || true
        # CPU time of the window: its duration times the CPUs.
        args+=("$path=$TOPO_DIR/profile-$path.txt:$conns:$packets:$((ms * $(nproc)))")
        path_off "$path" "$B_REPEAT"
    done
    sysctl -qw kernel.perf_cpu_time_max_percent="$max_percent" \
        kernel.perf_event_max_sample_rate="$max_rate" || true
    python3 "$here/cpu_groups.py" --top "$B_CPU_TOP" "${args[@]}"
}

for round in $(seq 1 "$B_REPEAT"); do
    echo "-- round $round/$B_REPEAT"
    for path in $B_PATHS; do
        path_on "$path"
        measure "$path"
        path_off "$path" "$round"
    done
done
if [[ $B_PERF == 1 ]]; then
    svxlat_on 1
    perf_svxlat
    svxlat_off
fi
if [[ -n $B_CPU_PROFILE ]]; then
    cpu_profile "$B_CPU_PROFILE"
fi

echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: only ratios within this run mean anything)"
python3 "$here/bench_report.py" "$RESULTS"
