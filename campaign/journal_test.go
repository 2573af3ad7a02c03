package campaign

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailer-dev/mailer/sender"
)

// deadRun leaves results and journal as a run that was killed would: a and
// b were attempted; a's outcome made it to disk, b's did not.
func deadRun(t *testing.T, dir string) (list, results string) {
	t.Helper()
	list = writeFile(t, dir, "list.csv", "email,first_name\na@example.com,A\nb@example.com,B\nc@example.com,C\n")
	results = filepath.Join(dir, "results.csv")
	header := "email,status,code,enhanced_code,message,relay,attempts,message_id,time,line,envelope_from,fingerprint\n"
	fp := fingerprintOf(t, list)
	writeFile(t, dir, "results.csv", header+"a@example.com,delivered,250,,ok,r,1,id.a,2026-01-01T00:00:00.000Z,2,a@example.com,"+fp+"\n")
	base := len(header)
	writeFile(t, dir, "results.csv.journal", fmt.Sprintf("mailer-journal,1,%d,999\n+,a@example.com,2,id.a\n+,b@example.com,3,id.b\n+,c@example.com,4,id.c\n-,c@example.com,,\n", base))
	return list, results
}

func fingerprintOf(t *testing.T, list string) string {
	info, err := ScanList(list, "email", "")
	if err != nil {
		t.Fatal(err)
	}
	return "list=" + info.Fingerprint[:16] + " template=" + testTemplate(t, tmplSrc).Fingerprint()[:16]
}

func TestCrashedRunInFlightBecomesUnknown(t *testing.T) {
	dir := t.TempDir()
	list, results := deadRun(t, dir)
	fs := &fakeSender{}
	sum, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results}, fs)
	if err != nil {
		t.Fatal(err)
	}
	// b was in flight: recorded unknown, not sent again. c was withdrawn
	// (never reached a relay): sent now. a was delivered: skipped.
	if fs.sent["b@example.com"] != 0 || fs.sent["a@example.com"] != 0 || fs.sent["c@example.com"] != 1 {
		t.Errorf("sent %v; want only c", fs.sent)
	}
	if sum.Recovered != 1 {
		t.Errorf("recovered %d, want 1", sum.Recovered)
	}
	got := byEmail(readRecords(t, results))
	if r := got["b@example.com"]; len(r) != 1 || r[0].Status != Unknown || r[0].MessageID != "id.b" || r[0].Line != 3 {
		t.Errorf("b: %+v", r)
	}
	if r := got["a@example.com"]; len(r) != 1 {
		t.Errorf("a has %d rows", len(r))
	}
	// A clean end empties the journal: nothing is recovered twice.
	if st, err := os.Stat(results + ".journal"); err != nil || st.Size() != 0 {
		t.Errorf("journal after a clean run: %v, %v", st, err)
	}

	// Asked to, a re-run sends the unknown one again.
	fs2 := &fakeSender{}
	if _, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results, ResendUnknown: true}, fs2); err != nil {
		t.Fatal(err)
	}
	if fs2.total() != 1 || fs2.sent["b@example.com"] != 1 {
		t.Errorf("--resend-unknown sent %v; want b only", fs2.sent)
	}
}

func TestLockStopsSecondRun(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", "email,first_name\na@example.com,A\n")
	results := filepath.Join(dir, "results.csv")
	held, err := openJournal(results)
	if err != nil {
		t.Fatal(err)
	}
	if err := held.start(0); err != nil {
		t.Fatal(err)
	}
	fs := &fakeSender{}
	_, err = Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results}, fs)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != fmt.Sprint(os.Getpid()) {
		t.Fatalf("got %v, want LockedError naming pid %d", err, os.Getpid())
	}
	if fs.total() != 0 {
		t.Error("the second run sent")
	}
	held.close()
	if _, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results}, fs); err != nil {
		t.Fatalf("after the lock is released: %v", err)
	}
}

