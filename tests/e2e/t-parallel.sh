#!/usr/bin/env bash
# c) 64 connections open through the translator at the same time (the
# translator holds 64 flows while they are all connected), then each fetches
# a 256 KB file from the real HTTP server; every one must get it intact.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init parallel 90 "$@"
n=${E2E_PARALLEL:-64}
topo_start_all "$E2E_OFFLOADS" || e2e_fail "topology did not come up"

head -c 256K /dev/urandom >"$TOPO_DIR/www-i1/part" || e2e_fail "cannot write the file"
ln "$TOPO_DIR/www-i1/part" "$TOPO_DIR/www-i2/part"
want=$(sha256sum <"$TOPO_DIR/www-i1/part" | cut -d' ' -f1)

e2e_step "$n parallel connections to $TOPO_PUBLIC:80, each GET /part (256 KB)"
e2e_run "parallel connections failed" e2e_py parallel --n "$n" --path /part --sha256 "$want" \
    --status-cmd "$SVXLAT -s $TOPO_DIR/run/xlt.sock status --json"
e2e_step "a second round of $n, reusing the table"
e2e_run "second round failed" e2e_py parallel --n "$n" --path /part --sha256 "$want"
e2e_pass
