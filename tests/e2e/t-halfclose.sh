#!/usr/bin/env bash
# d) Half-close, both ways:
#  - client first: the client sends a request and shuts its write side down
#    (TCP FIN); the server reads to EOF and only then sends 8 MB, in pieces
#    over a while. The client must receive all of it (count and sha256);
#  - server first: the server shuts its write side down right after a
#    greeting; the client, having seen the FIN, sends 4 MB; the server must
#    receive all of it (count and sha256 in its event log).
# The translator and host agent keep one direction open after the other's
# FIN; afterwards the flows close normally (the tables empty).
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init halfclose 60 "$@"
topo_start_all "$E2E_OFFLOADS" || e2e_fail "topology did not come up"

for round in 1 2 3; do
    e2e_step "client first, round $round: write, shutdown(SHUT_WR), then receive 8 MB"
    e2e_run "half-close transfer failed" e2e_py halfclose --size 8M --seed "$round"
done
[[ $(cat "$TOPO_DIR"/events-i*.log | grep -c half-sent) == 3 ]] ||
    e2e_fail "the servers did not finish sending 3 times"

server_got() { grep -qx "$1" "$TOPO_DIR"/events-i1.log "$TOPO_DIR"/events-i2.log; }
for round in 1 2 3; do
    tag=server-first-$round
    e2e_step "server first, round $round: the server's FIN, then the client sends 4 MB"
    out=$(e2e_py server-halfclose --tag "$tag" --size 4M --seed $((10 + round)) 2>&1) ||
        e2e_fail "server-first half-close failed: $out"
    e2e_log "   $(head -n1 <<<"$out")"
    want=$(sed -n 's/^expect //p' <<<"$out")
    e2e_wait 5 server_got "$want" ||
        e2e_fail "the server did not receive the 4 MB intact: expected '$want', events: $(grep -h "$tag" "$TOPO_DIR"/events-i*.log)"
    e2e_log "   server: $want"
done

e2e_step "all flows close (time-wait 2 s)"
e2e_wait 8 e2e_flows_empty xlt i1 i2 || e2e_fail "flows remain: $(e2e_flows xlt) $(e2e_flows i1) $(e2e_flows i2)"
e2e_pass
