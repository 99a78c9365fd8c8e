#!/usr/bin/env bash
# Interop check: one ferrosyncd (udpu, crypto off) and two real corosync 3.1.7 daemons in
# network namespaces form one ring and keep it for HOLD seconds; kill -9 ferrosyncd → the
# corosync nodes re-form without it; restart it → it rejoins.
#
#   sudo bash crates/engine/scripts/interop-corosync.sh            # needs root, corosync 3.1.7
#   FERROSYNCD=target/release/ferrosyncd HOLD=60 bash ...          # defaults shown below
#   bash crates/engine/scripts/interop-corosync.sh clean           # remove leftover namespaces
#
# Namespaces fsi-br, fsi1..fsi3 and subnet 10.203.0.0/24 exist only inside them; everything
# started is stopped by PID and the namespaces are deleted on exit. Exit 0 = interop OK.
set -u
NS="fsi-br fsi1 fsi2 fsi3"
if [ "${1:-}" = clean ]; then for n in $NS; do ip netns del "$n" 2>/dev/null && echo "deleted netns $n"; done; exit 0; fi
HERE=$(cd "$(dirname "$0")" && pwd)
FERROSYNCD=${FERROSYNCD:-$HERE/../../../target/release/ferrosyncd}
HOLD=${HOLD:-60}
TOKEN=${TOKEN:-1000}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces)"; exit 1; }
command -v corosync > /dev/null || { echo "FAIL: corosync not installed (apt-get install corosync)"; exit 1; }
corosync -v | grep -q "'3.1.7'" || echo "WARNING: not corosync 3.1.7: $(corosync -v | head -1)"
[ -x "$FERROSYNCD" ] || { echo "FAIL: $FERROSYNCD not built (cargo build --release -p engine)"; exit 1; }
for n in $NS; do ip netns list | grep -qw "^$n" && { echo "netns $n exists (run: bash $0 clean)"; exit 1; }; done

W=$(mktemp -d /tmp/ferrosync-interop.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 1
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for n in $NS; do ip netns del "$n" 2>/dev/null; done
  [ -n "${KEEP:-}" ] && echo "kept $W" || rm -rf "$W"
}
trap cleanup EXIT
t0=$(date +%s.%N)
log() { printf '[%7.2fs] %s\n' "$(echo "$(date +%s.%N) - $t0" | bc)" "$*"; }

ip netns add fsi-br; ip -n fsi-br link set lo up
ip -n fsi-br link add br0 type bridge; ip -n fsi-br link set br0 up
for i in 1 2 3; do
  ip netns add fsi$i
  ip -n fsi-br link add p$i type veth peer name eth0 netns fsi$i
  ip -n fsi-br link set p$i master br0 up
  ip -n fsi$i link set lo up
  ip -n fsi$i addr add 10.203.0.$i/24 dev eth0
  ip -n fsi$i link set eth0 up
done
for i in 1 2 3; do
  D=$W/n$i; mkdir -p "$D/state" "$D/run"
  cat > "$D/corosync.conf" <<EOF
totem {
    version: 2
    cluster_name: interop
    transport: udpu
    crypto_cipher: none
    crypto_hash: none
    token: $TOKEN
}
logging {
    to_stderr: no
    to_logfile: yes
    logfile: $D/daemon.log
    to_syslog: no
    timestamp: hires
    debug: off
}
quorum {
    provider: corosync_votequorum
}
system {
    state_dir: $D/state
}
nodelist {
    node {
        name: n1
        nodeid: 1
        ring0_addr: 10.203.0.1
    }
    node {
        name: n2
        nodeid: 2
        ring0_addr: 10.203.0.2
    }
    node {
        name: n3
        nodeid: 3
        ring0_addr: 10.203.0.3
    }
}
EOF
done

