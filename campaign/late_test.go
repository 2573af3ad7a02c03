package campaign

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailer-dev/mailer/sender"
)

// TestLateWhileSendRuns: while a send holds the campaign, OpenLate with no
// wait is refused with the send's LockedError and writes nothing; with a
// wait it gets the lock once the send ends, and its rows follow the send's.
func TestLateWhileSendRuns(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", "email,first_name\na@example.com,A\nb@example.com,B\nc@example.com,C\n")
	results := filepath.Join(dir, "results.csv")
	inSend, release := make(chan struct{}, 1), make(chan struct{})
	first := &fakeSender{answer: func(string) sender.Result {
		select {
		case inSend <- struct{}{}:
		default:
		}
		<-release
		return sender.Result{Status: sender.Delivered, Code: 250, Relay: "fake", Attempts: 1}
	}}
	opts := Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results}
	done := make(chan error, 1)
	go func() { _, err := Run(context.Background(), opts, first); done <- err }()
	select {
	case <-inSend:
	case err := <-done:
		t.Fatalf("send ended early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("send never sent")
	}
	before, _ := os.ReadFile(results)
	_, err := OpenLate(context.Background(), results, 0)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != fmt.Sprint(os.Getpid()) {
		t.Fatalf("OpenLate during a send: %v; want a LockedError naming pid %d", err, os.Getpid())
	}
	if after, _ := os.ReadFile(results); string(after) != string(before) {
		t.Error("a refused OpenLate wrote to the results")
	}
	retried := make(chan struct{}, 1)
	lateRetry = func() {
		select {
		case retried <- struct{}{}:
		default:
		}
	}
	t.Cleanup(func() { lateRetry = nil })
	opened := make(chan *LateWriter, 1)
	go func() {
		w, err := OpenLate(context.Background(), results, time.Minute)
		if err != nil {
			t.Error(err)
		}
		opened <- w
	}()
	<-retried // it waits for the send...
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w := <-opened // ...and gets the campaign once the send is done
	if w == nil {
		t.FailNow()
	}
	for _, r := range []*Record{
		{Email: "a@example.com", Status: Bounced, Code: 550, EnhancedCode: "5.1.1", Message: "late: no such user", Reason: ReasonLateBounce},
		{Email: "b@example.com", Status: Complained, Reason: ReasonComplaint, Message: "abuse report"},
		{Email: "c@example.com", Status: Unsubscribed, Reason: ReasonUnsubscribe},
	} {
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The late rows are final: a re-run sends nobody.
	again := &fakeSender{}
	if _, err := Run(context.Background(), opts, again); err != nil {
		t.Fatal(err)
	}
	if again.total() != 0 {
		t.Errorf("a re-run after late outcomes sent %v", again.sent)
	}
	rep, err := BuildReport(results)
	if err != nil {
		t.Fatal(err)
	}
	l := rep.Late
	if rep.Recipients != 3 || rep.Count(Bounced) != 1 || rep.Count(Complained) != 1 || rep.Count(Unsubscribed) != 1 || rep.Count(Delivered) != 0 {
		t.Errorf("report statuses %+v", rep.Statuses)
	}
	if l.Bounces != 1 || l.Complaints != 1 || l.Unsubscribes != 1 || l.HardBounces != 1 || rep.Sent != 3 {
		t.Errorf("late %+v, sent %d", l, rep.Sent)
	}
	if len(l.Warnings) != 2 || !strings.Contains(l.Warnings[0], "complaint rate 33.33% reaches the 0.3%") || !strings.Contains(l.Warnings[1], "hard bounce rate 33.3% is over 2%") {
		t.Errorf("warnings %q", l.Warnings)
	}
}

func TestOpenLateMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "none.csv")
	if _, err := OpenLate(context.Background(), p, 0); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v", err)
	}
	if _, err := os.Stat(p); err == nil {
		t.Error("OpenLate created the results file")
	}
}

func TestLateRates(t *testing.T) {
	var tl lateTally
	for i := 0; i < 1000; i++ {
		r := &Record{Status: Delivered}
		switch {
		case i < 2:
			r = &Record{Status: Complained, Reason: ReasonComplaint}
		case i < 20:
			r = &Record{Status: Bounced, EnhancedCode: "5.1.1"}
		case i < 40:
			r = &Record{Status: Bounced, EnhancedCode: "5.2.2"} // not hard
		}
		tl.add(r)
	}
	l := tl.finish(1000)
	if l.ComplaintRate != 0.002 || l.HardBounces != 18 || len(l.Warnings) != 1 || !strings.Contains(l.Warnings[0], "over the 0.1%") {
		t.Errorf("%+v", l)
	}
}

func TestIndexRecipients(t *testing.T) {
	dir := t.TempDir()
	h := strings.TrimSuffix(resultsHeader(), "\n")
	a := writeFile(t, dir, "a.csv", h+"\n"+
		"ann@example.com,delivered,250,,ok,r,1,m1@acme.example,2024-11-05T09:00:00.000Z,2,b+ann=example.com@acme.example,,\n"+
		"bob@example.com,delivered,250,,ok,r,1,m2@acme.example,2024-11-05T09:00:00.000Z,3,bounces@acme.example,,\n"+
		"cat@example.com,delivered,250,,ok,r,1,m3@acme.example,2024-11-05T09:00:00.000Z,4,bounces@acme.example,,\n"+
		"dan@example.com,suppressed,,,on list,,,,2024-11-05T09:00:00.000Z,5,,,suppressed\n")
	b := writeFile(t, dir, "b.csv", h+"\n"+
		"Ann@Example.com,delivered,250,,ok,r,1,m9@acme.example,2024-12-05T09:00:00.000Z,7,,,\n")
	x, err := IndexRecipients(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if x.Len() != 4 {
		t.Errorf("Len %d", x.Len())
	}
	if r, ok := x.ByMessageID("m2@acme.example"); !ok || r.Email != "bob@example.com" || r.File != a || r.Line != 3 {
		t.Errorf("ByMessageID m2: %+v %v", r, ok)
	}
	if r, ok := x.ByEnvelope("B+ann=example.com@acme.example"); !ok || r.Email != "ann@example.com" || r.MessageID != "m1@acme.example" {
		t.Errorf("ByEnvelope VERP: %+v %v", r, ok)
	}
	if _, ok := x.ByEnvelope("bounces@acme.example"); ok {
		t.Error("a shared envelope sender matched one recipient")
	}
	if r, ok := x.ByAddress("ANN@example.com"); !ok || r.File != b || r.MessageID != "m9@acme.example" {
		t.Errorf("ByAddress: %+v %v", r, ok)
	}
	if _, ok := x.ByAddress("dan@example.com"); ok {
		t.Error("a suppressed row (never sent) matched")
	}
	if _, ok := x.ByMessageID("nope"); ok {
		t.Error("unknown Message-ID matched")
	}
}
