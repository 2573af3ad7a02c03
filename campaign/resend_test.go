package campaign

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mailer-dev/mailer/sender"
)

// A recipient resent with ResendUnknown whose resend is deferred is left
// deferred, as the report and the exit-75 hint say: a plain re-run then
// retries it, as it does every deferred recipient.
func TestResentThenDeferredIsRetried(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", blockedList)
	results := filepath.Join(dir, "results.csv")
	o := Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results}
	answer := func(st sender.Status) *fakeSender {
		return &fakeSender{answer: func(to string) sender.Result {
			if to == "bob@example.org" {
				return sender.Result{Status: st, Code: 451, Text: "later", Attempts: 1}
			}
			return sender.Result{Status: sender.Delivered, Code: 250, Attempts: 1}
		}}
	}
	if _, err := Run(context.Background(), o, answer(sender.Unknown)); err != nil {
		t.Fatal(err)
	}
	o.ResendUnknown = true
	if sum, err := Run(context.Background(), o, answer(sender.Deferred)); err != nil || sum.Counts[Deferred] != 1 {
		t.Fatalf("resend: %v %+v", err, sum)
	}
	if rep, err := BuildReport(results); err != nil || rep.Count(Deferred) != 1 {
		t.Fatalf("report: %v %+v", err, rep)
	}
	o.ResendUnknown = false
	again := &fakeSender{}
	if _, err := Run(context.Background(), o, again); err != nil {
		t.Fatal(err)
	}
	if again.sent["bob@example.org"] != 1 {
		t.Errorf("plain re-run sent %v: the deferred resend of bob is never retried", again.sent)
	}
}
