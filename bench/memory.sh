#!/usr/bin/env bash
# memory.sh - peak RSS of `mailer send` as the list grows: each size is sent
# in full into smtp-sink on 127.0.0.1 and measured with /usr/bin/time -v.
#
# Usage: bench/memory.sh [-s "100000 1000000"] [-c 16] [-p 2544]
set -euo pipefail
. "$(dirname "$0")/common.sh"

SIZES="100000 1000000"; C=16; PORT=2544
while getopts "s:c:p:h" o; do
  case $o in s) SIZES=$OPTARG;; c) C=$OPTARG;; p) PORT=$OPTARG;; *) sed -n '2,6p' "$0"; exit 2;; esac
done
WORK=$(mktemp -d /tmp/mailer-mem.XXXXXX)
cleanup() { "$SINKSH" stop -p "$PORT" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

build_mailer "$WORK"
gen_template "$WORK/bench.tmpl"
"$SINKSH" start -p "$PORT" >/dev/null
echo "# mailer send -> smtp-sink 127.0.0.1:$PORT, concurrency $C, ~4.3 KB messages, $(date -u +%FT%TZ)"
echo "| recipients | delivered | sink count | wall s | msgs/s | peak RSS MB |"
echo "|---|---|---|---|---|---|"
for n in $SIZES; do
  gen_list "$WORK/list.csv" "$n"; rm -f "$WORK/results.csv"
  before=$("$SINKSH" count -p "$PORT")
  /usr/bin/time -v -o "$WORK/time" "$WORK/mailer" send --list "$WORK/list.csv" --template "$WORK/bench.tmpl" \
    --relay "smtp+plain://127.0.0.1:$PORT" --results "$WORK/results.csv" --concurrency "$C" --quiet --hello-name bench.test > "$WORK/summary"
  after=$("$SINKSH" count -p "$PORT")
  rss=$(awk -F: '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$WORK/time")
  wall=$(awk '/Elapsed \(wall clock\)/ { n = split($NF, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s }' "$WORK/time")
  del=$(awk -F, '$2 == "delivered"' "$WORK/results.csv" | wc -l)
  echo "| $n | $del | $((after - before)) | $wall | $(awk -v n="$n" -v w="$wall" 'BEGIN { printf "%.0f", n / w }') | $rss |"
done
