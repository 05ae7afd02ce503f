# shellcheck shell=bash disable=SC2034 # variables for the sourcing scripts
# Helpers shared by the path benchmarks (paths.sh, relay.sh). Source it after
# setting BENCH_NAME (prefix of messages), build, TOPO_DIR, B_SECONDS,
# B_CONN_SECONDS, B_CONN_THREADS and B_REPEAT, and after sourcing
# tests/e2e/topology.sh (ns, in_ns, TOPO_PIDS).
#
# Every background process is started by bg_start (its own PID, recorded in
# PID[] and TOPO_PIDS for topo_down) and stopped by bg_stop, by that PID.

declare -gA PID=() # name -> pid of a background process started here
RESULTS=$TOPO_DIR/results

die() {
    echo "${BENCH_NAME:-bench}: $*" >&2
    exit 1
}

# bg_start NAME NS CMD...: a background process in a namespace, by PID.
bg_start() {
    local name=$1 n=$2
    shift 2
    # Not through in_ns: a backgrounded shell function is a subshell, and its
    # PID would not be the program's. ip netns exec execs the program.
    ip netns exec "$(ns "$n")" "$@" >"$TOPO_DIR/$name.log" 2>&1 </dev/null &
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

# The servers of every path, in i1: iperf3 on 10.0.2.11:5201, connrate on :7000.
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

# iperf_once STREAMS [ADDR]: one client run from cli to ADDR:5201 (default
# 192.0.2.10); sets IPERF="Gbit/s retransmits" ("0 0" on failure, and the
# server is restarted) and IPERF_BYTES (bytes received after the omitted
# warm-up). Not for $(...): it may restart the server, whose PID must be
# recorded in this shell.
iperf_once() {
    local out parsed
    IPERF="0 0"
    IPERF_BYTES=0
    if out=$(in_ns cli timeout $((B_SECONDS + 25)) iperf3 -c "${2:-192.0.2.10}" -p 5201 \
        -t "$B_SECONDS" -O 1 -P "$1" -J 2>/dev/null) &&
        parsed=$(python3 -c '
import json, sys
d = json.load(sys.stdin)["end"]
print("%.3f %d %d" % (d["sum_received"]["bits_per_second"] / 1e9,
                      d["sum_sent"].get("retransmits", 0), d["sum_received"]["bytes"]))
' <<<"$out"); then
        IPERF=${parsed% *}
        IPERF_BYTES=${parsed##* }
        return 0
    fi
    IPERF="0 0"
    echo "${BENCH_NAME:-bench}: iperf3 -P $1 failed; restarting the iperf3 server" >&2
    restart_iperf_server
}

# lan_packets: packets that entered the LAN bridge from any namespace so far
# (the translator, the service router and the instances' veth ends).
lan_packets() {
    in_ns lan sh -c 'cat /sys/class/net/p*/statistics/rx_packets' | awk '{ s += $1 } END { print s + 0 }'
}

# connrate_once [ADDR]: B_CONN_SECONDS of `connrate client` from cli to
# ADDR:7000 (default 192.0.2.10); prints its result line.
connrate_once() {
    in_ns cli timeout $((B_CONN_SECONDS + 30)) "$CONNRATE" client "${1:-192.0.2.10}" 7000 \
        "$B_CONN_THREADS" "$B_CONN_SECONDS" || echo "conns=0 rate=0 p50_ms=0 p99_ms=0 errors=-1"
}

# ---------------------------------------------------------------- svxlatd

# svxlat_configs QUEUES [ROW_SETTINGS]: translator (xlt), service router (sr)
# and host agent (i1) on SVXLAT_ENGINE (default nfqueue; kernel: svxlat.ko;
# SVXLAT_ROUTER_ENGINE, when set, for the router alone),
# with the bench's two rows
# (192.0.2.10:5201 and :7000), each followed by ROW_SETTINGS (for example
# "mode=relay"). RELAY_WORKERS and RELAY_PIPE, when set, go to [translator].
svxlat_configs() {
    local q=$1 settings=${2:-} sock=$TOPO_DIR/run
    mkdir -p "$sock"
    printf 'IP-address  port  service-ID\n192.0.2.10  5201  0x0000c0de %s\n192.0.2.10  7000  0x0000beef %s\n' \
        "$settings" "$settings" >"$TOPO_DIR/table.conf"
    # Long timeouts only where the bench would otherwise disturb itself: the
    # host agent's health check connects to each service port once per
    # refresh, which must not land in an iperf3 test.
    cat >"$TOPO_DIR/xlt.conf" <<CONF
[engine]
engine = ${SVXLAT_ENGINE:-nfqueue}
queues = $q
control-socket = $sock/xlt.sock
timeout-time-wait = 2s
log-level = warning
[translator]
table = $TOPO_DIR/table.conf
address = 10.0.2.1
router = ${SVXLAT_XLT_ROUTER:-10.0.2.2}
tcp-options = keep
${RELAY_WORKERS:+relay-workers = $RELAY_WORKERS}
${RELAY_PIPE:+relay-pipe-size = $RELAY_PIPE}
CONF
    cat >"$TOPO_DIR/sr.conf" <<CONF
[engine]
engine = ${SVXLAT_ROUTER_ENGINE:-${SVXLAT_ENGINE:-nfqueue}}
control-socket = $sock/sr.sock
log-level = warning
[router]
address = 10.0.2.2
expiry = 30m
CONF
    cat >"$TOPO_DIR/i1.conf" <<CONF
[engine]
engine = ${SVXLAT_ENGINE:-nfqueue}
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

# svxlat_wait_socket NAME: until svxlatd's control socket in namespace NAME exists.
svxlat_wait_socket() {
    local n=$1
    for _ in $(seq 1 100); do
        [[ -S $TOPO_DIR/run/$n.sock ]] && return 0
        kill -0 "${PID[svxlatd-$n]}" 2>/dev/null || break
        sleep 0.05
    done
    cat "$TOPO_DIR/svxlatd-$n.log" >&2
    die "svxlatd in $n did not start"
}

# svxlat_wait_ready: until one connection through 192.0.2.10:7000 works (10 s).
svxlat_wait_ready() {
    for _ in $(seq 1 100); do
        if in_ns cli timeout 2 "$CONNRATE" client 192.0.2.10 7000 1 0.05 2>/dev/null |
            grep -q 'conns=[1-9]'; then
            return 0
        fi
        sleep 0.1
    done
    local n
    for n in xlt sr i1; do
        echo "---- svxlatd-$n.log (last 10 lines)" >&2
        tail -n 10 "$TOPO_DIR/svxlatd-$n.log" >&2 || true
        "$build/userspace/cli/svxlat" -s "$TOPO_DIR/run/$n.sock" counters 2>/dev/null |
            awk '$3 > 0' | head -n 20 >&2 || true
    done
    die "no connection through svxlat after 10 s (logs in $TOPO_DIR)"
}

# svxlat_on QUEUES [SVXLATD [ROW_SETTINGS]]: translator, router and host
# agent up and ready.
svxlat_on() {
    svxlat_configs "$1" "${3:-}"
    local n bin=${2:-$SVXLATD}
    # One after the other: the router must be steering before the host
    # agent's first registration (the next is a refresh period away).
    for n in sr i1 xlt; do
        bg_start "svxlatd-$n" "$n" "$bin" -c "$TOPO_DIR/$n.conf"
        svxlat_wait_socket "$n"
    done
    # Ready when a connection through translator, router and host agent works.
    svxlat_wait_ready
}

svxlat_counters() {
    local n
    for n in xlt i1; do
        [[ -S $TOPO_DIR/run/$n.sock ]] || continue
        "${build:?}/userspace/cli/svxlat" -s "$TOPO_DIR/run/$n.sock" counters 2>/dev/null |
            awk -v ns="$n" '$3 > 0 && ($1 == "drop" || $2 ~ /enobufs|dropped|overflow|nobufs|err_|gso_packets|^packets$|emitted|mangled_too|connect_failed|connect_timeout|resets_propagated|setup_failed|pipe_size_refused|splice_fallback|accept_errors/) {
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

# cpu_ticks PID: user + system clock ticks of a process (all its threads) so far.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
