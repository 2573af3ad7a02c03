#!/usr/bin/env bash
# serve.sh - mailer serve under a burst of RFC 8058 one-click POSTs: wrk (a
# real HTTP load generator, from Debian; installed if missing) with a Lua
# script that gives every request its own address and token, C connections
# for D seconds against serve on 127.0.0.1. Reports wrk's requests/s and
# latency, then checks the suppression file: one row per distinct address,
# as many rows as serve recorded, every one a 200 that came after its fsync.
# With -s the fsync system calls are counted (strace -c), to show the group
# commit: far fewer fsyncs than unsubscribes.
#
# Usage: bench/serve.sh [-c 50] [-t 2] [-d 10] [-n 300000] [-p 18480] [-s]
set -euo pipefail
. "$(dirname "$0")/common.sh"

C=50; T=2; DUR=10; N=300000; PORT=18480; STRACE=
while getopts "c:t:d:n:p:sh" o; do
  case $o in c) C=$OPTARG;; t) T=$OPTARG;; d) DUR=$OPTARG;; n) N=$OPTARG;; p) PORT=$OPTARG;; s) STRACE=1;; *) sed -n '2,12p' "$0"; exit 2;; esac
done
if ! command -v wrk >/dev/null; then
  echo "installing wrk (apt-get install wrk)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null
fi
[ -z "$STRACE" ] || command -v strace >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q strace >/dev/null
# On disk, not tmpfs: an fsync there costs what it costs in production.
WORK=$(mktemp -d /var/tmp/mailer-serve.XXXXXX)
PID=
cleanup() { [ -z "$PID" ] || kill "$PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
df -T "$WORK" | awk 'NR == 2 { print "suppression file on " $2 " (" $1 ")" }'

export MAILER_UNSUBSCRIBE_SECRET=bench-secret-$RANDOM-$RANDOM-$RANDOM
URL='https://lists.bench.test/unsubscribe?a={{.Address | urlquery}}&t={{.Token}}'
build_mailer "$WORK"
# The paths of N distinct addresses, tokens made from the documented format
# (HMAC-SHA256 of the address, unpadded base64url), not by mailer's code.
python3 - "$N" > "$WORK/paths" <<'PY'
import base64, hashlib, hmac, os, sys, urllib.parse
key = os.environ["MAILER_UNSUBSCRIBE_SECRET"].encode()
for i in range(int(sys.argv[1])):
    a = f"user{i:07d}@d{i % 97}.bench.test"
    t = base64.urlsafe_b64encode(hmac.new(key, a.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()
    print(f"/unsubscribe?a={urllib.parse.quote(a, safe='')}&t={t}")
PY
cat > "$WORK/oneclick.lua" <<'LUA'
-- Each thread takes every T-th path from its own offset, so no two
-- requests (until the list wraps) name the same address.
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  paths = {}
  for l in io.lines(args[1]) do paths[#paths + 1] = l end
  step = tonumber(args[2]); i = id + 1
  wrk.method = "POST"
  wrk.body = "List-Unsubscribe=One-Click"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
function request()
  local p = paths[i]
  i = i + step
  if i > #paths then i = id + 1 end
  return wrk.format(nil, p)
end
LUA

run=("$WORK/mailer" serve --listen "127.0.0.1:$PORT" --suppress "$WORK/unsubscribed.csv" --unsubscribe-url "$URL" --client-rate 0)
if [ -n "$STRACE" ]; then
  strace -f -c -e trace=fsync,fdatasync -o "$WORK/strace" "${run[@]}" > "$WORK/serve.out" 2> "$WORK/serve.log" &
else
  "${run[@]}" > "$WORK/serve.out" 2> "$WORK/serve.log" &
fi
PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/serve.log" 2>/dev/null && break; sleep 0.1; done
grep -q listening "$WORK/serve.log" || { cat "$WORK/serve.log"; exit 1; }

echo "wrk: $C connections, $T threads, ${DUR}s of one-click POSTs, $N distinct addresses"
wrk -t "$T" -c "$C" -d "${DUR}s" --latency -s "$WORK/oneclick.lua" "http://127.0.0.1:$PORT" -- "$WORK/paths" "$T" | tee "$WORK/wrk.out"

target=$PID
[ -z "$STRACE" ] || target=$(pgrep -P "$PID" -f "mailer serve")  # the traced mailer, not strace
kill -TERM "$target"; wait "$PID" || { echo "serve exited $?"; exit 1; }; PID=
cat "$WORK/serve.out"
requests=$(awk '/requests in/ { print $1 }' "$WORK/wrk.out")
non2xx=$(awk '/Non-2xx/ { print $NF }' "$WORK/wrk.out"); non2xx=${non2xx:-0}
recorded=$(awk '/unsubscribes recorded/ { print $2 }' "$WORK/serve.out")
rows=$(tail -n +2 "$WORK/unsubscribed.csv" | wc -l)
distinct=$(tail -n +2 "$WORK/unsubscribed.csv" | cut -d, -f1 | sort -u | wc -l)
access=$(grep -c ' POST /unsubscribe 200 ' "$WORK/serve.log" || true)
echo "requests $requests (non-2xx $non2xx), access log 200s $access, recorded $recorded, rows $rows, distinct addresses $distinct"
if [ -n "$STRACE" ]; then
  awk '$NF == "fsync" || $NF == "fdatasync" { print "fsync calls: " $4 " for " r " rows" }' r="$rows" "$WORK/strace"
fi
ok=1
[ "$rows" = "$distinct" ] || { echo "FAIL: an address is in the file more than once"; ok=; }
[ "$rows" = "$recorded" ] || { echo "FAIL: rows differ from what serve recorded"; ok=; }
[ "$non2xx" = 0 ] || { echo "FAIL: $non2xx answers were not 200"; ok=; }
want=$(( requests < N ? requests : N ))
# wrk does not count the requests in flight when it stops (at most one per
# connection); serve answered them, so they are in the file too.
[ "$rows" -ge "$want" ] && [ "$rows" -le "$((want + C))" ] || { echo "FAIL: $rows rows for $requests requests"; ok=; }
[ -n "$ok" ] && echo "OK: one row per distinct address, each fsynced before its 200"
