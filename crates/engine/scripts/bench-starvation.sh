#!/usr/bin/env bash
# The ring under CPU starvation: N daemons in namespaces, HOGS busy loops at nice HOGNICE on
# every core of the machine, CPG at RATE msgs/s from n1 (`ferrosync bench cpg`) for SECS.
# Prints the memberships formed while the hogs ran (0 = the token kept moving), each
# ferrosyncd's scheduling switches (stats.sched.*) and the sender's latency. Engines:
#   auto      ferrosyncd's default (system.sched_rr: auto: real-time except while local
#             clients are busy, and whenever the loop runs late)
#   rr        ferrosyncd -r (always SCHED_RR, corosync's default)
#   normal    ferrosyncd --no-realtime (never)
#   corosync  corosync 3.1.7 with its default (SCHED_RR)
#
#   sudo bash crates/engine/scripts/bench-starvation.sh                    # auto, 32 hogs at nice -20
#   ENGINES="auto normal rr corosync" HOGS=8 HOGNICE=0 sudo bash …
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
ROOT=$HERE/../../..
FERROSYNCD_BIN=${FERROSYNCD:-$ROOT/target/release/ferrosyncd}
FERROSYNC=${FERROSYNC:-$ROOT/target/release/ferrosync}
ENGINES=${ENGINES:-auto}
NODES=${NODES:-3}
SECS=${SECS:-20}
RATE=${RATE:-1000}
HOGS=${HOGS:-32}
HOGNICE=${HOGNICE:--20}
TOKEN=${TOKEN:-1000}
P=fst
if [ "${1:-}" = clean ]; then VERBOSE=1 ns_delete $P "$NODES"; exit 0; fi
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces)"; exit 1; }
[ -x "$FERROSYNCD_BIN" ] && [ -x "$FERROSYNC" ] || { echo "FAIL: build first: cargo build --release"; exit 1; }
ns_refuse_existing $P "$NODES"

W=$(mktemp -d /tmp/ferrosync-bench-starvation.XXXXXX)
PIDS=(); HOG_PIDS=()
stop_hogs() { for p in "${HOG_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done; HOG_PIDS=(); }
stop_all() { stop_hogs; stop_pids "${PIDS[@]}"; PIDS=(); }
cleanup() { stop_all; ns_delete $P "$NODES"; [ -n "${KEEP:-}" ] && echo "kept $W" || rm -rf "$W"; }
trap cleanup EXIT
ns_create $P 10.207.0 "$NODES"
# Wrappers: start_ferrosyncd runs $FERROSYNCD with the lib's fixed arguments.
printf '#!/bin/sh\nexec %s -r "$@"\n' "$FERROSYNCD_BIN" > "$W/ferrosyncd-rr"
printf '#!/bin/sh\nexec %s --no-realtime "$@"\n' "$FERROSYNCD_BIN" > "$W/ferrosyncd-normal"
chmod +x "$W/ferrosyncd-rr" "$W/ferrosyncd-normal"

memberships() { cat "$W"/run-"$1"-n*/daemon.log 2>/dev/null | grep -ci "new membership"; }

for engine in $ENGINES; do
  for i in $(seq 1 "$NODES"); do
    d=$W/run-$engine-n$i
    write_conf "$d/corosync.conf" starve 10.207.0 "$NODES" "$TOKEN" "$d"
    case $engine in
      auto) FERROSYNCD=$FERROSYNCD_BIN; PIDS+=("$(start_ferrosyncd "$P$i" "$d")");;
      rr) FERROSYNCD=$W/ferrosyncd-rr; PIDS+=("$(start_ferrosyncd "$P$i" "$d")");;
      normal) FERROSYNCD=$W/ferrosyncd-normal; PIDS+=("$(start_ferrosyncd "$P$i" "$d")");;
      corosync) PIDS+=("$(start_corosync "$P$i" "$d")");;
      *) echo "FAIL: unknown engine $engine"; exit 1;;
    esac
  done
  all() { ip netns exec ${P}1 corosync-quorumtool -s 2>/dev/null | grep -q "^Nodes: *$NODES$"; }
  wait_for 60 all || { echo "FAIL: $engine: no $NODES-node ring"; exit 1; }
  sleep 1
  before=$(memberships "$engine")
  for _ in $(seq 1 "$HOGS"); do nice -n "$HOGNICE" sh -c 'while :; do :; done' & HOG_PIDS+=($!); done
  group=starve$RANDOM
  RECEIVERS=()
  for i in $(seq 2 "$NODES"); do
    ip netns exec $P$i timeout $((SECS + 120)) "$FERROSYNC" --json bench cpg --receive-only --group $group \
      --members "$NODES" --seconds "$SECS" > "$W/$engine-n$i.json" 2>&1 & RECEIVERS+=($!)
  done
  ip netns exec ${P}1 timeout $((SECS + 120)) "$FERROSYNC" --json bench cpg --group $group --members "$NODES" \
    --seconds "$SECS" --rate "$RATE" > "$W/$engine-n1.json" 2>&1
  wait "${RECEIVERS[@]}" 2>/dev/null
  stop_hogs
  after=$(memberships "$engine")
  sched=""
  if [ "$engine" = auto ]; then
    for i in $(seq 1 "$NODES"); do
      sched+=" n$i: $(ip netns exec $P$i corosync-cmapctl -m stats 2>/dev/null | awk '
        /stats.sched.starved / {s=$NF} /stats.sched.busy / {b=$NF} /stats.sched.max_late_us / {l=$NF}
        END {printf "%s starved, %s busy, latest wakeup %d ms;", s, b, l/1000}')"
    done
  fi
  echo "$engine: $HOGS hogs at nice $HOGNICE, token $TOKEN ms, $SECS s: memberships formed $((after - before));$sched"
  python3 - "$W/$engine-n1.json" "$NODES" "$W/$engine" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    l = d["latency_ms"]
    print(f"  sender: {d['sent_per_s']:.0f} msgs/s, latency p50 {l['p50']:.2f} ms, p99 {l['p99']:.2f} ms, max {l['max']:.1f} ms, seq errors {d['seq_errors']}")
except Exception as e:
    print("  sender failed:", open(sys.argv[1]).read().strip()[:200])
for i in range(2, int(sys.argv[2]) + 1):
    f = f"{sys.argv[3]}-n{i}.json"
    try:
        d = json.load(open(f))
        print(f"  n{i}: received {d['received']}, seq errors {d['seq_errors']}, missing {d['missing']}")
    except Exception:
        print(f"  n{i} failed:", open(f).read().strip()[:200])
PY
  stop_all
done
