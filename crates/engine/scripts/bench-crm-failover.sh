#!/usr/bin/env bash
# Resource failover side by side, fencing on: kill -9 of every process of the node
# running a Dummy → the Dummy running elsewhere, for corosync 3.1.7 + Pacemaker 2.1.5
# (scripts/pacemaker.sh with FENCING=1: the test fence agent fence_ferrosync_test) and
# for ferrosyncd + ferrosync-crmd (`ferrosync bench failover`), 3 nodes in network
# namespaces, the same effective token (corosync's: token + 650 ms for the third node).
# Engines alternate, REPEAT runs each per token; prints every figure, the medians and
# the ratio.
#
#   sudo bash crates/engine/scripts/bench-crm-failover.sh      # TOKENS="1000 default" REPEAT=3
#   BIN=target/release (default): where ferrosync, ferrosyncd, ferrosync-crmd are
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPEAT=${REPEAT:-3}
TOKENS=${TOKENS:-1000 default}
BIN=${BIN:-$HERE/../../../target/release}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (namespaces)"; exit 1; }
for b in ferrosync ferrosyncd ferrosync-crmd; do
  [ -x "$BIN/$b" ] || { echo "FAIL: $BIN/$b not built (cargo build --release)"; exit 1; }
done
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2); else print "n/a"}'; }
for token in $TOKENS; do
  base=$token; [ "$token" = default ] && base=3000
  effective=$((base + 650))
  pcmk="" ferro=""
  for r in $(seq 1 "$REPEAT"); do
    t=$(ENGINE=corosync FENCING=1 TOKEN=$token NODES=3 bash "$HERE/pacemaker.sh" 2>&1 \
        | grep -o 'started on n[0-9]* [0-9.]* s after' | awk '{print $4}')
    echo "token $token run $r corosync+pacemaker: ${t:-FAILED} s"
    [ -n "$t" ] && pcmk="$pcmk $t"
    f=$("$BIN/ferrosync" bench failover --token "$effective" --repeat 1 --bin-dir "$BIN" 2>&1 \
        | grep -o 'elsewhere [0-9.]* s' | awk '{print $2}')
    echo "token $token run $r ferrosync: ${f:-FAILED} s"
    [ -n "$f" ] && ferro="$ferro $f"
  done
  mp=$(echo "$pcmk" | tr ' ' '\n' | grep . | median)
  mf=$(echo "$ferro" | tr ' ' '\n' | grep . | median)
  ratio=$(awk -v f="$mf" -v p="$mp" 'BEGIN { if (p > 0) printf "%.2f", f / p; else print "n/a" }')
  echo "token $token (effective ${effective} ms): corosync+pacemaker median $mp s (runs:$pcmk); ferrosync median $mf s (runs:$ferro); ratio $ratio"
done
