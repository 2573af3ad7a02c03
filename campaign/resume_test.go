package campaign

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailer-dev/mailer/sender"
)

// A duplicate row is recorded "suppressed", but that says nothing of its
// address's first row: when that one was deferred, the re-run must send it,
// and must not record the duplicate a second time.
func TestDeferredFirstRowOfDuplicateIsRetried(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", "email,first_name\na@example.com,A\nb@example.com,B\nA@example.com,A2\n")
	results := filepath.Join(dir, "results.csv")
	o := Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results}
	first := &fakeSender{answer: func(to string) sender.Result {
		if to == "a@example.com" {
			return sender.Result{Status: sender.Deferred, Code: 451}
		}
		return sender.Result{Status: sender.Delivered, Code: 250}
	}}
	if _, err := Run(context.Background(), o, first); err != nil {
		t.Fatal(err)
	}
	second := &fakeSender{}
	sum, err := Run(context.Background(), o, second)
	if err != nil {
		t.Fatal(err)
	}
	if second.sent["a@example.com"] != 1 || second.total() != 1 {
		t.Errorf("re-run sent %v; want the deferred a@example.com", second.sent)
	}
	if sum.Skipped != 2 || sum.Left != 0 {
		t.Errorf("skipped %d (want b and the recorded duplicate), left %d", sum.Skipped, sum.Left)
	}
	dups := 0
	for _, r := range readRecords(t, results) {
		if r.Status == Suppressed {
			dups++
		}
	}
	if dups != 1 {
		t.Errorf("the duplicate is recorded %d times", dups)
	}
}

// A crash while the first row of an address is with the relay, after its
// duplicate's row was written: the duplicate's row does not answer the
// attempt, so the first row is recovered as unknown, not lost.
func TestCrashWithDuplicateRowWritten(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", "email,first_name\na@example.com,A\nA@example.com,A2\n")
	results := filepath.Join(dir, "results.csv")
	header := "email,status,code,enhanced_code,message,relay,attempts,message_id,time,line,envelope_from,fingerprint\n"
	fp := fingerprintOf(t, list)
	writeFile(t, dir, "results.csv", header+"A@example.com,suppressed,,,duplicate of line 2,,,,2026-01-01T00:00:00.000Z,3,,"+fp+"\n")
	writeFile(t, dir, "results.csv.journal", fmt.Sprintf("mailer-journal,1,%d,999\n+,a@example.com,2,id.a\n", len(header)))
	fs := &fakeSender{}
	sum, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results}, fs)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Recovered != 1 || fs.total() != 0 {
		t.Errorf("recovered %d, sent %v: want a@ recovered as unknown and not sent", sum.Recovered, fs.sent)
	}
	if r := byEmail(readRecords(t, results))["a@example.com"]; len(r) != 1 || r[0].Status != Unknown {
		t.Errorf("a@example.com: %+v", r)
	}
}

// An address that starts with ' reads back exactly, so it is not sent twice.
func TestApostropheAddressNotResent(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", "email,first_name\n'-bob@example.com,Bob\n''ann@example.com,Ann\n")
	o := Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: filepath.Join(dir, "r.csv")}
	if _, err := Run(context.Background(), o, &fakeSender{}); err != nil {
		t.Fatal(err)
	}
	again := &fakeSender{}
	if _, err := Run(context.Background(), o, again); err != nil {
		t.Fatal(err)
	}
	if again.total() != 0 {
		t.Errorf("sent again: %v", again.sent)
	}
	for _, r := range readRecords(t, o.Results) {
		if !strings.HasPrefix(r.Email, "'") {
			t.Errorf("%q does not read back as written", r.Email)
		}
	}
}
