#!/usr/bin/env bash
# sink.sh - the bench's own: run Postfix's smtp-sink(1) on 127.0.0.1 as a counting SMTP sink.
#
# Usage:
#   sink.sh start [-p PORT] [-b BACKLOG] [-d] [-t LIFETIME_S] [-- SMTP_SINK_OPTS...]
#         Starts a fresh sink (an older one this script started on PORT is stopped
#         first) and prints the smtp-sink PID on stdout. -d also writes every
#         received message to $STATE/dump/ (slower: disk I/O per message).
#         Everything after -- goes to smtp-sink verbatim (fault injection), e.g.
#           sink.sh start -p 2526 -- -f RCPT -B "550 5.1.1 User unknown"
#   sink.sh install                install Postfix (smtp-sink, smtp-source) if missing
#   sink.sh count [-p PORT]        print messages received so far (an integer)
#   sink.sh stats [-p PORT]        print "sessions=S quits=Q messages=M dumped=D pid=P"
#   sink.sh wait  [-p PORT] N [T]  wait until >= N messages (max T s, default 60); rc 1 on timeout
#   sink.sh stop  [-p PORT]        stop it (by PID) and print final stats
#
# Defaults: PORT=2526, BACKLOG=1024, LIFETIME=3600 s (the sink is run under
# timeout(1), so it can never outlive that). State: ${SINK_STATE_ROOT:-$TMPDIR/mailer-sink}/sink-PORT.
#
# Counting caveat: smtp-sink's counter ("mesg") and its dump files count every
# message whose final "." was RECEIVED - including ones the sink then rejected
# (-f . / -r .) or dropped (-q .). Rejections at MAIL/RCPT/DATA are not counted.
set -euo pipefail

SINK=/usr/sbin/smtp-sink   # Debian's postfix package puts smtp-sink and smtp-source here
ROOT=${SINK_STATE_ROOT:-${TMPDIR:-/tmp}/mailer-sink}

die() { echo "sink.sh: $*" >&2; exit 2; }

# ensure_tools installs Postfix (for smtp-sink and smtp-source) from the
# distribution's packages when they are missing, without configuring a mail
# system ("No configuration"): nothing listens on port 25 afterwards.
ensure_tools() {
  [ -x "$SINK" ] && [ -x /usr/sbin/smtp-source ] && return 0
  command -v apt-get >/dev/null || die "smtp-sink missing: install Postfix (it has smtp-sink and smtp-source)"
  [ "$(id -u)" = 0 ] || die "postfix (smtp-sink) missing and not root: sudo apt-get install postfix"
  echo "sink.sh: installing postfix (for smtp-sink/smtp-source)..." >&2
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends postfix >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -q --no-install-recommends postfix >/dev/null; }
  [ -x "$SINK" ] || die "smtp-sink still missing after install"
}

# Is something LISTENing on 127.0.0.1:PORT (or 0.0.0.0:PORT)? Reads /proc, opens no connection
# (a probe connection would show up as a session in the sink's counters).
listening() {
  local hex; hex=$(printf '%04X' "$1")
  awk -v h="$hex" 'NR>1 { split($2,a,":"); if (a[2]==h && $4=="0A" && (a[1]=="0100007F" || a[1]=="00000000")) f=1 } END { exit !f }' /proc/net/tcp
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

child_of() { # first child PID of $1
  local c
  if [ -r "/proc/$1/task/$1/children" ]; then
    c=$(awk '{print $1}' "/proc/$1/task/$1/children"); [ -n "$c" ] && { echo "$c"; return; }
  fi
  awk -v p="$1" '$4==p {print $1; exit}' /proc/[0-9]*/stat 2>/dev/null || true
}

PORT=2526; BACKLOG=1024; DUMP=0; LIFE=3600
cmd=${1:-}; [ $# -gt 0 ] && shift
while [ $# -gt 0 ]; do
  case $1 in
    -p) PORT=$2; shift 2;;
    -b) BACKLOG=$2; shift 2;;
    -d) DUMP=1; shift;;
    -t) LIFE=$2; shift 2;;
    --) shift; break;;
    *) break;;
  esac
