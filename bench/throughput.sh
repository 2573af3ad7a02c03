#!/usr/bin/env bash
# throughput.sh - mailer against Postfix's smtp-source, both into the same
# smtp-sink on 127.0.0.1, in one run on one machine: msgs/s and the ratio.
#
# Usage: bench/throughput.sh [-n 20000] [-c "1 4 16"] [-r 3] [-p 2541]
#   -n N     recipients (mailer) and messages (smtp-source) per run
#   -c LIST  concurrencies: mailer --concurrency C, smtp-source -s C
#   -r REPS  repetitions; runs alternate source/mailer, medians are reported
#   -p PORT  smtp-sink port on 127.0.0.1
# Both keep their connections for the whole run (smtp-source -d; mailer reuses
# connections). Message size: mailer renders a ~4.3 KB personalised message per
# row (bench/common.sh), smtp-source sends -l 4096 plus its headers.
set -euo pipefail
. "$(dirname "$0")/common.sh"

N=20000; CS="1 4 16"; REPS=3; PORT=2541
while getopts "n:c:r:p:h" o; do
  case $o in n) N=$OPTARG;; c) CS=$OPTARG;; r) REPS=$OPTARG;; p) PORT=$OPTARG;; *) sed -n '2,13p' "$0"; exit 2;; esac
done

WORK=$(mktemp -d /tmp/mailer-bench.XXXXXX)
cleanup() { "$SINKSH" stop -p "$PORT" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

build_mailer "$WORK"
gen_list "$WORK/list.csv" "$N"
gen_template "$WORK/bench.tmpl"
"$SINKSH" start -p "$PORT" >/dev/null

# Size of one rendered message, from a dry run of the first row.
"$WORK/mailer" send --list "$WORK/list.csv" --template "$WORK/bench.tmpl" --dry-run --limit 1 \
  --results "$WORK/dry.csv" --quiet >/dev/null
MSIZE=$(awk -F, 'NR==2 { match($0, /would send [0-9]+ bytes/); s = substr($0, RSTART+11, RLENGTH-17); print s }' "$WORK/dry.csv")

elapsed_ns() { # a failed run is reported (stderr, exit code), and still timed; CPU (user+sys s) in $WORK/cpu
  local st en rc=0; st=$(date +%s%N)
  /usr/bin/time -f "%U %S" -o "$WORK/time" "$@" >"$WORK/out" 2>>"$WORK/err" || rc=$?; en=$(date +%s%N)
  awk '{ print $1 + $2 }' "$WORK/time" > "$WORK/cpu"
  [ $rc = 0 ] || { echo "$1 exited $rc: $(tail -2 "$WORK/out" | tr '\n' ' ')" >> "$WORK/err"; }
  echo $((en - st))
}
run_source() {
  elapsed_ns timeout 300 /usr/sbin/smtp-source -d -s "$1" -m "$N" -l 4096 -f bench@sender.test -t rcpt@sink.test \
    -S "bench message" "127.0.0.1:$PORT"
}
run_mailer() {
  rm -f "$WORK/results.csv"
  elapsed_ns timeout 300 "$WORK/mailer" send --list "$WORK/list.csv" --template "$WORK/bench.tmpl" \
    --relay "smtp+plain://127.0.0.1:$PORT" --results "$WORK/results.csv" --concurrency "$1" --quiet --hello-name bench.test
}
check() { # label before: the sink's counter lags, so wait for it (at most 20 s)
  local after; after=$("$SINKSH" wait -p "$PORT" $(($2 + N)) 20 || true)
  [ $((after - $2)) -eq "$N" ] || echo "WARNING: $1: sink counted $((after - $2)) messages, want $N" >&2
}

echo "# mailer vs smtp-source -> smtp-sink 127.0.0.1:$PORT, N=$N, mailer message ${MSIZE} B, smtp-source -l 4096, reps=$REPS, $(nproc) CPUs, $(date -u +%FT%TZ)"
echo "| C | smtp-source msgs/s | mailer msgs/s | ratio (median of per-rep ratios) | ratios | smtp-source CPU µs/msg | mailer CPU µs/msg |"
echo "|---|---|---|---|---|---|---|"
for c in $CS; do
  : > "$WORK/s"; : > "$WORK/m"; : > "$WORK/q"; : > "$WORK/sc"; : > "$WORK/mc"
  for _ in $(seq "$REPS"); do
    b=$("$SINKSH" count -p "$PORT"); ns=$(run_source "$c"); check smtp-source "$b"
    awk -v n="$N" '{ printf "%.0f\n", $1 * 1e6 / n }' "$WORK/cpu" >> "$WORK/sc"
    s=$(awk -v n="$N" -v ns="$ns" 'BEGIN { printf "%.0f", n / (ns / 1e9) }'); echo "$s" >> "$WORK/s"
    b=$("$SINKSH" count -p "$PORT"); ns=$(run_mailer "$c"); check mailer "$b"
    awk -v n="$N" '{ printf "%.0f\n", $1 * 1e6 / n }' "$WORK/cpu" >> "$WORK/mc"
    m=$(awk -v n="$N" -v ns="$ns" 'BEGIN { printf "%.0f", n / (ns / 1e9) }'); echo "$m" >> "$WORK/m"
    awk -v s="$s" -v m="$m" 'BEGIN { printf "%.2f\n", m / s }' >> "$WORK/q"
  done
  echo "| $c | $(median < "$WORK/s") | $(median < "$WORK/m") | $(median < "$WORK/q") | $(tr '\n' ' ' < "$WORK/q")| $(median < "$WORK/sc") | $(median < "$WORK/mc") |"
done
# The bench template has no List-Unsubscribe: send warns about it, which is no error here.
if grep -qv "^mailer: warning: " "$WORK/err" 2>/dev/null; then echo; echo "errors (first 5):"; grep -v "^mailer: warning: " "$WORK/err" | head -5; fi
