#!/usr/bin/env bash
# n) A route change in the translator's namespace applies to the next packet:
# with the LAN blackholed (a more specific route than the connected one), a
# new connection through the translator gets nowhere; once the blackhole is
# gone, connections work again. The kernel engine caches output routes per
# CPU: this is what must invalidate them (and it must count what it could
# not send).
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init route 60 "$@"
topo_start_all "$E2E_OFFLOADS" || e2e_fail "topology did not come up"

fetch_ok() {
    local i
    for i in 1 2 3 4; do
        e2e_fetch_page 5 "fetch #$i $1"
    done
}

e2e_step "4 fetches through the translator (its routes to the router and instances now cached)"
fetch_ok "before the route change"
errors_before=$(e2e_counter xlt engine xmit_errors)

e2e_step "blackhole 10.0.2.0/25 in the translator's namespace: a fetch must fail"
in_ns xlt ip route add blackhole 10.0.2.0/25
if e2e_cli curl -sS -m 3 "http://$TOPO_PUBLIC/" >/dev/null 2>&1; then
    in_ns xlt ip route del blackhole 10.0.2.0/25
    e2e_fail "a fetch succeeded through a blackholed LAN: a stale route was used"
fi
if [[ ${E2E_EXPECT_ENGINE:-} == kernel ]]; then
    errors=$(e2e_counter xlt engine xmit_errors)
    ((errors > errors_before)) || e2e_fail "xmit_errors did not grow ($errors_before -> $errors)"
    e2e_log "   xmit_errors $errors_before -> $errors"
fi

e2e_step "blackhole removed: 4 fetches work again"
in_ns xlt ip route del blackhole 10.0.2.0/25
fetch_ok "after the route change"
e2e_pass
