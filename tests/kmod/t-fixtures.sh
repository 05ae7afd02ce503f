#!/usr/bin/env bash
# The packet fixtures of the engine worker (tests/engine/worker_test.cc)
# against svxlat.ko instead of the user-space worker: the
# same inputs, the same expected packets byte for byte, through the module's
# netfilter hook in a VM booting Debian's kernel (tests/engine/kernel_rig.h).
# Run twice: with header plans (in-place rewrite + GSO, the default) and
# with every translated packet copied and checksummed in software.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${SVXLAT_BUILD:-$repo/build}
if ((EUID != 0)); then
    echo "SKIP: kernel-engine fixtures: need root"
    exit 77
fi
if [[ -z ${SVXLAT_IN_VM:-} ]]; then
    [[ -f $repo/kmod/svxlat.ko ]] || { echo "FAIL: kmod/svxlat.ko not built (make kmod)"; exit 1; }
    exec "$repo/tests/vm/vm-run" --ko "$repo/kmod/svxlat.ko" --mod tun --timeout 600 -- "$0" "$@"
fi
status=0
for plans in Y N; do
    echo "$plans" >/sys/module/svxlat/parameters/header_plans
    for t in engine_worker_test; do
        echo "== $t, header_plans=$plans"
        SVXLAT_RIG=kernel "$build/tests/engine/$t" --gtest_brief=1 || status=1
    done
done
if dmesg | grep -E "BUG|WARNING|Oops|general protection"; then
    echo "FAIL: kernel log shows a problem"
    status=1
fi
exit $status
