#!/usr/bin/env bash
# relay.sh BUILD_DIR: what stream-relay mode (docs/relay.md) costs, measured
# beside the programs it competes with, all in ONE run on the topology of
# paths.sh (tests/e2e/topology.sh):
#
#   cli ──veth── xlt ── bridge (lan) ── i1 (servers), sr (service router)
#
# veth MTU 1500, TSO/GSO on, GRO off. The servers always run in i1: iperf3 on
# 10.0.2.11:5201 and `connrate server` on 10.0.2.11:7000; every middle box
# runs in xlt and listens on 192.0.2.10:{5201,7000}.
#
# Part 1, the relay alone (every path forwards to the SAME plain TCP servers):
#   direct          no middle box: the client connects to 10.0.2.11 itself,
#                   routed by xlt (plain IPv4 forwarding): the reference
#   haproxy         haproxy `mode tcp` in xlt (foreground, RELAY_WORKERS threads)
#   haproxy-splice  the same with `option splice-auto` (haproxy decides when)
#   haproxy-splice-always  the same with `option splice-request` and
#                   `option splice-response` (splice from the first byte)
#   relay           a translator-only svxlatd whose table rows are
#                   `192.0.2.10 PORT SID mode=relay relay-target=10.0.2.11:PORT`:
#                   svxlat's relay with a plain TCP second leg, no Serval
#   relay-wN-pSIZE  the same with other knobs (N workers, pipe SIZE; either
#                   part may be left out: relay-w1, relay-p64K); not by default
#   alt-relay       the relay path with BENCH_RELAY_SVXLATD_ALT=/path/to/svxlatd
#                   (A/B of a relay change in the same run); not by default
# Part 2, end to end through translator (xlt), service router (sr) and host
# agent (i1), the same rows and engine (one queue per daemon):
#   e2e-packet      the rows in packet mode
#   e2e-relay       the rows with mode=relay: the relay's Serval leg is a local
#                   TCP connection the translator's engine turns into SAL
#
# BENCH_REPEAT rounds (3) go over every path in turn (a change in the shared
# machine's load hits all paths alike). A path's round: iperf3 receiver-side
# throughput with each of BENCH_RELAY_STREAMS ("1 4 16") parallel streams,
# BENCH_RELAY_SECONDS (2) s each after a 1 s omitted warm-up, then
# BENCH_RELAY_CONN_SECONDS (2) s of `connrate client` (BENCH_CONN_THREADS = 8
# threads of connect / 100 B request / 100 B reply / close). Beside each
# figure, the middle box's CPU time (utime + stime of its process, all
# threads; for e2e paths the three daemons) per GB received and per
# connection. relay_report.py prints the medians and the ratios to
# haproxy-splice, haproxy-splice-always and direct (part 1) and stream /
# packet (part 2).
#
# Knobs: BENCH_RELAY_PATHS (the paths above), BENCH_RELAY_WORKERS (relay
# workers = haproxy threads; default: online CPUs, the relay's own default),
# BENCH_RELAY_PIPE (relay-pipe-size, default 1M), BENCH_RELAY_SVXLATD_ALT
# (path alt-relay), BENCH_RELAY_PERF=1 (after the rounds, perf profiles of the
# relay, alt-relay, haproxy-splice and haproxy-splice-always during one
# 1-stream run and one connection-rate run each: samples, context switches,
# system calls). Nothing asserts a timing.
#
# Bounded by `timeout` (run-bench adds an overall limit); every process is
# started and stopped by its PID, the namespaces are removed on exit (also
# on errors and signals). docs/performance.md explains method and results.
set -euo pipefail

build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

B_SECONDS=${BENCH_RELAY_SECONDS:-2}
B_REPEAT=${BENCH_REPEAT:-3}
B_CONN_SECONDS=${BENCH_RELAY_CONN_SECONDS:-2}
B_CONN_THREADS=${BENCH_CONN_THREADS:-8}
B_STREAMS=${BENCH_RELAY_STREAMS:-"1 4 16"}
B_PATHS=${BENCH_RELAY_PATHS:-"direct haproxy haproxy-splice haproxy-splice-always relay e2e-packet e2e-relay"}
B_PERF=${BENCH_RELAY_PERF:-0}
RELAY_WORKERS=${BENCH_RELAY_WORKERS:-$(nproc)}
RELAY_PIPE=${BENCH_RELAY_PIPE:-1M}

CONNRATE=$build/tests/bench/connrate
SVXLATD=$build/userspace/daemon/svxlatd
SVXLATD_ALT=${BENCH_RELAY_SVXLATD_ALT:-}
export SVXLATD