func TestChangedListOrTemplate(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", "email,first_name\na@example.com,A\nb@example.com,B\n")
	results := filepath.Join(dir, "results.csv")
	o := Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results, Limit: 1}
	if _, err := Run(context.Background(), o, &fakeSender{}); err != nil {
		t.Fatal(err)
	}
	o.Limit = 0
	writeFile(t, dir, "list.csv", "email,first_name\na@example.com,A\nb@example.com,B\nnew@example.com,N\n")
	fs := &fakeSender{}
	_, err := Run(context.Background(), o, fs)
	var ce *ChangedError
	if !errors.As(err, &ce) || ce.What != "list" || fs.total() != 0 {
		t.Fatalf("changed list: %v (sent %v)", err, fs.sent)
	}
	o.Template = testTemplate(t, tmplSrc+"\nP.S.\n")
	if _, err = Run(context.Background(), o, fs); !errors.As(err, &ce) || ce.What != "list and template" {
		t.Fatalf("changed both: %v", err)
	}
	o.AllowChanged = true
	if _, err := Run(context.Background(), o, fs); err != nil {
		t.Fatal(err)
	}
	if fs.total() != 2 || fs.sent["a@example.com"] != 0 {
		t.Errorf("forced resume sent %v; want b and new", fs.sent)
	}
}

func TestTornLineRepaired(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", "email,first_name\na@example.com,A\nb@example.com,B\n")
	results := filepath.Join(dir, "results.csv")
	o := Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results, Limit: 1}
	if _, err := Run(context.Background(), o, &fakeSender{}); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(results, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("b@example.com,deliv") // the crash hit mid-line
	f.Close()
	o.Limit = 0
	fs := &fakeSender{}
	sum, err := Run(context.Background(), o, fs)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Repaired != int64(len("b@example.com,deliv")) || fs.sent["b@example.com"] != 1 {
		t.Errorf("repaired %d bytes, sent %v", sum.Repaired, fs.sent)
	}
	recs := readRecords(t, results)
	if len(recs) != 2 {
		t.Errorf("%d rows after repair: %+v", len(recs), recs)
	}
}

func TestHardBouncesFeedSuppression(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", "email,first_name\ngone@example.com,G\nfull@example.com,F\nok@example.com,O\n")
	bounces := filepath.Join(dir, "bounces.csv")
	fs := &fakeSender{answer: func(to string) sender.Result {
		switch to {
		case "gone@example.com":
			return sender.Result{Status: sender.Bounced, Code: 550, Enhanced: "5.1.1", Text: "RCPT: no such user"}
		case "full@example.com":
			return sender.Result{Status: sender.Bounced, Code: 552, Enhanced: "5.2.2", Text: "DATA: mailbox full"}
		}
		return sender.Result{Status: sender.Delivered, Code: 250}
	}}
	o := Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: filepath.Join(dir, "r1.csv"), BouncesTo: bounces}
	if _, err := Run(context.Background(), o, fs); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(bounces)
	if !strings.Contains(string(b), "gone@example.com,5.1.1") || strings.Contains(string(b), "full@") {
		t.Errorf("bounces file:\n%s", b)
	}
	// The next campaign uses it as a suppression list.
	fs2 := &fakeSender{}
	o2 := Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc), Suppress: []string{bounces}}, Results: filepath.Join(dir, "r2.csv")}
	if _, err := Run(context.Background(), o2, fs2); err != nil {
		t.Fatal(err)
	}
	if fs2.sent["gone@example.com"] != 0 || fs2.total() != 2 {
		t.Errorf("second campaign sent %v", fs2.sent)
	}
}

// fullDisk fails every write after the first n bytes, as a full disk does.
type fullDisk struct {
	*os.File
	left int
}

func (f *fullDisk) Write(b []byte) (int, error) {
	if len(b) > f.left {
		return 0, fmt.Errorf("write %s: no space left on device", f.Name())
	}
	f.left -= len(b)
	return f.File.Write(b)
}

