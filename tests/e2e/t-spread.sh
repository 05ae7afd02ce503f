#!/usr/bin/env bash
# f) The service router spreads new connections over both instances (equal
# weight): of 200 fetches of / (the page names the instance), each instance
# answers between 35 % and 65 %. The router's own "chosen" counts agree.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init spread 90 "$@"
n=${E2E_SPREAD:-200}
topo_start_all "$E2E_OFFLOADS" || e2e_fail "topology did not come up"

e2e_step "$n fetches of http://$TOPO_PUBLIC/"
out=$(e2e_py fetch-many --n "$n" 2>&1) || e2e_fail "some fetches failed: $out"
e2e_log "   $out"
read -r i1 i2 < <("$TOPO_PYTHON" -c 'import json,sys; c=json.loads(sys.argv[1])["counts"]; print(c.get("i1",0), c.get("i2",0))' "$(head -n1 <<<"$out")")
((i1 + i2 == n)) || e2e_fail "only $((i1 + i2)) of $n fetches named an instance"
lo=$((n * 35 / 100)) hi=$((n * 65 / 100))
e2e_log "   i1 $i1, i2 $i2 (each must be in $lo..$hi)"
((i1 >= lo && i1 <= hi && i2 >= lo && i2 <= hi)) || e2e_fail "spread outside 35/65: i1 $i1, i2 $i2"
topo_svxlat sr services | sed 's/^/   /'
e2e_pass "i1 $i1, i2 $i2"
