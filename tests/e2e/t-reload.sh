#!/usr/bin/env bash
# h) Reload (SIGUSR1) never costs a byte or a live flow:
#  1. during a 200 MB download (curl from the real HTTP server, rate-limited
#     to 40 MB/s so that it lasts 5 s) every daemon is reloaded, the
#     translator three times; the file's sha256 must match;
#  2. during a paced transfer on 192.0.2.10:9000, the table is rewritten
#     without that row and with a new pair 192.0.2.11:80, and the translator
#     reloaded: the new pair answers at once, the removed pair refuses new
#     connections, and the running transfer completes intact.
# Both parts always run; the test fails if either does. (It caught the
# steering gap on reload, tests/e2e/FINDINGS.md finding 1.)
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init reload 120 "$@"
topo_start_all "$E2E_OFFLOADS" || e2e_fail "topology did not come up"

reloads() { topo_svxlat "$1" status --json | "$TOPO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["reloads"])'; }
reloaded() { [[ $(reloads "$1") -ge $2 ]]; }
running() { kill -0 "$1" 2>/dev/null; }

head -c 200M /dev/urandom >"$TOPO_DIR/www-i1/blob" || e2e_fail "cannot write the file"
ln "$TOPO_DIR/www-i1/blob" "$TOPO_DIR/www-i2/blob"
want=$(sha256sum <"$TOPO_DIR/www-i1/blob" | cut -d' ' -f1)

e2e_step "1. 200 MB download at 40 MB/s; reload every daemon while it runs"
TOPO_BG_LOG=$TOPO_DIR/dl.err topo_bg cli bash -c \
    "curl -sS -m 60 --limit-rate 40M http://$TOPO_PUBLIC/blob | sha256sum >'$TOPO_DIR/dl.sha'; exit \${PIPESTATUS[0]}"
dl=$TOPO_LAST_PID
sleep 1
for target in xlt xlt xlt sr i1 i2; do
    running "$dl" || break
    before=$(reloads "$target")
    kill -USR1 "${TOPO_DAEMON[$target]}"
    e2e_wait 3 reloaded "$target" $((before + 1)) || e2e_fail "$target did not reload"
    e2e_log "   $target reloaded ($((before + 1))), translator flows: $(e2e_flow_count xlt)"
    sleep 0.4
done
running "$dl" || e2e_log "   (the download ended before all reloads were done)"
if ! wait "$dl"; then
    e2e_soft_fail "the download failed across the reloads: $(cat "$TOPO_DIR/dl.err")"
else
    got=$(cut -d' ' -f1 "$TOPO_DIR/dl.sha")
    e2e_log "   sha256 $got (file $want)"
    [[ $got == "$want" ]] || e2e_soft_fail "bytes lost or changed across the reloads"
fi

e2e_step "2. paced 60 MB transfer on $TOPO_PUBLIC:9000, then a table without that row"
in_ns xlt ip addr add 192.0.2.11/32 dev lo
TOPO_BG_LOG=$TOPO_DIR/paced.out topo_bg cli "$TOPO_PYTHON" "$E2E_DIR/svxe2e.py" \
    download --size 60M --seed 5 --mbps 100
paced=$TOPO_LAST_PID
sleep 1
running "$paced" || e2e_fail "the paced transfer ended early: $(cat "$TOPO_DIR/paced.out")"
before=$(reloads xlt)
topo_table "$TOPO_PUBLIC  80    $TOPO_SERVICE" "192.0.2.11  80    $TOPO_SERVICE" \
    "$TOPO_PUBLIC  5201  $TOPO_IPERF_SERVICE"
kill -USR1 "${TOPO_DAEMON[xlt]}"
e2e_wait 3 reloaded xlt $((before + 1)) || e2e_fail "translator did not reload the new table"
topo_svxlat xlt table | sed 's/^/   /'
e2e_log "   live flows on the translator: $(e2e_flow_count xlt)"

e2e_step "the new pair 192.0.2.11:80 answers"
e2e_fetch_page 5 "the added pair 192.0.2.11:80" http://192.0.2.11/
e2e_log "   $E2E_PAGE"
e2e_step "the removed pair $TOPO_PUBLIC:9000 refuses new connections"
if out=$(e2e_py ping --port 9000 2>&1); then
    e2e_fail "the removed pair still accepts connections: $out"
fi
e2e_log "   $out"
grep -qE 'ConnectionRefused|ConnectionReset' <<<"$out" || e2e_fail "expected a refusal, got: $out"
e2e_step "the transfer on the removed pair goes on and completes intact"
running "$paced" || e2e_log "   (it ended before the checks were done)"
if wait "$paced"; then
    sed 's/^/   /' "$TOPO_DIR/paced.out"
else
    e2e_soft_fail "the transfer on the removed pair failed: $(cat "$TOPO_DIR/paced.out")"
fi
e2e_pass