func TestDiskFullStopsSending(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("email,first_name\n")
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, "r%d@example.com,R\n", i)
	}
	list := writeFile(t, dir, "list.csv", b.String())
	orig := openResultsFile
	t.Cleanup(func() { openResultsFile = orig })
	openResultsFile = func(path string, flag int, perm os.FileMode) (resultsFile, error) {
		f, err := os.OpenFile(path, flag, perm)
		if err != nil {
			return nil, err
		}
		return &fullDisk{File: f, left: 2000}, nil
	}
	fs := &fakeSender{}
	sum, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: filepath.Join(dir, "r.csv"), Concurrency: 4}, fs)
	var we *WriteError
	if !errors.As(err, &we) || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("got %v, want a WriteError", err)
	}
	recorded := sum.Counts[Delivered]
	// Only messages already in flight when the disk filled may go out
	// unrecorded; they are reported, and the journal makes them unknown.
	// In flight: one message per worker, the outcomes queued for the
	// writer (2 per worker) and the one whose write failed.
	if unrec := fs.total() - recorded; unrec > 3*4+1 || unrec != len(sum.Unrecorded) {
		t.Errorf("sent %d, recorded %d, reported unrecorded %d", fs.total(), recorded, len(sum.Unrecorded))
	}
	if fs.total() >= 200 {
		t.Error("kept sending after the results file failed")
	}
}

func TestUnwritableResults(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", "email,first_name\na@example.com,A\n")
	notADir := writeFile(t, dir, "file", "x")
	fs := &fakeSender{}
	_, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: filepath.Join(notADir, "r.csv")}, fs)
	var we *WriteError
	if !errors.As(err, &we) || fs.total() != 0 {
		t.Fatalf("got %v, sent %d", err, fs.total())
	}
}

// waitingSender holds every Send. Only to wire@ does it call Begin, as the
// pool does once a message's first byte goes to a relay; the others wait,
// as for the rate or a connection, until the run is stopped.
type waitingSender struct {
	entered chan string
	release chan struct{}
}

func (w *waitingSender) Probe(context.Context) error { return nil }

func (w *waitingSender) Send(ctx context.Context, m *sender.Message) sender.Result {
	if m.To != "wire@example.com" {
		w.entered <- m.To
		<-ctx.Done()
		return sender.Result{Status: sender.Canceled}
	}
	if res, ok := begin(m); !ok {
		return res
	}
	w.entered <- m.To
	<-w.release
	return sender.Result{Status: sender.Delivered, Code: 250, Relay: "fake", Attempts: 1}
}

// TestCrashWhileWaitingInSend: a crash while messages wait in Send (before
// their Begin) leaves in the journal only the one on the wire: the next run
// records that one unknown and sends the others.
func TestCrashWhileWaitingInSend(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", "email,first_name\nwire@example.com,W\nw1@example.com,A\nw2@example.com,B\nw3@example.com,C\n")
	results := filepath.Join(dir, "results.csv")
	ws := &waitingSender{entered: make(chan string, 4), release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results, Concurrency: 4}
	done := make(chan error, 1)
	go func() { _, err := Run(ctx, o, ws); done <- err }()
	for range 4 {
		<-ws.entered
	}
	// What a SIGKILL now would leave: the journal and the results as
	// they are, in another directory, resumed there.
	crashed := t.TempDir()
	for _, name := range []string{"results.csv", "results.csv.journal"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, crashed, name, string(b))
	}
	if b, _ := os.ReadFile(results + ".journal"); strings.Count(string(b), "\n+,") != 1 || !strings.Contains(string(b), "\n+,wire@example.com,") {
		t.Errorf("journal while three messages wait in Send and one is on the wire:\n%s", b)
	}
	cancel()
	close(ws.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	fs := &fakeSender{}
	o.Results = filepath.Join(crashed, "results.csv")
	sum, err := Run(context.Background(), o, fs)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Recovered != 1 || fs.total() != 3 || fs.sent["wire@example.com"] != 0 {
		t.Errorf("after the crash: recovered %d, sent %v; want wire@ recovered unknown and the three that waited sent", sum.Recovered, fs.sent)
	}
}
