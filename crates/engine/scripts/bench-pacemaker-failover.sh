#!/usr/bin/env bash
# Pacemaker 2.1.5 failover on ferrosyncd and on corosync 3.1.7, side by side: 3 nodes in
# namespaces (scripts/pacemaker.sh), kill -9 of every process of the node running an
# ocf:pacemaker:Dummy, time until the Dummy runs elsewhere. Engines alternate, REPEAT runs
# each per token; prints every figure and the medians.
#
#   sudo bash crates/engine/scripts/bench-pacemaker-failover.sh        # TOKENS="1000 default" REPEAT=3
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPEAT=${REPEAT:-3}
TOKENS=${TOKENS:-1000 default}
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2); else print "n/a"}'; }
for token in $TOKENS; do
  declare -A runs=()
  for r in $(seq 1 "$REPEAT"); do
    for engine in corosync ferrosyncd; do
      out=$(ENGINE=$engine TOKEN=$token NODES=3 bash "$HERE/pacemaker.sh" 2>&1)
      t=$(echo "$out" | grep -o 'started on n[0-9]* [0-9.]* s after' | awk '{print $4}')
      echo "token $token run $r $engine: ${t:-FAILED}"
      [ -n "$t" ] && runs[$engine]="${runs[$engine]:-} $t"
    done
  done
  for engine in corosync ferrosyncd; do
    echo "token $token $engine median: $(echo "${runs[$engine]:-}" | tr ' ' '\n' | grep . | median) s (runs:${runs[$engine]:-})"
  done
  unset runs
done
