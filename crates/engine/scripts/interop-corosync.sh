#!/usr/bin/env bash
# Interop check: one ferrosyncd (udpu, crypto off) and two real corosync 3.1.7 daemons in
# network namespaces form one ring, complete corosync's service synchronisation, agree on
# quorum (corosync-quorumtool) and exchange CPG messages both ways with the stock libcpg;
# they keep the ring for HOLD seconds; kill -9 and restart of ferrosyncd, then of each
# corosync node in turn, each followed by the same checks; with SOAK=S, S seconds under
# LOSS % datagram loss (nftables) at 100 msgs/s each way with no membership change.
#
#   sudo bash crates/engine/scripts/interop-corosync.sh            # needs root, corosync 3.1.7
#   FERROSYNCD=target/release/ferrosyncd HOLD=60 bash ...          # defaults shown below
#   bash crates/engine/scripts/interop-corosync.sh clean           # remove leftover namespaces
#
# Namespaces fsi-br, fsi1..fsi3 and subnet 10.203.0.0/24 exist only inside them; everything
# started is stopped by PID and the namespaces are deleted on exit. Exit 0 = interop OK.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
if [ "${1:-}" = clean ]; then VERBOSE=1 ns_delete fsi 3; exit 0; fi
FERROSYNCD=${FERROSYNCD:-$HERE/../../../target/release/ferrosyncd}
HOLD=${HOLD:-60}
TOKEN=${TOKEN:-1000}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces)"; exit 1; }
command -v corosync > /dev/null || { echo "FAIL: corosync not installed (apt-get install corosync)"; exit 1; }
corosync -v | grep -q "'3.1.7'" || echo "WARNING: not corosync 3.1.7: $(corosync -v | head -1)"
[ -x "$FERROSYNCD" ] || { echo "FAIL: $FERROSYNCD not built (cargo build --release -p engine)"; exit 1; }
ns_refuse_existing fsi 3

W=$(mktemp -d /tmp/ferrosync-interop.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 1
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  ns_delete fsi 3
  [ -n "${KEEP:-}" ] && echo "kept $W" || rm -rf "$W"
}
trap cleanup EXIT
t0=$(date +%s.%N)
log() { printf '[%7.2fs] %s\n' "$(echo "$(date +%s.%N) - $t0" | bc)" "$*"; }

ns_create fsi 10.203.0 3
for i in 1 2 3; do write_conf "$W/n$i/corosync.conf" interop 10.203.0 3 "$TOKEN" "$W/n$i"; done

start_ferrosyncd_n1() { FPID=$(start_ferrosyncd fsi1 "$W/n1"); PIDS+=("$FPID"); }
declare -A CPID
start_corosync_n() { CPID[$1]=$(start_corosync "fsi$1" "$W/n$1"); PIDS+=("${CPID[$1]}"); }
# ferrosyncd's members, from its status file: "1 2 3"
f_members() { python3 -c "import json,sys; d=json.load(open('$W/n1/state/status.json')); print(d['state'], d['ring_id']['text'], *d['members'])" 2>/dev/null; }
# corosync's totem-level view on node $1: "<members joined> <last ring id formed>".
c_nodes() {
  local n r
  n=$(ip netns exec fsi$1 corosync-cmapctl runtime.members 2>/dev/null | grep -c 'status (str) = joined')
  r=$(grep -o 'A new membership ([0-9a-f.]*)' "$W/n$1/daemon.log" | tail -1 | tr -d '()' | awk '{print $4}')
  echo "$n $r"
}
all3() { [ "$(f_members | cut -d' ' -f1,3-)" = "OPERATIONAL 1 2 3" ] && [ "$(c_nodes 2 | cut -d' ' -f1)" = 3 ] && [ "$(c_nodes 3 | cut -d' ' -f1)" = 3 ]; }
two_corosync() { [ "$(c_nodes 2 | cut -d' ' -f1)" = 2 ] && [ "$(c_nodes 3 | cut -d' ' -f1)" = 2 ]; }

