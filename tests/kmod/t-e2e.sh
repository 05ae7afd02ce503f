#!/usr/bin/env bash
# The packet-mode end-to-end suite (tests/e2e/t-*.sh: curl, sha256 bulk
# transfers both ways, 64 parallel, half-close, resets, spread, failover,
# reload under load, drain, JSON, iperf3, the stream relay, the engine
# choice, a route change, a broadcast frame at the router) with engine =
# kernel on the translator, the service router and
# both host agents, inside a VM that
# boots Debian's kernel with svxlat.ko loaded. Every test also checks that
# the daemons really ran on the kernel engine (E2E_EXPECT_ENGINE).
#
#   tests/kmod/t-e2e.sh [on|off] [TEST...]     (default: both modes, all tests)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=tests/kmod/lib.sh
source "$here/lib.sh"
kmod_need_root "kernel-engine e2e"
: "${SVXLATD:?set SVXLATD to the svxlatd binary}"
: "${SVXLAT:?set SVXLAT to the svxlat binary}"
kmod_in_vm --ko "$KMOD_KO" --mem 2048 --timeout "${KMOD_E2E_TIMEOUT:-3000}" -- "$@"
modes="on off"
if [[ ${1:-} == on || ${1:-} == off ]]; then
    modes=$1
    shift
fi
tests=("$@")
((${#tests[@]})) || tests=(curl bulk parallel halfclose reset spread failover reload drain json iperf relay engine route broadcast)
export TOPO_ENGINE=kernel E2E_EXPECT_ENGINE=kernel
# Software emulation: the same steps take a few times longer than on the host.
export E2E_TIME_SCALE=${E2E_TIME_SCALE:-4}
failed=()
for mode in $modes; do
    for t in "${tests[@]}"; do
        if "$repo/tests/e2e/t-$t.sh" "$mode" >"/tmp/kmod-e2e-$t-$mode.log" 2>&1; then
            tail -n 1 "/tmp/kmod-e2e-$t-$mode.log"
        else
            cat "/tmp/kmod-e2e-$t-$mode.log"
            failed+=("$t/$mode")
        fi
    done
done
if dmesg | grep -E "BUG|WARNING|Oops|general protection"; then
    failed+=("kernel-log")
fi
if ((${#failed[@]})); then
    echo "FAIL: kernel-engine e2e: ${failed[*]}"
    exit 1
fi
echo "PASS: kernel-engine e2e (${tests[*]}; offloads $modes)"
