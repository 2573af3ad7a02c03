package main

import (
	"github.com/mailer-dev/mailer/dnscheck/dnstest"
	"github.com/rogpeppe/go-internal/testscript"
)

// dnsserver ZONEFILE starts a DNS server on 127.0.0.1:0 (UDP and TCP) for
// the rest of the script, answering from ZONEFILE (dnstest.Zone syntax:
// records in master-file form, $SERVFAIL and $SLOW names), and sets $DNS to
// its address.
func cmdDNSServer(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: dnsserver ZONEFILE")
	}
	s, err := dnstest.Start(dnstest.Zone(ts.ReadFile(args[0])))
	ts.Check(err)
	ts.Defer(s.Close)
	ts.Setenv("DNS", s.Addr)
}