FAIL=0
check() { if "$@"; then log "OK: $DESC"; else log "FAIL: $DESC"; FAIL=1; fi; }
start_corosync_n 2; start_corosync_n 3; start_ferrosyncd_n1
DESC="one ring of ferrosyncd n1 + corosync n2, n3"; check wait_for 30 all3
log "ferrosyncd: $(f_members); corosync n2: $(c_nodes 2); n3: $(c_nodes 3)"
RING=$(f_members | cut -d' ' -f2)
# corosync's service synchronisation (totem-wire §10) completes on the mixed ring: after its
# last "A new membership" line comes "Completed service synchronization".
synced() { awk '/A new membership/ {s=0} /Completed service synchronization/ {s=1} END {exit !s}' "$W/n$1/daemon.log"; }
synced_all() { synced 2 && synced 3 && grep -q "Completed service synchronization.*ring=$RING" "$W/n1/stderr.log"; }
DESC="service synchronisation completed on ring $RING (corosync n2, n3 and ferrosyncd)"; check wait_for 10 synced_all
# votequorum agrees across engines: corosync counts the ferrosyncd node's vote.
quorate3() { local q; q=$(ip netns exec fsi$1 corosync-quorumtool -s 2>/dev/null);
  echo "$q" | grep -q '^Nodes: *3$' && echo "$q" | grep -q '^Quorate: *Yes$'; }
DESC="corosync-quorumtool -s on n2 and n3: 3 nodes, quorate"; check wait_for 10 bash -c "$(declare -f quorate3); quorate3 2 && quorate3 3"
log "corosync n2 quorum: $(ip netns exec fsi2 corosync-quorumtool -s 2>/dev/null | grep -E '^(Nodes|Quorate|Expected votes|Total votes):' | tr -s ' ' | paste -sd' ')"
# CPG both ways with the stock libcpg: cpgbench2 (shared/bench/corosync-baseline) receives on
# one engine's node while the other engine's node sends 100 msgs/s of 200 B for 3 s.
CPGBENCH2=${CPGBENCH2:-$W/cpgbench2}
BENCH_SRC=${BENCH_SRC:-$HERE/../../../../shared/bench/corosync-baseline/src/cpgbench2.c}
[ -x "$CPGBENCH2" ] || gcc -O2 -o "$CPGBENCH2" "$BENCH_SRC" -lcpg 2>>"$W/gcc.log" || log "cannot build cpgbench2 (gcc, libcpg-dev)"
cpg_exchange() { # cpg_exchange RECV_NODE SEND_NODE GROUP
  ip netns exec fsi$1 "$CPGBENCH2" recv -g "$3" -n 2 -T 30 > "$W/recv-$3.out" 2>&1 &
  local rp=$!; PIDS+=("$rp"); sleep 0.5
  ip netns exec fsi$2 timeout 30 "$CPGBENCH2" send -s 200 -t 3 -r 100 -g "$3" -n 2 > "$W/send-$3.out" 2>&1
  wait "$rp"
  log "  n$2 -> n$1: $(grep -o 'sent=[0-9]*' "$W/send-$3.out") $(grep -o 'delivered=[0-9]* seq_errors=[0-9]*' "$W/recv-$3.out") $(grep -o 'end_seen=[0-9]' "$W/recv-$3.out")"
  grep -q 'seq_errors=0 ' "$W/recv-$3.out" && grep -q 'end_seen=1' "$W/recv-$3.out" \
    && ! grep -q 'delivered=0 ' "$W/recv-$3.out"
}
if [ -x "$CPGBENCH2" ]; then
  DESC="libcpg: ferrosyncd n1 sends, corosync n2 receives in order"; check cpg_exchange 2 1 fs2cs
  DESC="libcpg: corosync n3 sends, ferrosyncd n1 receives in order"; check cpg_exchange 1 3 cs2fs
fi
log "holding for $HOLD s"
stable() { local end=$(( $(date +%s) + HOLD )); while [ "$(date +%s)" -lt "$end" ]; do
  all3 && [ "$(f_members | cut -d' ' -f2)" = "$RING" ] && [ "$(c_nodes 2 | cut -d' ' -f2)" = "$RING" ] \
    && [ "$(c_nodes 3 | cut -d' ' -f2)" = "$RING" ] || { log "ring changed: $(f_members) / $(c_nodes 2)"; return 1; }; sleep 0.5; done; }
DESC="ring $RING kept for $HOLD s"; check stable
kill -KILL "$FPID"; k=$(date +%s.%N); log "kill -9 ferrosyncd"
DESC="corosync n2, n3 re-form without ferrosyncd"; check wait_for 30 two_corosync
log "re-formed after $(echo "$(date +%s.%N) - $k" | bc) s: n2 $(c_nodes 2), n3 $(c_nodes 3)"
start_ferrosyncd_n1; k=$(date +%s.%N); log "restarted ferrosyncd"
DESC="ferrosyncd rejoins"; check wait_for 30 all3
log "rejoined after $(echo "$(date +%s.%N) - $k" | bc) s: $(f_members); n2 $(c_nodes 2)"
RING=$(f_members | cut -d' ' -f2)
DESC="service synchronisation completed again on ring $RING"; check wait_for 10 synced_all
if [ -x "$CPGBENCH2" ]; then
  DESC="libcpg after the restart: n1 -> n2"; check cpg_exchange 2 1 again12
