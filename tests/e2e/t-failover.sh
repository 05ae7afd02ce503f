#!/usr/bin/env bash
# g) Failover. Two ways an instance goes away:
#  1. its HTTP server dies: the host agent sees the port stop listening and
#     withdraws the service (refresh 1 s);
#  2. its host agent is killed with SIGKILL (no unregistration): the router
#     expires the registration (2.5 s).
# In both cases, 3 s later every new connection must succeed (answered by
# the other instance).
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init failover 90 "$@"
topo_start_all "$E2E_OFFLOADS" || e2e_fail "topology did not come up"

e2e_step "both instances answer"
out=$(e2e_py fetch-many --n 20 2>&1) || e2e_fail "fetches failed before any failure: $out"
e2e_log "   $out"

e2e_step "kill i1's HTTP server (PID ${TOPO_HTTP[i1]}), wait 3 s"
topo_kill "${TOPO_HTTP[i1]}" KILL
sleep 3
e2e_step "40 new connections: all must succeed, all on i2"
out=$(e2e_py fetch-many --n 40 2>&1) || e2e_fail "connections failed 3 s after the server died: $out"
e2e_log "   $out"
grep -q '"counts": {"i2": 40}' <<<"$out" || e2e_fail "expected all 40 on i2: $out"

e2e_step "restart i1's HTTP server; it is registered again"
topo_http i1 10.0.2.11 || e2e_fail "cannot restart the HTTP server"
topo_wait_registered "$TOPO_SERVICE" 2 4 || e2e_fail "i1 was not registered again"
out=$(e2e_py fetch-many --n 40 2>&1) || e2e_fail "fetches failed after i1 came back: $out"
e2e_log "   $out"
grep -q '"i1"' <<<"$out" || e2e_fail "i1 gets no connections after it came back: $out"

e2e_step "SIGKILL i2's host agent (PID ${TOPO_DAEMON[i2]}): no unregistration, wait 3 s"
topo_kill "${TOPO_DAEMON[i2]}" KILL
sleep 3
topo_svxlat sr services | sed 's/^/   /'
e2e_step "40 new connections: all must succeed, all on i1"
out=$(e2e_py fetch-many --n 40 2>&1) || e2e_fail "connections failed 3 s after the host agent died: $out"
e2e_log "   $out"
grep -q '"counts": {"i1": 40}' <<<"$out" || e2e_fail "expected all 40 on i1: $out"
e2e_pass
