#!/usr/bin/env bash
# The kernel module's control surface as a parser: malformed generic netlink
# requests are refused and counted (nl_probe.py), requests without
# CAP_NET_ADMIN get EPERM, and module parameters out of range are refused at
# load time and at run time. Runs itself inside the test VM (vm-run) with
# kmod/svxlat.ko loaded.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/kmod/lib.sh
source "$here/lib.sh"
kmod_need_root "kernel module netlink test"
# Without --ko: the test loads the module itself, with parameters.
kmod_in_vm --timeout 300 -- "$@"
ko=$KMOD_KO

fail() { echo "FAIL: $*"; exit 1; }

# Parameters: refused out of range, on insmod and through sysfs.
insmod "$ko" flow_cap=0 2>/dev/null && fail "insmod accepted flow_cap=0"
insmod "$ko" flow_cap=99999999 2>/dev/null && fail "insmod accepted flow_cap=99999999"
insmod "$ko" flow_cap=4096 || fail "insmod flow_cap=4096"
[[ $(cat /sys/module/svxlat/parameters/flow_cap) == 4096 ]] || fail "flow_cap not 4096"
echo 0 >/sys/module/svxlat/parameters/flow_cap 2>/dev/null && fail "sysfs accepted flow_cap=0"
echo abc >/sys/module/svxlat/parameters/flow_cap 2>/dev/null && fail "sysfs accepted flow_cap=abc"
echo 8192 >/sys/module/svxlat/parameters/flow_cap || fail "sysfs refused flow_cap=8192"
echo "ok   module parameter flow_cap validated"

python3 "$here/nl_probe.py" || fail "nl_probe"
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
    python3 "$here/nl_probe.py" --expect-eperm || fail "nl_probe without CAP_NET_ADMIN"

# A second namespace has its own configuration and counters.
ip netns add svxnl
ip netns exec svxnl python3 "$here/nl_probe.py" >/dev/null || fail "nl_probe in a second namespace"
ip netns del svxnl
rmmod svxlat || fail "rmmod"
dmesg | grep -E "BUG|WARNING|Oops|leak" && fail "kernel log shows a problem"
echo "PASS: kernel module netlink"
