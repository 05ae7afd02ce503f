#!/usr/bin/env bash
# GSO and GRO of IP protocol 144 (kmod/offload.c) in Debian's kernel, booted by
# vm-run with svxlat.ko loaded. A 60000-byte SAL/TCP super-packet is injected
# in namespace A as a GSO skb (AF_PACKET + virtio_net_hdr, see
# sal_gso_inject.py) and what arrives is checked segment by segment:
#
#   A vethA ---- vethB B vethB2 ---- vethC C        B tap0 (TSO on, read by
#   10.0.1.1   10.0.1.2  10.0.2.1  10.0.2.2            10.0.3.1  the helper)
#
#   0  without the module (rmmod): nothing arrives  (the checks can fail)
#   1  vethA TSO/GSO off: segmented at A's egress, CHECKSUM_PARTIAL kept
#   2  vethA TSO/GSO/tx-checksum off: segmented, checksums done in software
#   3  vethA TSO on: the super-packet crosses the veth whole (seen in B);
#      B forwards it out vethB2 (TSO off): segmented there (seen in C)
#   4  B forwards it out a tap with TSO on (a stand-in for a TSO NIC or a
#      virtio host): segmented anyway, protocol 144 never reaches a TSO
#      device; control: a plain TCP super-packet reaches the tap whole
#   5  a SAL header with an extension (SHL 8): same checks, 32-byte SAL
#   6  malformed (SHL 2, SAL protocol 17, csum_start on the SAL): dropped
#   7  GRO (svxlat gro=1): B merges the segments (vethB GRO on), C gets them
#      split again; control with gro=0
#   8  NFQUEUE: B queues the TCP super-packet (F_GSO), a client answers with
#      it rewritten to SAL: segmented at B's egress (TSO off), or passed
#      whole as GSO (TSO on); control without svxlat: dropped
#
# Run on the host as root: tests/vm/t-offload.sh (re-runs itself in the VM),
# or tests/vm/vm-run [--mod tun] --ko kmod/svxlat.ko -- tests/vm/t-offload.sh.
# Exit 0 pass, 1 fail, 77 skip (not root).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
KO=${SVXLAT_KO:-$repo/kmod/svxlat.ko}
if ((EUID != 0)); then
    echo "SKIP: protocol-144 offload in a VM: needs root"
    exit 77
fi
if [[ -z ${SVXLAT_IN_VM:-} ]]; then
    # The module must match the kernel the VM boots (found as vm-run does:
    # $SVXLAT_VM_KVER, else the one linux-headers-amd64 points to).
    # kmod/svxlat.ko is used when it does, unless SVXLAT_KO_BUILD is set
    # (CTest sets it); otherwise a private copy of kmod/ and include/ is
    # built under /tmp, apart from the shared build tree.
    kver=${SVXLAT_VM_KVER:-}
    [[ -n $kver ]] || kver=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 2>/dev/null |
        grep -o 'linux-headers-[^ ,]*' | head -n 1 | sed 's/^linux-headers-//') || true
    [[ -n $kver ]] || { echo "FAIL: linux-headers-amd64 is not installed (make deps)"; exit 1; }
    build=
    if [[ -z ${SVXLAT_KO:-} ]] && { [[ -n ${SVXLAT_KO_BUILD:-} || ! -f $KO ]] ||
        [[ $(modinfo -F vermagic "$KO" | awk '{print $1}') != "$kver" ]]; }; then
        build=$(mktemp -d /tmp/svxlat-offload-ko.XXXXXX)
        trap 'rm -rf "$build"' EXIT
        mkdir "$build/kmod"
        cp "$repo/kmod/Kbuild" "$repo/kmod/Makefile" "$build/kmod/"
        find "$repo/kmod" -maxdepth 1 -name '*.[ch]' ! -name '*.mod.c' -exec cp {} "$build/kmod/" \;
        cp -r "$repo/include" "$build/include"
        echo "t-offload: building svxlat.ko for $kver in $build"
        if ! make -s -C "$build/kmod" KDIR="/usr/src/linux-headers-$kver" >"$build/log" 2>&1; then
            cat "$build/log"
            echo "FAIL: svxlat.ko does not build for $kver"
            exit 1
        fi
        KO=$build/kmod/svxlat.ko
    fi
    rc=0
    "$here/vm-run" --timeout 300 --mod tun --ko "$KO" -- env SVXLAT_KO="$KO" "$0" "$@" || rc=$?
    exit "$rc"
