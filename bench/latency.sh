#!/usr/bin/env bash
# latency.sh - mailer and smtp-source against smtp-sink D ms away in each
# direction (a 2*D ms round trip): msgs/s per connection and round trips per
# message (elapsed * C / (messages * RTT)) at each concurrency, in one run.
#
# Usage: bench/latency.sh [-m 100] [-c "1 4 16 64"] [-d 25] [-p 2551]
#   -m M     messages per connection (C*M in all, per client and concurrency)
#   -c LIST  concurrencies: mailer --concurrency C, smtp-source -s C
#   -d D     one-way delay in ms (the round trip is 2*D)
#   -p PORT  smtp-sink port on 127.0.0.1 (the delaying proxy takes PORT+1)
# The delay is netem on lo in a network namespace of the script's own where
# the kernel has netem, else bench/delayproxy (a Go TCP proxy on 127.0.0.1
# delaying each direction by D ms, in order). Connection setup and QUIT are
# in the elapsed time, as a user sees it.
set -euo pipefail
. "$(dirname "$0")/common.sh"

M=100; CS="1 4 16 64"; D=25; PORT=2551
while getopts "m:c:d:p:h" o; do
  case $o in m) M=$OPTARG;; c) CS=$OPTARG;; d) D=$OPTARG;; p) PORT=$OPTARG;; *) sed -n '2,15p' "$0"; exit 2;; esac
done

if [ "${LATENCY_NETEM:-}" != 1 ] && unshare -n sh -c 'ip link set lo up && tc qdisc add dev lo root netem delay 1ms' 2>/dev/null; then
  exec unshare -n env LATENCY_NETEM=1 "$0" "$@"
fi

WORK=$(mktemp -d /tmp/mailer-latency.XXXXXX)
PROXY=""
cleanup() {
  [ -n "$PROXY" ] && kill "$PROXY" 2>/dev/null || true
  "$SINKSH" stop -p "$PORT" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

build_mailer "$WORK"
gen_template "$WORK/bench.tmpl"
"$SINKSH" start -p "$PORT" >/dev/null
if [ "${LATENCY_NETEM:-}" = 1 ]; then
  ip link set lo up
  tc qdisc add dev lo root netem delay "${D}ms"
  TARGET=$PORT; HOW="netem on lo, own network namespace"
else
  (cd "$ROOT" && go build -o "$WORK/delayproxy" ./bench/delayproxy)
  "$WORK/delayproxy" -listen "127.0.0.1:$((PORT + 1))" -to "127.0.0.1:$PORT" -delay "${D}ms" -for 1h > "$WORK/proxy.out" &
  PROXY=$!
  for _ in $(seq 100); do [ -s "$WORK/proxy.out" ] && break; sleep 0.05; done
  TARGET=$((PORT + 1)); HOW="bench/delayproxy (no netem in this kernel)"
fi
RTT=$((2 * D))

elapsed_ns() {
  local st en rc=0; st=$(date +%s%N); "$@" >"$WORK/out" 2>>"$WORK/err" || rc=$?; en=$(date +%s%N)
  [ $rc = 0 ] || echo "$1 exited $rc: $(tail -2 "$WORK/out" | tr '\n' ' ')" >> "$WORK/err"
  echo $((en - st))
}
check() { # label before n
  local after; after=$("$SINKSH" wait -p "$PORT" $(($2 + $3)) 20 || true)
  [ $((after - $2)) -eq "$3" ] || echo "WARNING: $1: sink counted $((after - $2)) messages, want $3" >&2
}
row() { # client c n ns
  awk -v cl="$1" -v c="$2" -v n="$3" -v ns="$4" -v rtt="$RTT" 'BEGIN {
    s = ns / 1e9; printf "| %s | %d | %d | %.2f | %.1f | %.2f |\n", cl, c, n, s, n / s / c, s * c / (n * rtt / 1000) }'
}

echo "# mailer and smtp-source -> smtp-sink, ${RTT} ms round trip ($HOW), $M messages per connection, $(nproc) CPUs, $(date -u +%FT%TZ)"
echo "| client | C | messages | elapsed s | msgs/s per connection | round trips per message |"
echo "|---|---|---|---|---|---|"
for c in $CS; do
  n=$((c * M))
  gen_list "$WORK/list.csv" "$n"
  b=$("$SINKSH" count -p "$PORT")
  ns=$(elapsed_ns timeout 600 /usr/sbin/smtp-source -d -s "$c" -m "$n" -l 4096 -f bench@sender.test -t rcpt@sink.test \
    -S "bench message" "127.0.0.1:$TARGET")
  check smtp-source "$b" "$n"; row smtp-source "$c" "$n" "$ns"
  rm -f "$WORK/results.csv"
  b=$("$SINKSH" count -p "$PORT")
  ns=$(elapsed_ns timeout 600 "$WORK/mailer" send --list "$WORK/list.csv" --template "$WORK/bench.tmpl" \
    --relay "smtp+plain://127.0.0.1:$TARGET" --results "$WORK/results.csv" --concurrency "$c" --quiet --hello-name bench.test)
  check mailer "$b" "$n"; row mailer "$c" "$n" "$ns"
done
# The bench template has no List-Unsubscribe: send warns about it, which is no error here.
if grep -qv "^mailer: warning: " "$WORK/err" 2>/dev/null; then echo; echo "errors (first 5):"; grep -v "^mailer: warning: " "$WORK/err" | head -5; fi
