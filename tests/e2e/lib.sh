# shellcheck shell=bash
# The frame of every end-to-end test (tests/e2e/t-*.sh):
#
#   source "$(dirname "$0")/lib.sh"
#   e2e_init NAME LIMIT_SECONDS "$@"     # $1 of the test: on|off (offloads)
#   topo_start_all "$E2E_OFFLOADS"
#   ... e2e_step / e2e_run / e2e_fail ...
#   e2e_pass
#
# e2e_init skips (exit 77, with the reason) when not root or when network
# namespaces are unavailable, fails when a binary or a tool is missing, and
# runs the test under `timeout LIMIT`: on expiry the test gets SIGTERM and
# still tears its topology down. Each test builds its own topology with a
# unique prefix (sxe<PID>) and removes it on exit, whatever the outcome;
# every process it starts is killed by PID. The last line is always
# "PASS: NAME [offloads X] ..." or "FAIL: NAME [offloads X]: reason".
#
# Environment:
#   SVXLATD, SVXLAT      the binaries (default: $E2E_BUILD_DIR/userspace/...)
#   E2E_BUILD_DIR        build tree (default: <repo>/build)
#   E2E_KEEP=1           keep $TOPO_DIR (configs, logs) after the test
#   E2E_VERBOSE=1        print daemon logs and counters even on success

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_REPO=$(cd "$E2E_DIR/../.." && pwd)
E2E_SKIP=77

e2e_log() { printf '%s\n' "$*"; }
e2e_step() { printf -- '-- %s\n' "$*"; }

# e2e_init NAME LIMIT [on|off]
e2e_init() {
    E2E_NAME=$1
    # E2E_TIME_SCALE stretches every test's limit (a software-emulated VM
    # runs the same steps several times slower).
    E2E_LIMIT=$(($2 * ${E2E_TIME_SCALE:-1}))
    E2E_OFFLOADS=${3:-on}
    case $E2E_OFFLOADS in
    on | off) ;;
    *) echo "FAIL: $E2E_NAME: offload mode must be 'on' or 'off', not '$E2E_OFFLOADS'"; exit 2 ;;
    esac
    E2E_LABEL="$E2E_NAME [offloads $E2E_OFFLOADS]"
    if ((EUID != 0)); then
        echo "SKIP: $E2E_LABEL: needs root (network namespaces, netfilter queues)"
        exit $E2E_SKIP
    fi
    if ! command -v ip >/dev/null || ! ip netns list >/dev/null 2>&1; then
        echo "SKIP: $E2E_LABEL: 'ip netns' is not available (iproute2 missing or no netns support)"
        exit $E2E_SKIP
    fi
    # Under a time limit: re-run this script under timeout(1), which sends
    # SIGTERM to the script (and its process group) at the limit.
    if [[ -z ${E2E_UNDER_TIMEOUT:-} ]]; then
        E2E_UNDER_TIMEOUT=1 exec timeout -k 15 "$E2E_LIMIT" "$0" "${@:3}"
    fi
    local probe="sxeprobe$$"
    if ! ip netns add "$probe" 2>/dev/null; then
        echo "SKIP: $E2E_LABEL: cannot create a network namespace (ip netns add failed)"
        exit $E2E_SKIP
    fi
    ip netns del "$probe" 2>/dev/null
    local build=${E2E_BUILD_DIR:-$E2E_REPO/build}
    SVXLATD=${SVXLATD:-$build/userspace/daemon/svxlatd}
    SVXLAT=${SVXLAT:-$build/userspace/cli/svxlat}
    export SVXLATD SVXLAT
    local f t
    for f in "$SVXLATD" "$SVXLAT"; do
        [[ -x $f ]] || { echo "FAIL: $E2E_LABEL: $f is not built (make, or set SVXLATD/SVXLAT)"; exit 1; }
    done
    for t in curl ethtool timeout iptables-restore "${E2E_TOOLS[@]}"; do
        command -v "$t" >/dev/null ||
            { echo "FAIL: $E2E_LABEL: '$t' is not installed (make deps)"; exit 1; }
    done
    e2e_cleanup_stale
    TOPO=sxe$$
    TOPO_DIR=$(mktemp -d "/tmp/svxlat-e2e.$E2E_NAME.XXXXXX")
    # shellcheck source=tests/e2e/topology.sh
    source "$E2E_DIR/topology.sh"
    [[ -n $TOPO_PYTHON ]] || { echo "FAIL: $E2E_LABEL: python3 is not installed (make deps)"; exit 1; }
    E2E_START=$SECONDS
    E2E_RESULT=
    trap e2e_exit EXIT
    trap 'e2e_fail "timed out after ${E2E_LIMIT}s (or interrupted)"' TERM INT
    e2e_log "== $E2E_LABEL: topology $TOPO, files in $TOPO_DIR"
}