TOPO=svr$$
TOPO_DIR=/tmp/$TOPO
# shellcheck source-path=SCRIPTDIR source=../e2e/topology.sh
source "$repo/tests/e2e/topology.sh"
BENCH_NAME=relay
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces); run: sudo make bench"
for tool in ip iperf3 ethtool python3 timeout ss; do
    command -v "$tool" >/dev/null || die "missing program '$tool' (make deps installs it)"
done
for bin in "$CONNRATE" "$SVXLATD"; do
    [[ -x $bin ]] || die "missing $bin (build first: make)"
done
HAPROXY=$(command -v haproxy || true)
if [[ -z $HAPROXY && $B_PATHS == *haproxy* ]]; then
    echo "relay: haproxy not installed (make deps installs it); haproxy paths skipped" >&2
fi
CLK_TCK=$(getconf CLK_TCK)

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    topo_down
    rm -rf "$TOPO_DIR"
    exit $rc
}
trap cleanup EXIT
trap 'echo "relay: interrupted" >&2; exit 130' INT TERM

# mid_ticks PID...: CPU clock ticks of the middle box's processes so far.
mid_ticks() {
    local t=0 p
    for p in "$@"; do
        t=$((t + $(cpu_ticks "$p")))
    done
    echo "$t"
}

# measure PATH ADDR [PID...]: one round of a path: iperf3 with each stream
# count, then the connection rate, the client aimed at ADDR; the CPU time of
# the PIDs (the middle box) beside each figure.
measure() {
    local path=$1 addr=$2 streams line kv out="" t0 t1 bytes
    shift 2
    for streams in $B_STREAMS; do
        t0=$(mid_ticks "$@")
        iperf_once "$streams" "$addr"
        t1=$(mid_ticks "$@")
        record "$path" "gbps_$streams" "${IPERF% *}"
        record "$path" "retrans_$streams" "${IPERF#* }"
        out+=" ${streams}x ${IPERF% *}"
        if (($# > 0 && IPERF_BYTES > 0)); then
            # CPU seconds per GB; the bytes of the omitted first second are
            # estimated from the measured rate (the CPU count includes it).
            bytes=$(python3 -c "print($IPERF_BYTES * ($B_SECONDS + 1) / $B_SECONDS)")
            record "$path" "cpu_s_per_gb_$streams" \
                "$(python3 -c "print(($t1 - $t0) / $CLK_TCK / ($bytes / 1e9))")"
        fi
    done
    t0=$(mid_ticks "$@")
    line=$(connrate_once "$addr")
    t1=$(mid_ticks "$@")
    for kv in $line; do
        case ${kv%%=*} in
        rate | p50_ms | p99_ms | errors) record "$path" "${kv%%=*}" "${kv#*=}" ;;
        conns)
            if (($# > 0 && ${kv#*=} > 0)); then
                record "$path" cpu_us_per_conn \
                    "$(python3 -c "print(($t1 - $t0) / $CLK_TCK * 1e6 / ${kv#*=})")"
            fi
            ;;
        esac
    done
    printf '  %-15s Gbit/s:%s | %s\n' "$path" "$out" "${line#conns=* seconds=* }"
}

# --------------------------------------------------------------- paths

# direct: the client reaches the servers' own address through xlt.
direct_on() {
    in_ns cli ip route add 10.0.2.0/24 via 198.51.100.1
    in_ns i1 ip route add 198.51.100.0/24 via 10.0.2.1
}
direct_off() {
    in_ns cli ip route del 10.0.2.0/24 via 198.51.100.1
    in_ns i1 ip route del 198.51.100.0/24 via 10.0.2.1
}

# haproxy_on [-splice|-splice-always]: haproxy in xlt, in the foreground
# (-db), by PID. -splice: `option splice-auto` (haproxy decides per channel:
# only once a channel looks like a fast streamer); -splice-always: `option
# splice-request` and `option splice-response` (always).
haproxy_on() {
    local splice=""
    case ${1:-} in
    "") ;;
    -splice) splice="    option splice-auto" ;;
    -splice-always) splice=$'    option splice-request\n    option splice-response' ;;
    *) die "unknown haproxy variant haproxy$1" ;;
    esac
    cat >"$TOPO_DIR/haproxy.cfg" <<CFG
global
    nbthread $RELAY_WORKERS
    maxconn 4000
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    maxconn 4000
$splice
listen iperf3
    bind 192.0.2.10:5201
    server s1 10.0.2.11:5201
listen connrate
    bind 192.0.2.10:7000
    server s1 10.0.2.11:7000
CFG
    bg_start haproxy xlt "$HAPROXY" -db -f "$TOPO_DIR/haproxy.cfg"
    wait_listen xlt 5201
    wait_listen xlt 7000
    kill -0 "${PID[haproxy]}" 2>/dev/null || {
        cat "$TOPO_DIR/haproxy.log" >&2
        die "haproxy did not start"
    }
}
haproxy_off() { bg_stop haproxy; }

