package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mailer-dev/mailer/campaign"
	"github.com/mailer-dev/mailer/dnscheck"
)

// defaultDeliver is DeliverOptions as the flags leave it.
var defaultDeliver = DeliverOptions{MaxAttachment: "10MiB", MaxMessage: "25MB"}

// defaultDNS is DNSOptions as the flags leave it.
var defaultDNS = DNSOptions{Rate: dnscheck.DefaultRate, Concurrency: dnscheck.DefaultConcurrency, Timeout: dnscheck.DefaultTimeout}

// parse runs a command line with every command replaced by rf, so the
// options it parses into can be looked at without running anything.
func parse(t *testing.T, rf runFuncs, args ...string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := runWith(args, &out, &errb, rf); code != 0 {
		t.Fatalf("mailer %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
}

// parsedAs runs a command line with one command's run function replaced
// (install puts it in the runFuncs) and returns the options it was given.
func parsedAs[O any](t *testing.T, install func(*runFuncs, func(*O) error), args []string) *O {
	t.Helper()
	var got *O
	var rf runFuncs
	install(&rf, func(o *O) error { got = o; return nil })
	parse(t, rf, args...)
	return got
}

func same(t *testing.T, args []string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%v:\n got %+v\nwant %+v", args, got, want)
	}
}

func TestSendOptions(t *testing.T) {
	for _, env := range []string{"MAILER_CONFIG", "MAILER_LOG_FORMAT", "MAILER_RELAY", "MAILER_RATE"} {
		t.Setenv(env, "")
	}
	list := func(l ListOptions) ListOptions {
		if l.EmailColumn == "" {
			l.EmailColumn = "email"
		}
		return l
	}
	cases := []struct {
		args []string
		want SendOptions
	}{
		{[]string{"send", "--list", "l.csv", "--template", "t.tmpl", "--dry-run"}, SendOptions{
			ListOptions: list(ListOptions{List: "l.csv", Template: "t.tmpl"}),
			DryRun:      true, Burst: 1, Concurrency: 4, MaxAttempts: 3, LogFormat: "text", Deliver: defaultDeliver, DNS: defaultDNS,
		}},
		{[]string{"--log-format", "json", "send", "--list=l.csv", "--template", "newsletter", "--suppress", "a.csv", "--suppress", "b.csv",
			"--email-column", "mail", "--name-column", "who", "--relay", "smtp://r1", "--relay", "smtps://r2", "--rate", "10/s",
			"--concurrency", "8", "--domain-limit", "gmail.com=5", "--verp", "--return-path", "b@acme.example", "--allow-changed"}, SendOptions{
			ListOptions: ListOptions{List: "l.csv", Template: "newsletter", Suppress: []string{"a.csv", "b.csv"}, EmailColumn: "mail", NameColumn: "who"},
			Relays:      []string{"smtp://r1", "smtps://r2"}, Rate: "10/s", Burst: 1, Concurrency: 8, MaxAttempts: 3,
			DomainLimits: []string{"gmail.com=5"}, AllowChanged: true, LogFormat: "json",
			Deliver: DeliverOptions{MaxAttachment: "10MiB", MaxMessage: "25MB", VERP: true, ReturnPath: "b@acme.example"}, DNS: defaultDNS,
		}},
		{[]string{"send", "--list", "l.csv", "--template", "t.tmpl", "--relay", "smtp+plain://127.0.0.1:2525", "--results", "r/{{date \"2006\"}}.csv",
			"--limit", "5", "--quiet", "--resend-unknown", "--bounces-to", "b.csv", "--unsubscribe-url", "https://u/{{.Token}}", "--print-config"}, SendOptions{
			ListOptions: list(ListOptions{List: "l.csv", Template: "t.tmpl"}),
			Relays:      []string{"smtp+plain://127.0.0.1:2525"}, Results: `r/{{date "2006"}}.csv`, Burst: 1, Concurrency: 4, MaxAttempts: 3,
			Limit: 5, Quiet: true, ResendUnknown: true, BouncesTo: "b.csv", PrintConfig: true, LogFormat: "text",
			Deliver: DeliverOptions{MaxAttachment: "10MiB", MaxMessage: "25MB", UnsubscribeURL: "https://u/{{.Token}}"}, DNS: defaultDNS,
		}},
	}
	for _, c := range cases {
		got := parsedAs(t, func(rf *runFuncs, f func(*SendOptions) error) { rf.send = f }, c.args)
		if got.settings == nil {
			t.Errorf("%v: no settings", c.args)
		}
		got.settings = nil
		same(t, c.args, *got, c.want)
	}
}

func TestCheckPreviewReportSinkOptions(t *testing.T) {
	t.Setenv("MAILER_CONFIG", "")
	lo := ListOptions{List: "l.csv", Template: "t.tmpl", Suppress: []string{"s.csv"}, EmailColumn: "email"}
	checks := []struct {
		args []string
		want CheckOptions
	}{
		{[]string{"check", "--list", "l.csv", "--template", "t.tmpl", "--suppress", "s.csv"},
			CheckOptions{ListOptions: lo, MaxSize: campaign.DefaultMaxSize, Format: "text", Deliver: defaultDeliver, DNS: defaultDNS}},
		{[]string{"check", "--list", "l.csv", "--template", "t.tmpl", "--suppress", "s.csv", "--strict", "--format", "json", "--max-size", "9", "--email-column", "mail"},
			CheckOptions{ListOptions: ListOptions{List: "l.csv", Template: "t.tmpl", Suppress: []string{"s.csv"}, EmailColumn: "mail"}, Strict: true, MaxSize: 9, Format: "json", Deliver: defaultDeliver, DNS: defaultDNS}},
	}
	for _, c := range checks {
		same(t, c.args, *parsedAs(t, func(rf *runFuncs, f func(*CheckOptions) error) { rf.check = f }, c.args), c.want)
	}
	previews := []struct {
		args []string
		want PreviewOptions
	}{
		{[]string{"preview", "--list", "l.csv", "--template", "t.tmpl", "--suppress", "s.csv", "--out", "pv", "--limit", "3"},
			PreviewOptions{ListOptions: lo, Out: "pv", Limit: 3, Deliver: defaultDeliver}},
		{[]string{"preview", "--list", "l.csv", "--template", "t.tmpl", "--suppress", "s.csv", "--row", "2", "--row", "8,9", "--email", "a@b.example"},
			PreviewOptions{ListOptions: lo, Rows: []int{2, 8, 9}, Emails: []string{"a@b.example"}, Deliver: defaultDeliver}},
	}
	for _, c := range previews {
		same(t, c.args, *parsedAs(t, func(rf *runFuncs, f func(*PreviewOptions) error) { rf.preview = f }, c.args), c.want)
	}
	reports := []struct {
		args []string
		want ReportOptions
	}{
		{[]string{"report", "r.csv"}, ReportOptions{Results: []string{"r.csv"}, Format: "text", ScannerAfter: 10 * time.Second, ScannerAllLinks: 2 * time.Second}},
		{[]string{"report", "a.csv", "shard-*.csv"}, ReportOptions{Results: []string{"a.csv", "shard-*.csv"}, Format: "text", ScannerAfter: 10 * time.Second, ScannerAllLinks: 2 * time.Second}},
		{[]string{"report", "--format", "json", "r.csv", "--html", "r.html"}, ReportOptions{Results: []string{"r.csv"}, Format: "json", HTML: "r.html", ScannerAfter: 10 * time.Second, ScannerAllLinks: 2 * time.Second}},
	}
	for _, c := range reports {
		same(t, c.args, *parsedAs(t, func(rf *runFuncs, f func(*ReportOptions) error) { rf.report = f }, c.args), c.want)
	}
	sinks := []struct {
		args []string
		want SinkOptions
	}{
		{[]string{"sink"}, SinkOptions{Listen: "127.0.0.1:2525"}},
		{[]string{"sink", "--listen", "127.0.0.1:0", "--dir", "out", "--reject", "^b", "--reply", "MAIL:530 x", "--reply", "RCPT:552 y", "--smtputf8"},
			SinkOptions{Listen: "127.0.0.1:0", Dir: "out", Reject: "^b", Replies: []string{"MAIL:530 x", "RCPT:552 y"}, SMTPUTF8: true}},
	}
	for _, c := range sinks {
		same(t, c.args, *parsedAs(t, func(rf *runFuncs, f func(*SinkOptions) error) { rf.sink = f }, c.args), c.want)
	}
}
