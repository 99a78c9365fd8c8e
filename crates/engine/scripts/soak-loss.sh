#!/usr/bin/env bash
# Soak under loss: NODES daemons in network namespaces, LOSS % of every node's outgoing
# Totem datagrams dropped by nftables (`udp dport 5405 numgen random mod 100 < LOSS drop` in
# each namespace's output chain), the CPU kept busy by CPU_HOGS spinning processes, for
# DURATION seconds. Passes when no membership changes during the run.
#
# ferrosyncd also carries load: node 1 submits RATE messages/s of SIZE bytes
# (FERROSYNC_TEST_LOAD) and the others report send → delivery latency (p50/p99/max).
# ENGINE=corosync runs the same check against corosync 3.1.7; with CPGBENCH2=path (the
# baseline's cpgbench2, built with `gcc -O2 -o cpgbench2 ../shared/bench/corosync-baseline/src/
# cpgbench2.c -lcpg`, package libcpg-dev) it carries the same load through CPG.
#
#   sudo bash crates/engine/scripts/soak-loss.sh        # DURATION=600 LOSS=5 NODES=3 RATE=100
#   ENGINE=corosync DURATION=120 bash ...               # the same for corosync
#   bash crates/engine/scripts/soak-loss.sh clean       # remove leftover namespaces
#
# Namespaces fss-br, fss1..N and subnet 10.207.0.0/24 exist only inside them; everything
# started is stopped by PID and the namespaces are deleted on exit.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
NODES=${NODES:-3}
P=${NS_PREFIX:-fss}
if [ "${1:-}" = clean ]; then VERBOSE=1 ns_delete $P "$NODES"; exit 0; fi
FERROSYNCD=${FERROSYNCD:-$HERE/../../../target/release/ferrosyncd}
ENGINE=${ENGINE:-ferrosyncd}
DURATION=${DURATION:-600}
LOSS=${LOSS:-5}
RATE=${RATE:-100}
SIZE=${SIZE:-64}
TOKEN=${TOKEN:-default}
CPU_HOGS=${CPU_HOGS:-$(nproc)}
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 1; }
command -v nft > /dev/null || { echo "needs nftables (apt-get install -y nftables)"; exit 1; }
if [ "$ENGINE" = corosync ]; then command -v corosync > /dev/null || { echo "corosync not installed"; exit 1; }
else [ -x "$FERROSYNCD" ] || { echo "$FERROSYNCD not built (cargo build --release -p engine)"; exit 1; }; fi
ns_refuse_existing $P "$NODES"