# relay_on WORKERS PIPE [SVXLATD]: a translator-only svxlatd in xlt whose two
# rows are relay rows with a plain TCP target: no Serval on the wire.
relay_on() {
    local sock=$TOPO_DIR/run
    mkdir -p "$sock"
    printf 'IP-address  port  service-ID\n192.0.2.10  5201  0x0000c0de mode=relay relay-target=10.0.2.11:5201\n192.0.2.10  7000  0x0000beef mode=relay relay-target=10.0.2.11:7000\n' \
        >"$TOPO_DIR/relay-table.conf"
    cat >"$TOPO_DIR/relay.conf" <<CONF
[engine]
control-socket = $sock/xlt.sock
log-level = warning
[translator]
table = $TOPO_DIR/relay-table.conf
address = 10.0.2.1
router = 10.0.2.2
relay-workers = $1
relay-pipe-size = $2
CONF
    bg_start svxlatd-xlt xlt "${3:-$SVXLATD}" -c "$TOPO_DIR/relay.conf"
    svxlat_wait_socket xlt
    svxlat_wait_ready
}
relay_off() { svxlat_off "$1"; }

# A relay variant's knobs from its name: relay[-wN][-pSIZE].
relay_knobs() {
    local w=$RELAY_WORKERS p=$RELAY_PIPE part
    for part in $(tr '-' ' ' <<<"${1#relay}"); do
        case $part in
        w*) w=${part#w} ;;
        p*) p=${part#p} ;;
        *) die "bad relay path $1 (relay[-wN][-pSIZE])" ;;
        esac
    done
    echo "$w $p"
}

# perf_profile NAME PID: where PID's CPU time goes during one 1-stream iperf3
# run and during one connection-rate run: perf samples (cpu-clock, kernel
# call graphs; this VM has no hardware counters) and, at the same time, its
# system calls (tracepoints) per MB received or per connection.
perf_profile() {
    local name=$1 pid=$2 what data stat rec st sc ev=context-switches,raw_syscalls:sys_enter per line
    for sc in splice epoll_wait epoll_ctl accept4 connect recvfrom sendto read write close \
        pipe2 fcntl setsockopt getsockopt shutdown; do
        ev+=,syscalls:sys_enter_$sc
    done
    for what in iperf conn; do
        data=$TOPO_DIR/perf-$name-$what.data
        stat=$TOPO_DIR/stat-$name-$what
        timeout $((B_SECONDS + 10)) perf record -e cpu-clock -F 999 -g -p "$pid" -o "$data" \
            -- sleep $((B_SECONDS + 1)) >/dev/null 2>&1 &
        rec=$!
        timeout $((B_SECONDS + 10)) perf stat -x, -e "$ev" -p "$pid" -o "$stat" \
            -- sleep $((B_SECONDS + 1)) >/dev/null 2>&1 &
        st=$!
        TOPO_PIDS+=("$rec" "$st")
        if [[ $what == iperf ]]; then
            iperf_once 1
            per=$(python3 -c "print($IPERF_BYTES * ($B_SECONDS + 1) / $B_SECONDS / 1e6)")
            line="1 stream: ${IPERF% *} Gbit/s"
        else
            line=$(B_CONN_SECONDS=$((B_SECONDS + 1)) connrate_once)
            per=$(sed -n 's/^conns=\([0-9]*\) .*/\1/p' <<<"$line")
            line="conn rate: ${line#conns=* seconds=* }"
            per=${per:-0}
        fi
        wait "$rec" "$st" 2>/dev/null || true
        echo "  $name, $line (under perf); share of its samples (children included):"
        perf report -i "$data" --children --sort sym -g none --stdio 2>/dev/null |
            awk '$1 ~ /%$/ && $3 == "[k]" && $4 ~ /^(__x64_sys_[a-z0-9_]+|splice_to_socket|tcp_splice_read|tcp_sendmsg_locked|tcp_recvmsg|handle_softirqs|tcp_v4_rcv|__schedule|inet_csk_accept|tcp_v4_connect|__fput|pipe_fcntl|create_pipe_files)$/ && $1 + 0 >= 1 {
                printf "    %-24s %s\n", $4, $1 }' || true
        perf report -i "$data" --no-children --sort dso -g none --stdio 2>/dev/null |
            awk '$1 ~ /%$/ && $2 != "[kernel.kallsyms]" { u += $1 } END { printf "    %-24s %.2f%%\n", "user space (self)", u }' || true
        echo "    top symbols (self):"
        perf report -i "$data" --no-children --sort sym -g none --stdio 2>/dev/null |
            awk '$1 ~ /%$/ && n < 8 { print "      " $0; n++ }' || true
        echo "    context switches and system calls per $([[ $what == iperf ]] && echo MB received || echo connection):"
        awk -F, -v per="$per" '$1 ~ /^[0-9]+$/ && $1 > 0 && per > 0 {
            sub(/^(raw_)?syscalls:sys_enter_?/, "", $3)
            printf "      %-12s %.2f\n", ($3 == "" ? "all" : $3), $1 / per }' "$stat" 2>/dev/null || true
    done
}

