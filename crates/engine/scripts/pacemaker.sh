#!/usr/bin/env bash
# Unmodified Pacemaker 2.1.5 on NODES cluster engines (ferrosyncd, or corosync with
# ENGINE=corosync) in network namespaces: a DC is elected, `crm_mon -1` shows every node
# online, an ocf:pacemaker:Dummy starts, and (NODES ≥ 2) after kill -9 of every process of
# its node the Dummy runs elsewhere; the failover time is printed.
#
#   sudo bash crates/engine/scripts/pacemaker.sh                # 3 ferrosyncd nodes
#   NODES=1 bash ...; ENGINE=corosync bash ...; TOKEN=1000 (default) bash ...
#   FENCING=1 bash ...   # stonith-enabled with ferrosync's test fence agent (fence_ferrosync_test,
#                        # overlaid on /usr/sbin inside each node's mount namespace)
#   bash crates/engine/scripts/pacemaker.sh clean               # remove leftover namespaces
#
# Each node is a network + mount + UTS namespace (hostname nX) with tmpfs over /dev/shm,
# /var/lib/pacemaker, /var/log/pacemaker and /run, so nothing on the host is touched.
# Namespaces fpm-br, fpm1..fpmN (NSPREFIX), subnet 10.204.0.0/24 (SUBNET). Everything started is stopped by
# process group on exit. Exit 0 = every check passed.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
NODES=${NODES:-3}
# Namespace prefix and subnet (two runs at once need different ones).
P=${NSPREFIX:-fpm}
SUBNET=${SUBNET:-10.204.0}
ENGINE=${ENGINE:-ferrosyncd}
FENCING=${FENCING:-0}
FENCE_AGENT=$HERE/../../fencer/agents/fence_ferrosync_test
TOKEN=${TOKEN:-1000}
FERROSYNCD=${FERROSYNCD:-$HERE/../../../target/release/ferrosyncd}
if [ "${1:-}" = clean ]; then VERBOSE=1 ns_delete "$P" "$NODES"; exit 0; fi
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (namespaces)"; exit 1; }
command -v pacemakerd > /dev/null || { echo "FAIL: pacemaker not installed"; exit 1; }
id hacluster > /dev/null 2>&1 || { echo "FAIL: no hacluster user (pacemaker package)"; exit 1; }
case $ENGINE in
  ferrosyncd) [ -x "$FERROSYNCD" ] || { echo "FAIL: $FERROSYNCD not built"; exit 1; } ;;
  corosync) command -v corosync > /dev/null || { echo "FAIL: corosync not installed"; exit 1; } ;;
  *) echo "ENGINE is ferrosyncd or corosync"; exit 1 ;;
esac
ns_refuse_existing "$P" "$NODES"

W=$(mktemp -d /tmp/ferrosync-pcmk.XXXXXX)
declare -A PGID
cleanup() {
  for g in "${PGID[@]}"; do kill -KILL -- "-$g" 2>/dev/null; done
  sleep 0.5
  ns_delete "$P" "$NODES"
  [ -n "${KEEP:-}" ] && echo "kept $W" || rm -rf "$W"
}
trap cleanup EXIT
t0=$(date +%s.%N)
log() { printf '[%7.2fs] %s\n' "$(echo "$(date +%s.%N) - $t0" | bc)" "$*"; }
FAIL=0
check() { if "$@"; then log "OK: $DESC"; else log "FAIL: $DESC"; FAIL=1; fi; }

ns_create "$P" "$SUBNET" "$NODES"
for i in $(seq 1 "$NODES"); do write_conf "$W/n$i/corosync.conf" pcmk "$SUBNET" "$NODES" "$TOKEN" "$W/n$i"; done

