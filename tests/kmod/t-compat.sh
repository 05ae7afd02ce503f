#!/usr/bin/env bash
# svxlat.ko against a second Debian kernel series (CTest kmod.compat_612):
# builds kmod/ + include/ in a private copy against the newest
# linux-headers-$SERIES-amd64 (default 6.12, or $SVXLAT_COMPAT_SERIES),
# -Werror as always, then boots that kernel with tests/vm/vm-run --kver and
# there loads svxlat_corecheck.ko (the shared core and compat.h's shims run
# at load time), loads svxlat.ko, runs tests/kmod/nl_probe.py (GET_INFO and
# the rest of the netlink checks) and unloads it.
#
# Nothing is installed on the host for the headers: when that exact
# linux-headers package is not installed, it is fetched with apt-get
# download (with its -common and linux-kbuild packages) and unpacked under
# $SVXLAT_VM_CACHE (/var/cache/svxlat-vm), as vm-run does with the kernel
# image; installing the real package would also install the kernel image
# (a dependency) and make it the host's default boot kernel. The compiler
# it names (gcc-12) and pahole (BTF) are installed when missing.
# Exit 77 (skip): not root, or the headers or the image cannot be had.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
SERIES=${SVXLAT_COMPAT_SERIES:-6.12}
CACHE=${SVXLAT_VM_CACHE:-/var/cache/svxlat-vm}

skip() { echo "SKIP: kmod.compat ($SERIES): $*"; exit 77; }
fail() { echo "FAIL: kmod.compat ($SERIES): $*"; exit 1; }

# ---------------------------------------------------------------- guest
if [[ -n ${SVXLAT_IN_VM:-} ]]; then
    ko=${SVXLAT_COMPAT_KO_DIR:?}
    echo "kernel $(uname -r)"
    dmesg -C
    insmod "$ko/svxlat_corecheck.ko" || fail "insmod svxlat_corecheck.ko"
    dmesg | grep -q "svxlat_corecheck: shared core OK" || { dmesg; fail "corecheck did not report OK"; }
    rmmod svxlat_corecheck || fail "rmmod svxlat_corecheck"
    echo "ok   svxlat_corecheck.ko: shared core and compat.h run"
    insmod "$ko/svxlat.ko" || fail "insmod svxlat.ko"
    grep -q '^svxlat ' /proc/modules || fail "svxlat not in /proc/modules"
    echo "ok   svxlat.ko loaded"
    python3 "$repo/tests/kmod/nl_probe.py" || fail "nl_probe.py (GET_INFO and netlink checks)"
    rmmod svxlat || fail "rmmod svxlat"
    [[ ! -d /sys/module/svxlat ]] || fail "svxlat still loaded after rmmod"
    echo "ok   svxlat.ko unloaded"
    if dmesg | grep -E "BUG|WARNING|Oops|leak|refcount"; then
        fail "kernel log shows a problem"
    fi
    echo "PASS: svxlat.ko on $(uname -r)"
    exit 0
fi

# ----------------------------------------------------------------- host
((EUID == 0)) || skip "needs root (apt-get, QEMU)"
export DEBIAN_FRONTEND=noninteractive

# The newest kernel of the series: what the meta package points to.
resolve() {
    apt-cache depends "linux-headers-$SERIES-amd64" 2>/dev/null |
        sed -n 's/^ *Depends: linux-headers-\([^ ]*-amd64\)$/\1/p' | head -n 1 || true
}
kver=$(resolve)
if [[ -z $kver ]]; then
    apt-get update >/dev/null 2>&1 || true
    kver=$(resolve)
fi
[[ -n $kver ]] || skip "apt knows no linux-headers-$SERIES-amd64 (Debian 12: bookworm-security or bookworm-updates in the sources)"
apt-cache show "linux-image-$kver" >/dev/null 2>&1 ||
    apt-cache show "linux-image-$kver-unsigned" >/dev/null 2>&1 ||
    skip "apt has no linux-image-$kver(-unsigned) to boot"
