package campaign

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailer-dev/mailer/sender"
)

// TestResumeLegacyResults resumes a results file written before the reason
// column (testdata/legacy): its duplicate row is known by its text and not
// recorded again, its resent row counts as final, only the deferred and
// the new recipient are sent, and the rows appended keep the file's
// columns, so the file still reads back and reports.
func TestResumeLegacyResults(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/legacy/list.csv")
	if err != nil {
		t.Fatal(err)
	}
	list := writeFile(t, dir, "list.csv", string(src))
	old, err := os.ReadFile("testdata/legacy/results.csv")
	if err != nil {
		t.Fatal(err)
	}
	results := writeFile(t, dir, "results.csv", strings.ReplaceAll(string(old), "FINGERPRINT", fingerprintOf(t, list)))
	fs := &fakeSender{}
	sum, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results}, fs)
	if err != nil {
		t.Fatal(err)
	}
	if fs.total() != 2 || fs.sent["b@example.com"] != 1 || fs.sent["d@example.com"] != 1 {
		t.Errorf("sent %v, want b@ and d@ once each", fs.sent)
	}
	if sum.Skipped != 3 || sum.Counts[Suppressed] != 0 {
		t.Errorf("summary %+v: want a@, its duplicate and c@ skipped", sum)
	}
	raw, _ := os.ReadFile(results)
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) != 8 || strings.Contains(lines[0], "reason") {
		t.Fatalf("results file:\n%s", raw)
	}
	for _, l := range lines[6:] {
		if strings.Count(l, ",") != strings.Count(lines[0], ",") {
			t.Errorf("appended row %q does not match the header's columns", l)
		}
	}
	rep, err := BuildReport(results)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Recipients != 5 || rep.Count(Delivered) != 4 || rep.Count(Suppressed) != 1 {
		t.Errorf("report: %d recipients, %+v", rep.Recipients, rep.Statuses)
	}
	// A second resume finds everything final.
	fs2 := &fakeSender{}
	if _, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results}, fs2); err != nil || fs2.total() != 0 {
		t.Errorf("second resume sent %v, %v", fs2.sent, err)
	}
}

// TestReasonCodes: each row decided before or without a relay's reply
// carries its code, and a re-run acts on the code, not the text.
func TestReasonCodes(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", "email,first_name\nann@example.com,Ann\nANN@example.com,Dup\nnot an address,X\nsupp@example.com,S\nok@example.com,\n")
	supp := writeFile(t, dir, "supp.csv", "email\nsupp@example.com\n")
	results := filepath.Join(dir, "results.csv")
	tm := testTemplate(t, "From: News <news@acme.example>\nSubject: Hi\n\n{{if not .first_name}}{{.missing}}{{end}}Hello\n")
	deferAnn := &fakeSender{answer: func(to string) sender.Result {
		if to == "ann@example.com" {
			return sender.Result{Status: sender.Deferred, Code: 451, Text: "later"}
		}
		return sender.Result{Status: sender.Delivered, Code: 250}
	}}
	if _, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: tm, Suppress: []string{supp}}, Results: results}, deferAnn); err != nil {
		t.Fatal(err)
	}
	want := map[int]ReasonCode{2: "", 3: ReasonDuplicate, 4: ReasonInvalidAddress, 5: ReasonSuppressed, 6: ReasonInvalidRender}
	for _, r := range readRecords(t, results) {
		if r.Reason != want[r.Line] {
			t.Errorf("line %d (%s): reason %q, want %q", r.Line, r.Status, r.Reason, want[r.Line])
		}
	}
	// Reworded text does not fool a resume: the duplicate is known by its
	// code, so its "suppressed" does not make the deferred first row final.
	raw, _ := os.ReadFile(results)
	reworded := strings.Replace(string(raw), "duplicate of line 2", "same address as line 2", 1)
	os.WriteFile(results, []byte(reworded), 0o644)
	fs := &fakeSender{}
	sum, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: tm, Suppress: []string{supp}}, Results: results}, fs)
	if err != nil || fs.total() != 1 || fs.sent["ann@example.com"] != 1 || sum.Skipped != 4 {
		t.Errorf("resume: sent %v, skipped %d, %v", fs.sent, sum.Skipped, err)
	}
}
