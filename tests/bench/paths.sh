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
#
# BENCH_REPEAT rounds (default 3) go over every path in turn, so that a
# change in the machine's background load hits all paths alike. Each round
# of a path: iperf3 receiver-side throughput with 1 and 4 streams
# (BENCH_SECONDS s after a 1 s omitted warm-up) and BENCH_CONN_SECONDS s of
# `connrate client` (BENCH_CONN_THREADS threads of connect / 100 B request /
# 100 B reply / close). The table prints the medians over the rounds and
# each one's ratio to dnat, nfq-nogso and nfq-gso of the same run.
# BENCH_PATHS chooses paths; BENCH_PERF=1 adds a perf profile of svxlatd.
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

NFQ_ACCEPT=$build/tests/bench/bench_nfq_accept
CONNRATE=$build/tests/bench/connrate
SVXLATD=$build/userspace/daemon/svxlatd
# BENCH_SVXLATD_ALT=/path/to/svxlatd: paths alt-q1 / alt-q2 run that build
# instead (A/B of an engine change in one run, same topology and rounds).
SVXLATD_ALT=${BENCH_SVXLATD_ALT:-}

die() {
    echo "paths: $*" >&2
    exit 1
}

[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, netfilter); run: sudo make bench"
for tool in ip iperf3 ethtool nft iptables python3 timeout ss; do
    command -v "$tool" >/dev/null || die "missing program '$tool' (make deps installs it)"
done
for bin in "$NFQ_ACCEPT" "$CONNRATE" "$SVXLATD"; do
    [[ -x $bin ]] || die "missing $bin (build first: make)"
done
export SVXLATD

TOPO=svb$$
TOPO_DIR=/tmp/$TOPO
# shellcheck source-path=SCRIPTDIR source=../e2e/topology.sh
source "$repo/tests/e2e/topology.sh"

declare -A PID=() # name -> pid of a background process started here
RESULTS=$TOPO_DIR/results

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    topo_down
    rm -rf "$TOPO_DIR"
    exit $rc
}
trap cleanup EXIT
trap 'echo "paths: interrupted" >&2; exit 130' INT TERM

# bg_start NAME NS CMD...: a background process in a namespace, by PID.
bg_start() {
    local name=$1 n=$2
    shift 2
    # Not through in_ns: a backgrounded shell function is a subshell, and its
    # PID would not be the program's. ip netns exec execs the program.
    ip netns exec "$(ns "$n")" "$@" >"$TOPO_DIR/$name.log" 2>&1 &
    PID[$name]=$!
    TOPO_PIDS+=("$!")
}

# bg_stop NAME: SIGTERM, up to 5 s, then SIGKILL; forgets the PID.
bg_stop() {
    local name=$1 pid=${PID[$1]:-}
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "PID[$name]"
    local keep=() p
    for p in "${TOPO_PIDS[@]}"; do
        [[ $p == "$pid" ]] || keep+=("$p")
    done
    TOPO_PIDS=("${keep[@]}")
}

# wait_listen NS PORT: until something listens on PORT in NS (5 s at most).
wait_listen() {
    for _ in $(seq 1 100); do
        [[ -n $(in_ns "$1" ss -Hltn "sport = :$2") ]] && return 0
        sleep 0.05
    done
    die "nothing listens on port $2 in $1"
}

# wait_log NAME TEXT: until the process's log shows TEXT (5 s at most).
wait_log() {
    for _ in $(seq 1 100); do
        grep -q "$2" "$TOPO_DIR/$1.log" 2>/dev/null && return 0
        kill -0 "${PID[$1]}" 2>/dev/null || break
        sleep 0.05
    done
    cat "$TOPO_DIR/$1.log" >&2 || true
    die "$1 did not start"
}

