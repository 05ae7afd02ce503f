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
# shellcheck source=tests/kmod/lib.sh
source "$here/lib.sh"
kmod_need_root "kernel-engine fixtures"
kmod_in_vm --ko "$KMOD_KO" --mod tun --timeout 600 -- "$@"
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
