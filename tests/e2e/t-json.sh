#!/usr/bin/env bash
# j) Every --json answer of every daemon is valid JSON (python3 -m
# json.tool), idle and with live flows, and has the expected shape: status
# an object with roles and flows, counters/flows/services/table arrays.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init json 60 "$@"
topo_start_all "$E2E_OFFLOADS" || e2e_fail "topology did not come up"

check_all() {
    local n cmd out
    for n in xlt sr i1 i2; do
        for cmd in status counters flows services table; do
            out=$(topo_svxlat "$n" "$cmd" --json) || e2e_fail "$n: svxlat $cmd --json failed"
            printf '%s' "$out" | "$TOPO_PYTHON" -m json.tool >/dev/null 2>&1 ||
                e2e_fail "$n: svxlat $cmd --json is not valid JSON: $(head -c 300 <<<"$out")"
            printf '%s' "$out" | "$TOPO_PYTHON" -c '
import json, sys
cmd = sys.argv[1]
v = json.load(sys.stdin)
if cmd == "status":
    assert isinstance(v, dict) and "roles" in v and isinstance(v["flows"], int), v
elif cmd == "counters":
    assert isinstance(v, list) and v and all({"group", "name", "value", "description"} <= r.keys() for r in v), v[:3]
else:
    assert isinstance(v, list), v
    if cmd == "flows":
        for f in v:
            assert {"role", "state", "tcp_remote", "tcp_self", "sal_peer"} <= f.keys(), f
' "$cmd" || e2e_fail "$n: svxlat $cmd --json has an unexpected shape"
        done
    done
}

e2e_step "idle: status, counters, flows, services, table on xlt, sr, i1, i2"
check_all
e2e_step "with live flows (a paced download in progress)"
TOPO_BG_LOG=$TOPO_DIR/dl.out topo_bg cli "$TOPO_PYTHON" "$E2E_DIR/svxe2e.py" \
    download --size 8M --mbps 40 --seed 9
dl=$TOPO_LAST_PID
has_flows() { (($(e2e_flow_count xlt) > 0)); }
e2e_wait 5 has_flows || e2e_fail "no live flow on the translator"
check_all
topo_svxlat xlt flows --json | "$TOPO_PYTHON" -m json.tool | head -25 | sed 's/^/   /'
wait "$dl" || e2e_fail "the download failed: $(cat "$TOPO_DIR/dl.out")"
e2e_step "after the flows closed"
check_all
e2e_pass