echo "kmod.compat: series $SERIES -> $kver"

need=()
for p in gcc-12 pahole make; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
done
if ((${#need[@]})); then
    apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
        { apt-get update >/dev/null 2>&1; apt-get install -y --no-install-recommends "${need[@]}"; } ||
        skip "cannot install ${need[*]}"
fi

# The headers: installed ones if they are exactly this kernel's, else a
# cached unpacked copy.
kdir=/usr/src/linux-headers-$kver
if [[ ! -f $kdir/Makefile ]]; then
    H=$CACHE/headers-$kver
    mkdir -p "$CACHE"
    (
        flock 9
        [[ -f $H/.complete ]] && exit 0
        echo "kmod.compat: fetching linux-headers-$kver (once) ..."
        rm -rf "$H"
        mkdir -p "$H/dl"
        # The headers package, its -common part and its linux-kbuild.
        mapfile -t pkgs < <(apt-cache depends "linux-headers-$kver" 2>/dev/null |
            sed -n 's/^ *Depends: \(linux-headers-[^ ]*-common\|linux-kbuild-[^ ]*\)$/\1/p' | sort -u)
        pkgs+=("linux-headers-$kver")
        ((${#pkgs[@]} >= 3)) || { echo "cannot resolve the packages of linux-headers-$kver" >&2; exit 1; }
        (cd "$H/dl" && apt-get download -o APT::Sandbox::User=root "${pkgs[@]}" >/dev/null 2>&1) ||
            { apt-get update >/dev/null 2>&1; cd "$H/dl" && apt-get download -o APT::Sandbox::User=root "${pkgs[@]}"; } ||
            exit 1
        for d in "$H"/dl/*.deb; do dpkg-deb -x "$d" "$H/root"; done
        rm -rf "$H/dl"
        # Its Makefile includes the -common tree by absolute path; the
        # scripts and tools links are relative and resolve inside root/.
        mk=$H/root/usr/src/linux-headers-$kver/Makefile
        sed -i "s#^include /usr/src/#include $H/root/usr/src/#" "$mk"
        touch "$H/.complete"
    ) 9>"$CACHE/.lock" || skip "cannot fetch linux-headers-$kver"
    kdir=$H/root/usr/src/linux-headers-$kver
fi

# A private copy: kmod/ holds the objects of `make kmod` (the default kernel).
build=$(mktemp -d /tmp/svxlat-compat.XXXXXX)
trap 'rm -rf "$build"' EXIT
"$repo/kmod/stage-source" "$build"
echo "kmod.compat: building svxlat.ko for $kver ($kdir)"
if ! make -C "$build/kmod" KDIR="$kdir" -j "$(nproc)" >"$build/log" 2>&1; then
    cat "$build/log"
    fail "svxlat.ko does not build against $kver"
fi
for m in svxlat svxlat_corecheck; do
    v=$(modinfo -F vermagic "$build/kmod/$m.ko" | awk '{print $1}')
    [[ $v == "$kver" ]] || fail "$m.ko built for '$v', expected $kver"
done
echo "ok   svxlat.ko and svxlat_corecheck.ko build against $kver (-Werror)"

rc=0
"$repo/tests/vm/vm-run" --kver "$kver" --timeout 300 -- \
    env SVXLAT_COMPAT_KO_DIR="$build/kmod" SVXLAT_COMPAT_SERIES="$SERIES" "$0" || rc=$?
((rc == 0)) || exit "$rc"
# The protocol-144 offload on this kernel too: 6.12 drops forwarded TCP GSO
# packets whose transport header is not TCP, which 6.1 does not.
echo "kmod.compat: the offload test (tests/vm/t-offload.sh) on $kver"
SVXLAT_VM_KVER=$kver SVXLAT_KO=$build/kmod/svxlat.ko "$repo/tests/vm/t-offload.sh" >"$build/offload.log" 2>&1 ||
    { cat "$build/offload.log"; fail "the offload test fails on $kver"; }
tail -n 1 "$build/offload.log"
exit 0
