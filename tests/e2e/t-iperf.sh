#!/usr/bin/env bash
# k) iperf3 through the translator: the server runs on i1 only (port 5201;
# the host agent registers service TOPO_IPERF_SERVICE because the port
# listens), the client in cli connects to 192.0.2.10:5201. 3 s upstream,
# then 3 s downstream (-R); both must complete with data received.
export E2E_TOOLS=(iperf3)
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init iperf 90 "$@"
topo_start_all "$E2E_OFFLOADS" || e2e_fail "topology did not come up"

TOPO_BG_LOG=$TOPO_DIR/iperf3-server.log topo_bg i1 iperf3 -s -B 10.0.2.11 -p 5201
topo_wait_port i1 10.0.2.11 5201 || e2e_fail "iperf3 server did not start"
topo_wait_registered "$TOPO_IPERF_SERVICE" 1 4 || e2e_fail "the iperf3 service was not registered"

run_iperf() {
    local dir=$1; shift
    local json=$TOPO_DIR/iperf-$dir.json
    E2E_CMD_LIMIT=25 e2e_cli iperf3 -c "$TOPO_PUBLIC" -p 5201 -t 3 --connect-timeout 3000 -J "$@" >"$json" ||
        e2e_fail "iperf3 ($dir) failed: $(grep -m1 '"error"' "$json")"
    "$TOPO_PYTHON" - "$json" "$dir" <<'PY' || e2e_fail "iperf3 ($dir): no data received"
import json, sys
r = json.load(open(sys.argv[1]))
if "error" in r:
    print("   error:", r["error"]); sys.exit(1)
s = r["end"]["sum_received"]
print(f"   {sys.argv[2]}: {s['bytes'] / 1e6:.0f} MB in {s['seconds']:.1f} s, "
      f"{s['bits_per_second'] / 1e6:.0f} Mbit/s received, "
      f"retransmits {r['end']['sum_sent'].get('retransmits', '?')}")
sys.exit(0 if s["bytes"] > 0 else 1)
PY
}
e2e_step "iperf3 -c $TOPO_PUBLIC -p 5201 -t 3 (client -> server)"
run_iperf up
e2e_step "iperf3 -c $TOPO_PUBLIC -p 5201 -t 3 -R (server -> client)"
run_iperf down -R
e2e_pass
