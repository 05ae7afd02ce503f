# shellcheck shell=bash
# Network-namespace topology for svxlat's end-to-end tests, demo and bench:
#
#   cli ──veth── xlt ──┐            (Serval LAN: bridge in namespace lan)
#   198.51.100.2      198.51.100.1 / 10.0.2.1, public 192.0.2.10
#                      ├── sr  10.0.2.2   service router
#                      ├── i1  10.0.2.11  host agent + HTTP server
#                      └── i2  10.0.2.12  host agent + HTTP server
#
# Source it, set TOPO (a short unique prefix), then call topo_up / topo_down.
# Everything it creates is named after TOPO and removed by topo_down.

TOPO=${TOPO:-svx$$}
TOPO_NS=(cli xlt sr i1 i2 lan)
TOPO_PUBLIC=192.0.2.10
TOPO_SERVICE=0x0000c0de
TOPO_DIR=${TOPO_DIR:-/tmp/$TOPO}
TOPO_PIDS=()

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
        ip netns add "$(ns "$n")"
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

# topo_offloads on|off: TSO/GSO/GRO on every veth of the topology.
topo_offloads() {
    local pair n dev
    for pair in cli:c0 xlt:x0 xlt:s0 sr:s0 i1:s0 i2:s0 lan:pxlt lan:psr lan:pi1 lan:pi2; do
        n=${pair%%:*}; dev=${pair#*:}
        in_ns "$n" ethtool -K "$dev" tso "$1" gso "$1" gro "$1" >/dev/null 2>&1 || true
    done
}

# topo_configs: daemon configs (translator, router, two host agents) and the
# table, in $TOPO_DIR. Settings tuned for tests: fast refresh and expiry.
topo_configs() {
    local sock=$TOPO_DIR/run
    mkdir -p "$sock"
    printf 'IP-address  port  service-ID\n%s  80  %s\n' "$TOPO_PUBLIC" "$TOPO_SERVICE" \
        >"$TOPO_DIR/table.conf"
    cat >"$TOPO_DIR/xlt.conf" <<CONF
[engine]
queues = ${TOPO_QUEUES:-1}
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
control-socket = $sock/sr.sock
[router]
address = 10.0.2.2
expiry = 2500ms
CONF
    local i
    for i in 1 2; do
        cat >"$TOPO_DIR/i$i.conf" <<CONF
[engine]
queues = ${TOPO_QUEUES:-1}
control-socket = $sock/i$i.sock
timeout-time-wait = 2s
timeout-closing = 30s
[host]
address = 10.0.2.1$i
router = 10.0.2.2
refresh = 1s
service = $TOPO_SERVICE 8080
CONF
    done
}

# topo_start_daemon NS CONF: starts svxlatd in a namespace, logs to $TOPO_DIR.
topo_start_daemon() {
    in_ns "$1" "$SVXLATD" -c "$2" >>"$TOPO_DIR/$1.log" 2>&1 &
    TOPO_PIDS+=($!)
    local sock
    sock=$(sed -n 's/^control-socket = //p' "$2")
    local t
    for t in $(seq 1 100); do
        [[ -S $sock ]] && return 0
        kill -0 "${TOPO_PIDS[-1]}" 2>/dev/null || break
        sleep 0.05
    done
    echo "topology: svxlatd in $1 did not start; log:" >&2
    cat "$TOPO_DIR/$1.log" >&2
    return 1
}

# topo_http NS: a real HTTP server on 8080 serving a page naming the instance.
topo_http() {
    mkdir -p "$TOPO_DIR/www-$1"
    echo "instance $1" >"$TOPO_DIR/www-$1/index.html"
    in_ns "$1" python3 -m http.server 8080 --bind "$2" --directory "$TOPO_DIR/www-$1" \
        >>"$TOPO_DIR/http-$1.log" 2>&1 &
    TOPO_PIDS+=($!)
    local t
    for t in $(seq 1 100); do
        in_ns "$1" bash -c "exec 3<>/dev/tcp/$2/8080" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "topology: HTTP server in $1 did not start" >&2
    return 1
}

topo_down() {
    local pid
    for pid in "${TOPO_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${TOPO_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    TOPO_PIDS=()
    local n
    for n in "${TOPO_NS[@]}"; do
        ip netns del "$(ns "$n")" 2>/dev/null || true
    done
}
