# Shared start of the kernel-module tests (sourced by tests/kmod/t-*.sh): the
# root check and the re-execution of the test inside the VM that boots
# Debian's kernel (tests/vm/vm-run).
# shellcheck shell=bash

kmod_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KMOD_KO=$kmod_repo/kmod/svxlat.ko

# kmod_need_root WHAT: exits 77 (CTest's skip) unless running as root.
kmod_need_root() {
    ((EUID == 0)) && return 0
    echo "SKIP: $1: needs root"
    exit 77
}

# kmod_in_vm VM-RUN-OPTION... -- SCRIPT-ARG...: outside the test VM, fails
# unless svxlat.ko is built, then runs the calling script again inside the
# VM (vm-run with those options, SVXLATD and SVXLAT passed on) and does not
# return. Inside the VM it returns at once.
kmod_in_vm() {
    [[ -z ${SVXLAT_IN_VM:-} ]] || return 0
    [[ -f $KMOD_KO ]] || { echo "FAIL: kmod/svxlat.ko not built (make kmod)"; exit 1; }
    local opts=()
    while (($#)) && [[ $1 != -- ]]; do
        opts+=("$1")
        shift
    done
    (($#)) && shift
    exec "$kmod_repo/tests/vm/vm-run" "${opts[@]}" -- \
        env SVXLATD="${SVXLATD:-}" SVXLAT="${SVXLAT:-}" "$0" "$@"
}
