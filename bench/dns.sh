#!/usr/bin/env bash
# dns.sh - `mailer check --dns` on a list of 1,000,000 rows over 20,000
# distinct domains, against a local DNS server (bench/dnsbench, miekg/dns on
# 127.0.0.1): wall time and peak RSS from /usr/bin/time -v, with the default
# lookup rate (500/s) and with no cap.
#
# Usage: bench/dns.sh [-n ROWS] [-d DOMAINS] [-r "500 0"]
set -euo pipefail
. "$(dirname "$0")/common.sh"

N=1000000; D=20000; RATES="500 0"
while getopts "n:d:r:h" o; do
  case $o in n) N=$OPTARG;; d) D=$OPTARG;; r) RATES=$OPTARG;; *) sed -n '2,7p' "$0"; exit 2;; esac
done
WORK=$(mktemp -d /tmp/mailer-dns.XXXXXX)
SRV=
cleanup() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

build_mailer "$WORK"
(cd "$ROOT" && go build -o "$WORK/dnsbench" ./bench/dnsbench)
"$WORK/dnsbench" -list "$WORK/list.csv" -rows "$N" -domains "$D"
printf 'From: Bench <bench@sender.test>\nSubject: Hi {{.first_name}}\n\nHello {{.first_name}}.\n' > "$WORK/t.tmpl"

echo "# mailer check --dns, $N rows over $D domains, local miekg/dns server, $(nproc) cores, $(date -u +%FT%TZ)"
echo "| --dns-rate | wall s | peak RSS MB | queries | invalid rows | result |"
echo "|---|---|---|---|---|---|"
for rate in $RATES; do
  rm -f "$WORK/addr"
  "$WORK/dnsbench" -synth -addr-file "$WORK/addr" 2> "$WORK/srv.log" & SRV=$!
  for _ in $(seq 100); do [ -s "$WORK/addr" ] && break; sleep 0.05; done
  set +e
  /usr/bin/time -v -o "$WORK/time" "$WORK/mailer" check --dns --resolver "$(cat "$WORK/addr")" --dns-rate "$rate" \
    --list "$WORK/list.csv" --template "$WORK/t.tmpl" > "$WORK/out" 2> "$WORK/err"
  code=$?
  set -e
  kill "$SRV"; wait "$SRV" 2>/dev/null || true; SRV=
  rss=$(awk -F: '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$WORK/time")
  wall=$(awk '/Elapsed \(wall clock\)/ { n = split($NF, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s }' "$WORK/time")
  q=$(awk '/queries answered/ { print $2 }' "$WORK/srv.log")
  inv=$(awk '/^rows:/ { for (i = 1; i <= NF; i++) if ($i == "invalid") print $(i+1) }' "$WORK/out" | tr -d ,)
  echo "| $rate | $wall | $rss | $q | $inv | exit $code |"
  grep '^dns:' "$WORK/out" | sed 's/^/  /'
done
