#!/usr/bin/env bash
# rmmod under traffic: with the translator and both host agents on the
# kernel engine and transfers running through it, svxlat.ko is unloaded.
# The kernel must not oops or warn, the flow cache must be empty when it is
# destroyed (the kernel names a leaking cache: "Objects remaining"), the
# daemons must survive the loss of their engine, and after the module is
# loaded again and the daemons restarted, new connections work. Runs itself
# in the test VM (vm-run) with the module loaded.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=tests/kmod/lib.sh
source "$here/lib.sh"
kmod_need_root "kernel module unload test"
: "${SVXLATD:?set SVXLATD to the svxlatd binary}"
: "${SVXLAT:?set SVXLAT to the svxlat binary}"
kmod_in_vm --ko "$KMOD_KO" --mem 2048 --timeout 600 -- "$@"
export TOPO_ENGINE=kernel E2E_TIME_SCALE=${E2E_TIME_SCALE:-4}
ko=$KMOD_KO
# shellcheck source=tests/e2e/lib.sh
source "$repo/tests/e2e/lib.sh"
e2e_init unload 60 "${1:-on}"
topo_start_all "$E2E_OFFLOADS" || e2e_fail "topology did not come up"
e2e_run "curl before the unload" e2e_cli curl -sS -m 10 -o /dev/null "http://$TOPO_PUBLIC/"

e2e_step "8 paced downloads and an upload through the kernel engine"
pids=()
for i in 1 2 3 4 5 6 7 8; do
    TOPO_BG_LOG=$TOPO_DIR/dl$i.out topo_bg cli "$TOPO_PYTHON" "$E2E_DIR/svxe2e.py" \
        download --size 64M --mbps 20 --seed "$i"
    pids+=("$TOPO_LAST_PID")
done
TOPO_BG_LOG=$TOPO_DIR/up.out topo_bg cli "$TOPO_PYTHON" "$E2E_DIR/svxe2e.py" upload --size 512M --seed 3
pids+=("$TOPO_LAST_PID")
has_flows() { (($(e2e_flow_count xlt) >= 5)); }
e2e_wait 20 has_flows || e2e_fail "the transfers did not start"
e2e_log "   flows on the translator: $(e2e_flow_count xlt), on i1+i2: $(($(e2e_flow_count i1) + $(e2e_flow_count i2)))"

e2e_step "rmmod svxlat while they run"
for _ in $(seq 1 50); do
    rmmod svxlat 2>/dev/null && break
    sleep 0.1
done
[[ ! -d /sys/module/svxlat ]] || e2e_fail "rmmod svxlat did not succeed"
sleep 1
for n in xlt i1 i2 sr; do
    kill -0 "${TOPO_DAEMON[$n]}" 2>/dev/null || e2e_fail "svxlatd in $n died with its engine"
done
topo_svxlat xlt status | sed -n '1,4s/^/   /p' || true
for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
done
if dmesg | grep -E "BUG|WARNING|Oops|general protection|Objects remaining|leak"; then
    e2e_fail "the kernel log shows a problem after rmmod"
fi
e2e_log "   unloaded under traffic; kernel log clean"

e2e_step "insmod again, daemons restarted: new connections work"
insmod "$ko"
for n in xlt i1 i2; do
    topo_kill "${TOPO_DAEMON[$n]}" 2>/dev/null || kill -TERM "${TOPO_DAEMON[$n]}" 2>/dev/null || true
done
sleep 1
topo_start_daemon i1 "$TOPO_DIR/i1.conf" || e2e_fail "i1 did not restart"
topo_start_daemon i2 "$TOPO_DIR/i2.conf" || e2e_fail "i2 did not restart"
topo_start_daemon xlt "$TOPO_DIR/xlt.conf" || e2e_fail "xlt did not restart"
topo_wait_registered "$TOPO_SERVICE" 2 10 || e2e_fail "instances did not register again"
ok=0
for _ in $(seq 1 20); do
    e2e_cli curl -sS -m 5 -o /dev/null "http://$TOPO_PUBLIC/" 2>/dev/null && { ok=1; break; }
    sleep 0.5
done
((ok)) || e2e_fail "no connection after the module came back"
engine=$(topo_svxlat xlt status --json | "$TOPO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["engine"])')
[[ $engine == kernel ]] || e2e_fail "translator back on '$engine', expected kernel"
e2e_pass "unloaded under traffic, reloaded, kernel engine again"
