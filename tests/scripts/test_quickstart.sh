#!/usr/bin/env bash
# tests/scripts/test_quickstart.sh -- deploy/quickstart end to end, on free
# ports and a temporary state directory (so that it never touches ./run/ or
# a quickstart cluster the user has running): start, run again (must be
# harmless and produce another 1000 records), status, stop, start again on
# the same data (brokers recover their logs), stop.
# Prints "BKTEST test_quickstart passed=N failed=M" like the CUnit suites.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
passed=0
failed=0
ok() {
    passed=$((passed + 1))
    echo "  ok   $*"
}
bad() {
    failed=$((failed + 1))
    echo "  FAIL $*"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# a base port p such that p, p+1, p+2 are free
pick() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        if port_free "$p" && port_free $((p + 1)) && port_free $((p + 2)); then
            echo "$p"
            return
        fi
    done
    echo 0
}

export BROOK_ZK_PORT=$(pick) BROOK_ZK_QUORUM_PORT=$(pick)
export BROOK_ZK_ELECTION_PORT=$(pick) BROOK_BROKER_PORT=$(pick)
export BROOK_METRICS_PORT=$(pick)
export BROOK_RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/bk-quickstart-XXXXXX")
qs="$top/deploy/quickstart"
trap '"$qs" stop >/dev/null 2>&1' EXIT

out=$("$qs" 2>&1)
rc=$?
echo "$out" | sed 's/^/    /'
[ $rc -eq 0 ] && ok "first start exits 0" || bad "first start exited $rc"
grep -q "consumed 1000 records from page_views (the 1000 just produced included: 1000)" <<<"$out" &&
    ok "1000 records produced and consumed" || bad "first round trip"
grep -q "^Status: healthy\|^Status: under-replicated" <<<"$out" &&
    ok "cluster status runs and finds nothing offline" || bad "cluster status"
grep -q "metric samples on http://127.0.0.1:$BROOK_METRICS_PORT/metrics" <<<"$out" &&
    ok "broker 1 serves metrics" || bad "metrics"

out=$("$qs" 2>&1)
rc=$?
[ $rc -eq 0 ] && ok "second start exits 0" || bad "second start exited $rc"
grep -q "topic page_views exists" <<<"$out" && ok "second start keeps the topic" || bad "second start: topic"
grep -q "consumed 2000 records from page_views (the 1000 just produced included: 1000)" <<<"$out" &&
    ok "second round trip adds 1000 records" || bad "second round trip"

st=$("$qs" status)
[ "$(grep -c 'pid' <<<"$st")" -eq 6 ] && ok "status shows 3 zookeeper + 3 brokers" || bad "status: $st"

"$qs" stop >/dev/null 2>&1
st=$("$qs" status)
[ "$(grep -c 'stopped' <<<"$st")" -eq 6 ] && ok "stop stops all six" || bad "after stop: $st"

out=$("$qs" 2>&1)
rc=$?
[ $rc -eq 0 ] && grep -q "consumed 3000 records from page_views" <<<"$out" &&
    ok "restart on the same data keeps all 3000 records" || {
    echo "$out" | sed 's/^/    /'
    bad "restart on the same data"
}
"$qs" stop >/dev/null 2>&1
trap - EXIT
if [ "$failed" -eq 0 ]; then
    rm -rf "$BROOK_RUN_DIR"
else
    echo "  state kept in $BROOK_RUN_DIR"
fi
echo "BKTEST test_quickstart passed=$passed failed=$failed"
[ "$failed" -eq 0 ]