start_ferrosyncd() {
  ip netns exec fsi1 "$FERROSYNCD" -f -c "$W/n1/corosync.conf" -p "$W/n1/run/ferrosyncd.pid" \
    >> "$W/n1/stderr.log" 2>&1 < /dev/null &
  FPID=$!; PIDS+=("$FPID")
}
start_corosync() { local D=$W/n$1
  # corosync's lock file is /var/run/corosync.pid: give each node a private /run.
  ip netns exec fsi$1 unshare -m sh -c "mount --bind $D/run /run && exec corosync -f -c $D/corosync.conf" \
    >> "$D/stderr.log" 2>&1 < /dev/null &
  PIDS+=("$!")
}
# ferrosyncd's members, from its status file: "1 2 3"
f_members() { python3 -c "import json,sys; d=json.load(open('$W/n1/state/status.json')); print(d['state'], d['ring_id']['text'], *d['members'])" 2>/dev/null; }
# corosync's totem-level view on node $1: "<members joined> <last ring id formed>". (Its quorum
# view stays at the pre-ferrosyncd membership: ferrosyncd runs no services yet, so corosync's
# service sync (totem-wire §10) never completes; membership is checked at the totem layer.)
c_nodes() {
  local n r
  n=$(ip netns exec fsi$1 corosync-cmapctl runtime.members 2>/dev/null | grep -c 'status (str) = joined')
  r=$(grep -o 'A new membership ([0-9a-f.]*)' "$W/n$1/daemon.log" | tail -1 | tr -d '()' | awk '{print $4}')
  echo "$n $r"
}
wait_for() { # wait_for SECONDS CMD...
  local end=$(( $(date +%s) + $1 )); shift
  while [ "$(date +%s)" -lt "$end" ]; do "$@" && return 0; sleep 0.05; done; return 1
}
all3() { [ "$(f_members | cut -d' ' -f1,3-)" = "OPERATIONAL 1 2 3" ] && [ "$(c_nodes 2 | cut -d' ' -f1)" = 3 ] && [ "$(c_nodes 3 | cut -d' ' -f1)" = 3 ]; }
two_corosync() { [ "$(c_nodes 2 | cut -d' ' -f1)" = 2 ] && [ "$(c_nodes 3 | cut -d' ' -f1)" = 2 ]; }

FAIL=0
check() { if "$@"; then log "OK: $DESC"; else log "FAIL: $DESC"; FAIL=1; fi; }
start_corosync 2; start_corosync 3; start_ferrosyncd
DESC="one ring of ferrosyncd n1 + corosync n2, n3"; check wait_for 30 all3
log "ferrosyncd: $(f_members); corosync n2: $(c_nodes 2); n3: $(c_nodes 3)"
RING=$(f_members | cut -d' ' -f2)
log "holding for $HOLD s"
stable() { local end=$(( $(date +%s) + HOLD )); while [ "$(date +%s)" -lt "$end" ]; do
  all3 && [ "$(f_members | cut -d' ' -f2)" = "$RING" ] && [ "$(c_nodes 2 | cut -d' ' -f2)" = "$RING" ] \
    && [ "$(c_nodes 3 | cut -d' ' -f2)" = "$RING" ] || { log "ring changed: $(f_members) / $(c_nodes 2)"; return 1; }; sleep 0.5; done; }
DESC="ring $RING kept for $HOLD s"; check stable
kill -KILL "$FPID"; k=$(date +%s.%N); log "kill -9 ferrosyncd"
DESC="corosync n2, n3 re-form without ferrosyncd"; check wait_for 30 two_corosync
log "re-formed after $(echo "$(date +%s.%N) - $k" | bc) s: n2 $(c_nodes 2), n3 $(c_nodes 3)"
start_ferrosyncd; k=$(date +%s.%N); log "restarted ferrosyncd"
DESC="ferrosyncd rejoins"; check wait_for 30 all3
log "rejoined after $(echo "$(date +%s.%N) - $k" | bc) s: $(f_members); n2 $(c_nodes 2)"
if [ "$FAIL" = 0 ]; then log "INTEROP OK"; else log "INTEROP FAILED (KEEP=1 keeps logs in $W)"; fi
exit $FAIL
