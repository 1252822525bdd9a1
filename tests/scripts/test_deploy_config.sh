#!/usr/bin/env bash
# tests/scripts/test_deploy_config.sh -- the three-machine deployment files
# of deploy/config/ are what the programs accept:
#   - each deploy/config/hosts/broker-N.properties passes
#     `brookd --check-config` (every key known, every value in range) and
#     names broker N; the three differ only in broker.id and
#     advertised.listeners; the replication settings are the 3-broker ones;
#     an unknown key is refused (the check is real);
#   - deploy/config/zookeeper/zoo.cfg runs a real 3-node ensemble of
#     Debian's ZooKeeper 3.8: every line is kept except the host-specific
#     ones (dataDir, clientPort, server.N, rewritten to a temporary
#     directory and free loopback ports); a quorum forms (one leader, two
#     followers), `ruok` answers imok and `mntr` works (the 4lw whitelist),
#     a command outside the whitelist is refused;
#   - deploy/systemd/brookd@.service passes `systemd-analyze verify` where
#     systemd-analyze exists (skipped otherwise).
# Prints "BKTEST test_deploy_config passed=N failed=M" like the CUnit
# suites.  Uses $BK_BUILD (default build/) for brookd.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BK_BUILD:-$top/build}
brookd="$build/broker/brookd"
cfg="$top/deploy/config"
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

[ -x "$brookd" ] || {
    echo "  FAIL no $brookd (build first)"
    echo "BKTEST test_deploy_config passed=0 failed=1"
    exit 1
}

# ------------------------------- brokers -------------------------------
# value of key in a properties file (last one wins, as in brookd)
prop() { sed -n "s/^$2=//p" "$1" | tail -1; }

for i in 1 2 3; do
    f="$cfg/hosts/broker-$i.properties"
    out=$("$brookd" --check-config "$f" 2>&1)
    rc=$?
    if [ $rc -eq 0 ] && grep -q "configuration OK (broker.id=$i)" <<<"$out"; then
        ok "broker-$i.properties accepted by brookd --check-config"
    else
        echo "$out" | sed 's/^/    /'
        bad "broker-$i.properties rejected (exit $rc)"
    fi
    [ "$(prop "$f" advertised.listeners)" = "PLAINTEXT://brook$i:9092" ] &&
        ok "broker-$i advertises brook$i:9092" || bad "broker-$i advertised.listeners"
    want="default.replication.factor=3 min.insync.replicas=2
offsets.topic.replication.factor=3 unclean.leader.election.enable=false
controlled.shutdown.enable=true
zookeeper.connect=zk1:2181,zk2:2181,zk3:2181/brook log.dirs=/var/lib/brook/logs"
    miss=""
    for kv in $want; do
        [ "$(prop "$f" "${kv%%=*}")" = "${kv#*=}" ] || miss="$miss $kv"
    done
    [ -z "$miss" ] && ok "broker-$i has the 3-broker replication settings" ||
        bad "broker-$i: expected$miss"
done
# the files differ only where a host must
strip() { grep -v '^#' "$1" | grep -v '^$' | grep -v '^broker.id=' | grep -v '^advertised.listeners='; }
if diff <(strip "$cfg/hosts/broker-1.properties") <(strip "$cfg/hosts/broker-2.properties") >/dev/null &&
    diff <(strip "$cfg/hosts/broker-1.properties") <(strip "$cfg/hosts/broker-3.properties") >/dev/null; then
    ok "the three broker files differ only in broker.id and advertised.listeners"
else
    bad "the broker files differ in other keys"
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bk-deploycfg-XXXXXX")
{
    cat "$cfg/hosts/broker-1.properties"
    echo "log.retention.hourz=1"
} >"$tmp/typo.properties"
out=$("$brookd" --check-config "$tmp/typo.properties" 2>&1)
rc=$?
[ $rc -eq 2 ] && grep -q "unknown key 'log.retention.hourz'" <<<"$out" &&
    ok "--check-config refuses an unknown key (exit 2, key named)" ||
    bad "--check-config with a typo: exit $rc: $out"

# ------------------------------ ZooKeeper ------------------------------
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        port_free "$p" && {
            echo "$p"
            return
        }
    done
    echo 0
}
fourlw() { (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf '%s' "$2" >&3 && timeout 5 cat <&3) 2>/dev/null; }

declare -a cport qport eport pids
for n in 1 2 3; do
    cport[$n]=$(free_port)
    qport[$n]=$(free_port)
    eport[$n]=$(free_port)