bench_offloads() {
    local pair n dev
    for pair in cli:c0 xlt:x0 xlt:s0 sr:s0 i1:s0 i2:s0 lan:pxlt lan:psr lan:pi1 lan:pi2; do
        n=${pair%%:*}
        dev=${pair#*:}
        in_ns "$n" ethtool -K "$dev" tso on gso on gro off >/dev/null 2>&1 || true
    done
}

start_servers() {
    bg_start iperf3 i1 iperf3 -s -B 10.0.2.11 -p 5201
    bg_start connrate-server i1 "$CONNRATE" server 10.0.2.11 7000 4
    wait_listen i1 5201
    wait_listen i1 7000
}

restart_iperf_server() {
    bg_stop iperf3
    bg_start iperf3 i1 iperf3 -s -B 10.0.2.11 -p 5201
    wait_listen i1 5201
}

record() { echo "$1 $2 $3" >>"$RESULTS"; }

# iperf_once STREAMS: one client run; sets IPERF="Gbit/s retransmits"
# ("0 0" on failure, and the server is restarted). Not for $(...): it may
# restart the server, whose PID must be recorded in this shell.
iperf_once() {
    local out
    IPERF="0 0"
    if out=$(in_ns cli timeout $((B_SECONDS + 25)) iperf3 -c 192.0.2.10 -p 5201 \
        -t "$B_SECONDS" -O 1 -P "$1" -J 2>/dev/null) &&
        IPERF=$(python3 -c '
import json, sys
d = json.load(sys.stdin)["end"]
print("%.3f %d" % (d["sum_received"]["bits_per_second"] / 1e9, d["sum_sent"].get("retransmits", 0)))
' <<<"$out"); then
        return 0
    fi
    IPERF="0 0"
    echo "paths: iperf3 -P $1 failed; restarting the iperf3 server" >&2
    restart_iperf_server
}

# measure PATH: one round of a path: throughput with 1 and 4 streams, then
# the connection rate. Every figure is recorded; the report takes medians.
measure() {
    local path=$1 streams line kv out=""
    for streams in 1 4; do
        iperf_once "$streams"
        record "$path" "gbps_$streams" "${IPERF% *}"
        record "$path" "retrans_$streams" "${IPERF#* }"
        out+=" ${streams}x: ${IPERF% *} Gbit/s (${IPERF#* } retr);"
    done
    line=$(in_ns cli timeout $((B_CONN_SECONDS + 30)) "$CONNRATE" client 192.0.2.10 7000 \
        "$B_CONN_THREADS" "$B_CONN_SECONDS" || echo "conns=0 rate=0 p50_ms=0 p99_ms=0 errors=-1")
    for kv in $line; do
        case ${kv%%=*} in
        rate | p50_ms | p99_ms | errors) record "$path" "${kv%%=*}" "${kv#*=}" ;;
        esac
    done
    printf '  %-10s%s %s\n' "$path" "$out" "${line#conns=* seconds=* }"
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

dnat_off() { in_ns xlt nft delete table ip svbench; }

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

svxlat_configs() {
    local q=$1 sock=$TOPO_DIR/run
    mkdir -p "$sock"
    printf 'IP-address  port  service-ID\n192.0.2.10  5201  0x0000c0de\n192.0.2.10  7000  0x0000beef\n' \
        >"$TOPO_DIR/table.conf"
    # Long timeouts only where the bench would otherwise disturb itself: the
    # host agent's health check connects to each service port once per
    # refresh, which must not land in an iperf3 test.
    cat >"$TOPO_DIR/xlt.conf" <<CONF
[engine]
queues = $q
control-socket = $sock/xlt.sock
timeout-time-wait = 2s
log-level = warning
[translator]
table = $TOPO_DIR/table.conf
address = 10.0.2.1
router = 10.0.2.2
tcp-options = keep
CONF
    cat >"$TOPO_DIR/sr.conf" <<CONF
[engine]
control-socket = $sock/sr.sock
log-level = warning
[router]
address = 10.0.2.2
expiry = 30m
CONF
    cat >"$TOPO_DIR/i1.conf" <<CONF
[engine]
queues = $q
control-socket = $sock/i1.sock
timeout-time-wait = 2s
log-level = warning
[host]
address = 10.0.2.11
router = 10.0.2.2
refresh = 10m
service = 0x0000c0de 5201
service = 0x0000beef 7000
CONF
}

# svxlat_on QUEUES [SVXLATD]: translator, router and host agent up and ready.
svxlat_on() {
    svxlat_configs "$1"
    local n bin=${2:-$SVXLATD}
    for n in sr i1 xlt; do
        bg_start "svxlatd-$n" "$n" "$bin" -c "$TOPO_DIR/$n.conf"
    done
    for n in sr i1 xlt; do
        for _ in $(seq 1 100); do
            [[ -S $TOPO_DIR/run/$n.sock ]] && break
            kill -0 "${PID[svxlatd-$n]}" 2>/dev/null || break
            sleep 0.05
        done
        [[ -S $TOPO_DIR/run/$n.sock ]] || {
            cat "$TOPO_DIR/svxlatd-$n.log" >&2
            die "svxlatd in $n did not start"
        }
    done
    # Ready when a connection through translator, router and host agent works.
    for _ in $(seq 1 100); do
        if in_ns cli timeout 2 "$CONNRATE" client 192.0.2.10 7000 1 0.05 2>/dev/null |
            grep -q 'conns=[1-9]'; then
            return 0
        fi
        sleep 0.1
    done
    die "no connection through svxlat after 10 s (logs in $TOPO_DIR)"
}

svxlat_counters() {
    local n
    for n in xlt i1; do
        "$build/userspace/cli/svxlat" -s "$TOPO_DIR/run/$n.sock" counters 2>/dev/null |
            awk -v ns="$n" '$3 > 0 && ($1 == "drop" || $2 ~ /enobufs|dropped|overflow|nobufs|err_|gso_packets|^packets$|emitted|mangled_too/) {
                printf "%s:%s/%s=%s ", ns, $1, $2, $3 }'
    done
}

# svxlat_off [ROUND]: stops the daemons; their counters after the last round.
svxlat_off() {
    if [[ ${1:-$B_REPEAT} == "$B_REPEAT" ]]; then
        echo "             counters: $(svxlat_counters)"
    fi
    local n
    for n in xlt i1 sr; do
        bg_stop "svxlatd-$n"
    done
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

echo "== paths: cli -> xlt -> bridge -> i1 (veth MTU 1500, TSO/GSO on, GRO off)"
echo "   $(uname -sr), $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   $B_REPEAT round(s) over the paths; each: iperf3 -t $B_SECONDS (+1 s omitted) with 1 and 4"
echo "   streams, connrate $B_CONN_THREADS threads x ${B_CONN_SECONDS}s. Medians over the rounds."
for round in $(seq 1 "$B_REPEAT"); do
    echo "-- round $round/$B_REPEAT"
    for path in $B_PATHS; do
        case $path in
        dnat)
            dnat_on
            measure dnat
            dnat_off
            ;;
        nfq-gso)
            dnat_on
            nfq_on
            measure nfq-gso
            nfq_off "$round"
            dnat_off
            ;;
        nfq-nogso)
            dnat_on
            nfq_on --no-gso
            measure nfq-nogso
            nfq_off "$round"
            dnat_off
            ;;
        svxlat-q*)
            svxlat_on "${path#svxlat-q}"
            measure "$path"
            svxlat_off "$round"
            ;;
        alt-q*)
            [[ -x $SVXLATD_ALT ]] || die "path $path needs BENCH_SVXLATD_ALT"
            svxlat_on "${path#alt-q}" "$SVXLATD_ALT"
            measure "$path"
            svxlat_off "$round"
            ;;
        *) die "unknown path $path" ;;
        esac
    done
done
if [[ $B_PERF == 1 ]]; then
    svxlat_on 1
    perf_svxlat
    svxlat_off
fi

echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: only ratios within this run mean anything)"
python3 "$here/bench_report.py" "$RESULTS"
