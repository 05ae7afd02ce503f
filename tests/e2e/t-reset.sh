#!/usr/bin/env bash
# e) Resets cross the translator both ways:
#  - client abort: the client closes with SO_LINGER 0 (TCP RST) while the
#    server waits in recv(); the server must see ECONNRESET;
#  - server abort: the server closes with SO_LINGER 0 while the client waits
#    in recv(); the client must see ECONNRESET (not EOF);
# and the reset flows leave the tables (closed flows are kept for the
# time-wait timeout, 2 s here).
source "$(dirname "$0")/lib.sh"
e2e_init reset 60 "$@"
topo_start_all "$E2E_OFFLOADS" || e2e_fail "topology did not come up"

server_saw() { grep -qx "$1 reset" "$TOPO_DIR"/events-i1.log "$TOPO_DIR"/events-i2.log; }
for round in 1 2 3 4; do
    tag=client-abort-$round
    e2e_step "client aborts ($tag)"
    e2e_run "client-abort client failed" e2e_py client-abort --tag "$tag"
    if ! e2e_wait 5 server_saw "$tag"; then
        e2e_log "   server events: $(grep -h "$tag" "$TOPO_DIR"/events-i*.log)"
        e2e_fail "the server did not see ECONNRESET after the client's RST ($tag)"
    fi
    e2e_log "   server: $(grep -h "^$tag " "$TOPO_DIR"/events-i*.log)"
done
for round in 1 2 3 4; do
    e2e_step "server aborts (server-abort-$round)"
    e2e_run "the client did not get ECONNRESET" e2e_py server-abort --tag "server-abort-$round"
done
resets=$(e2e_counter xlt engine flows_closed)
e2e_step "every flow leaves the tables (closed flows expire after 2 s)"
e2e_wait 6 e2e_flows_empty xlt i1 i2 ||
    e2e_fail "flows remain: xlt $(e2e_flows xlt) i1 $(e2e_flows i1) i2 $(e2e_flows i2)"
e2e_log "   translator flows_closed=$resets, flows_expired=$(e2e_counter xlt engine flows_expired)"
e2e_pass
