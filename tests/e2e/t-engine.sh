#!/usr/bin/env bash
# m) [engine] engine: which packet engine the translator and the host agent
# run on, and why (svxlat status). Without svxlat.ko: engine = auto falls
# back to NFQUEUE and says the module is not loaded, engine = nfqueue never
# looks further, engine = kernel refuses to start naming the setting; a
# router-only daemon likewise. With the module loaded (the VM): auto and
# kernel run the translator in the kernel with no steering rule of its own,
# and the router in the kernel with its steering kept (registrations go to
# the daemon). Only the translator and router daemons run.
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init engine 60 "$@"
topo_up || e2e_fail "cannot create the namespaces"
topo_offloads "$E2E_OFFLOADS"
topo_configs

loaded=0
[[ -d /sys/module/svxlat ]] && loaded=1
e2e_log "   svxlat.ko loaded: $loaded"

status_field() {
    topo_svxlat "$1" status --json |
        "$TOPO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}
set_engine() {
    local conf=$TOPO_DIR/$1.conf
    if grep -q '^engine = ' "$conf"; then
        sed -i "s/^engine = .*/engine = $2/" "$conf"
    else
        sed -i "s/^\[engine\]\$/[engine]\nengine = $2/" "$conf"
    fi
    grep -q "^engine = $2\$" "$conf" || e2e_fail "cannot set engine = $2 in $conf"
}

# run_daemon NS ENGINE EXPECTED_ENGINE EXPECTED_REASON EXPECTED_STEERING
run_daemon() {
    local n=$1 engine reason steering
    set_engine "$n" "$2"
    topo_start_daemon "$n" "$TOPO_DIR/$n.conf" || e2e_fail "$n did not start with engine = $2"
    engine=$(status_field "$n" engine) || e2e_fail "$n: no status"
    reason=$(status_field "$n" engine_reason)
    steering=$(status_field "$n" steering)
    e2e_log "   $n, engine = $2: runs $engine ($reason), steering $steering"
    [[ $engine == "$3" ]] || e2e_fail "$n with engine = $2 runs '$engine', expected '$3'"
    [[ $reason == *"$4"* ]] || e2e_fail "$n: reason '$reason' does not say '$4'"
    case $5 in
    none) [[ $steering == none ]] || e2e_fail "$n steers ($steering) with nothing to steer" ;;
    some) [[ $steering != none ]] || e2e_fail "$n installed no steering" ;;
    esac
    grep -q "engine: $3 (" "$TOPO_DIR/$n.log" || e2e_fail "$n did not log its engine"
    topo_kill "${TOPO_DAEMON[$n]}"
}

if ((loaded)); then
    e2e_step "translator, engine = auto: the kernel engine, no steering"
    run_daemon xlt auto kernel "svxlat.ko is loaded" none
    e2e_step "translator, engine = kernel"
    run_daemon xlt kernel kernel "engine = kernel" none
else
    e2e_step "translator, engine = auto: falls back to NFQUEUE"
    run_daemon xlt auto nfqueue "svxlat.ko is not loaded" some
    e2e_step "translator, engine = kernel: refuses to start, naming the setting"
    set_engine xlt kernel
    out=$(in_ns xlt timeout 10 "$SVXLATD" -c "$TOPO_DIR/xlt.conf" 2>&1)
    rc=$?
    e2e_log "   exit $rc: $(grep 'cannot start' <<<"$out")"
    ((rc == 1)) || e2e_fail "svxlatd with engine = kernel exited $rc, expected 1"
    [[ $out == *"[engine] engine = kernel: svxlat.ko is not loaded"* ]] ||
        e2e_fail "the refusal does not name the setting and the module: $out"
    [[ ! -S $TOPO_DIR/run/xlt.sock ]] || e2e_fail "a control socket was left behind"
fi
e2e_step "translator, engine = nfqueue"
run_daemon xlt nfqueue nfqueue "engine = nfqueue" some
e2e_step "router only, engine = nfqueue"
run_daemon sr nfqueue nfqueue "engine = nfqueue" some
if ((loaded)); then
    # The module forwards the SYNs; registrations still reach the queue.
    e2e_step "router only, engine = kernel: the kernel engine, router steering kept"
    run_daemon sr kernel kernel "engine = kernel" some
else
    e2e_step "router only, engine = auto: falls back to NFQUEUE"
    run_daemon sr auto nfqueue "svxlat.ko is not loaded" some
fi
e2e_pass
