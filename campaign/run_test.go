package campaign

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailer-dev/mailer/render"
	"github.com/mailer-dev/mailer/sender"
)

// fakeSender answers by address and remembers what it was given.
type fakeSender struct {
	mu        sync.Mutex
	sent      map[string]int
	probes    int
	probeErr  error
	probeHook func() error
	countOnly bool // keep a count, not every address (memory tests)
	n         int
	answer    func(to string) sender.Result
}

func (f *fakeSender) Probe(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probes++
	if f.probeHook != nil {
		return f.probeHook()
	}
	return f.probeErr
}

func (f *fakeSender) Send(_ context.Context, m *sender.Message) sender.Result {
	if res, ok := begin(m); !ok {
		return res
	}
	f.mu.Lock()
	if f.sent == nil {
		f.sent = map[string]int{}
	}
	if f.countOnly {
		f.n++
	} else {
		f.sent[m.To]++
	}
	f.mu.Unlock()
	if f.answer != nil {
		return f.answer(m.To)
	}
	return sender.Result{Status: sender.Delivered, Code: 250, Relay: "fake", Attempts: 1}
}

// begin calls m.Begin as the pool does before a message's first byte; ok
// false: it failed, and res is what the pool would return.
func begin(m *sender.Message) (res sender.Result, ok bool) {
	if m.Begin == nil {
		return res, true
	}
	if err := m.Begin(); err != nil {
		return sender.Result{Status: sender.Canceled, Err: err}, false
	}
	return res, true
}

func (f *fakeSender) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.sent {
		n += c
	}
	return n
}

const tmplSrc = "From: News <news@acme.example>\nSubject: Hi {{.first_name}}\n\nHello {{.first_name}}\n"

func testTemplate(t testing.TB, src string) *render.Template {
	t.Helper()
	tm, err := render.Parse("t.tmpl", []byte(src), render.Options{
		Now:       func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) },
		MessageID: func(r string) string { return "id." + r },
	})
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readRecords reads the results CSV back, failing on anything malformed.
func readRecords(t *testing.T, path string) []Record {
	t.Helper()
	var recs []Record
	if err := readResults(path, func(r *Record) error { recs = append(recs, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	return recs
}

func byEmail(recs []Record) map[string][]Record {
	m := map[string][]Record{}
	for _, r := range recs {
		m[r.Email] = append(m[r.Email], r)
	}
	return m
}

func TestRunOutcomes(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", "\ufeffemail,first_name,name\n"+
		"ann@example.com,Ann,Ann A\n"+
		"bob@example.com,Bob,\n"+
		"not-an-address,Carl,\n"+
		"ANN@example.com,Ann again,\n"+
		"dee@example.com,Dee,\n"+
		"eve@example.com,Eve,\n"+
		"=cmd@example.com,Formula,\n")
	supp := writeFile(t, dir, "supp.csv", "email\nEVE@Example.com\n")
	results := filepath.Join(dir, "results.csv")
	fs := &fakeSender{answer: func(to string) sender.Result {
		switch to {
		case "bob@example.com":
			return sender.Result{Status: sender.Bounced, Code: 550, Enhanced: "5.1.1", Text: "RCPT: =HYPERLINK(\"x\")", Relay: "fake", Attempts: 1}
		case "dee@example.com":
			return sender.Result{Status: sender.Deferred, Code: 451, Enhanced: "4.7.1", Text: "RCPT: later", Relay: "fake", Attempts: 3}
		}
		return sender.Result{Status: sender.Delivered, Code: 250, Relay: "fake", Attempts: 1}
	}}
	sum, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc), Suppress: []string{supp}}, Results: results, Concurrency: 3}, fs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[Status]int{Delivered: 2, Bounced: 1, Deferred: 1, Invalid: 1, Suppressed: 2}
	for st, n := range want {
		if sum.Counts[st] != n {
			t.Errorf("%s: %d, want %d (all: %v)", st, sum.Counts[st], n, sum.Counts)
		}
	}
	if sum.Total != 7 || sum.Left != 0 {
		t.Errorf("total %d left %d", sum.Total, sum.Left)
	}
	recs := readRecords(t, results)
	if len(recs) != 7 {
		t.Fatalf("%d result rows, want 7: %+v", len(recs), recs)
	}
	got := byEmail(recs)
	if r := got["bob@example.com"][0]; r.Status != Bounced || r.Code != 550 || r.EnhancedCode != "5.1.1" || r.Line != 3 || r.MessageID != "id.bob@example.com@acme.example" {
		t.Errorf("bob: %+v", r)
	}
	if r := got["not-an-address"][0]; r.Status != Invalid || !strings.Contains(r.Message, "not-an-address") || r.Line != 4 {
		t.Errorf("invalid row: %+v", r)
	}
	if r := got["ANN@example.com"][0]; r.Status != Suppressed || r.Message != "duplicate of line 2" {
		t.Errorf("duplicate: %+v", r)
	}
	if r := got["eve@example.com"][0]; r.Status != Suppressed || !strings.Contains(r.Message, "supp.csv") {
		t.Errorf("suppressed: %+v", r)
	}
	if fs.sent["ann@example.com"] != 1 || fs.sent["eve@example.com"] != 0 || fs.sent["ANN@example.com"] != 0 {
		t.Errorf("sent: %v", fs.sent)
	}
	// Formula injection: the raw file must not start a cell with "=".
	raw, _ := os.ReadFile(results)
	cr := csv.NewReader(strings.NewReader(string(raw)))
	rows, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Errorf("cell %q would be read as a formula", cell)
			}
		}
	}
	if r := got["=cmd@example.com"]; len(r) != 1 || r[0].Status != Delivered {
		t.Errorf("=cmd row does not read back: %+v", r)
	}
}

