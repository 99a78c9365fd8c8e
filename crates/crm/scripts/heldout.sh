#!/bin/bash
# Scores the scheduler on CIB inputs it was never tuned on (for example the
# cts/scheduler/xml cases of later Pacemaker tags that are not in
# ../shared/scheduler-cases), with crm_simulate 2.1.5's own output as the
# expected result.
#
#   heldout.sh XML_DIR OUT_DIR [FERROSYNC] [CRM_SIMULATE]
#
# Builds OUT_DIR as a case directory (index.tsv, cases/, expected/) from the
# inputs crm_simulate accepts (those it rejects or aborts on are listed in
# OUT_DIR/refused.txt) and runs `ferrosync crm conformance --cases OUT_DIR`,
# which compares the Transition Summary and Revised Cluster Status sections
# as ../shared/scheduler-cases/score.sh does. The inputs are not copied into
# the repository; OUT_DIR holds them.
#
# To collect the upstream inputs of a tag not yet scored:
#   git -C PACEMAKER ls-tree --name-only TAG cts/scheduler/xml/ | while read p; do
#     n=$(basename "$p" .xml); [ -e ../shared/scheduler-cases/cases/$n.xml ] || git -C PACEMAKER show "TAG:$p" > XML_DIR/$n.xml
#   done
set -euo pipefail
xml_dir=${1:?XML_DIR}
out=${2:?OUT_DIR}
ferrosync=${3:-ferrosync}
crm_simulate=${4:-/usr/sbin/crm_simulate}
mkdir -p "$out/cases" "$out/expected"
printf 'name\ttier\tgroup\targs\tdescription\n' > "$out/index.tsv"
: > "$out/refused.txt"
for f in "$xml_dir"/*.xml; do
    n=$(basename "$f" .xml)
    LC_ALL=C timeout 60 "$crm_simulate" -S -x "$f" > "$out/expected/$n.summary" 2>/dev/null || true
    if grep -q '^Revised Cluster Status:' "$out/expected/$n.summary"; then
        cp "$f" "$out/cases/$n.xml"
        printf '%s\t1\theld-out\t\t\n' "$n" >> "$out/index.tsv"
    else
        rm -f "$out/expected/$n.summary"
        echo "$n" >> "$out/refused.txt"
    fi
done
echo "$(($(wc -l < "$out/index.tsv") - 1)) cases, $(wc -l < "$out/refused.txt") refused by crm_simulate"
"$ferrosync" crm conformance --cases "$out"
