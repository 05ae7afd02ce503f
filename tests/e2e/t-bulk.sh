#!/usr/bin/env bash
# b) 200 MB each way through the translator, bytes intact:
#  - download: curl fetches a 200 MB file from the real HTTP server of an
#    instance (both instances serve the same file); sha256 must match;
#  - upload: svxe2e.py streams 200 MB to the data server (port 9000), which
#    answers with the byte count and sha256 of what it received.
# Then nothing may have been lost on the way: no emit overflow on any daemon.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init bulk 150 "$@"
size=${E2E_BULK_MB:-200}
topo_start_all "$E2E_OFFLOADS" || e2e_fail "topology did not come up"

e2e_step "a ${size} MB file on both instances"
head -c "${size}M" /dev/urandom >"$TOPO_DIR/www-i1/blob" || e2e_fail "cannot write the file"
ln "$TOPO_DIR/www-i1/blob" "$TOPO_DIR/www-i2/blob"
want=$(sha256sum <"$TOPO_DIR/www-i1/blob" | cut -d' ' -f1)

e2e_step "download: curl http://$TOPO_PUBLIC/blob | sha256sum"
t0=$SECONDS
got=$(set -o pipefail; e2e_cli curl -sS -m 100 "http://$TOPO_PUBLIC/blob" | sha256sum | cut -d' ' -f1) ||
    e2e_fail "download failed"
e2e_log "   ${size} MB in $((SECONDS - t0)) s: sha256 $got (file $want)"
[[ $got == "$want" ]] || e2e_fail "download: sha256 differs"

e2e_step "upload: ${size} MB to the data server, which answers with their sha256"
E2E_CMD_LIMIT=100 e2e_run "upload failed or sha256 differs" e2e_py upload --size "${size}M" --seed 11

for n in xlt i1 i2; do
    v=$(e2e_counter "$n" engine emit_overflow)
    ((v == 0)) || e2e_fail "$n: $v emitted packets lost (emit_overflow)"
done
e2e_pass
