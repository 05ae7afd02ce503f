#!/usr/bin/env bash
# e) Resets cross the translator both ways:
#  - client abort: the client closes with SO_LINGER 0 (TCP RST) while the
#    server waits in recv(); the server must see ECONNRESET;
#  - server abort: the server closes with SO_LINGER 0 while the client waits
#    in recv(); the client must see ECONNRESET (not EOF);
#  - the same in the middle of bulk transfers: the client aborts a download
#    (the server's send() must fail), the server aborts an upload (the
#    client's send() must fail);
# and the reset flows leave the tables (closed flows are kept for the
# time-wait timeout, 2 s here).
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init reset 60 "$@"
topo_start_all "$E2E_OFFLOADS" || e2e_fail "topology did not come up"

events() { cat "$TOPO_DIR"/events-i1.log "$TOPO_DIR"/events-i2.log; }
server_saw() { events | grep -qE "$1"; }
for round in 1 2 3; do
    tag=client-abort-$round
    e2e_step "client aborts, idle connection ($tag)"
    e2e_run "client-abort client failed" e2e_py client-abort --tag "$tag"
    e2e_wait 5 server_saw "^$tag reset\$" ||
        e2e_fail "the server did not see ECONNRESET after the client's RST: $(events | grep "$tag")"
    e2e_log "   server: $(events | grep "^$tag ")"
done
for round in 1 2 3; do
    e2e_step "server aborts, idle connection (server-abort-$round)"
    e2e_run "the client did not get ECONNRESET" e2e_py server-abort --tag "server-abort-$round"
done
for round in 1 2; do
    seed=$((40 + round))
    e2e_step "client aborts in the middle of a download (seed $seed)"
    e2e_run "abort-download failed" e2e_py abort-download --seed "$seed" --after 2M
    e2e_wait 5 server_saw "^error .*SOURCE 1G $seed.*(ConnectionReset|BrokenPipe)" ||
        e2e_fail "the sending server did not see the reset: $(events | grep "SOURCE 1G $seed")"
    e2e_log "   server: $(events | grep "SOURCE 1G $seed" | sed 's/^error [^)]*) //')"
    e2e_step "server aborts in the middle of an upload (upload-abort-$round)"
    e2e_run "the uploading client did not get a reset" e2e_py upload-aborted --tag "upload-abort-$round" --after 2M
done

e2e_step "every flow leaves the tables (closed flows expire after 2 s)"
e2e_wait 6 e2e_flows_empty xlt i1 i2 ||
    e2e_fail "flows remain: xlt $(e2e_flows xlt) i1 $(e2e_flows i1) i2 $(e2e_flows i2)"
e2e_log "   translator: flows_closed=$(e2e_counter xlt engine flows_closed), flows_expired=$(e2e_counter xlt engine flows_expired)"
e2e_pass
