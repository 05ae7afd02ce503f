#!/usr/bin/env bash
# l) Stream-relay mode through real SAL: the table's rows switch to
# mode=relay (a SIGUSR1 reload), so the translator terminates the client's
# TCP on a listening socket and opens its Serval leg as an ordinary local
# connection, which its packet engine translates to SAL towards the router
# and an instance (docs/relay.md). Then:
#  - curl reaches the real HTTP servers of both instances;
#  - 200 MB each way, sha256 intact;
#  - iperf3 in both directions;
#  - half-close and resets still reach the other side;
#  - a reload during 20 transfers: every transfer completes intact, an added
#    relay row answers, a removed one refuses;
#  - svxlat shows the relay connections and counters.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init relay 170 "$@"
size=${E2E_BULK_MB:-200}
topo_start_all "$E2E_OFFLOADS" || e2e_fail "topology did not come up"

reloads() { topo_svxlat xlt status --json | "$TOPO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["reloads"])'; }
reloaded() { [[ $(reloads) -ge $1 ]]; }
relay_counter() { e2e_counter xlt relay "$1"; }
reload_xlt() {
    local before
    before=$(reloads)
    kill -USR1 "${TOPO_DAEMON[xlt]}"
    e2e_wait 5 reloaded $((before + 1)) || e2e_fail "the translator did not reload"
}

e2e_step "every row in relay mode, translator reloaded"
topo_table "$TOPO_PUBLIC  80    $TOPO_SERVICE       mode=relay" \
    "$TOPO_PUBLIC  9000  $TOPO_DATA_SERVICE  mode=relay" \
    "$TOPO_PUBLIC  5201  $TOPO_IPERF_SERVICE mode=relay"
reload_xlt
topo_svxlat xlt status | sed 's/^/   /'

e2e_step "curl through the relay, 8 times: both instances answer"
seen=""
for i in $(seq 1 8); do
    e2e_fetch_page 5 "curl #$i"
    seen+=" ${E2E_PAGE#instance }"
done
e2e_log "   instances:$seen"
accepted=$(relay_counter accepted)
((accepted >= 8)) || e2e_fail "relay accepted $accepted connections, expected 8"
# The Serval legs are translated: the packet engine created flows for them.
created=$(e2e_counter xlt engine flows_created)
((created >= 8)) || e2e_fail "the engine translated $created Serval legs, expected 8"
e2e_log "   relay accepted=$accepted, Serval legs translated=$created"

e2e_step "${size} MB each way through the relay, sha256 intact"
head -c "${size}M" /dev/urandom >"$TOPO_DIR/www-i1/blob" || e2e_fail "cannot write the file"
ln "$TOPO_DIR/www-i1/blob" "$TOPO_DIR/www-i2/blob"
want=$(sha256sum <"$TOPO_DIR/www-i1/blob" | cut -d' ' -f1)
got=$(set -o pipefail; e2e_cli curl -sS -m 100 "http://$TOPO_PUBLIC/blob" | sha256sum | cut -d' ' -f1) ||
    e2e_fail "download failed"
[[ $got == "$want" ]] || e2e_fail "download: sha256 differs"
e2e_log "   download: sha256 matches"
E2E_CMD_LIMIT=100 e2e_run "upload failed or sha256 differs" e2e_py upload --size "${size}M" --seed 21
e2e_log "   upload: sha256 matches"

e2e_step "iperf3 through the relay, both directions"
TOPO_BG_LOG=$TOPO_DIR/iperf3-server.log topo_bg i1 iperf3 -s -B 10.0.2.11 -p 5201
topo_wait_port i1 10.0.2.11 5201 || e2e_fail "iperf3 server did not start"
topo_wait_registered "$TOPO_IPERF_SERVICE" 1 4 || e2e_fail "the iperf3 service was not registered"
for dir in "" "-R"; do
    out=$(e2e_cli iperf3 -c "$TOPO_PUBLIC" -t 2 -f m $dir 2>&1) || e2e_fail "iperf3 $dir failed: $out"
    e2e_log "   iperf3 $dir: $(grep -E 'receiver$' <<<"$out" | awk '{print $7, $8}')"
done

e2e_step "half-close: the client shuts its write side, the server keeps sending"
E2E_CMD_LIMIT=30 e2e_run "half-close through the relay failed" e2e_py halfclose --size 8M
e2e_step "resets: the client aborts mid-transfer"
before=$(relay_counter resets_propagated)
E2E_CMD_LIMIT=30 e2e_run "client abort failed" e2e_py abort-download --after 2M
for _ in $(seq 1 50); do
    (($(relay_counter resets_propagated) > before)) && break
    sleep 0.1
done
(($(relay_counter resets_propagated) > before)) ||
    e2e_fail "the client's reset was not propagated to the Serval leg"
e2e_log "   resets_propagated: $(relay_counter resets_propagated)"

e2e_step "reload during 20 transfers: all intact, a new row answers, a removed row refuses"
pids=()
for i in $(seq 1 20); do
    TOPO_BG_LOG=$TOPO_DIR/t$i.out topo_bg cli "$TOPO_PYTHON" "$E2E_DIR/svxe2e.py" \
        download --size 8M --seed $((100 + i)) --mbps 20
    pids+=("$TOPO_LAST_PID")
done
sleep 1
in_ns xlt ip addr add 192.0.2.11/32 dev lo
topo_table "$TOPO_PUBLIC  80    $TOPO_SERVICE       mode=relay" \
    "192.0.2.11    80    $TOPO_SERVICE       mode=relay" \
    "$TOPO_PUBLIC  9000  $TOPO_DATA_SERVICE  mode=relay"
reload_xlt
e2e_fetch_page 5 "the added relay row 192.0.2.11:80" http://192.0.2.11/
e2e_log "   added row 192.0.2.11:80: $E2E_PAGE"
if out=$(e2e_cli iperf3 -c "$TOPO_PUBLIC" -t 1 2>&1); then
    e2e_fail "the removed row $TOPO_PUBLIC:5201 still accepts connections"
fi
e2e_log "   removed row $TOPO_PUBLIC:5201 refuses"
failed=0
for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
        failed=$((failed + 1))
        e2e_log "   transfer $((i + 1)): $(cat "$TOPO_DIR/t$((i + 1)).out")"
    fi
done
((failed == 0)) || e2e_fail "$failed of 20 transfers failed across the reload"
e2e_log "   20 transfers intact"

e2e_step "svxlat shows the relay"
topo_svxlat xlt flows | grep -q '^relay' || e2e_log "   (no live relay connection at this moment)"
topo_svxlat xlt counters | grep '^relay' | awk '$3 != 0' | sed 's/^/   /' | head -12
e2e_pass