func TestResumeSkipsFinal(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", "email,first_name\na@example.com,A\nb@example.com,B\nc@example.com,C\n")
	results := filepath.Join(dir, "results.csv")
	first := &fakeSender{answer: func(to string) sender.Result {
		if to == "b@example.com" {
			return sender.Result{Status: sender.Deferred, Code: 451}
		}
		return sender.Result{Status: sender.Delivered, Code: 250}
	}}
	o := Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results}
	if _, err := Run(context.Background(), o, first); err != nil {
		t.Fatal(err)
	}
	second := &fakeSender{}
	sum, err := Run(context.Background(), o, second)
	if err != nil {
		t.Fatal(err)
	}
	if second.total() != 1 || second.sent["b@example.com"] != 1 {
		t.Errorf("re-run sent %v; want only the deferred b@example.com", second.sent)
	}
	if sum.Skipped != 2 || sum.Counts[Delivered] != 1 {
		t.Errorf("summary %+v", sum)
	}
	third := &fakeSender{}
	sum, err = Run(context.Background(), o, third)
	if err != nil {
		t.Fatal(err)
	}
	if third.total() != 0 || third.probes != 0 || sum.Skipped != 3 {
		t.Errorf("complete campaign: sent %v, probed %d times, summary %+v", third.sent, third.probes, sum)
	}
}

func TestListErrorsStopBeforeSending(t *testing.T) {
	many := "email,first_name\n" + strings.Repeat("x@example.com,X\n", 50)
	cases := []struct {
		name, content, want string
	}{
		{"no email column", "mail,first_name\na@example.com,A\n", `list.csv:1: no "email" column`},
		{"ragged row at the end", many + "late@example.com,Late,extra\n", "list.csv:52: wrong number of fields"},
		{"invalid UTF-8", "email,first_name\na@example.com,A\nb@example.com,\xff\xfe\n", "list.csv:3: column \"first_name\" is not valid UTF-8"},
		{"empty", "", "the list is empty"},
		{"bare quote", "email,first_name\na@example.com,\"A\nb\n", "list.csv:2"},
		{"duplicate column", "email,email\na@example.com,b@example.com\n", `column "email" appears twice`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			list := writeFile(t, dir, "list.csv", c.content)
			fs := &fakeSender{}
			_, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: filepath.Join(dir, "r.csv")}, fs)
			var de *DataError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a DataError containing %q", err, c.want)
			}
			if fs.total() != 0 {
				t.Errorf("%d messages sent before the error", fs.total())
			}
			if _, err := os.Stat(filepath.Join(dir, "r.csv")); err == nil {
				t.Error("a results file was written for a list that cannot be used")
			}
		})
	}
}