fi
# kill -9 and restart each corosync node in turn.
for n in 2 3; do
  o=$(( 5 - n ))
  kill -KILL "${CPID[$n]}"; k=$(date +%s.%N); log "kill -9 corosync n$n"
  without() { [ "$(f_members | cut -d' ' -f1,3-)" = "OPERATIONAL 1 $o" ]; }
  DESC="ferrosyncd and corosync n$o re-form without n$n"; check wait_for 30 without
  log "re-formed after $(echo "$(date +%s.%N) - $k" | bc) s: $(f_members)"
  sleep 0.5
  start_corosync_n "$n"; log "restarted corosync n$n"
  DESC="corosync n$n rejoins"; check wait_for 30 all3
  RING=$(f_members | cut -d' ' -f2)
  DESC="service synchronisation completed on ring $RING"; check wait_for 10 synced_all
  if [ -x "$CPGBENCH2" ]; then
    DESC="libcpg after n$n's restart: n1 -> n$n"; check cpg_exchange "$n" 1 "r$n"
    DESC="libcpg after n$n's restart: n$n -> n1"; check cpg_exchange 1 "$n" "s$n"
  fi
done
# SOAK seconds under LOSS % loss on every node's outgoing datagrams, 100 msgs/s each way.
SOAK=${SOAK:-0}; LOSS=${LOSS:-5}
if [ "$SOAK" -gt 0 ] && [ -x "$CPGBENCH2" ] && command -v nft > /dev/null; then
  for i in 1 2 3; do
    {
      echo "table inet interop {"
      echo "  chain out {"
      echo "    type filter hook output priority 0; policy accept;"
      echo "    udp dport 5405 numgen random mod 100 < $LOSS counter drop"
      echo "  }"
      echo "}"
    } | ip netns exec fsi$i nft -f -
  done
  RING=$(f_members | cut -d' ' -f2); changes0=$(status_field "$W/n1" "d['membership_changes']")
  log "soak: $SOAK s at $LOSS % loss, 100 msgs/s n1 -> n2 and n3 -> n1, ring $RING"
  ip netns exec fsi2 "$CPGBENCH2" recv -g soak1 -n 2 -T $(( SOAK + 60 )) > "$W/recv-soak1.out" 2>&1 & r1=$!; PIDS+=("$r1")
  ip netns exec fsi1 "$CPGBENCH2" recv -g soak3 -n 2 -T $(( SOAK + 60 )) > "$W/recv-soak3.out" 2>&1 & r3=$!; PIDS+=("$r3")
  sleep 0.5
  ip netns exec fsi1 "$CPGBENCH2" send -s 200 -t "$SOAK" -r 100 -g soak1 -n 2 > "$W/send-soak1.out" 2>&1 & s1=$!; PIDS+=("$s1")
  ip netns exec fsi3 "$CPGBENCH2" send -s 200 -t "$SOAK" -r 100 -g soak3 -n 2 > "$W/send-soak3.out" 2>&1 & s3=$!; PIDS+=("$s3")
  wait "$s1" "$s3" "$r1" "$r3"
  for g in soak1 soak3; do log "  $g: $(grep -o 'sent=[0-9]*' "$W/send-$g.out") $(grep -o 'delivered=[0-9]* seq_errors=[0-9]* .*lat_us_max=[0-9]*' "$W/recv-$g.out")"; done
  drops=0; for i in 1 2 3; do d=$(ip netns exec fsi$i nft list chain inet interop out | grep -o 'packets [0-9]*' | awk '{print $2}'); drops=$(( drops + ${d:-0} )); done
  log "  datagrams dropped by nftables: $drops"
  soak_ok() { grep -q 'seq_errors=0 ' "$W/recv-soak1.out" && grep -q 'seq_errors=0 ' "$W/recv-soak3.out" \
    && grep -q 'end_seen=1' "$W/recv-soak1.out" && grep -q 'end_seen=1' "$W/recv-soak3.out"; }
  DESC="soak: every message delivered in order both ways"; check soak_ok
  DESC="soak: nftables dropped datagrams"; check test "$drops" -gt 0
  DESC="soak: no membership change (ring $RING, ferrosyncd changes $changes0)"
  check test "$(f_members | cut -d' ' -f2)/$(status_field "$W/n1" "d['membership_changes']")" = "$RING/$changes0"
  for i in 1 2 3; do ip netns exec fsi$i nft delete table inet interop; done
fi
if [ "$FAIL" = 0 ]; then log "INTEROP OK"; else log "INTEROP FAILED (KEEP=1 keeps logs in $W)"; fi
exit $FAIL