done
cleanup() {
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done
}
trap cleanup EXIT
for n in 1 2 3; do
    d="$tmp/zk$n"
    mkdir -p "$d/data"
    echo "$n" >"$d/data/myid"
    # the deploy file, with only the host-specific lines rewritten
    sed -e "s#^dataDir=.*#dataDir=$d/data#" \
        -e "s#^clientPort=.*#clientPort=${cport[$n]}#" \
        -e "s#^server\.\([123]\)=zk[123]:2888:3888#server.\1=@\1@#" \
        "$cfg/zookeeper/zoo.cfg" >"$d/zoo.cfg"
    for k in 1 2 3; do
        sed -i "s#@$k@#127.0.0.1:${qport[$k]}:${eport[$k]}#" "$d/zoo.cfg"
    done
    (cd "$d" && exec java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dzookeeper.log.dir=. -cp /etc/zookeeper/conf_example:/usr/share/java/zookeeper.jar \
        org.apache.zookeeper.server.quorum.QuorumPeerMain zoo.cfg >zk.log 2>&1) &
    pids[$n]=$!
    disown "${pids[$n]}" # no "Killed" notice from bash at the end
done
diff <(grep -v '^#' "$cfg/zookeeper/zoo.cfg" | grep -v '^$' | grep -v '^dataDir=\|^clientPort=\|^server\.') \
    <(grep -v '^#' "$tmp/zk1/zoo.cfg" | grep -v '^$' | grep -v '^dataDir=\|^clientPort=\|^server\.') >/dev/null &&
    ok "the test's zoo.cfg keeps every other line of deploy/config/zookeeper/zoo.cfg" ||
    bad "zoo.cfg rewrite"
modes=""
t0=$(date +%s)
while [ $(($(date +%s) - t0)) -lt 60 ]; do
    modes=""
    for n in 1 2 3; do
        m=$(fourlw "${cport[$n]}" srvr | sed -n 's/^Mode: //p')
        modes="$modes ${m:-none}"
    done
    [ "$(tr ' ' '\n' <<<"$modes" | grep -c '^leader$')" -eq 1 ] &&
        [ "$(tr ' ' '\n' <<<"$modes" | grep -c '^follower$')" -eq 2 ] && break
    sleep 0.5
done
echo "    ZooKeeper client ports ${cport[*]}, modes:$modes after $(($(date +%s) - t0)) s"
[ "$(tr ' ' '\n' <<<"$modes" | grep -c '^leader$')" -eq 1 ] &&
    [ "$(tr ' ' '\n' <<<"$modes" | grep -c '^follower$')" -eq 2 ] &&
    ok "the ensemble forms: one leader, two followers" || {
    tail -5 "$tmp"/zk*/zk.log | sed 's/^/    /'
    bad "no quorum from deploy/config/zookeeper/zoo.cfg"
}
[ "$(fourlw "${cport[2]}" ruok)" = "imok" ] && ok "ruok answers imok (whitelisted)" || bad "ruok"
out=$(fourlw "${cport[3]}" mntr)
grep -q '^zk_server_state' <<<"$out" && ok "mntr answers (whitelisted)" || bad "mntr"
out=$(fourlw "${cport[1]}" dump)
grep -q "not in the whitelist" <<<"$out" &&
    ok "dump is refused (not in the whitelist)" || bad "dump was not refused"
cleanup
trap - EXIT

# ------------------------------- systemd -------------------------------
unit="$top/deploy/systemd/brookd@.service"
if command -v systemd-analyze >/dev/null 2>&1; then
    # verify wants an instance name and the binary it starts; errors about
    # the missing /usr/bin/brookd on a build machine are not the unit's
    mkdir -p "$tmp/unit"
    cp "$unit" "$tmp/unit/brookd@.service"
    out=$(cd "$tmp/unit" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify ./brookd@.service 2>&1 |
        grep -v "/usr/bin/brookd" | grep -v "Failed to prepare filename" |
        grep -iv "zookeeper.service" | grep -i "brookd@")
    [ -z "$out" ] && ok "systemd-analyze verify finds nothing wrong with brookd@.service" || {
        echo "$out" | sed 's/^/    /'
        bad "systemd-analyze verify brookd@.service"
    }
else
    echo "  skip systemd-analyze not installed"
fi

if [ "$failed" -eq 0 ]; then
    rm -rf "$tmp"
else
    echo "  files kept in $tmp"
fi
echo "BKTEST test_deploy_config passed=$passed failed=$failed"
[ "$failed" -eq 0 ]
