#!/usr/bin/env bash
# Packaging of svxlat.ko (CTest kmod.packaging; docs/kernel-module.md,
# "Kernel versions and packaging"), for the kernel `make kmod` builds for:
#
#   1. the DKMS source tree (kmod/stage-source with a version): dkms.conf
#      has the version, and its MAKE[0] builds BUILT_MODULE_LOCATION/
#      BUILT_MODULE_NAME.ko from the tree alone, as DKMS would;
#      BUILD_EXCLUSIVE_KERNEL takes 6.1 and later only;
#   2. kmod/Makefile modules_install: INSTALL_MOD_PATH (with depmod) and
#      DESTDIR (without);
#   3. when dkms is installed: kmod/dkms-setup install (twice: idempotent)
#      and remove, for real; the machine is left as it was found (module,
#      DKMS tree, /usr/src tree; the signing key DKMS creates on first use
#      and depmod's index files are removed if they were not there before).
#      Not run when an svxlat is already registered with DKMS here.
# Exit 77 (skip): not root, or no kernel headers.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

skip() { echo "SKIP: kmod.packaging: $*"; exit 77; }
fail() { echo "FAIL: kmod.packaging: $*"; exit 1; }
ok() { echo "ok   $*"; }

((EUID == 0)) || skip "needs root (depmod, DKMS)"
kdir=$("$repo/tests/kmod/find-kdir" 2>/dev/null) || skip "no kernel headers (make deps)"
kver=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"/\1/p' "$kdir/include/generated/utsrelease.h")
[[ -n $kver ]] || fail "no UTS_RELEASE in $kdir"
version=$(sed -n '/^project/s/.* VERSION \([0-9][0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
[[ -n $version ]] || fail "no version in CMakeLists.txt's project()"

tmp=$(mktemp -d /tmp/svxlat-packaging.XXXXXX)
dkms_used=
mok_existed=
depmod_existed=
cleanup() {
    if [[ -n $dkms_used ]]; then
        "$repo/kmod/dkms-setup" remove >/dev/null 2>&1 || true
        if [[ -z $mok_existed ]]; then rm -f /var/lib/dkms/mok.key /var/lib/dkms/mok.pub; fi
        if [[ -z $depmod_existed && ! -d /lib/modules/$kver/kernel ]]; then
            rm -f /lib/modules/"$kver"/modules.*
            rmdir /lib/modules/"$kver"/updates 2>/dev/null || true
        fi
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# ----------------------------------------------------- 1. DKMS source tree
src=$tmp/svxlat-$version
"$repo/kmod/stage-source" "$src" "$version"
[[ -d $src/kmod && -d $src/include/svxlat/core && -f $src/dkms.conf ]] || fail "staged tree incomplete"
! grep -q '#MODULE_VERSION#' "$src/dkms.conf" || fail "dkms.conf keeps #MODULE_VERSION#"
(
    set +u
    # What DKMS defines before it reads dkms.conf (which uses them).
    # shellcheck disable=SC2034
    kernelver=$kver kernel_source_dir=$kdir dkms_tree=/var/lib/dkms
    # shellcheck disable=SC1091
    . "$src/dkms.conf"
    [[ $PACKAGE_NAME == svxlat && $PACKAGE_VERSION == "$version" ]] ||
        { echo "dkms.conf: $PACKAGE_NAME $PACKAGE_VERSION"; exit 1; }
    [[ $AUTOINSTALL == yes && ${BUILT_MODULE_NAME[0]} == svxlat ]] || exit 1
    for k in "$kver" 6.1.0-56-amd64 6.12.117+deb12-amd64 6.19.2-amd64 7.0.1-amd64 10.1.0; do
        [[ $k =~ $BUILD_EXCLUSIVE_KERNEL ]] || { echo "BUILD_EXCLUSIVE_KERNEL refuses $k"; exit 1; }
    done
    for k in 6.0.0-1-amd64 5.10.0-28-amd64 4.19.0-26-amd64; do
        [[ ! $k =~ $BUILD_EXCLUSIVE_KERNEL ]] || { echo "BUILD_EXCLUSIVE_KERNEL takes $k"; exit 1; }
    done
    cd "$src"
    eval "${MAKE[0]} -j$(nproc)" >"$tmp/dkms-make.log" 2>&1 || { cat "$tmp/dkms-make.log"; exit 1; }
    ko=$src/${BUILT_MODULE_LOCATION[0]}/${BUILT_MODULE_NAME[0]}.ko
    [[ -f $ko ]] || { echo "no $ko"; exit 1; }
    [[ $(modinfo -F vermagic "$ko" | awk '{print $1}') == "$kver" ]] || { echo "$ko: wrong vermagic"; exit 1; }
) || fail "DKMS source tree (dkms.conf, MAKE[0])"
ok "DKMS source tree svxlat-$version: dkms.conf and its MAKE[0] build svxlat.ko for $kver"

# -------------------------------------------------- 2. modules_install
make -s -C "$src/kmod" KDIR="$kdir" modules_install INSTALL_MOD_PATH="$tmp/root" >"$tmp/mi.log" 2>&1 ||
    { cat "$tmp/mi.log"; fail "modules_install INSTALL_MOD_PATH"; }
[[ -f $tmp/root/lib/modules/$kver/updates/svxlat.ko ]] || fail "INSTALL_MOD_PATH: no updates/svxlat.ko"
grep -q '^updates/svxlat.ko:' "$tmp/root/lib/modules/$kver/modules.dep" || fail "INSTALL_MOD_PATH: depmod did not run"
[[ ! -e $tmp/root/lib/modules/$kver/updates/svxlat_corecheck.ko ]] || fail "the check module was installed"
ok "modules_install INSTALL_MOD_PATH=...: updates/svxlat.ko, depmod run"
make -s -C "$src/kmod" KDIR="$kdir" modules_install DESTDIR="$tmp/stage" >"$tmp/mi.log" 2>&1 ||
    { cat "$tmp/mi.log"; fail "modules_install DESTDIR"; }
[[ -f $tmp/stage/lib/modules/$kver/updates/svxlat.ko ]] || fail "DESTDIR: no updates/svxlat.ko"
[[ ! -e $tmp/stage/lib/modules/$kver/modules.dep ]] || fail "DESTDIR: depmod ran"
ok "modules_install DESTDIR=...: updates/svxlat.ko, no depmod"

# ------------------------------------------------------------- 3. DKMS
if ! command -v dkms >/dev/null 2>&1; then
    echo "note: dkms is not installed: the DKMS install itself is not exercised"
    echo "PASS: kernel module packaging"
    exit 0
fi
if dkms status -m svxlat 2>/dev/null | grep -q .; then
    echo "note: an svxlat is registered with DKMS here; not replacing it:"
    dkms status -m svxlat
    echo "PASS: kernel module packaging"
    exit 0
fi
[[ -e /lib/modules/$kver/build/Makefile ]] || fail "/lib/modules/$kver/build missing (linux-headers-$kver)"
[[ -e /var/lib/dkms/mok.key ]] && mok_existed=1
[[ -e /lib/modules/$kver/modules.dep ]] && depmod_existed=1
dkms_used=1
installed() {
    [[ $(dkms status -m svxlat | grep -c "^svxlat/$version, $kver, .*: installed") == 1 ]] &&
        modprobe -n -v -S "$kver" svxlat 2>/dev/null | grep -q "/lib/modules/$kver/updates/dkms/svxlat.ko"
}
for round in 1 2; do
    "$repo/kmod/dkms-setup" install "$version" "$kver" >"$tmp/dkms.log" 2>&1 ||
        { cat "$tmp/dkms.log"; fail "dkms-setup install (round $round)"; }
    installed || { dkms status; fail "not installed through DKMS (round $round)"; }
    [[ -f /usr/src/svxlat-$version/dkms.conf ]] || fail "no /usr/src/svxlat-$version"
done
ok "dkms-setup install, twice: svxlat/$version installed once for $kver (updates/dkms)"
"$repo/kmod/dkms-setup" remove >"$tmp/dkms.log" 2>&1 || { cat "$tmp/dkms.log"; fail "dkms-setup remove"; }
! dkms status -m svxlat | grep -q . || fail "still registered after remove"
[[ ! -e /usr/src/svxlat-$version ]] || fail "/usr/src/svxlat-$version left behind"
! ls /lib/modules/"$kver"/updates/dkms/svxlat.ko* >/dev/null 2>&1 || fail "module file left behind"
! modprobe -n -S "$kver" svxlat >/dev/null 2>&1 || fail "modprobe still finds svxlat"
ok "dkms-setup remove: nothing left"
echo "PASS: kernel module packaging"
