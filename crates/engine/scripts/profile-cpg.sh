#!/usr/bin/env bash
# What ferrosyncd costs per CPG message, measured in ways that do not depend on how busy the
# machine is: 3 daemons in namespaces (udpu, crypto off, default token), the unmodified
# cpgbench2 sending on n1 while n2 and n3 receive. Per daemon and per message delivered:
# CPU time (schedstat, with the user/system split of /proc/PID/stat), system calls and
# context switches (`perf stat` tracepoints); with VG=1 every daemon runs under callgrind and
# its user-space instructions per message are printed too (repeatable to a few percent
# whatever else runs; the daemons are then ~50× slower, so batching per token visit differs
# from a native run: compare VG=1 figures only with VG=1 figures). REC=1 adds a system-wide
# `perf record -e cpu-clock -g` of the run (kernel call chains; see the report's hints).
#
#   sudo bash crates/engine/scripts/profile-cpg.sh                 # thread mode, 64 B, 5 s
#   MODE=poll SIZE=1024 SECS=10 RATE=5000 VG=1 sudo bash …          # other shapes
#   KEEP=1 …                                                        # keep the outputs
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
ROOT=$HERE/../../..
FERROSYNCD=${FERROSYNCD:-$ROOT/target/release/ferrosyncd}
CPGBENCH2_SRC=${CPGBENCH2_SRC:-$ROOT/../shared/bench/corosync-baseline/src/cpgbench2.c}
MODE=${MODE:-thread}; SIZE=${SIZE:-64}; SECS=${SECS:-5}; RATE=${RATE:-}; VG=${VG:-0}
NODES=3; P=fpc; NET=10.207.0
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces)"; exit 1; }
[ -x "$FERROSYNCD" ] || { echo "FAIL: build first: cargo build --release -p engine --bins"; exit 1; }
for t in perf corosync-quorumtool; do command -v $t > /dev/null || { echo "FAIL: $t not installed"; exit 1; }; done
[ "$VG" = 1 ] && ! command -v valgrind > /dev/null && { echo "FAIL: valgrind not installed"; exit 1; }
ns_refuse_existing $P $NODES
W=$(mktemp -d /tmp/ferrosync-profile-cpg.XXXXXX)
PIDS=(); SP=()
cleanup() {
  for p in "${SP[@]}"; do kill -INT "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 100); do alive=0; for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done; [ $alive = 0 ] && break; sleep 0.1; done
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done; sleep 0.1; shm_forget "${PIDS[@]}"
  ns_delete $P $NODES; [ -n "${KEEP:-}" ] && echo "kept $W" || rm -rf "$W"
}
trap cleanup EXIT
gcc -O2 -o "$W/cpgbench2" "$CPGBENCH2_SRC" -lcpg -lpthread 2> "$W/gcc.log" || { echo "FAIL: cannot build cpgbench2"; exit 1; }
ns_create $P $NET $NODES
for i in $(seq 1 $NODES); do
  d=$W/n$i; write_conf "$d/corosync.conf" profile $NET $NODES default "$d"
  if [ "$VG" = 1 ]; then
    # Not real-time: a daemon 50× slower at the highest priority would starve everything.
    ip netns exec $P$i valgrind --tool=callgrind --callgrind-out-file="$W/callgrind.n$i.%p" \
      "$FERROSYNCD" -f --no-realtime --no-mlockall -c "$d/corosync.conf" -p "$d/run/pid" >> "$d/stderr.log" 2>&1 < /dev/null &
  else
    ip netns exec $P$i "$FERROSYNCD" -f -c "$d/corosync.conf" -p "$d/run/pid" >> "$d/stderr.log" 2>&1 < /dev/null &
  fi
  PIDS+=($!)
