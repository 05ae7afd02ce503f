# shellcheck shell=bash disable=SC2034 # arrays and variables for the sourcing scripts
# Network-namespace topology for svxlat's end-to-end tests, demo and bench:
#
#   cli ──veth── xlt ──┐            (Serval LAN: bridge in namespace lan)
#   198.51.100.2      198.51.100.1 / 10.0.2.1, public 192.0.2.10
#                      ├── sr  10.0.2.2   service router
#                      ├── i1  10.0.2.11  host agent + servers
#                      └── i2  10.0.2.12  host agent + servers
#
# Source it, set TOPO (a short unique prefix), then call topo_up / topo_down.
# Everything it creates is named after TOPO and removed by topo_down: the
# namespaces, and every process started through topo_start_daemon, topo_http,
# topo_data_server or topo_bg (killed by PID; each of them is the process
# itself, not a wrapper shell, so the kill reaches it).
#
# Public services (translator table, written by topo_configs):
#   192.0.2.10:80    -> TOPO_SERVICE        -> port 8080 on the instances (HTTP)
#   192.0.2.10:9000  -> TOPO_DATA_SERVICE   -> port 9000 (svxe2e.py data server)
#   192.0.2.10:5201  -> TOPO_IPERF_SERVICE  -> port 5201 (iperf3, when running)
# A host agent registers a service only while its port listens.

TOPO=${TOPO:-svx$$}
TOPO_NS=(cli xlt sr i1 i2 lan)
TOPO_PUBLIC=192.0.2.10
TOPO_SERVICE=0x0000c0de
TOPO_DATA_SERVICE=0x0000da7a
TOPO_IPERF_SERVICE=0x00005201
TOPO_DIR=${TOPO_DIR:-/tmp/$TOPO}
TOPO_PIDS=()
TOPO_LAST_PID=
TOPO_E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# A plain interpreter (not a version-manager shim) so that the PID recorded
# for a server is the server's.
TOPO_PYTHON=${TOPO_PYTHON:-$(if [[ -x /usr/bin/python3 ]]; then echo /usr/bin/python3; else command -v python3; fi)}

ns() { echo "$TOPO-$1"; }
in_ns() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }

# topo_link A IFA B IFB: a veth pair between namespaces A and B.
topo_link() {
    ip link add "$2" netns "$(ns "$1")" type veth peer name "$4" netns "$(ns "$3")"
    in_ns "$1" ip link set "$2" up
    in_ns "$3" ip link set "$4" up
}

