#!/usr/bin/env bash
# rate.sh - rate accuracy: mailer --rate R into smtp-sink on 127.0.0.1 for
# about D seconds; the achieved rate from the results CSV and the busiest
# one-second window (sliding, from the millisecond `time` column) against
# the rate plus the burst.
#
# Usage: bench/rate.sh [-r 500] [-d 20] [-b 1] [-c 16] [-p 2543]
set -euo pipefail
. "$(dirname "$0")/common.sh"

RATE=500; DUR=20; BURST=1; C=16; PORT=2543
while getopts "r:d:b:c:p:h" o; do
  case $o in r) RATE=$OPTARG;; d) DUR=$OPTARG;; b) BURST=$OPTARG;; c) C=$OPTARG;; p) PORT=$OPTARG;; *) sed -n '2,7p' "$0"; exit 2;; esac
done
N=$((RATE * DUR))
WORK=$(mktemp -d /tmp/mailer-rate.XXXXXX)
cleanup() { "$SINKSH" stop -p "$PORT" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

build_mailer "$WORK"
gen_list "$WORK/list.csv" "$N"
gen_template "$WORK/bench.tmpl"
"$SINKSH" start -p "$PORT" >/dev/null
"$WORK/mailer" send --list "$WORK/list.csv" --template "$WORK/bench.tmpl" --relay "smtp+plain://127.0.0.1:$PORT" \
  --results "$WORK/results.csv" --concurrency "$C" --rate "$RATE/s" --burst "$BURST" --quiet --hello-name bench.test > "$WORK/summary"
cat "$WORK/summary"
echo "sink counted: $("$SINKSH" count -p "$PORT")"
# time column -> milliseconds of the day, sorted; then the achieved rate over
# first..last and the most messages in any sliding window [t, t+1000 ms).
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "time") col = i; next }
  $2 == "delivered" { split(substr($col, 12, 12), hms, ":"); printf "%.0f\n", (hms[1] * 3600 + hms[2] * 60 + hms[3]) * 1000 }' \
  "$WORK/results.csv" | sort -n > "$WORK/ms"
awk -v rate="$RATE" -v burst="$BURST" '
  { ts[++n] = $1 }
  END {
    span = (ts[n] - ts[1]) / 1000
    achieved = (n - 1) / span   # n messages, n-1 intervals
    max = 0; j = 1
    for (i = 1; i <= n; i++) { while (ts[i] - ts[j] >= 1000) j++; if (i - j + 1 > max) max = i - j + 1 }
    printf "rate %d/s burst %d: %d messages in %.3f s = %.2f msgs/s (%+.2f%%)\n", rate, burst, n, span, achieved, (achieved - rate) * 100 / rate
    printf "busiest 1-second window (sliding, by the time column): %d messages; limit rate+burst = %d: %s\n", max, rate + burst, (max <= rate + burst) ? "ok" : "EXCEEDED"
  }' "$WORK/ms"
