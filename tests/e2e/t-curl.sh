#!/usr/bin/env bash
# a) curl through the translator reaches the real HTTP server on an instance:
# the page names the instance, and the translator and the host agent that
# answered both counted the flow.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init curl 60 "$@"
topo_start_all "$E2E_OFFLOADS" || e2e_fail "topology did not come up"

e2e_step "curl http://$TOPO_PUBLIC/ from the client, 4 times"
for i in 1 2 3 4; do
    e2e_fetch_page 5 "curl #$i"
    e2e_log "   $E2E_PAGE"
done
e2e_step "the translator translated, an instance answered"
created=$(e2e_counter xlt engine flows_created)
((created >= 4)) || e2e_fail "translator created $created flows, expected 4"
hosted=$(( $(e2e_counter i1 engine flows_created) + $(e2e_counter i2 engine flows_created) ))
((hosted >= 4)) || e2e_fail "host agents created $hosted flows, expected 4"
e2e_log "   translator flows_created=$created, host agents flows_created=$hosted"
e2e_pass
