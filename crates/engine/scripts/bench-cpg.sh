#!/usr/bin/env bash
# CPG throughput and latency, ferrosyncd against corosync 3.1.7, side by side in one run on
# the same namespace topology (N nodes, udpu, crypto off): the unmodified cpgbench2
# (shared/bench/corosync-baseline) sends on n1 while n2..nN receive, thread mode and poll
# mode (-S), 64 B, 1 KiB and 16 KiB, ROUNDS alternating rounds (best of them is kept);
# corosync with knet too (its fastest transport) for 16 KiB; latency at 1000 msgs/s
# (64 B, poll mode); `ferrosync bench cpg` (the Rust client) on both engines; idle CPU and
# RSS of each daemon over IDLE seconds. Prints a table with the ratios.
#
#   sudo bash crates/engine/scripts/bench-cpg.sh            # 3 nodes, 2 rounds, 10 s each
#   NODES=8 SECS=5 ROUNDS=1 sudo bash …                      # other shapes
#   KEEP=1 …                                                 # keep the raw outputs
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
ROOT=$HERE/../../..
FERROSYNCD=${FERROSYNCD:-$ROOT/target/release/ferrosyncd}
FERROSYNC=${FERROSYNC:-$ROOT/target/release/ferrosync}
CPGBENCH2_SRC=${CPGBENCH2_SRC:-$ROOT/../shared/bench/corosync-baseline/src/cpgbench2.c}
NODES=${NODES:-3}
SECS=${SECS:-10}
ROUNDS=${ROUNDS:-2}
IDLE=${IDLE:-30}
SIZES=${SIZES:-64 1024 16384}
P=fbc
if [ "${1:-}" = clean ]; then VERBOSE=1 ns_delete $P "$NODES"; exit 0; fi
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces)"; exit 1; }
command -v corosync > /dev/null || { echo "FAIL: corosync not installed"; exit 1; }
[ -x "$FERROSYNCD" ] && [ -x "$FERROSYNC" ] || { echo "FAIL: build first: cargo build --release"; exit 1; }
ns_refuse_existing $P "$NODES"

W=$(mktemp -d /tmp/ferrosync-bench-cpg.XXXXXX)
PIDS=()
stop_all() { stop_pids "${PIDS[@]}"; PIDS=(); }
cleanup() { stop_all; ns_delete $P "$NODES"; [ -n "${KEEP:-}" ] && echo "kept $W" || rm -rf "$W"; }
trap cleanup EXIT
gcc -O2 -o "$W/cpgbench2" "$CPGBENCH2_SRC" -lcpg -lpthread 2> "$W/gcc.log" || { echo "FAIL: cannot build cpgbench2"; exit 1; }
ns_create $P 10.206.0 "$NODES"
RESULTS=$W/results.tsv   # engine transport tool mode size round msgs_per_s MB_per_s p50_us p99_us seq_errors cpu_us_per_msg
: > "$RESULTS"

# start_engine ENGINE TRANSPORT: N daemons, waits for quorum with every node.
start_engine() {
  local engine=$1 transport=$2 i
  for i in $(seq 1 "$NODES"); do
    local d=$W/run-$engine-$transport-n$i
    rm -rf "$d"; write_conf "$d/corosync.conf" bench 10.206.0 "$NODES" default "$d"
    sed -i "s/transport: udpu/transport: $transport/" "$d/corosync.conf"
    if [ "$engine" = ferrosyncd ]; then PIDS+=("$(start_ferrosyncd "$P$i" "$d")")
    else PIDS+=("$(start_corosync "$P$i" "$d")"); fi
  done
  all() { ip netns exec ${P}1 corosync-quorumtool -s 2>/dev/null | grep -q "^Nodes: *$NODES$"; }
  wait_for 60 all || { echo "FAIL: $engine/$transport: no $NODES-node ring"; return 1; }
  sleep 1
}