fi

H=$here/sal_gso_inject.py
P=sxo$$
A=$P-a B=$P-b C=$P-c
TMP=$(mktemp -d)
fails=0
cleanup() {
    local n
    for n in "$A" "$B" "$C"; do ip netns del "$n" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

[[ -d /sys/module/svxlat ]] || insmod "$KO"
# tun for case 4: vm-run --mod tun, else from vm-run's kernel cache (the
# host's / is visible in the guest).
if [[ ! -e /dev/net/tun ]]; then
    modprobe -d "${SVXLAT_VM_CACHE:-/var/cache/svxlat-vm}/$(uname -r)/root" tun 2>/dev/null || true
fi

for n in "$A" "$B" "$C"; do
    ip netns add "$n"
    ip -n "$n" link set lo up
    ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
ip link add vethA netns "$A" type veth peer name vethB netns "$B"
ip link add vethB2 netns "$B" type veth peer name vethC netns "$C"
ip -n "$A" addr add 10.0.1.1/24 dev vethA
ip -n "$B" addr add 10.0.1.2/24 dev vethB
ip -n "$B" addr add 10.0.2.1/24 dev vethB2
ip -n "$C" addr add 10.0.2.2/24 dev vethC
for d in "$A vethA" "$B vethB" "$B vethB2" "$C vethC"; do
    set -- $d
    ip -n "$1" link set "$2" up
done
ip netns exec "$B" sysctl -qw net.ipv4.ip_forward=1
mac() { ip netns exec "$1" cat "/sys/class/net/$2/address"; }
MAC_B=$(mac "$B" vethB)
ip -n "$B" neigh replace 10.0.2.2 lladdr "$(mac "$C" vethC)" dev vethB2 nud permanent

# offload NS DEV on|off: TSO and GSO (tx-checksumming separately).
offload() { ip netns exec "$1" ethtool -K "$2" tso "$3" gso "$3" >/dev/null; }
txcsum() { ip netns exec "$1" ethtool -K "$2" tx "$3" >/dev/null; }
features() {
    ip netns exec "$1" ethtool -k "$2" |
        awk -v d="$2" '/^(tx-checksumming|tcp-segmentation-offload|generic-segmentation-offload):/ {
            sub(/-offload/, "", $1); s = s " " $1 $2 } END { print d ":" s }'
}

# recv LABEL NS ARGS...: a receiver in the background; its JSON line goes
# to $TMP/LABEL.json. Returns once it listens.
declare -a RPIDS=()
recv() {
    local label=$1 ns=$2
    shift 2
    helper_bg "$label" "$ns" recv "$@"
}
# helper_bg LABEL NS SUBCOMMAND ARGS...: any helper that writes --ready.
helper_bg() {
    local label=$1 ns=$2 cmd=$3
    shift 3
    rm -f "$TMP/$label.ready"
    ip netns exec "$ns" python3 "$H" "$cmd" --label "$label" --ready "$TMP/$label.ready" "$@" \
        >"$TMP/$label.json" 2>"$TMP/$label.err" &
    RPIDS+=($!)
    for _ in $(seq 100); do
        [[ -f $TMP/$label.ready ]] && return 0
        sleep 0.05
    done
    echo "FAIL: receiver $label did not start"
    sed 's/^/    /' "$TMP/$label.err"
    fails=$((fails + 1))
    return 0
}
# send ARGS...: inject the super-packet from A; a failed send() is a failure.
send() {
    ip netns exec "$A" python3 "$H" send --ifname vethA --dst-mac "$MAC_B" "$@" \
        >"$TMP/send.out" 2>&1 || { fails=$((fails + 1)); sed 's/^/  /' "$TMP/send.out"; }
}
# wait_recv WANT: WANT=0 the receivers must pass, 1 they must fail.
wait_recv() {
    local want=$1 pid rc
    for pid in "${RPIDS[@]}"; do
        rc=0
        wait "$pid" || rc=$?
        if [[ $want == 0 && $rc != 0 ]] || [[ $want == 1 && $rc != 1 ]]; then
            fails=$((fails + 1))
        fi
    done
    RPIDS=()
}
show() {
    local f
    for f in "$@"; do
        echo "  $f: $(cat "$TMP/$f.json" 2>/dev/null || echo '(no result)')"
        [[ -s $TMP/$f.err ]] && sed 's/^/    stderr: /' "$TMP/$f.err"
    done
    return 0
}

