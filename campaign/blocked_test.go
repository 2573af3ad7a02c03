package campaign

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailer-dev/mailer/sender"
)

const blockedList = "email,first_name\nann@example.com,Ann\nbob@example.org,Bob\ncy@example.net,Cy\n"

// A blocked recipient (the relay refused the sender) keeps its code and
// reply, is never written to --bounces-to, and a re-run sends it again.
func TestBlockedRetriedByRerun(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", blockedList)
	results := filepath.Join(dir, "results.csv")
	bounces := filepath.Join(dir, "bounces.csv")
	refusing := &fakeSender{answer: func(to string) sender.Result {
		if to == "bob@example.org" {
			return sender.Result{Status: sender.Bounced, Code: 550, Enhanced: "5.1.1", Text: "RCPT: User unknown", Attempts: 1}
		}
		// A sender-domain refusal: a 5.1.x code, which would suppress a bounce.
		return sender.Result{Status: sender.Blocked, Code: 553, Enhanced: "5.1.8", Text: "MAIL: Sender address rejected", Relay: "fake", Attempts: 1}
	}}
	o := Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results, BouncesTo: bounces}
	sum, err := Run(context.Background(), o, refusing)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts[Blocked] != 2 || sum.Counts[Bounced] != 1 || sum.Sent() != 3 {
		t.Fatalf("counts %v, sent %d", sum.Counts, sum.Sent())
	}
	for _, r := range readRecords(t, results) {
		if r.Email != "bob@example.org" && (r.Status != Blocked || r.Code != 553 || r.EnhancedCode != "5.1.8" || r.Message != "MAIL: Sender address rejected") {
			t.Errorf("%s: %+v", r.Email, r)
		}
	}
	b, err := os.ReadFile(bounces)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "bob@example.org") || strings.Contains(string(b), "ann@") || strings.Contains(string(b), "cy@") {
		t.Errorf("bounces file holds the blocked recipients, or not the bounce:\n%s", b)
	}
	if Blocked.Final() {
		t.Error("blocked is final")
	}
	rep, err := BuildReport(results)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Count(Blocked) != 2 || rep.Sent != 3 || rep.BlockRate < 0.66 || rep.BlockRate > 0.67 {
		t.Errorf("report: statuses %+v, sent %d, block rate %v", rep.Statuses, rep.Sent, rep.BlockRate)
	}

	fixed := &fakeSender{}
	sum, err = Run(context.Background(), o, fixed)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts[Delivered] != 2 || sum.Skipped != 1 || fixed.sent["ann@example.com"] != 1 || fixed.sent["cy@example.net"] != 1 || fixed.sent["bob@example.org"] != 0 {
		t.Errorf("re-run: counts %v, skipped %d, sent %v: want the two blocked sent again", sum.Counts, sum.Skipped, fixed.sent)
	}
	if rep, err = BuildReport(results); err != nil {
		t.Fatal(err)
	}
	if rep.Count(Blocked) != 0 || rep.Count(Delivered) != 2 {
		t.Errorf("report after the re-run: %+v", rep.Statuses)
	}
}

// When every relay refuses the sender the run stops like "every relay is
// down": what was tried is blocked, the rest deferred "not tried", naming
// the refusal, and the error carries the *sender.RefusedError for cmd.
func TestBlockedEveryRelayStopsRun(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("email,first_name\n")
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		b.WriteString(n + "@example.com," + n + "\n")
	}
	list := writeFile(t, dir, "list.csv", b.String())
	results := filepath.Join(dir, "results.csv")
	refusal := &sender.RefusedError{Relay: "smtp+plain://127.0.0.1:2525", Reply: &sender.ReplyError{Stage: "MAIL", Code: 530, Enhanced: "5.7.0", Message: "Authentication required"}}
	refusing := &fakeSender{answer: func(string) sender.Result {
		return sender.Result{Status: sender.Blocked, Code: 530, Enhanced: "5.7.0", Text: "MAIL: Authentication required", Attempts: 1,
			Err: &sender.UnavailableError{Err: refusal}}
	}}
	sum, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results}, refusing)
	var rf *sender.RefusedError
	if !errors.As(err, &rf) || !rf.Auth() {
		t.Fatalf("got %v, want the refusal", err)
	}
	if sum.Counts[Blocked] != 1 || sum.Counts[Deferred] != 9 {
		t.Fatalf("counts %v: want 1 blocked, 9 not tried", sum.Counts)
	}
	for _, r := range readRecords(t, results) {
		if r.Status == Deferred && r.Message != "not tried: no relay available: relay refuses the sender: 530 5.7.0 Authentication required (smtp+plain://127.0.0.1:2525, at MAIL)" {
			t.Errorf("%s: %q", r.Email, r.Message)
		}
	}
}

// A recipient resent with ResendUnknown says so in its new row: it may be
// a duplicate.
func TestResendUnknownMarked(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", blockedList)
	results := filepath.Join(dir, "results.csv")
	lost := &fakeSender{answer: func(to string) sender.Result {
		if to == "bob@example.org" {
			return sender.Result{Status: sender.Unknown, Text: "connection lost after the message was sent", Attempts: 1}
		}
		return sender.Result{Status: sender.Delivered, Code: 250, Text: "2.0.0 OK", Attempts: 1}
	}}
	o := Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results}
	if _, err := Run(context.Background(), o, lost); err != nil {
		t.Fatal(err)
	}
	o.ResendUnknown = true
	again := &fakeSender{answer: func(string) sender.Result {
		return sender.Result{Status: sender.Delivered, Code: 250, Text: "2.0.0 OK", Attempts: 1}
	}}
	if sum, err := Run(context.Background(), o, again); err != nil || sum.Counts[Delivered] != 1 {
		t.Fatalf("%v %v", err, sum)
	}
	recs := readRecords(t, results)
	last := recs[len(recs)-1]
	if last.Email != "bob@example.org" || last.Message != ResentUnknown+"2.0.0 OK" {
		t.Errorf("resent row: %+v, want its message to start %q", last, ResentUnknown)
	}
	for _, r := range recs[:len(recs)-1] {
		if strings.HasPrefix(r.Message, ResentUnknown) {
			t.Errorf("%s marked resent: %q", r.Email, r.Message)
		}
	}
}