topo_up() {
    mkdir -p "$TOPO_DIR"
    local n
    for n in "${TOPO_NS[@]}"; do
        ip netns add "$(ns "$n")" || return 1
        in_ns "$n" ip link set lo up
    done
    topo_link cli c0 xlt x0
    in_ns cli ip addr add 198.51.100.2/24 dev c0
    in_ns cli ip route add 192.0.2.0/24 via 198.51.100.1
    in_ns xlt ip addr add 198.51.100.1/24 dev x0
    in_ns xlt ip addr add "$TOPO_PUBLIC/32" dev lo
    in_ns lan ip link add br0 type bridge
    in_ns lan ip link set br0 up
    local host addr
    for host in xlt:10.0.2.1 sr:10.0.2.2 i1:10.0.2.11 i2:10.0.2.12; do
        n=${host%%:*}; addr=${host#*:}
        topo_link "$n" s0 lan "p$n"
        in_ns lan ip link set "p$n" master br0
        in_ns "$n" ip addr add "$addr/24" dev s0
    done
}

# topo_offloads on|off: TSO/GSO/GRO and TX checksum offload on every veth of
# the topology. "off" makes the kernel segment and checksum in software, so
# the engine sees MTU-size packets with complete checksums; "on" hands it
# super-packets with partial checksums.
topo_offloads() {
    local pair n dev
    for pair in cli:c0 xlt:x0 xlt:s0 sr:s0 i1:s0 i2:s0 lan:pxlt lan:psr lan:pi1 lan:pi2; do
        n=${pair%%:*}; dev=${pair#*:}
        in_ns "$n" ethtool -K "$dev" tso "$1" gso "$1" gro "$1" >/dev/null 2>&1 || true
        in_ns "$n" ethtool -K "$dev" tx "$1" >/dev/null 2>&1 || true
    done
}

# topo_offloads_show: one line per veth, for logs.
topo_offloads_show() {
    local pair n dev
    for pair in cli:c0 xlt:x0 xlt:s0 sr:s0 i1:s0 i2:s0 lan:pxlt lan:psr lan:pi1 lan:pi2; do
        n=${pair%%:*}; dev=${pair#*:}
        printf '%s:%s ' "$n" "$dev"
        in_ns "$n" ethtool -k "$dev" 2>/dev/null |
            awk -F': ' '/^(tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload|tx-checksumming):/ {
                sub(/ .*/, "", $2); printf "%s=%s ", $1, $2 }'
        echo
    done
}

# shellcheck disable=SC2120 # rows are optional
# topo_table [ROW...]: writes the translator table (default: the three
# public services above).
topo_table() {
    {
        echo 'IP-address  port  service-ID'
        if (($#)); then
            printf '%s\n' "$@"
        else
            echo "$TOPO_PUBLIC  80    $TOPO_SERVICE"
            echo "$TOPO_PUBLIC  9000  $TOPO_DATA_SERVICE"
            echo "$TOPO_PUBLIC  5201  $TOPO_IPERF_SERVICE"
        fi
    } >"$TOPO_DIR/table.conf.tmp" && mv "$TOPO_DIR/table.conf.tmp" "$TOPO_DIR/table.conf"
}

# topo_configs: daemon configs (translator, router, two host agents) and the
# table, in $TOPO_DIR. Settings tuned for tests: fast refresh and expiry.
# TOPO_BACKEND and TOPO_ENGINE set [engine] backend and engine (default auto:
# the kernel engine when svxlat.ko is loaded, NFQUEUE otherwise).
topo_configs() {
    local sock=$TOPO_DIR/run
    mkdir -p "$sock"
    topo_table
    cat >"$TOPO_DIR/xlt.conf" <<CONF
[engine]
engine = ${TOPO_ENGINE:-auto}
queues = ${TOPO_QUEUES:-1}
backend = ${TOPO_BACKEND:-auto}
control-socket = $sock/xlt.sock
timeout-time-wait = 2s
timeout-closing = 30s
[translator]
table = $TOPO_DIR/table.conf
address = 10.0.2.1
router = 10.0.2.2
tcp-options = keep
CONF
    cat >"$TOPO_DIR/sr.conf" <<CONF
[engine]
engine = ${TOPO_ENGINE:-auto}
backend = ${TOPO_BACKEND:-auto}
control-socket = $sock/sr.sock
[router]
address = 10.0.2.2
expiry = 2500ms
CONF
    local i
    for i in 1 2; do
        cat >"$TOPO_DIR/i$i.conf" <<CONF
[engine]
engine = ${TOPO_ENGINE:-auto}
queues = ${TOPO_QUEUES:-1}
backend = ${TOPO_BACKEND:-auto}
control-socket = $sock/i$i.sock
timeout-time-wait = 2s
timeout-closing = 30s
[host]
address = 10.0.2.1$i
router = 10.0.2.2
refresh = 1s
service = $TOPO_SERVICE 8080
service = $TOPO_DATA_SERVICE 9000
service = $TOPO_IPERF_SERVICE 5201
CONF
    done
}

# topo_bg NS CMD...: starts CMD in a namespace in the background; its PID
# (the command's own: ip netns exec execs it) is recorded for topo_down and
# left in TOPO_LAST_PID. Output goes to $TOPO_BG_LOG (default: /dev/null).
topo_bg() {
    local n=$1; shift
    ip netns exec "$(ns "$n")" "$@" >>"${TOPO_BG_LOG:-/dev/null}" 2>&1 </dev/null &
    TOPO_LAST_PID=$!
    TOPO_PIDS+=("$TOPO_LAST_PID")
}

# topo_kill PID [SIGNAL]: signals one recorded process and reaps it (bounded).
topo_kill() {
    local pid=$1 sig=${2:-TERM}
    {
        kill -"$sig" "$pid" || return 0
        for _ in $(seq 1 50); do
            kill -0 "$pid" || break
            sleep 0.1
        done
        kill -0 "$pid" && kill -KILL "$pid"
        wait "$pid" || true
    } 2>/dev/null
}

# topo_start_daemon NS CONF: starts svxlatd in a namespace, logs to $TOPO_DIR.
# Its PID is recorded (TOPO_PIDS) and kept in TOPO_DAEMON[NS].
declare -gA TOPO_DAEMON=()
topo_start_daemon() {
    TOPO_BG_LOG="$TOPO_DIR/$1.log" topo_bg "$1" "$SVXLATD" -c "$2"
    TOPO_DAEMON[$1]=$TOPO_LAST_PID
    local sock
    sock=$(sed -n 's/^control-socket = //p' "$2")
    for _ in $(seq 1 100); do
        [[ -S $sock ]] && return 0
        kill -0 "${TOPO_DAEMON[$1]}" 2>/dev/null || break
        sleep 0.05
    done
    echo "topology: svxlatd in $1 did not start; log:" >&2
    cat "$TOPO_DIR/$1.log" >&2
    return 1
}

# topo_wait_port NS ADDR PORT: waits (5 s at most) until ADDR:PORT accepts.
topo_wait_port() {
    for _ in $(seq 1 100); do
        timeout 2 ip netns exec "$(ns "$1")" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# topo_http NS ADDR: a real HTTP server on 8080 serving a page naming the
# instance (and whatever else is put in $TOPO_DIR/www-NS). PID in TOPO_HTTP[NS].
declare -gA TOPO_HTTP=()
topo_http() {
    mkdir -p "$TOPO_DIR/www-$1"
    echo "instance $1" >"$TOPO_DIR/www-$1/index.html"
    TOPO_BG_LOG="$TOPO_DIR/http-$1.log" topo_bg "$1" "$TOPO_PYTHON" -m http.server 8080 \
        --bind "$2" --directory "$TOPO_DIR/www-$1"
    TOPO_HTTP[$1]=$TOPO_LAST_PID
    topo_wait_port "$1" "$2" 8080 && return 0
    echo "topology: HTTP server in $1 did not start" >&2
    return 1
}

# topo_data_server NS ADDR: tests/e2e/svxe2e.py's data server on port 9000;
# events in $TOPO_DIR/events-NS.log. PID in TOPO_DATA[NS].
declare -gA TOPO_DATA=()
topo_data_server() {
    : >"$TOPO_DIR/events-$1.log"
    TOPO_BG_LOG="$TOPO_DIR/data-$1.log" topo_bg "$1" "$TOPO_PYTHON" "$TOPO_E2E_DIR/svxe2e.py" \
        serve --bind "$2" --port 9000 --name "$1" --events "$TOPO_DIR/events-$1.log"
    TOPO_DATA[$1]=$TOPO_LAST_PID
    topo_wait_port "$1" "$2" 9000 && return 0
    echo "topology: data server in $1 did not start" >&2
    return 1
}

# topo_svxlat NAME ARGS...: the svxlat command against daemon NAME (xlt, sr,
# i1, i2); the control socket is a path, reachable from any namespace.
topo_svxlat() {
    local n=$1; shift
    timeout 10 "$SVXLAT" -s "$TOPO_DIR/run/$n.sock" "$@"
}

# topo_registered SERVICE: how many instances the router lists for SERVICE.
topo_registered() {
    local sid
    sid=$(timeout 5 "$SVXLAT" sid "$1" 2>/dev/null | awk '{print $1; exit}')
    topo_svxlat sr services --json 2>/dev/null |
        "$TOPO_PYTHON" -c '
import json, sys
sid = sys.argv[1].lower()
rows = json.load(sys.stdin)
print(sum(1 for r in rows if r.get("table") == "router" and r["prefix"].lower() == sid))
' "$sid" 2>/dev/null || echo 0
}

# topo_wait_registered SERVICE COUNT [SECONDS]: waits (bounded) until the
# router lists COUNT instances for SERVICE.
topo_wait_registered() {
    local deadline=$((SECONDS + ${3:-6}))
    while ((SECONDS < deadline)); do
        [[ $(topo_registered "$1") == "$2" ]] && return 0
        sleep 0.2
    done
    echo "topology: router lists $(topo_registered "$1") instance(s) of $1, expected $2" >&2
    return 1
}

# topo_start_all [on|off]: the whole test topology: namespaces, offloads,
# configs, HTTP and data servers on both instances, the four daemons, and
# both instances registered for the HTTP and data services.
topo_start_all() {
    topo_up || return 1
    topo_offloads "${1:-on}"
    topo_configs
    topo_http i1 10.0.2.11 && topo_http i2 10.0.2.12 || return 1
    topo_data_server i1 10.0.2.11 && topo_data_server i2 10.0.2.12 || return 1
    topo_start_daemon sr "$TOPO_DIR/sr.conf" || return 1
    topo_start_daemon i1 "$TOPO_DIR/i1.conf" || return 1
    topo_start_daemon i2 "$TOPO_DIR/i2.conf" || return 1
    topo_start_daemon xlt "$TOPO_DIR/xlt.conf" || return 1
    topo_wait_registered "$TOPO_SERVICE" 2 && topo_wait_registered "$TOPO_DATA_SERVICE" 2
}

topo_down() {
    local pid
    {
        for pid in "${TOPO_PIDS[@]}"; do
            kill -TERM "$pid" || true
        done
        # Bounded: a process that ignores TERM for 5 s is killed.
        for _ in $(seq 1 50); do
            local alive=0
            for pid in "${TOPO_PIDS[@]}"; do
                kill -0 "$pid" && alive=1
            done
            ((alive)) || break
            sleep 0.1
        done
        for pid in "${TOPO_PIDS[@]}"; do
            kill -KILL "$pid" || true
            wait "$pid" || true
        done
    } 2>/dev/null
    TOPO_PIDS=()
    local n
    for n in "${TOPO_NS[@]}"; do
        ip netns del "$(ns "$n")" 2>/dev/null || true
    done
}