# cpgbench ENGINE TRANSPORT MODE SIZE ROUND [RATE]: one cpgbench2 run, result appended.
cpgbench() {
  local engine=$1 transport=$2 mode=$3 size=$4 round=$5 rate=${6:-} g=g$RANDOM i rp=""
  local flag=""; [ "$mode" = poll ] && flag=-S
  for i in $(seq 2 "$NODES"); do
    ip netns exec "$P$i" timeout $((SECS + 60)) "$W/cpgbench2" recv -g $g -n "$NODES" -T $((SECS + 50)) \
      > "$W/recv-$g-$i.out" 2>/dev/null & rp="$rp $!"
  done
  sleep 0.3
  local out cpu0 cpu1
  cpu0=$(daemons_cpu_ns)
  out=$(ip netns exec ${P}1 timeout $((SECS + 60)) "$W/cpgbench2" send $flag -g $g -n "$NODES" -s "$size" -t "$SECS" \
    ${rate:+-r $rate} 2>/dev/null | grep '^RESULT')
  # shellcheck disable=SC2086
  wait $rp 2>/dev/null
  cpu1=$(daemons_cpu_ns)
  local errs=0
  for i in $(seq 2 "$NODES"); do
    e=$(sed -n 's/.*seq_errors=\([0-9]*\).*/\1/p' "$W/recv-$g-$i.out"); errs=$((errs + ${e:-1}))
  done
  f() { echo "$out" | sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
  local cpu_us; cpu_us=$(per_message_us "$cpu0" "$cpu1" "$(f delivered_total)")
  echo -e "$engine\t$transport\tcpgbench2\t$mode${rate:+@$rate}\t$size\t$round\t$(f msgs_per_s)\t$(f MB_per_s)\t$(f lat_us_p50)\t$(f lat_us_p99)\t$errs\t$cpu_us" | tee -a "$RESULTS"
}

# CPU time (ns) of a process, all its threads (corosync with knet works in threads of its own).
process_cpu_ns() {
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{t += $1} END {printf "%d\n", t}'
}

# CPU time (ns) of every daemon of the cluster, summed.
daemons_cpu_ns() {
  local p t=0
  for p in "${PIDS[@]}"; do t=$((t + $(process_cpu_ns "$p"))); done
  echo $t
}

# per_message_us NS0 NS1 MESSAGES: the daemons' CPU per message delivered, in µs: what the engine
# itself costs, apart from the clients and from how the shared cores were divided.
per_message_us() {
  [ -n "$3" ] && [ "$3" != 0 ] && echo "scale=2; ($2 - $1) / 1000 / $3" | bc || echo 0
}

# ferrobench ENGINE TRANSPORT SIZE ROUND [RATE]: `ferrosync bench cpg` on every node at once.
ferrobench() {
  local engine=$1 transport=$2 size=$3 round=$4 rate=${5:-} i bp="" g=f$RANDOM
  for i in $(seq 2 "$NODES"); do
    ip netns exec "$P$i" timeout $((SECS + 90)) "$FERROSYNC" --json bench cpg --receive-only --group $g \
      --members "$NODES" --seconds "$SECS" > "$W/fb-$g-$i.json" 2>/dev/null & bp="$bp $!"
  done
  sleep 0.3
  local cpu0 cpu1
  cpu0=$(daemons_cpu_ns)
  ip netns exec ${P}1 timeout $((SECS + 90)) "$FERROSYNC" --json bench cpg --group $g --members "$NODES" \
    --seconds "$SECS" --size "$size" ${rate:+--rate $rate} > "$W/fb-$g-1.json" 2>/dev/null
  # shellcheck disable=SC2086
  wait $bp 2>/dev/null
  cpu1=$(daemons_cpu_ns)
  python3 - "$W" "$g" "$NODES" "$engine" "$transport" "$size" "$round" "${rate:-}" "$((cpu1 - cpu0))" <<'EOF' | tee -a "$RESULTS"
import json, sys
w, g, n, engine, transport, size, rnd, rate, cpu_ns = sys.argv[1:]
def load(i):
    try: return json.load(open(f"{w}/fb-{g}-{i}.json"))
    except Exception: return None
s = load(1) or {}
errs = 0
for i in range(2, int(n) + 1):
    r = load(i)
    # A receiver that failed (its output is only an error) counts as one error.
    errs += (r["seq_errors"] + r["missing"] + r["unfinished_senders"]) if r and "seq_errors" in r else 1
lat = s.get("latency_ms", {})
mode = "flat" + (f"@{rate}" if rate else "")
cpu_us = int(cpu_ns) / 1000 / s["sent"] if s.get("sent") else 0
print(f"{engine}\t{transport}\tferrosync-bench\t{mode}\t{size}\t{rnd}\t{s.get('sent_per_s', 0):.1f}\t"
      f"{s.get('sent_mb_per_s', 0):.3f}\t{lat.get('p50', 0) * 1000:.0f}\t{lat.get('p99', 0) * 1000:.0f}\t{errs}\t{cpu_us:.2f}")
EOF
}

# sched_report: each ferrosyncd's switches of scheduling class so far (stats.sched.*).
sched_report() {
  local i line=""
  for i in $(seq 1 "$NODES"); do
    line+=" n$i: $(ip netns exec "$P$i" corosync-cmapctl -m stats 2>/dev/null | awk '
      /stats.sched.busy / {b=$NF} /stats.sched.starved / {s=$NF} /stats.sched.realtime / {r=$NF}
      END {printf "%s busy, %s starved, now %s;", b, s, (r == 1 ? "real-time" : "normal")}')"
  done
  echo "   sched:$line"
}

# idle ENGINE: CPU % and RSS of node 1's daemon over IDLE seconds (CPU time in ns from
# /proc/PID/task/*/schedstat: clock ticks are too coarse for a daemon that sleeps).
idle() {
  local engine=$1 pid=${PIDS[0]} t0 t1
  t0=$(process_cpu_ns "$pid")
  sleep "$IDLE"
  t1=$(process_cpu_ns "$pid")
  local rss; rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  echo -e "$engine\tidle\t$(echo "scale=3; 100 * ($t1 - $t0) / ($IDLE * 1000000000)" | bc)\t$rss" | tee -a "$W/idle.tsv"
}

for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order="corosync ferrosyncd"; else order="ferrosyncd corosync"; fi
  for engine in $order; do
    echo "== round $round: $engine (udpu, $NODES nodes)"
    start_engine "$engine" udpu || { stop_all; continue; }
    [ "$round" = 1 ] && idle "$engine"
    for size in $SIZES; do
      for mode in thread poll; do cpgbench "$engine" udpu "$mode" "$size" "$round"; done
    done
    cpgbench "$engine" udpu poll 64 "$round" 1000
    # The Rust client speaks libqb's protocol, so it measures corosync too.
    for size in $SIZES; do ferrobench "$engine" udpu "$size" "$round"; done
    ferrobench "$engine" udpu 64 "$round" 1000
    # ferrosyncd's scheduling class (system.sched_rr: auto): switches during the round.
    [ "$engine" = ferrosyncd ] && sched_report
    stop_all
  done
  echo "== round $round: corosync (knet, $NODES nodes)"
  if start_engine corosync knet; then
    cpgbench corosync knet thread 16384 "$round"
    cpgbench corosync knet poll 16384 "$round"
    cpgbench corosync knet poll 64 "$round" 1000
  fi
  stop_all
done

echo
python3 - "$RESULTS" "$W/idle.tsv" "$NODES" <<'EOF'
import sys, collections
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
best = collections.defaultdict(lambda: None)
for e, t, tool, mode, size, rnd, mps, mbs, p50, p99, errs, cpu in rows:
    k = (e, t, tool, mode, size)
    v = (float(mps or 0), float(mbs or 0), float(p50 or 0), float(p99 or 0), int(errs or 0), float(cpu or 0))
    b = best[k]
    if "@" in mode:   # latency runs: best = lowest p99
        best[k] = v if b is None or v[3] < b[3] else b
    else:
        best[k] = v if b is None or v[0] > b[0] else b
print(f"CPG, {sys.argv[3]} nodes, best of the rounds (sender n1; seq errors summed over receivers)")
print("(cpu us/msg: CPU time of all the cluster's daemons per message delivered, in that run)")
print(f"{'engine':<11}{'transport':<10}{'tool':<16}{'mode':<10}{'size':>6}{'msgs/s':>12}{'MB/s':>9}{'p50 us':>9}{'p99 us':>9}{'errs':>6}{'cpu us/msg':>12}")
for k in sorted(best):
    v = best[k]
    print(f"{k[0]:<11}{k[1]:<10}{k[2]:<16}{k[3]:<10}{k[4]:>6}{v[0]:>12.0f}{v[1]:>9.2f}{v[2]:>9.0f}{v[3]:>9.0f}{v[4]:>6}{v[5]:>12.2f}")
print()
print("ratios ferrosyncd / corosync (same tool and mode):")
for (e, t, tool, mode, size), v in sorted(best.items()):
    if e != "ferrosyncd":
        continue
    for ct in ("udpu", "knet"):
        c = best.get(("corosync", ct, tool, mode, size))
        if not c:
            continue
        if v[0] == 0 or c[0] == 0:
            print(f"  {tool:<16}{mode:<18}{size:>6} B vs corosync {ct}: no ratio, a run failed (0 msgs/s)")
        elif "@" in mode:
            print(f"  {tool:<16}latency {mode:<10}{size:>6} B vs corosync {ct}: p50 {v[2] / max(c[2], 1):.2f}x  p99 {v[3] / max(c[3], 1):.2f}x (lower is better)")
        else:
            print(f"  {tool:<16}{mode:<18}{size:>6} B vs corosync {ct}: {v[0] / max(c[0], 1):.2f}x msgs/s, {v[1] / max(c[1], 1e-9):.2f}x MB/s, "
                  f"{c[5] / max(v[5], 1e-9):.2f}x less daemon CPU per message")
try:
    print()
    for l in open(sys.argv[2]):
        e, _, cpu, rss = l.split()
        print(f"idle {e:<11} CPU {cpu} %  RSS {int(rss) / 1024:.1f} MB (node 1, every service loaded)")
except FileNotFoundError:
    pass
EOF