# ---------------------------------------------------------------------------

topo_up
: >"$RESULTS"
bench_offloads
# Port range and TIME-WAIT reuse wherever connections are opened at the
# connection-rate load: the client, and xlt (a relay's or haproxy's second
# leg closes first and holds the TIME-WAIT).
for n in cli xlt; do
    in_ns "$n" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
done
in_ns xlt sysctl -qw net.ipv4.ip_forward=1
in_ns lan sysctl -qw net.bridge.bridge-nf-call-iptables=0 2>/dev/null || true
start_servers

echo "== relay: cli -> xlt -> bridge -> i1 (veth MTU 1500, TSO/GSO on, GRO off)"
echo "   $(uname -sr), $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   relay: $RELAY_WORKERS workers, relay-pipe-size $RELAY_PIPE; haproxy: ${HAPROXY:+$("$HAPROXY" -v | head -1 | awk '{print $3}'), }$RELAY_WORKERS threads"
echo "   $B_REPEAT round(s) over the paths; each: iperf3 -t $B_SECONDS (+1 s omitted) with $B_STREAMS"
echo "   streams, connrate $B_CONN_THREADS threads x ${B_CONN_SECONDS}s. Medians over the rounds."
for round in $(seq 1 "$B_REPEAT"); do
    echo "-- round $round/$B_REPEAT"
    for path in $B_PATHS; do
        case $path in
        direct)
            direct_on
            measure direct 10.0.2.11
            direct_off
            ;;
        haproxy | haproxy-splice | haproxy-splice-always)
            [[ -n $HAPROXY ]] || continue
            haproxy_on "${path#haproxy}"
            measure "$path" 192.0.2.10 "${PID[haproxy]}"
            haproxy_off
            ;;
        relay | relay-*)
            read -r w p <<<"$(relay_knobs "$path")"
            relay_on "$w" "$p"
            measure "$path" 192.0.2.10 "${PID[svxlatd-xlt]}"
            relay_off "$round"
            ;;
        alt-relay)
            [[ -x $SVXLATD_ALT ]] || die "path alt-relay needs BENCH_RELAY_SVXLATD_ALT"
            relay_on "$RELAY_WORKERS" "$RELAY_PIPE" "$SVXLATD_ALT"
            measure "$path" 192.0.2.10 "${PID[svxlatd-xlt]}"
            relay_off "$round"
            ;;
        e2e-packet)
            svxlat_on 1
            measure "$path" 192.0.2.10 "${PID[svxlatd-xlt]}" "${PID[svxlatd-sr]}" "${PID[svxlatd-i1]}"
            svxlat_off "$round"
            ;;
        e2e-relay)
            svxlat_on 1 "$SVXLATD" mode=relay
            measure "$path" 192.0.2.10 "${PID[svxlatd-xlt]}" "${PID[svxlatd-sr]}" "${PID[svxlatd-i1]}"
            svxlat_off "$round"
            ;;
        *) die "unknown path $path" ;;
        esac
    done
done

if [[ $B_PERF == 1 ]]; then
    if ! command -v perf >/dev/null; then
        echo "  perf: not installed"
    else
        echo "-- profiles"
        relay_on "$RELAY_WORKERS" "$RELAY_PIPE"
        perf_profile relay "${PID[svxlatd-xlt]}"
        relay_off 0
        if [[ -x $SVXLATD_ALT ]]; then
            relay_on "$RELAY_WORKERS" "$RELAY_PIPE" "$SVXLATD_ALT"
            perf_profile alt-relay "${PID[svxlatd-xlt]}"
            relay_off 0
        fi
        if [[ -n $HAPROXY ]]; then
            for variant in -splice -splice-always; do
                haproxy_on "$variant"
                perf_profile "haproxy$variant" "${PID[haproxy]}"
                haproxy_off
            done
        fi
    fi
fi

echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: only ratios within this run mean anything)"
python3 "$here/relay_report.py" "$RESULTS" "$B_STREAMS"
