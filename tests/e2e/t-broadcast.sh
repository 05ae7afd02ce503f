#!/usr/bin/env bash
# o) Protocol section 12 step 1: a service router never forwards a packet
# that arrived in a link-layer broadcast frame. The translator's neighbour
# entry for the router is pointed at ff:ff:ff:ff:ff:ff, so its SAL SYNs
# reach the router as broadcast frames (unicast IP to the router): the
# router drops them (drop link_broadcast) and a fetch gets nowhere. On the
# kernel engine the module reads the packet type itself; over NFQUEUE the
# steering rules mark such packets ([engine] broadcast-mark) before they are
# queued. With the neighbour entry back to normal, fetches work again.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init broadcast 60 "$@"
topo_start_all "$E2E_OFFLOADS" || e2e_fail "topology did not come up"

e2e_step "a fetch through the router"
e2e_fetch_page 5 "before the change"

e2e_step "the translator's SAL SYNs to the router in broadcast frames"
in_ns xlt ip neigh replace 10.0.2.2 lladdr ff:ff:ff:ff:ff:ff dev s0 nud permanent
dropped_before=$(e2e_counter sr drop link_broadcast)
forwarded_before=$(e2e_counter sr engine router_forwarded)
if e2e_cli curl -sS -m 3 "http://$TOPO_PUBLIC/" >/dev/null 2>&1; then
    e2e_fail "a fetch succeeded: the router forwarded a SYN that came in a broadcast frame"
fi
dropped=$(e2e_counter sr drop link_broadcast)
forwarded=$(e2e_counter sr engine router_forwarded)
((dropped > dropped_before)) || e2e_fail "drop link_broadcast did not grow ($dropped_before -> $dropped)"
((forwarded == forwarded_before)) || e2e_fail "router_forwarded grew ($forwarded_before -> $forwarded)"
e2e_log "   router: link_broadcast $dropped_before -> $dropped, router_forwarded unchanged ($forwarded)"

e2e_step "neighbour entry removed: fetches work again"
in_ns xlt ip neigh del 10.0.2.2 dev s0
for i in 1 2 3; do
    e2e_fetch_page 5 "fetch #$i after the change"
done
e2e_pass