done
[ "$PORT" -gt 1024 ] 2>/dev/null || die "PORT must be > 1024"
ST=$ROOT/sink-$PORT

stats() {
  local line s=0 q=0 m=0 d=0 pid=""
  [ -f "$ST/pid" ] && pid=$(cat "$ST/pid")
  if [ -f "$ST/out" ]; then
    line=$(tr '\r' '\n' < "$ST/out" | grep -a '^sess=' | tail -n 1 || true)
    if [ -n "$line" ]; then
      s=$(sed -E 's/.*sess=([0-9]+).*/\1/' <<<"$line"); q=$(sed -E 's/.*quit=([0-9]+).*/\1/' <<<"$line")
      m=$(sed -E 's/.*mesg=([0-9]+).*/\1/' <<<"$line")
    fi
  fi
  [ -d "$ST/dump" ] && d=$(find "$ST/dump" -type f | wc -l)
  echo "sessions=$s quits=$q messages=$m dumped=$d pid=${pid:-none}"
}
count() { stats | sed -E 's/.*messages=([0-9]+).*/\1/'; }

stop() {
  local pid tpid
  pid=$(cat "$ST/pid" 2>/dev/null || true); tpid=$(cat "$ST/tpid" 2>/dev/null || true)
  for p in $pid $tpid; do alive "$p" && kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do alive "$pid" || alive "$tpid" || break; sleep 0.1; done
  for p in $pid $tpid; do alive "$p" && kill -KILL "$p" 2>/dev/null || true; done
  rm -f "$ST/pid" "$ST/tpid"
}

case $cmd in
  start)
    ensure_tools
    mkdir -p "$ROOT"
    [ -d "$ST" ] && stop
    rm -rf "$ST"; mkdir -p "$ST"
    listening "$PORT" && die "127.0.0.1:$PORT is already in use by another process"
    args=(-c)
    if [ "$(id -u)" = 0 ]; then args+=(-u nobody); fi        # smtp-sink refuses to run as root without -u
    if [ "$DUMP" = 1 ]; then
      mkdir -p "$ST/dump"; [ "$(id -u)" = 0 ] && chown nobody "$ST/dump"
      args+=(-d "$ST/dump/%H%M%S.")
    fi
    nohup timeout -k 5 "$LIFE" "$SINK" "${args[@]}" "$@" "127.0.0.1:$PORT" "$BACKLOG" \
      > "$ST/out" 2> "$ST/err" < /dev/null &
    tpid=$!; echo "$tpid" > "$ST/tpid"
    pid=""
    for _ in $(seq 100); do
      [ -z "$pid" ] && pid=$(child_of "$tpid")
      [ -n "$pid" ] && listening "$PORT" && break
      alive "$tpid" || break
      sleep 0.05
    done
    if [ -z "$pid" ] || ! listening "$PORT"; then
      cat "$ST/err" >&2; stop; die "smtp-sink did not start on 127.0.0.1:$PORT"
    fi
    echo "$pid" > "$ST/pid"
    echo "$pid"
    ;;
  install) ensure_tools;;
  count) count;;
  stats) stats;;
  wait)
    n=${1:?usage: sink.sh wait [-p PORT] N [TIMEOUT_S]}; t=${2:-60}
    end=$(( $(date +%s) + t ))
    while :; do
      c=$(count); [ "$c" -ge "$n" ] && { echo "$c"; exit 0; }
      [ "$(date +%s)" -ge "$end" ] && { echo "$c"; exit 1; }
      sleep 0.1
    done;;
  stop)
    stop; stats;;
  *) sed -n '2,25p' "$0"; exit 2;;
esac