# start_node I: the engine, then pacemakerd, in node I's own mount and UTS namespace.
start_node() {
  local i=$1 d=$W/n$1 engine_cmd
  if [ "$ENGINE" = ferrosyncd ]; then
    engine_cmd="$FERROSYNCD -f -c $d/corosync.conf -p $d/run/ferrosyncd.pid"
  else
    engine_cmd="corosync -f -c $d/corosync.conf"
  fi
  mkdir -p "$d/pcmk-lib" "$d/pcmk-log" "$d/sbin"
  cp "$FENCE_AGENT" "$d/sbin/"
  setsid ip netns exec "$P$i" unshare -m -u --propagation private bash -c "
    hostname n$i
    [ $FENCING = 1 ] && mount -t overlay overlay -o lowerdir=$d/sbin:/usr/sbin /usr/sbin
    mount -t tmpfs tmpfs /dev/shm
    mount -t tmpfs tmpfs /run; mkdir -p /run/crm /run/corosync; chown hacluster:haclient /run/crm
    mount --bind $d/pcmk-lib /var/lib/pacemaker
    mkdir -p /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox /var/lib/pacemaker/cores
    chown -R hacluster:haclient /var/lib/pacemaker; chmod 750 /var/lib/pacemaker/*
    mount --bind $d/pcmk-log /var/log/pacemaker; chown hacluster:haclient /var/log/pacemaker
    $engine_cmd >> $d/engine.out 2>&1 &
    echo \$! > $d/engine.pid
    for k in \$(seq 1 50); do corosync-cmapctl -g totem.cluster_name > /dev/null 2>&1 && break; sleep 0.1; done
    PCMK_logfile=/var/log/pacemaker/pacemaker.log exec pacemakerd -f
  " > "$d/pacemakerd.out" 2>&1 < /dev/null &
  PGID[$i]=$!
}
# in_node I CMD...: runs CMD inside node I's namespaces (via its pacemakerd).
in_node() {
  local i=$1; shift
  local p; p=$(pgrep -g "${PGID[$i]}" -x pacemakerd | head -1)
  [ -n "$p" ] || return 1
  nsenter -t "$p" -m -u -n "$@"
}
online_all() {
  local out; out=$(in_node "$1" crm_mon -1 2>/dev/null) || return 1
  local want="Online: [ $(seq -s ' ' -f 'n%g' 1 "$NODES") ]"
  echo "$out" | grep -q "Current DC: n" && echo "$out" | grep -qF "$want"
}
dummy_node() { in_node "$1" crm_resource --locate -r dummy 2>/dev/null | grep -o 'running on: n[0-9]*' | awk '{print $3}'; }

log "engine: $ENGINE, $NODES node(s), token $TOKEN ms"
for i in $(seq 1 "$NODES"); do start_node "$i"; done
DESC="a DC is elected and crm_mon -1 shows every node online"; check wait_for 120 online_all 1
in_node 1 crm_mon -1 2>&1 | grep -E 'Current DC|Online|partition' | while read -r l; do log "  $l"; done
if [ "$FENCING" = 1 ]; then
  mkdir -p "$W/fence"; for i in $(seq 1 "$NODES"); do : > "$W/fence/n$i.pids"; done
  in_node 1 cibadmin -C -o resources -X "<primitive id=\"fence\" class=\"stonith\" type=\"fence_ferrosync_test\"><instance_attributes id=\"fence-ia\"><nvpair id=\"fence-sd\" name=\"state_dir\" value=\"$W/fence\"/><nvpair id=\"fence-hl\" name=\"pcmk_host_list\" value=\"$(seq -s ' ' -f 'n%g' 1 "$NODES")\"/></instance_attributes><operations><op id=\"fence-monitor\" name=\"monitor\" interval=\"60s\"/></operations></primitive>"
  in_node 1 crm_attribute -t crm_config -n stonith-enabled -v true
else
  in_node 1 crm_attribute -t crm_config -n stonith-enabled -v false
fi
in_node 1 crm_attribute -t crm_config -n cluster-recheck-interval -v 60s
in_node 1 cibadmin -C -o resources -X '<primitive id="dummy" class="ocf" provider="pacemaker" type="Dummy"><operations><op id="dummy-monitor" name="monitor" interval="10s"/></operations></primitive>'
has_dummy() { [ -n "$(dummy_node 1)" ]; }
DESC="ocf:pacemaker:Dummy starts"; check wait_for 60 has_dummy
D=$(dummy_node 1); log "dummy runs on $D"
if [ "$NODES" -ge 2 ] && [ -n "$D" ]; then
  victim=${D#n}; other=$(( victim % NODES + 1 ))
  kill -KILL -- "-${PGID[$victim]}"; k=$(date +%s.%N); unset "PGID[$victim]"
  log "kill -9 every process of n$victim"
  moved() { local n; n=$(dummy_node "$other"); [ -n "$n" ] && [ "$n" != "n$victim" ]; }
  DESC="Dummy runs elsewhere after n$victim died"; check wait_for 120 moved
  FAILOVER=$(echo "$(date +%s.%N) - $k" | bc)
  log "failover: Dummy started on $(dummy_node "$other") $FAILOVER s after kill -9 (engine $ENGINE, token $TOKEN ms, fencing $FENCING)"
fi
[ "$FAIL" = 0 ] && log "PACEMAKER OK" || log "PACEMAKER FAILED (KEEP=1 keeps $W)"
exit $FAIL