echo "t-offload: kernel $(uname -r), svxlat.ko $(sha256sum "$KO" | cut -c1-12)"

echo "case 0: no offload for protocol 144 (svxlat unloaded), vethA TSO/GSO off"
rmmod svxlat
offload "$A" vethA off
f0=$fails
recv neg "$B" --ifname vethB --expect segments --timeout 2
# veth has no qdisc: the GSO failure comes back to the sender as an error.
ip netns exec "$A" python3 "$H" send --ifname vethA --dst-mac "$MAC_B" >"$TMP/send.out" 2>&1 &&
    fails=$((fails + 1))
echo "  sender: $(cat "$TMP/send.out")"
wait_recv 1
show neg
grep -q '"no frame of the flow arrived"' "$TMP/neg.json" || fails=$((fails + 1))
((fails == f0)) && echo "  ok: dropped without the offload, the segment checks fail" ||
    echo "  FAIL: expected the checks to fail with nothing delivered"
insmod "$KO"
[[ -d /sys/module/svxlat ]] || { echo "FAIL: insmod $KO"; exit 1; }

echo "case 1: vethA TSO/GSO off, tx-checksumming on"
echo "  $(features "$A" vethA)"
recv seg-partial "$B" --ifname vethB --expect segments --csum partial
send
wait_recv 0
show seg-partial

echo "case 2: vethA TSO/GSO off, tx-checksumming off"
txcsum "$A" vethA off
echo "  $(features "$A" vethA)"
recv seg-full "$B" --ifname vethB --expect segments --csum full
send
wait_recv 0
show seg-full
txcsum "$A" vethA on

echo "case 3: vethA TSO/GSO on; B forwards out vethB2 with TSO/GSO off"
offload "$A" vethA on
offload "$B" vethB2 off
echo "  $(features "$A" vethA); $(features "$B" vethB2)"
recv super-in-b "$B" --ifname vethB --expect super --csum partial
recv fwd-in-c "$C" --ifname vethC --expect segments --csum partial
send
wait_recv 0
show super-in-b fwd-in-c

# tap_recv LABEL ARGS...: a receiver that creates tap0 in B (TSO and
# checksum offload on, like a TSO NIC or virtio_net's host side), routed.
tap_recv() {
    local label=$1
    shift
    recv "$label" "$B" --tap tap0 --dst 10.0.3.2 "$@"
    ip -n "$B" link set tap0 up
    ip -n "$B" addr add 10.0.3.1/24 dev tap0
    ip -n "$B" neigh replace 10.0.3.2 lladdr 02:00:00:00:03:02 dev tap0 nud permanent
}

echo "case 4: B forwards out a tap device with TSO on"
tap_recv tap --expect segments --csum partial
echo "  $(features "$B" tap0)"
send --dst 10.0.3.2
wait_recv 0
show tap
echo "  control: a plain TCP super-packet on the same path reaches the tap whole"
tap_recv tap-tcp --kind tcp --expect super
send --dst 10.0.3.2 --kind tcp
wait_recv 0
show tap-tcp

echo "case 5: SAL header with a CONTROL extension (SHL 8), gso_size 1428, vethA TSO/GSO off"
offload "$A" vethA off
recv seg-ext "$B" --ifname vethB --kind sal-ext --gso-size 1428 --expect segments
send --kind sal-ext --gso-size 1428
wait_recv 0
show seg-ext