func TestRenderErrorIsInvalidRow(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", "email,first_name\na@example.com,A\nb@example.com,\"B\nBcc: evil@example.com\"\n")
	results := filepath.Join(dir, "r.csv")
	fs := &fakeSender{}
	sum, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results}, fs)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts[Delivered] != 1 || sum.Counts[Invalid] != 1 || fs.sent["b@example.com"] != 0 {
		t.Errorf("counts %v sent %v", sum.Counts, fs.sent)
	}
	r := byEmail(readRecords(t, results))["b@example.com"][0]
	if !strings.Contains(r.Message, "Subject: value contains a line break") {
		t.Errorf("message %q", r.Message)
	}

	// A field the list lacks makes every row invalid, never "<no value>".
	fs = &fakeSender{}
	sum, err = Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, "From: a@b.example\nSubject: {{.nickname}}\n\nx\n")}, Results: filepath.Join(dir, "r2.csv")}, fs)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts[Invalid] != 2 || fs.total() != 0 {
		t.Errorf("counts %v sent %v", sum.Counts, fs.sent)
	}
}

func TestDryRun(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", "email,first_name\na@example.com,A\nbad,B\n")
	results := filepath.Join(dir, "dry.csv")
	fs := &fakeSender{}
	o := Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results, DryRun: true}
	for i := 0; i < 2; i++ { // a dry run can be repeated: it rewrites its own file
		sum, err := Run(context.Background(), o, fs)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Counts[DryRun] != 1 || sum.Counts[Invalid] != 1 {
			t.Errorf("counts %v", sum.Counts)
		}
	}
	if fs.total() != 0 || fs.probes != 0 {
		t.Errorf("dry run used the sender: %v, %d probes", fs.sent, fs.probes)
	}
	if n := len(readRecords(t, results)); n != 2 {
		t.Errorf("%d rows after two dry runs, want 2", n)
	}
	// A real results file is never overwritten by a dry run.
	real := filepath.Join(dir, "real.csv")
	if _, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: real}, &fakeSender{}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(real)
	o.Results = real
	if _, err := Run(context.Background(), o, fs); err == nil || !strings.Contains(err.Error(), "real send") {
		t.Errorf("dry run over real results: %v", err)
	}
	after, _ := os.ReadFile(real)
	if string(before) != string(after) {
		t.Error("dry run changed the real results file")
	}
}

func TestProbeFailureSendsNothing(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", "email,first_name\na@example.com,A\nb@example.com,B\n")
	unavailable := &sender.UnavailableError{Err: errors.New("connection refused")}
	fs := &fakeSender{probeErr: unavailable}
	sum, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: filepath.Join(dir, "r.csv"), Concurrency: 2}, fs)
	if !errors.Is(err, unavailable) {
		t.Fatalf("got %v", err)
	}
	if fs.total() != 0 || sum.Left != 2 {
		t.Errorf("sent %v, left %d", fs.sent, sum.Left)
	}
}

func TestLimit(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("email,first_name\n")
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&b, "r%d@example.com,R\n", i)
	}
	list := writeFile(t, dir, "list.csv", b.String())
	fs := &fakeSender{}
	o := Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: filepath.Join(dir, "r.csv"), Limit: 7, Concurrency: 4}
	sum, err := Run(context.Background(), o, fs)
	if err != nil {
		t.Fatal(err)
	}
	if fs.total() != 7 || sum.Left != 13 {
		t.Errorf("sent %d, left %d", fs.total(), sum.Left)
	}
	fs2 := &fakeSender{}
	o.Limit = 0
	if _, err := Run(context.Background(), o, fs2); err != nil {
		t.Fatal(err)
	}
	if fs2.total() != 13 {
		t.Errorf("second run sent %d, want the 13 left", fs2.total())
	}
}
