#!/usr/bin/env bash
# Side-by-side benchmark of ferrosyncd and corosync 3.1.7 (udpu, crypto off) on the same
# topology: 3 nodes in network namespaces on one bridge (10.206.0.0/24, inside them only).
# For each engine and token (corosync's default, then 1000 ms):
#   - idle CPU (% of one core) and RSS per node over IDLE seconds, after the ring formed;
#   - kill -9 of node 3 → new membership seen on node 1 (from the engine's own log line
#     timestamp), REPEAT times (node 3 is restarted and rejoins between runs).
#
#   sudo bash crates/engine/scripts/bench-failover.sh         # IDLE=20 REPEAT=3 ENGINES="corosync ferrosyncd"
#   bash crates/engine/scripts/bench-failover.sh clean        # remove leftover namespaces
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
if [ "${1:-}" = clean ]; then VERBOSE=1 ns_delete fsb 3; exit 0; fi
FERROSYNCD=${FERROSYNCD:-$HERE/../../../target/release/ferrosyncd}
IDLE=${IDLE:-20}
REPEAT=${REPEAT:-3}
ENGINES=${ENGINES:-corosync ferrosyncd}
TOKENS=${TOKENS:-default 1000}
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 1; }
ns_refuse_existing fsb 3
W=$(mktemp -d /tmp/ferrosync-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  sleep 0.1; shm_forget "${PIDS[@]}"
  ns_delete fsb 3
  [ -n "${KEEP:-}" ] && echo "kept $W" || rm -rf "$W"
}
trap cleanup EXIT

ns_create fsb 10.206.0 3
mkconf() { write_conf "$1/corosync.conf" bench 10.206.0 3 "$2" "$1"; } # mkconf DIR TOKEN
declare -A PID
start() { # start ENGINE NODE
  if [ "$1" = corosync ]; then PID[$2]=$(start_corosync fsb$2 "$RUN/n$2")
  else PID[$2]=$(start_ferrosyncd fsb$2 "$RUN/n$2"); fi
  PIDS+=("${PID[$2]}")
}
# Epoch seconds of the last "new membership" line on node 1 whose members are $2 (e.g. "1 2").
last_membership() { # last_membership ENGINE "MEMBERS"
  local L=$RUN/n1/daemon.log line
  if [ "$1" = corosync ]; then
    # "Nov 23 16:19:31.001 [..] ... [QUORUM] Members[2]: 1 2" follows each totem membership.
    line=$(grep "\[QUORUM\] Sync members\[[0-9]*\]: $2\$" "$L" 2>/dev/null | tail -1); [ -n "$line" ] || return 1
    date -d "$(echo "$line" | awk '{print $1, $2, $3}')" +%s.%N
  else
    # "2026-11-23T16:13:40.939395Z  INFO engine::daemon: new membership ring_id=.. members=[1, 2]"
    line=$(grep "new membership .*members=\[$(echo "$2" | sed 's/ /, /g')\]" "$L" 2>/dev/null | tail -1); [ -n "$line" ] || return 1
    date -d "$(echo "$line" | awk '{print $1}')" +%s.%N
  fi
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
CLK=$(getconf CLK_TCK)
RESULTS=$W/results.txt
for TOKEN in $TOKENS; do
  for ENGINE in $ENGINES; do
    if [ "$ENGINE" != corosync ] && [ ! -x "$FERROSYNCD" ]; then echo "skip ferrosyncd: $FERROSYNCD not built"; continue; fi
    RUN=$W/$ENGINE-$TOKEN; for i in 1 2 3; do mkconf "$RUN/n$i" "$TOKEN"; done
    for i in 1 2 3; do start "$ENGINE" $i; done
    ok=""; for k in $(seq 1 300); do last_membership "$ENGINE" "1 2 3" > /dev/null && { ok=1; break; }; sleep 0.1; done
    [ -n "$ok" ] || { echo "$ENGINE token=$TOKEN: no 3-node ring, see $RUN"; KEEP=1; exit 1; }
    sleep 2
    declare -A T0; for i in 1 2 3; do T0[$i]=$(ticks "${PID[$i]}"); done
    sleep "$IDLE"
    for i in 1 2 3; do
      cpu=$(echo "scale=3; ($(ticks "${PID[$i]}") - ${T0[$i]}) * 100 / ($CLK * $IDLE)" | bc)
      echo "$ENGINE token=$TOKEN node$i idle_cpu_pct=$cpu rss_kb=$(rss_kb "${PID[$i]}")" | tee -a "$RESULTS"
    done
    for r in $(seq 1 "$REPEAT"); do
      before=$(last_membership "$ENGINE" "1 2" || echo 0)
      k=$(date +%s.%N); kill -KILL "${PID[3]}"
      got=""; for x in $(seq 1 400); do t=$(last_membership "$ENGINE" "1 2") && [ "$t" != "$before" ] && { got=$t; break; }; sleep 0.05; done
      if [ -n "$got" ]; then ms=$(echo "($got - $k) * 1000 / 1" | bc); else ms=timeout; fi
      echo "$ENGINE token=$TOKEN run$r kill9_to_membership_ms=$ms" | tee -a "$RESULTS"
      start "$ENGINE" 3
      for x in $(seq 1 300); do t=$(last_membership "$ENGINE" "1 2 3") && [ "$(echo "$t > $k" | bc)" = 1 ] && break; sleep 0.1; done
      sleep 1
    done
    for i in 1 2 3; do kill -KILL "${PID[$i]}" 2>/dev/null; done; sleep 0.5; shm_forget "${PID[@]}"
  done
done
echo "--- summary (median kill -9 → membership; mean idle CPU; mean RSS)"
for TOKEN in $TOKENS; do for ENGINE in $ENGINES; do
  m=$(grep "^$ENGINE token=$TOKEN run" "$RESULTS" | sed 's/.*=//' | grep -v timeout | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}')
  c=$(grep "^$ENGINE token=$TOKEN node" "$RESULTS" | sed 's/.*idle_cpu_pct=\([0-9.]*\).*/\1/' | awk '{s+=$1} END {if (NR) printf "%.2f", s/NR; else print "-"}')
  r=$(grep "^$ENGINE token=$TOKEN node" "$RESULTS" | sed 's/.*rss_kb=//' | awk '{s+=$1} END {if (NR) printf "%d", s/NR; else print "-"}')
  printf '%-10s token=%-7s kill9->membership %6s ms   idle cpu %5s %%   rss %7s KiB\n' "$ENGINE" "$TOKEN" "$m" "$c" "$r"
done; done
