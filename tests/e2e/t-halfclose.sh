#!/usr/bin/env bash
# d) Half-close: the client sends a request and shuts its write side down
# (TCP FIN); the server reads to EOF and only then sends 8 MB, in pieces over
# a while. The client must receive all of it (count and sha256), i.e. the
# translator and host agent keep the other direction open after one FIN; and
# the flows then close normally (the table empties).
source "$(dirname "$0")/lib.sh"
e2e_init halfclose 60 "$@"
topo_start_all "$E2E_OFFLOADS" || e2e_fail "topology did not come up"

for round in 1 2 3; do
    e2e_step "round $round: write, shutdown(SHUT_WR), then receive 8 MB"
    e2e_run "half-close transfer failed" e2e_py halfclose --size 8M --seed "$round"
done
grep -h half-eof "$TOPO_DIR"/events-i*.log | sed 's/^/   server saw /'
[[ $(cat "$TOPO_DIR"/events-i*.log | grep -c half-sent) == 3 ]] ||
    e2e_fail "the servers did not finish sending 3 times"
e2e_step "all flows close (time-wait 2 s)"
e2e_wait 8 e2e_flows_empty xlt i1 i2 || e2e_fail "flows remain: $(e2e_flows xlt) $(e2e_flows i1) $(e2e_flows i2)"
e2e_pass
