#!/usr/bin/env bash
# gen.sh OUTDIR: runs a private Postfix instance and writes the DSNs it
# produces into OUTDIR as NAME.eml, one per case below.
#
# The instance lives under a temporary directory (its own config_directory,
# queue_directory, data_directory and log file), listens on 127.0.0.1 only
# (ports 10025 and 10026 by default; POSTFIX_SINK_PORT overrides), does no
# DNS, and is stopped with its own `postfix -c DIR stop` on exit. It relays
# every message for bounce.test to a second smtpd of the same instance (the
# "sink", on 127.0.0.1:$PORT) whose recipient restrictions reject with
# 550 5.1.1, 552 5.2.2, 554 5.7.1 or 451 4.2.0; the DSNs go back to the VERP
# sender bounces+LOCAL=bounce.test@origin.test, which virtual(8) delivers into
# a Maildir, from where they are copied. Needs root (postfix start) and
# Postfix >= 3.4 (texthash maps, maillog_file).
set -euo pipefail

out=${1:?usage: gen.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
port=${POSTFIX_SINK_PORT:-10025}
timeout=${POSTFIX_GEN_TIMEOUT:-60}

command -v postfix >/dev/null || { echo "gen.sh: postfix is not installed" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "gen.sh: must run as root (postfix start)" >&2; exit 2; }

tmp=$(mktemp -d /tmp/mailer-postfix.XXXXXX)
conf=$tmp/etc
mkdir -p "$conf" "$tmp/spool" "$tmp/data" "$tmp/mail"
chmod 755 "$tmp"
chown postfix:postfix "$tmp/data" "$tmp/mail"

started=
cleanup() {
	if [ -n "$started" ]; then postfix -c "$conf" stop >/dev/null 2>&1 || true; fi
	if [ -n "${KEEP_POSTFIX_TMP:-}" ]; then echo "gen.sh: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

cat >"$tmp/access" <<ACCESS
ann@bounce.test    550 5.1.1 <ann@bounce.test>: Recipient address rejected: User unknown in virtual mailbox table
bob@bounce.test    550 5.1.1 <bob@bounce.test>: Recipient address rejected: User unknown in virtual mailbox table
full@bounce.test   552 5.2.2 <full@bounce.test>: Recipient address rejected: Mailbox full
spam@bounce.test   554 5.7.1 <spam@bounce.test>: Recipient address rejected: Message rejected as spam by policy
later@bounce.test  451 4.2.0 <later@bounce.test>: Recipient address rejected: Greylisted, try again later
ACCESS

cat >"$conf/main.cf" <<MAIN
compatibility_level = 3.6
config_directory = $conf
queue_directory = $tmp/spool
data_directory = $tmp/data
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = $tmp
maillog_file = $tmp/maillog
myhostname = mx.origin.test
mydomain = origin.test
myorigin = origin.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
alias_maps =
alias_database =
local_recipient_maps =
biff = no
transport_maps = texthash:$tmp/transport
virtual_mailbox_domains = origin.test
virtual_mailbox_base = $tmp/mail
virtual_mailbox_maps = texthash:$tmp/vmailbox
virtual_uid_maps = static:$(id -u postfix)
virtual_gid_maps = static:$(id -g postfix)
recipient_delimiter = +
# Fast retries so that a delay warning and an expiry come within seconds.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
delay_warning_time = 1s
maximal_queue_lifetime = 8s
bounce_queue_lifetime = 8s
bounce_size_limit = 4000
smtpd_banner = \$myhostname ESMTP
MAIN

printf 'bounce.test smtp:[127.0.0.1]:%s\n' "$port" >"$tmp/transport"
printf '@origin.test maildir/\n' >"$tmp/vmailbox"

cat >"$conf/master.cf" <<MASTER
127.0.0.1:$port inet n - n - - smtpd -o syslog_name=sink -o smtpd_relay_restrictions= -o smtpd_recipient_restrictions=check_recipient_access,texthash:$tmp/access,reject -o mynetworks=192.0.2.1/32
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
MASTER

postfix -c "$conf" check
postfix -c "$conf" start >/dev/null
started=1

maildir=$tmp/mail/maildir/new
# take NAME PATTERN...: waits until one message in the Maildir holds every
# PATTERN (fixed strings), or fails after $timeout seconds with the Postfix
# log; then moves it to OUTDIR/NAME.eml.
take() {
	local name=$1 deadline=$((SECONDS + timeout)) f p
	shift
	while :; do
		for f in "$maildir"/*; do
			[ -f "$f" ] || continue
			for p in "$@"; do grep -qF -- "$p" "$f" || continue 2; done
			mv "$f" "$out/$name.eml"
			echo "gen.sh: $name.eml" >&2
			return
		done
		if [ $SECONDS -ge $deadline ]; then
			echo "gen.sh: timed out waiting for $name; log:" >&2
			cat "$tmp/maillog" >&2 || true
			exit 1
		fi
		sleep 0.2
	done
}

msg() { # msg ID TO [extra header lines]: a message as send --verp makes it
	local id=$1 to=$2
	shift 2
	printf 'From: News <news@origin.test>\r\nTo: %s\r\nSubject: Spring news\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\nMessage-ID: <%s@origin.test>\r\nMIME-Version: 1.0\r\n' "$to" "$id"
	for h in "$@"; do printf '%s\r\n' "$h"; done
}

send() { # send SENDER RCPT... < message
	local from=$1
	shift
	sendmail -C "$conf" -i -B 8BITMIME -f "$from" -- "$@"
}

# 1. one hard bounce, the message returned whole (message/rfc822).
{ msg hard1 ann@bounce.test 'Content-Type: text/plain; charset=utf-8' 'Content-Transfer-Encoding: 7bit'; printf '\r\nHello Ann.\r\n'; } |
	send bounces+ann=bounce.test@origin.test ann@bounce.test
take hard-5.1.1 hard1@origin.test

# 2. several recipients in one DSN: 5.1.1, 5.2.2 and 5.7.1.
{ msg multi1 'bob@bounce.test, full@bounce.test, spam@bounce.test' 'Content-Type: text/plain; charset=utf-8'; printf '\r\nHello all.\r\n'; } |
	send news@origin.test bob@bounce.test full@bounce.test spam@bounce.test
take multi-recipient multi1@origin.test

# 3. 8-bit body, returned as is.
{ msg eightbit1 ann@bounce.test 'Content-Type: text/plain; charset=utf-8' 'Content-Transfer-Encoding: 8bit'; printf '\r\nGr\xc3\xbc\xc3\x9fe, Ann \xe2\x80\x94 Fr\xc3\xbchling.\r\n'; } |
	send bounces+ann=bounce.test@origin.test ann@bounce.test
take eightbit eightbit1@origin.test

# 4. a message over bounce_size_limit: only its headers come back
#    (text/rfc822-headers).
{ msg big1 ann@bounce.test 'Content-Type: text/plain; charset=utf-8'; printf '\r\n'; for i in $(seq 200); do printf 'Line %03d of a long newsletter body, long enough to pass bounce_size_limit.\r\n' "$i"; done; } |
	send bounces+ann=bounce.test@origin.test ann@bounce.test
take headers-only big1@origin.test

# 5. a transient failure: first the delay warning (Action: delayed), then,
#    after maximal_queue_lifetime, the final failure with the 4.x.x status.
{ msg later1 later@bounce.test 'Content-Type: text/plain; charset=utf-8'; printf '\r\nHello later.\r\n'; } |
	send bounces+later=bounce.test@origin.test later@bounce.test
take delayed later1@origin.test "Action: delayed"
take expired later1@origin.test "Action: failed"

postconf -c "$conf" -h mail_version >"$out/VERSION"
echo "gen.sh: done, Postfix $(cat "$out/VERSION")" >&2
