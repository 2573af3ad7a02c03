#!/bin/sh
# bench/bounces.sh [N]: mailer bounces over a Maildir and over an mbox of N
# (default 100000) DSNs in the shape of feedback/testdata/postfix/hard-5.1.1.eml,
# each for a distinct recipient and Message-ID, matched against a results
# file of N rows (VERP envelope and message_id). Prints time and peak RSS.
set -eu
N=${1:-100000}
cd "$(dirname "$0")/.."
W=$(mktemp -d)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$W"' EXIT; echo "work: $W" >&2
go build -o "$W/mailer" ./cmd/mailer
python3 - "$W" "$N" <<'PY'
import sys, os
w, n = sys.argv[1], int(sys.argv[2])
hdr = "email,status,code,enhanced_code,message,relay,attempts,message_id,time,line,envelope_from,fingerprint,reason\n"
os.makedirs(w + "/md/new"); os.makedirs(w + "/md/cur"); os.makedirs(w + "/md/tmp")
def dsn(i):
    a = "user%d@example.com" % i
    v = "bounces+user%d=example.com@acme.example" % i
    kind = i % 10  # 1 in 10 soft, 1 in 10 policy, the rest hard
    st = "4.2.2" if kind == 0 else "5.7.1" if kind == 1 else "5.1.1"
    return ("Return-Path: <>\nDelivered-To: %s\nFrom: MAILER-DAEMON@mx.example.com (Mail Delivery System)\nTo: %s\n"
            "Subject: Undelivered Mail Returned to Sender\nMessage-Id: <dsn%d@mx.example.com>\nMIME-Version: 1.0\n"
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B%d\"\n\n"
            "--B%d\nContent-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\nThis is the mail system at host mx.example.com.\n\n"
            "--B%d\nContent-Description: Delivery report\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n"
            "Final-Recipient: rfc822; %s\nOriginal-Recipient: rfc822;%s\nAction: failed\nStatus: %s\nRemote-MTA: dns; mx.example.com\n"
            "Diagnostic-Code: smtp; 550 %s <%s>: Recipient address rejected\n\n"
            "--B%d\nContent-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\n\n"
            "Message-ID: <m%d@acme.example>\nFrom: News <news@acme.example>\nTo: %s\nSubject: Hi\n\n--B%d--\n") % (
            v, v, i, i, i, i, a, a, st, st, a, i, i, a, i)
with open(w + "/results.csv", "w") as r, open(w + "/mbox", "w") as mb:
    r.write(hdr)
    for i in range(n):
        r.write("user%d@example.com,delivered,250,2.0.0,ok,relay,1,m%d@acme.example,2024-11-05T09:00:00.000Z,%d,bounces+user%d=example.com@acme.example,,\n" % (i, i, i + 2, i))
        m = dsn(i)
        open("%s/md/new/%d.bench" % (w, i), "w").write(m)
        mb.write("From MAILER-DAEMON Tue Nov  5 09:00:00 2024\n" + m + "\n")
PY
cp "$W/results.csv" "$W/results2.csv"
for src in md mbox; do
  res=results.csv; [ $src = mbox ] && res=results2.csv
  echo "== $src: $N DSNs against $N results rows"
  /usr/bin/time -o "$W/time" -f "elapsed %es, peak RSS %M KB" "$W/mailer" bounces "$W/$src" --suppress "$W/s-$src.csv" --results "$W/$res" --return-path bounces@acme.example >"$W/out"
  head -7 "$W/out"
  cat "$W/time"
  echo "-- re-run over the same $src:"
  /usr/bin/time -o "$W/time" -f "elapsed %es, peak RSS %M KB" "$W/mailer" bounces "$W/$src" --suppress "$W/s-$src.csv" --results "$W/$res" --return-path bounces@acme.example >"$W/out"
  sed -n 4p "$W/out"
  cat "$W/time"
done
