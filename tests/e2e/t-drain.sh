#!/usr/bin/env bash
# i) Flow tables empty after all connections close: a mix of traffic (HTTP
# fetches, an upload, a download, a half-close, a client reset, a server
# reset), then `svxlat flows --json` on the translator and both host agents
# must be [] within the time-wait timeout (2 s here) plus 3 s, counted from
# the end of the last connection. Each flow must also have been counted as
# closed: flows_closed + flows_expired = flows_created on every daemon.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init drain 60 "$@"
topo_start_all "$E2E_OFFLOADS" || e2e_fail "topology did not come up"

e2e_step "traffic: 20 fetches, upload and download of 4 MB, half-close, two resets"
e2e_run "fetches failed" e2e_py fetch-many --n 20
e2e_run "upload failed" e2e_py upload --size 4M
e2e_run "download failed" e2e_py download --size 4M
e2e_run "half-close failed" e2e_py halfclose --size 1M
e2e_run "client abort failed" e2e_py client-abort --tag drain-1
e2e_run "server abort failed" e2e_py server-abort --tag drain-2
e2e_log "   flows now: xlt $(e2e_flow_count xlt), i1 $(e2e_flow_count i1), i2 $(e2e_flow_count i2)"
t0=$(date +%s%N)
e2e_step "flows --json is [] everywhere within 2 s + 3 s"
e2e_wait 5 e2e_flows_empty xlt i1 i2 ||
    e2e_fail "flows remain after 5 s: xlt $(e2e_flows xlt) i1 $(e2e_flows i1) i2 $(e2e_flows i2)"
e2e_log "   empty after $((($(date +%s%N) - t0) / 1000000)) ms"
for n in xlt i1 i2; do
    c=$(e2e_counter "$n" engine flows_created)
    e=$(e2e_counter "$n" engine flows_expired)
    e2e_log "   $n: created $c, closed $(e2e_counter "$n" engine flows_closed), expired $e"
    ((e == c)) || e2e_fail "$n: $c flows created but $e removed"
done
e2e_pass
