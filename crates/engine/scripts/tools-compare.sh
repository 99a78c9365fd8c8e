#!/usr/bin/env bash
# Unmodified corosync tools against a 3-node ferrosyncd cluster and against a 3-node
# corosync 3.1.7 cluster (same namespaces, same configuration), outputs compared field by
# field after normalising what differs by nature (dates, ring sequence numbers, pids).
# Tools: corosync-cmapctl (get, set, delete, list, -t track), corosync-quorumtool -s -l,
# corosync-cpgtool, corosync-cfgtool -s -n -a -R -L; and SIGHUP reopens ferrosyncd's log file.
#
#   sudo bash crates/engine/scripts/tools-compare.sh     # exit 0 = every output matches
#   KEEP=1 …                                             # keep the outputs
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
FERROSYNCD=${FERROSYNCD:-$HERE/../../../target/release/ferrosyncd}
CPGBENCH2_SRC=${CPGBENCH2_SRC:-$HERE/../../../../shared/bench/corosync-baseline/src/cpgbench2.c}
if [ "${1:-}" = clean ]; then VERBOSE=1 ns_delete ftc 3; exit 0; fi
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces)"; exit 1; }
command -v corosync-cmapctl > /dev/null || { echo "FAIL: corosync not installed"; exit 1; }
[ -x "$FERROSYNCD" ] || { echo "FAIL: $FERROSYNCD not built"; exit 1; }
ns_refuse_existing ftc 3

W=$(mktemp -d /tmp/ferrosync-tools.XXXXXX)
PIDS=()
stop_all() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done; sleep 1
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done; sleep 0.1; shm_forget "${PIDS[@]}"; PIDS=(); }
cleanup() { stop_all; ns_delete ftc 3; [ -n "${KEEP:-}" ] && echo "kept $W" || rm -rf "$W"; }
trap cleanup EXIT
gcc -O2 -o "$W/cpgbench2" "$CPGBENCH2_SRC" -lcpg 2> "$W/gcc.log" || { echo "FAIL: cannot build cpgbench2"; exit 1; }
ns_create ftc 10.205.0 3

X() { ip netns exec ftc1 "$@" 2>&1; }
# normalise: dates, ring ids (seq and rep vary with start order), pids.
norm() { sed -E -e 's/^(Date: +).*/\1<date>/' -e 's/(Ring ID: +)[0-9a-f.]+/\1<ring>/' \
  -e 's/ [0-9]+ +[0-9]+ +\(/ <pid> (/' -e 's/\t +[0-9]+\t/\t<pid>\t/'; }

run_engine() { # run_engine ENGINE OUTDIR
  local engine=$1 out=$2 i
  mkdir -p "$out"
  for i in 1 2 3; do
    rm -rf "$W/$engine-n$i"; write_conf "$W/$engine-n$i/corosync.conf" tools 10.205.0 3 1000 "$W/$engine-n$i"
    if [ "$engine" = ferrosyncd ]; then PIDS+=("$(FERROSYNCD=$FERROSYNCD start_ferrosyncd "ftc$i" "$W/$engine-n$i")")
    else PIDS+=("$(start_corosync "ftc$i" "$W/$engine-n$i")"); fi
  done
  three() { X corosync-quorumtool -s | grep -q '^Nodes: *3$'; }
  wait_for 30 three || echo "($engine: no 3-node quorum)"
  sleep 1
  # a CPG member on each node for cpgtool
  for i in 1 2 3; do ip netns exec "ftc$i" "$W/cpgbench2" recv -g tools -T 60 > /dev/null 2>&1 & PIDS+=("$!"); done
  sleep 1
  X corosync-cmapctl -g totem.cluster_name > "$out/cmap-get"
  X corosync-cmapctl nodelist > "$out/cmap-list-nodelist"
  X corosync-cmapctl totem.cluster_name > "$out/cmap-list-prefix"
  X corosync-cmapctl runtime.votequorum.this_node_id > "$out/cmap-votequorum"
  X corosync-cmapctl runtime.members | sed -E 's/join_count \(u32\) = [0-9]+/join_count (u32) = <n>/' > "$out/cmap-members"
  X corosync-cmapctl -g no.such.key > "$out/cmap-get-missing"; echo "rc=$?" >> "$out/cmap-get-missing"
  ip netns exec ftc1 timeout 3 corosync-cmapctl -t test. > "$out/cmap-track.raw" 2>&1 & tp=$!
  sleep 0.5
  { X corosync-cmapctl -s test.u32 u32 7; X corosync-cmapctl -g test.u32
    X corosync-cmapctl -s test.str str hello; X corosync-cmapctl -g test.str
    X corosync-cmapctl -s test.u32 u32 8; X corosync-cmapctl -g test.u32
    X corosync-cmapctl -s test.i8 i8 -3; X corosync-cmapctl -g test.i8
    X corosync-cmapctl -d test.u32; X corosync-cmapctl -g test.u32; echo "rc=$?"; } > "$out/cmap-set-get-delete"
  wait "$tp"; sort "$out/cmap-track.raw" > "$out/cmap-track"
  X corosync-quorumtool -s | norm > "$out/quorumtool-s"
  X corosync-quorumtool -l | norm > "$out/quorumtool-l"
  X corosync-cpgtool | norm > "$out/cpgtool"
  X corosync-cfgtool -s > "$out/cfgtool-s"
  X corosync-cfgtool -n > "$out/cfgtool-n"
  X corosync-cfgtool -a 2 > "$out/cfgtool-a"
  X corosync-cfgtool -R > "$out/cfgtool-R"; echo "rc=$?" >> "$out/cfgtool-R"
  X corosync-cfgtool -L > "$out/cfgtool-L"; echo "rc=$?" >> "$out/cfgtool-L"
  if [ "$engine" = ferrosyncd ]; then
    # Log rotation: move the log away, SIGHUP; the daemon lives on and writes a new file.
    local d=$W/$engine-n1 p=${PIDS[0]}
    mv "$d/daemon.log" "$d/daemon.log.1"; kill -HUP "$p"
    rotated() { kill -0 "$p" && grep -q 'log files reopened' "$d/daemon.log" 2>/dev/null; }
    if wait_for 5 rotated; then echo "SIGHUP: log reopened, daemon running"; else echo "FAIL: SIGHUP"; SIGHUP_FAIL=1; fi
  fi
  stop_all
}

run_engine ferrosyncd "$W/ferrosyncd"
run_engine corosync "$W/corosync"
FAIL=${SIGHUP_FAIL:-0}
for f in $(cd "$W/corosync" && ls | grep -v raw); do
  if diff -u "$W/corosync/$f" "$W/ferrosyncd/$f" > "$W/$f.diff"; then echo "same: $f"
  else echo "DIFFERENT: $f"; sed 's/^/    /' "$W/$f.diff"; FAIL=1; fi
done
[ "$FAIL" = 0 ] && echo "TOOLS OK: every output matches corosync's" || echo "TOOLS DIFFER (KEEP=1 keeps $W)"
exit $FAIL
