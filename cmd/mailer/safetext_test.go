package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/mailer-dev/mailer/internal/testrelay"
)

// hostile is what a relay or a list may hold that would act on a terminal:
// colour, clear screen, a window title with BEL, backspace, DEL, a C1 CSI
// and a right-to-left override.
const hostile = "\x1b[31mUser unknown\x1b[0m\x1b[2J\x1b]0;pwned\a\b\x7f \u009b1m \u202eevil"

// controls matches what must never be printed or written raw.
var controls = regexp.MustCompile("[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f\u202a-\u202e\u2066-\u2069]")

func noControls(t *testing.T, what, s string) {
	t.Helper()
	if m := controls.FindString(s); m != "" {
		t.Errorf("%s holds the control character %q:\n%q", what, m, s)
	}
}

// TestRelayTextNeutralised: a relay reply full of escape sequences is
// recorded escaped in the results CSV, and report (text, json, HTML) and
// stderr show it escaped.
func TestRelayTextNeutralised(t *testing.T) {
	srv, err := testrelay.Listen("127.0.0.1:0", testrelay.Options{Rules: []*testrelay.Rule{{
		Stage: "RCPT", Match: regexp.MustCompile("^bob@"), Code: 550, Enhanced: smtp.EnhancedCode{5, 1, 1}, Text: hostile,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dir := t.TempDir()
	list := filepath.Join(dir, "list.csv")
	os.WriteFile(list, []byte("email\nann@example.com\nbob@example.com\n"), 0o644)
	results := filepath.Join(dir, "r.csv")
	code, out, errs := runMailer(t, "send", "--list", list, "--template", "announcement", "--relay", "smtp+plain://"+srv.Addr(),
		"--results", results, "--quiet")
	if code != 0 {
		t.Fatalf("send: exit %d\n%s%s", code, out, errs)
	}
	b, _ := os.ReadFile(results)
	noControls(t, "results CSV", string(b))
	if !strings.Contains(string(b), `RCPT: \x1b[31mUser unknown\x1b[0m\x1b[2J\x1b]0;pwned\x07\x08\x7f \u009b1m \u202eevil`) {
		t.Errorf("results CSV does not show the reply escaped:\n%s", b)
	}
	checkReport(t, results, `\x1b[31mUser unknown`)
}

// TestOldResultsNeutralised: a results file written before escaping (or by
// hand) with raw escapes in its cells: report prints none of them.
func TestOldResultsNeutralised(t *testing.T) {
	src, err := os.ReadFile("testdata/report/results.csv")
	if err != nil {
		t.Fatal(err)
	}
	header, _, _ := strings.Cut(string(src), "\n")
	results := filepath.Join(t.TempDir(), "old.csv")
	row := func(email, status, code, enh, msg string) string {
		return email + "," + status + "," + code + "," + enh + `,"` + msg + `",smtp+plain://127.0.0.1:25,1,id@x,2026-11-26T21:29:27Z,2` + "\n"
	}
	os.WriteFile(results, []byte(header+"\n"+
		row("ann@example.com", "bounced", "550", "5.1.1", "RCPT: "+hostile)+
		row("bob@ex\x1b[2Jample.com", "deferred", "451", "4.7.\x1b[1m1", "RCPT: \x1b]8;;http://x\atry later")+
		row("cy@example.com", "weird\x1b[5m", "", "", "")), 0o644)
	checkReport(t, results, `\x1b[31mUser unknown`)
}

func checkReport(t *testing.T, results, want string) {
	t.Helper()
	page := filepath.Join(t.TempDir(), "report.html")
	for _, format := range []string{"text", "json"} {
		code, out, errs := runMailer(t, "report", results, "--format", format, "--html", page)
		if code != 0 {
			t.Fatalf("report: exit %d: %s", code, errs)
		}
		noControls(t, "report --format "+format, out)
		noControls(t, "report stderr", errs)
		if format == "text" && !strings.Contains(out, want) {
			t.Errorf("report text does not show %q escaped:\n%s", want, out)
		}
		html, _ := os.ReadFile(page)
		noControls(t, "report --html", string(html))
		if !strings.Contains(string(html), want) {
			t.Errorf("report page does not show %q escaped", want)
		}
	}
}

// TestCheckNeutralised: list cells with escapes (a bad address, a From
// from a column) are shown escaped by check, text and json, and by preview.
func TestCheckNeutralised(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "list.csv")
	os.WriteFile(list, []byte("email,from\n"+
		"\"\x1b[2Jbad\x07 address\",news@acme.example\n"+
		"ann@example.com,\"\x1b]0;title\a <news@acme.example>\"\n"+
		"c\u202eoc@example.com,news@acme.example\n"+
		"bob@example.com,\"Acme <other\u009b31m@acme.example>\"\n"+
		"dee@example.com,news@acme.example\n"), 0o644)
	tmpl := filepath.Join(dir, "t.tmpl")
	os.WriteFile(tmpl, []byte("From: {{.from}}\nSubject: hi\n\nHello\n"), 0o644)
	for _, format := range []string{"text", "json"} {
		code, out, errs := runMailer(t, "check", "--list", list, "--template", tmpl, "--format", format)
		if code != 65 {
			t.Errorf("check: exit %d, want 65: %s", code, errs)
		}
		noControls(t, "check --format "+format, out)
		noControls(t, "check stderr", errs)
		if format == "text" {
			for _, want := range []string{`line 2  \x1b[2Jbad\x07 address`, `c\u202eoc@example.com`, `\u009b31m`} {
				if !strings.Contains(out, want) {
					t.Errorf("check does not show %q:\n%s", want, out)
				}
			}
		}
	}
	code, _, errs := runMailer(t, "preview", "--list", list, "--template", tmpl, "--row", "2")
	if code != 65 {
		t.Errorf("preview: exit %d, want 65", code)
	}
	noControls(t, "preview stderr", errs)
}

// TestUIEscapes: whatever a message quotes, stderr gets it escaped, as text
// and as JSON (which escapes C0 itself but not DEL, C1 or bidi overrides).
func TestUIEscapes(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var b strings.Builder
		u := newUI(&b)
		if err := u.setFormat(format); err != nil {
			t.Fatal(err)
		}
		u.errorf("probe: 554 "+hostile, "relay", "smtp://"+hostile)
		noControls(t, format+" stderr", b.String())
		if !strings.Contains(b.String(), `\u202eevil`) {
			t.Errorf("%s stderr: %s", format, b.String())
		}
	}
}