done
all() { ip netns exec ${P}1 corosync-quorumtool -s 2>/dev/null | grep -q "^Nodes: *$NODES$"; }
wait_for 120 all || { echo "FAIL: no $NODES-node ring"; exit 1; }
sleep 1
g=p$RANDOM; flag=""; [ "$MODE" = poll ] && flag=-S; rp=""
for i in $(seq 2 $NODES); do
  ip netns exec $P$i timeout $((SECS + 120)) "$W/cpgbench2" recv -g $g -n $NODES -T $((SECS + 100)) > "$W/recv$i.out" 2>/dev/null &
  rp="$rp $!"
done
sleep 0.5
# user ticks, system ticks (1/100 s), run time in ns
cpu() { echo "$(awk '{print $14, $15}' /proc/"$1"/stat) $(awk '{print $1}' /proc/"$1"/schedstat)"; }
[ "$VG" = 1 ] && for p in "${PIDS[@]}"; do callgrind_control -z "$p" > /dev/null; done
declare -A C0 C1
for p in "${PIDS[@]}"; do C0[$p]=$(cpu "$p"); done
i=0; for p in "${PIDS[@]}"; do i=$((i + 1))
  perf stat -e raw_syscalls:sys_enter,context-switches -p "$p" -o "$W/stat.n$i" 2>/dev/null & SP+=($!); done
[ -n "${REC:-}" ] && { perf record -e cpu-clock -g -a -o "$W/perf.data" > /dev/null 2>&1 & SP+=($!); }
out=$(ip netns exec ${P}1 timeout $((SECS + 120)) "$W/cpgbench2" send $flag -g $g -n $NODES -s "$SIZE" -t "$SECS" \
  ${RATE:+-r $RATE} 2>/dev/null | grep '^RESULT')
# shellcheck disable=SC2086
wait $rp
for p in "${SP[@]}"; do kill -INT "$p"; done; wait "${SP[@]}" 2>/dev/null; SP=()
for p in "${PIDS[@]}"; do C1[$p]=$(cpu "$p"); done
[ "$VG" = 1 ] && for p in "${PIDS[@]}"; do callgrind_control -d "$p" > /dev/null; done
echo "$out"
cat "$W"/recv*.out
n=$(echo "$out" | sed -n 's/.* delivered_total=\([0-9]*\).*/\1/p')
[ -n "$n" ] && [ "$n" != 0 ] || { echo "FAIL: nothing delivered"; exit 1; }
per() { echo "scale=${2:-2}; $1 / $n" | bc; }
i=0; cpu_total=0; ir_total=0
for p in "${PIDS[@]}"; do i=$((i + 1))
  read -r u0 s0 t0 <<< "${C0[$p]}"; read -r u1 s1 t1 <<< "${C1[$p]}"
  sc=$(awk '/raw_syscalls/ {gsub(",", "", $1); print $1}' "$W/stat.n$i")
  cs=$(awk '/context-switches/ {gsub(",", "", $1); print $1}' "$W/stat.n$i")
  line="n$i: CPU $(per "($t1 - $t0) / 1000") us/msg (user $(( (u1 - u0) * 10 )) ms, system $(( (s1 - s0) * 10 )) ms), syscalls/msg $(per "$sc" 3), context switches/msg $(per "$cs" 3)"
  cpu_total=$((cpu_total + t1 - t0))
  if [ "$VG" = 1 ]; then
    f=$(ls -t "$W"/callgrind.n$i.* | grep '\.1$' | head -1)
    ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$f")
    ir_total=$((ir_total + ir)); line="$line, user-space instructions/msg $(per "$ir" 0)"
  fi
  echo "$line"
done
echo "messages $n, the 3 daemons: CPU $(per "$cpu_total / 1000") us/msg$([ "$VG" = 1 ] && echo ", instructions/msg $(per "$ir_total" 0)")"
[ "$VG" = 1 ] && echo "profiles: callgrind_annotate $W/callgrind.n1.*.1 (KEEP=1 keeps them)"
[ -n "${REC:-}" ] && echo "perf: perf report -i $W/perf.data --comm ferrosyncd --sort pid,sym (KEEP=1 keeps it)"
exit 0