# A running process (a zombie is not: PID 1 of a container may never reap).
e2e_pid_alive() {
    local state
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [[ -n $state && $state != Z ]]
}

# Topologies of earlier runs that were killed (their sxe<PID> is gone):
# stop their processes (by PID, from the namespace) and delete them.
e2e_cleanup_stale() {
    local n pid owner
    for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^sxe[0-9]+-(cli|xlt|sr|i1|i2|lan)$'); do
        owner=${n#sxe}; owner=${owner%%-*}
        e2e_pid_alive "$owner" && continue
        for pid in $(ip netns pids "$n" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null || true
        done
        ip netns del "$n" 2>/dev/null || true
    done
}

e2e_fail() {
    E2E_RESULT="FAIL: $E2E_LABEL: ${E2E_SOFT_FAILURES:+$E2E_SOFT_FAILURES; }$*"
    exit 1
}

# e2e_soft_fail REASON: records a failure and goes on (the test fails at
# e2e_pass); for tests whose later parts are still worth running.
E2E_SOFT_FAILURES=
e2e_soft_fail() {
    e2e_log "   FAILED: $*"
    E2E_SOFT_FAILURES+="${E2E_SOFT_FAILURES:+; }$*"
}

# e2e_known_bug VARIABLE "what": a failure of this test is a known engine
# bug (tests/e2e/FINDINGS.md). Only when VARIABLE=1 in the environment is
# such a failure reported as XFAIL (exit 0); by default the test runs and
# fails until the bug is fixed.
e2e_known_bug() {
    E2E_KNOWN_BUG_VAR=$1
    E2E_KNOWN_BUG_TEXT=$2
}

# shellcheck disable=SC2120 # an optional summary
e2e_pass() {
    # E2E_EXPECT_STEERING=nft|iptables: every daemon must have steered with it
    # (the VM test of the nft backend sets it).
    if [[ -n ${E2E_EXPECT_STEERING:-} ]]; then
        local n steering
        for n in xlt sr i1 i2; do
            [[ -S $TOPO_DIR/run/$n.sock ]] || continue
            steering=$(topo_svxlat "$n" status --json |
                "$TOPO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["steering"])')
            [[ $steering == "$E2E_EXPECT_STEERING" ]] ||
                e2e_fail "$n steered with '$steering', expected '$E2E_EXPECT_STEERING'"
            e2e_log "   $n steering: $steering"
        done
    fi
    # E2E_EXPECT_ENGINE=kernel|nfqueue: the translator, the service router
    # and the host agents must have run on it (the VM tests of the kernel
    # module set it).
    if [[ -n ${E2E_EXPECT_ENGINE:-} ]]; then
        local n engine
        for n in xlt sr i1 i2; do
            [[ -S $TOPO_DIR/run/$n.sock ]] || continue
            # A daemon the test stopped (failover) has nothing to say.
            engine=$(topo_svxlat "$n" status --json 2>/dev/null |
                "$TOPO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["engine"])' 2>/dev/null) ||
                continue
            [[ $engine == "$E2E_EXPECT_ENGINE" ]] ||
                e2e_fail "$n ran the '$engine' engine, expected '$E2E_EXPECT_ENGINE'"
            e2e_log "   $n engine: $engine"
        done
    fi
    if [[ -n $E2E_SOFT_FAILURES ]]; then
        local failures=$E2E_SOFT_FAILURES
        E2E_SOFT_FAILURES=
        e2e_fail "$failures"
    fi
    E2E_RESULT="PASS: $E2E_LABEL ($((SECONDS - E2E_START)) s)${1:+: $*}"
    exit 0
}

# e2e_run DESCRIPTION CMD...: runs CMD (which must bound itself); fails the
# test with DESCRIPTION and CMD's output when it fails.
e2e_run() {
    local what=$1; shift
    local out rc
    out=$("$@" 2>&1)
    rc=$?
    [[ -n $out ]] && printf '%s\n' "$out" | sed 's/^/   /'
    ((rc == 0)) || e2e_fail "$what (exit $rc)"
}

# e2e_wait SECONDS CMD...: polls CMD every 0.1 s until it succeeds; 1 on expiry.
e2e_wait() {
    local deadline
    deadline=$(($(date +%s%N) / 1000000 + ${1%.*} * 1000))
    shift
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        (($(date +%s%N) / 1000000 >= deadline)) && return 1
        sleep 0.1
    done
}

# In the client namespace, bounded.
e2e_cli() { timeout "${E2E_CMD_LIMIT:-60}" ip netns exec "$(ns cli)" "$@"; }

# e2e_fetch_page LIMIT WHAT [URL]: curl URL (default http://$TOPO_PUBLIC/) from
# the client (LIMIT seconds); fails the test, naming WHAT, unless an
# instance's page came back. The page is left in E2E_PAGE.
e2e_fetch_page() {
    E2E_PAGE=$(e2e_cli curl -sS -m "$1" "${3:-http://$TOPO_PUBLIC/}") || e2e_fail "curl failed ($2)"
    [[ $E2E_PAGE =~ ^instance\ i[12]$ ]] || e2e_fail "unexpected page '$E2E_PAGE' ($2)"
}
e2e_py() { e2e_cli "$TOPO_PYTHON" "$E2E_DIR/svxe2e.py" "$@"; }

# e2e_flows NAME: the daemon's flows as JSON (one line).
e2e_flows() { topo_svxlat "$1" flows --json; }

# e2e_flows_empty NAME...: true when every named daemon has no flow.
e2e_flows_empty() {
    local n out
    for n in "$@"; do
        out=$(e2e_flows "$n") || return 1
        [[ $(tr -d ' \n' <<<"$out") == "[]" ]] || return 1
    done
}

# e2e_flow_count NAME: number of flows of a daemon.
e2e_flow_count() {
    e2e_flows "$1" | "$TOPO_PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)))'
}

# e2e_counter NAME GROUP COUNTER: one counter's value.
e2e_counter() {
    topo_svxlat "$1" counters --json | "$TOPO_PYTHON" -c '
import json, sys
for r in json.load(sys.stdin):
    if r["group"] == sys.argv[1] and r["name"] == sys.argv[2]:
        print(r["value"]); break
else:
    print(0)' "$2" "$3"
}

# Diagnostics for a failed test: daemon logs, non-zero counters, flows.
e2e_diag() {
    local n
    e2e_log "---- diagnostics ($TOPO_DIR)"
    topo_offloads_show 2>/dev/null | sed 's/^/   /'
    for n in xlt sr i1 i2; do
        [[ -S $TOPO_DIR/run/$n.sock ]] || continue
        e2e_log "---- $n: status, non-zero counters, flows (first 20)"
        topo_svxlat "$n" status 2>&1 | sed 's/^/   /'
        topo_svxlat "$n" counters 2>&1 | awk '$3 != 0' | sed 's/^/   /'
        topo_svxlat "$n" flows 2>&1 | head -21 | sed 's/^/   /'
        [[ $n == sr ]] && topo_svxlat sr services 2>&1 | sed 's/^/   /'
    done
    for n in "$TOPO_DIR"/*.log; do
        [[ -s $n ]] || continue
        e2e_log "---- $(basename "$n") (last 15 lines)"
        tail -n 15 "$n" | sed 's/^/   /'
    done
}

e2e_exit() {
    local rc=$?
    trap - EXIT TERM INT
    [[ -z $E2E_RESULT ]] && E2E_RESULT="FAIL: $E2E_LABEL: exited with status $rc"
    [[ $E2E_RESULT == PASS* ]] || rc=1
    if ((rc != 0)) && [[ -n ${E2E_KNOWN_BUG_VAR:-} && ${!E2E_KNOWN_BUG_VAR:-} == 1 ]]; then
        E2E_RESULT="XFAIL (${E2E_KNOWN_BUG_VAR}=1: known bug, $E2E_KNOWN_BUG_TEXT): ${E2E_RESULT#FAIL: }"
        E2E_XFAIL=1
    fi
    if ((rc != 0)) || [[ -n ${E2E_VERBOSE:-} ]]; then
        e2e_diag
    fi
    topo_down
    if [[ -n ${E2E_KEEP:-} ]]; then
        e2e_log "(kept $TOPO_DIR)"
    else
        rm -rf "$TOPO_DIR"
    fi
    e2e_log "$E2E_RESULT"
    [[ -n ${E2E_XFAIL:-} ]] && rc=0
    exit "$rc"
}
