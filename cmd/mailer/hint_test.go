package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailer-dev/mailer/campaign"
	"github.com/mailer-dev/mailer/render"
	"github.com/mailer-dev/mailer/sender"
)

// Library errors say what is wrong in the library's terms; mailer's hint
// names the flag or variable that changes it (age: errorWithHint).
func TestLibraryErrorsLeaveFlagsToHints(t *testing.T) {
	_, plain := sender.ParseRelay("smtp+plain://mail.example.com", false)
	_, password := sender.ParseRelay("smtp://ann:pw@mail.example.com", false)
	_, unsub := render.Parse("t.tmpl", []byte("From: a@acme.example\nSubject: s\n\n{{unsubscribe_url}}\n"), render.Options{MessageID: func(string) string { return "x" }})
	dir := t.TempDir()
	list := filepath.Join(dir, "l.csv")
	if err := os.WriteFile(list, []byte("mail,name\na@b.example,A\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmpl, err := render.Parse("t.tmpl", []byte("From: a@acme.example\nSubject: s\n\nhi\n"), render.Options{MessageID: func(string) string { return "x" }})
	if err != nil {
		t.Fatal(err)
	}
	_, nocol := campaign.Check(context.Background(), campaign.CheckOptions{PrepareOptions: campaign.PrepareOptions{ListOptions: campaign.ListOptions{List: list, EmailColumn: "email", Template: tmpl}}})
	cases := []struct {
		name string
		err  error
		exit int
		hint string
	}{
		{"plaintext relay", &configError{plain}, exitConfig, "--allow-plaintext"},
		{"password in URL", &configError{password}, exitConfig, "MAILER_SMTP_PASSWORD"},
		{"no unsubscribe URL", unsub, exitDataErr, "--unsubscribe-url"},
		{"no address column", nocol, exitDataErr, "--email-column"},
		{"changed", &campaign.ChangedError{Results: "r.csv", What: "list"}, exitDataErr, "--allow-changed"},
		{"results file", &campaign.ResultsFileError{DataError: campaign.DataError{File: "r.csv", Msg: "x"}}, exitDataErr, "--results"},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if msg := c.err.Error(); strings.Contains(msg, "--") || strings.Contains(msg, "MAILER_") {
			t.Errorf("%s: the library names a setting of the command line: %q", c.name, msg)
		}
		if got := exitCode(c.err); got != c.exit {
			t.Errorf("%s: exit %d, want %d", c.name, got, c.exit)
		}
		if h := hintFor(c.err); !strings.Contains(h, c.hint) {
			t.Errorf("%s: hint %q, want it to name %s", c.name, h, c.hint)
		}
	}
}

// An error mailer has no code for is EX_SOFTWARE (70), with its message;
// a panic in a command is one too, said in one line with a hint to report
// it. A bad command line stays a usage error (64).
func TestInternalErrorsExit70(t *testing.T) {
	cases := []struct {
		name   string
		rf     runFuncs
		args   []string
		exit   int
		stderr []string
	}{
		{"plain error", runFuncs{report: func(*ReportOptions) error { return errors.New("something unforeseen") }},
			[]string{"report", "r.csv"}, exitSoftware, []string{"mailer: error: something unforeseen\n"}},
		{"panic", runFuncs{check: func(*CheckOptions) error { panic("index out of range") }},
			[]string{"check", "--list", "l.csv", "--template", "t.tmpl"}, exitSoftware,
			[]string{"mailer: error: internal error: index out of range\n", "mailer: hint: this is a bug in mailer: please report it"}},
		{"panic, json", runFuncs{send: func(*SendOptions) error { panic(errors.New("nil map")) }},
			[]string{"send", "--log-format", "json"}, exitSoftware, []string{`"level":"ERROR","msg":"internal error: nil map","exit":70}`}},
		{"unknown flag", runFuncs{report: func(*ReportOptions) error { t.Error("ran"); return nil }},
			[]string{"report", "--bogus", "r.csv"}, exitUsage, []string{"mailer: error: unknown flag: --bogus (see mailer report --help)\n"}},
		{"bad flag value", runFuncs{send: func(*SendOptions) error { t.Error("ran"); return nil }},
			[]string{"send", "--concurrency", "many"}, exitUsage, []string{`invalid argument "many" for "--concurrency" flag`}},
		{"wrong arguments", runFuncs{report: func(*ReportOptions) error { t.Error("ran"); return nil }},
			[]string{"report"}, exitUsage, []string{"mailer: error: requires at least 1 arg(s), only received 0 (see mailer report --help)\n"}},
		{"unknown command", runFuncs{}, []string{"bogus"}, exitUsage, []string{`mailer: error: unknown command "bogus" for "mailer" (see mailer --help)` + "\n"}},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		if got := runWith(c.args, &out, &errb, c.rf); got != c.exit {
			t.Errorf("%s: exit %d, want %d; stderr:\n%s", c.name, got, c.exit, errb.String())
		}
		for _, s := range c.stderr {
			if !strings.Contains(errb.String(), s) {
				t.Errorf("%s: stderr %q, want it to hold %q", c.name, errb.String(), s)
			}
		}
	}
}