W=$(mktemp -d /tmp/ferrosync-soak.XXXXXX)
PIDS=()
HOGS=()
cleanup() {
  for p in "${HOGS[@]}" "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  ns_delete $P "$NODES"
  [ -n "${KEEP:-}" ] && echo "kept $W" || rm -rf "$W"
}
trap cleanup EXIT
t0=$(date +%s)
log() { printf '[%5ss] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }

ns_create $P 10.207.0 "$NODES"
for i in $(seq 1 "$NODES"); do
  ip netns exec $P$i nft -f - <<EOF
table inet soak {
  chain out {
    type filter hook output priority 0; policy accept;
    udp dport 5405 numgen random mod 100 < $LOSS counter drop
  }
}
EOF
  write_conf "$W/n$i/corosync.conf" soak 10.207.0 "$NODES" "$TOKEN" "$W/n$i"
done

for i in $(seq 1 "$NODES"); do
  if [ "$ENGINE" = corosync ]; then PIDS+=("$(start_corosync $P$i "$W/n$i")")
  elif [ "$i" = 1 ]; then PIDS+=("$(start_ferrosyncd $P$i "$W/n$i" "FERROSYNC_TEST_LOAD=$RATE:$SIZE")")
  else PIDS+=("$(start_ferrosyncd $P$i "$W/n$i" "FERROSYNC_TEST_LOAD=0")"); fi
done

# Regular configurations node $1 installed so far, and its member count.
changes() {
  if [ "$ENGINE" = corosync ]; then grep -c 'A new membership' "$W/n$1/daemon.log" 2>/dev/null || echo 0
  else status_field "$W/n$1" "d['membership_changes']" || echo 0; fi
}
members() {
  if [ "$ENGINE" = corosync ]; then
    ip netns exec $P$1 corosync-cmapctl runtime.members 2>/dev/null | grep -c 'status (str) = joined'
  else status_field "$W/n$1" "len(d['members']) if d['state'] == 'OPERATIONAL' else 0" || echo 0; fi
}
formed() { local i; for i in $(seq 1 "$NODES"); do [ "$(members "$i")" = "$NODES" ] || return 1; done; }
end=$(( $(date +%s) + 60 )); until formed; do [ "$(date +%s)" -lt "$end" ] || { log "FAIL: no $NODES-node ring within 60 s (KEEP=1 keeps $W)"; exit 1; }; sleep 0.2; done
sleep 2
declare -A C0; for i in $(seq 1 "$NODES"); do C0[$i]=$(changes "$i"); done
log "$ENGINE: $NODES-node ring formed under $LOSS % loss; CPU hogs: $CPU_HOGS; running $DURATION s"
CPG_SEND=""
if [ "$ENGINE" = corosync ] && [ -n "${CPGBENCH2:-}" ]; then
  for i in $(seq 2 "$NODES"); do
    ip netns exec $P$i timeout $(( DURATION + 60 )) "$CPGBENCH2" recv -g soak -n "$NODES" -T $(( DURATION + 50 )) \
      > "$W/cpg_recv_$i.out" 2>/dev/null & PIDS+=("$!")
  done
  sleep 1
  ip netns exec ${P}1 timeout $(( DURATION + 60 )) "$CPGBENCH2" send -S -r "$RATE" -s "$SIZE" -g soak -n "$NODES" -t "$DURATION" \
    > "$W/cpg_send.out" 2>/dev/null & CPG_SEND=$!; PIDS+=("$CPG_SEND")
fi
for _ in $(seq 1 "$CPU_HOGS"); do sh -c 'while :; do :; done' & HOGS+=("$!"); done

load_line() { status_field "$W/n$1" "'sent %d received %d p50 %.2f ms p99 %.2f ms max %.1f ms' % (d['load']['sent'], d['load']['received'], d['load']['latency_ms']['p50'], d['load']['latency_ms']['p99'], d['load']['latency_ms']['max'])"; }
FAIL=0
stop=$(( $(date +%s) + DURATION )); next_report=$(( $(date +%s) + 60 ))
while [ "$(date +%s)" -lt "$stop" ]; do
  for i in $(seq 1 "$NODES"); do
    c=$(changes "$i")
    if [ "$c" != "${C0[$i]}" ]; then log "FAIL: node $i installed $(( c - C0[$i] )) new membership(s)"; FAIL=1; C0[$i]=$c; fi
    kill -0 "${PIDS[$((i-1))]}" 2>/dev/null || { log "FAIL: node $i exited"; FAIL=1; break 2; }
  done
  if [ "$(date +%s)" -ge "$next_report" ]; then
    next_report=$(( next_report + 60 ))
    [ "$ENGINE" = corosync ] && log "ring steady" || log "ring steady; node 2: $(load_line 2)"
  fi
  sleep 1
done
for p in "${HOGS[@]}"; do kill -KILL "$p" 2>/dev/null; done; HOGS=()
drops=0; sent=0
for i in $(seq 1 "$NODES"); do
  d=$(ip netns exec $P$i nft list chain inet soak out | grep -o 'packets [0-9]*' | awk '{print $2}')
  drops=$(( drops + ${d:-0} ))
  s=$(ip netns exec $P$i cat /sys/class/net/eth0/statistics/tx_packets)
  sent=$(( sent + s ))
done
log "datagrams dropped by nftables: $drops of $(( drops + sent )) ($(echo "scale=2; 100 * $drops / ($drops + $sent)" | bc) %)"
if [ "$ENGINE" != corosync ]; then
  for i in $(seq 2 "$NODES"); do log "load at node $i: $(load_line "$i")"; done
elif [ -n "$CPG_SEND" ]; then
  sleep 5
  for i in $(seq 2 "$NODES"); do
    log "cpgbench2 at node $i: $(grep -o 'delivered=[0-9]*\|lat_us_p50=[0-9]*\|lat_us_p99=[0-9]*\|lat_us_max=[0-9]*' "$W/cpg_recv_$i.out" | tr '\n' ' ')"
  done
fi
if [ "$FAIL" = 0 ]; then log "SOAK OK: $ENGINE, $NODES nodes, $LOSS % loss, $DURATION s, no membership change"
else log "SOAK FAILED (KEEP=1 keeps logs in $W)"; fi
exit $FAIL