echo "case 6: malformed super-packets are refused (vethA TSO on: checked all the same)"
offload "$A" vethA on
for k in bad-shl bad-proto bad-csum-start; do
    recv "$k" "$B" --ifname vethB --kind "$k" --expect none --timeout 1
    ip netns exec "$A" python3 "$H" send --ifname vethA --dst-mac "$MAC_B" --kind "$k" \
        >"$TMP/send.out" 2>&1 && fails=$((fails + 1))
    wait_recv 0
    show "$k"
    echo "    sender: $(cat "$TMP/send.out")"
done

echo "case 7: GRO (svxlat gro=1): segments from A merged in B (vethB GRO on), split again towards C"
rmmod svxlat
insmod "$KO" gro=1
offload "$A" vethA off
offload "$B" vethB2 off
ip netns exec "$B" ethtool -K vethB gro on
echo "  gro=$(cat /sys/module/svxlat/parameters/gro); $(features "$A" vethA); vethB gro: $(ip netns exec "$B" ethtool -k vethB | awk '/^generic-receive-offload:/ {print $2}')"
recv gro-in-b "$B" --ifname vethB --expect merged --csum partial
recv gro-fwd-in-c "$C" --ifname vethC --expect segments --csum partial
send
wait_recv 0
show gro-in-b gro-fwd-in-c
echo "  the same with vethA tx-checksumming off: GRO verifies each full TCP checksum first"
txcsum "$A" vethA off
recv gro-full-in-b "$B" --ifname vethB --expect merged
recv gro-full-fwd-in-c "$C" --ifname vethC --expect segments
send
wait_recv 0
show gro-full-in-b gro-full-fwd-in-c
txcsum "$A" vethA on
echo "  control: svxlat gro=0 (the default), same links: B sees the segments"
rmmod svxlat
insmod "$KO"
recv nogro-in-b "$B" --ifname vethB --expect segments --csum partial
send
wait_recv 0
show nogro-in-b

ip netns exec "$B" ethtool -K vethB gro off

echo "case 8: an NFQUEUE client (F_GSO) returns SAL super-packets in its verdicts"
# B queues the forwarded TCP super-packet; the client answers NF_ACCEPT with
# the packet rewritten to SAL (what the user-space engine would do), with a
# junk TCP checksum: nfqnl_mangle() leaves the skb CHECKSUM_NONE, so TCP's
# GSO must compute the checksums itself for the segments to verify in C.
ip netns exec "$B" nft -f - <<'NFT'
table ip sxo {
    chain to_queue {
        type filter hook forward priority 0; policy accept;
        ip protocol tcp ip daddr 10.0.2.2 queue num 7
    }
}
NFT
offload "$A" vethA on
offload "$B" vethB2 off
echo "  $(features "$B" vethB2)"
helper_bg nfq "$B" nfq-sal --queue 7 --expect-gso --junk-check
recv nfq-in-c "$C" --ifname vethC --expect segments
send --kind tcp
wait_recv 0
show nfq nfq-in-c
echo "  vethB2 TSO/GSO on: the verdict's skb is still GSO, gso_size unchanged"
offload "$B" vethB2 on
helper_bg nfq-tso "$B" nfq-sal --queue 7 --expect-gso --junk-check
recv nfq-tso-in-c "$C" --ifname vethC --expect super
send --kind tcp
wait_recv 0
show nfq-tso nfq-tso-in-c
echo "  control: the same without svxlat (vethB2 TSO/GSO off): dropped at B's egress"
offload "$B" vethB2 off
rmmod svxlat
helper_bg nfq-nomod "$B" nfq-sal --queue 7 --expect-gso
recv nfq-nomod-in-c "$C" --ifname vethC --expect none --timeout 2
send --kind tcp
wait_recv 0
show nfq-nomod nfq-nomod-in-c
insmod "$KO"

if dmesg | grep -E 'WARNING:|BUG:|Oops|bad offload|general protection'; then
    echo "FAIL: kernel warnings above"
    fails=$((fails + 1))
fi
if ((fails)); then
    echo "t-offload: FAIL ($fails)"
    exit 1
fi
echo "t-offload: PASS"
