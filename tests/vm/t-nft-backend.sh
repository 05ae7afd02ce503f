#!/usr/bin/env bash
# The nft steering backend, end to end, on a kernel that has nft's `queue`
# statement: Debian's own, booted by vm-run (this host's kernel lacks it).
# Runs the e2e curl test inside the VM with backend = nft on every daemon
# and checks that each daemon really steered with nft.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if ((EUID != 0)); then
    echo "SKIP: nft backend in a VM: needs root"
    exit 77
fi
: "${SVXLATD:?set SVXLATD to the svxlatd binary}"
: "${SVXLAT:?set SVXLAT to the svxlat binary}"
# Inside the guest: the curl test, then a check of the backend every daemon
# reported (the test's topology is gone by then, so the check runs in it).
exec "$here/vm-run" --timeout 400 -- env SVXLATD="$SVXLATD" SVXLAT="$SVXLAT" \
    TOPO_BACKEND=nft E2E_EXPECT_STEERING=nft "$repo/tests/e2e/t-curl.sh" on
