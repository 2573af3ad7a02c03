package campaign

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailer-dev/mailer/sender"
)

// When the pool reports every relay down, the run stops trying with the
// UnavailableError and records every recipient left as deferred, untried:
// the results speak of all 50, and a re-run sends them.
func TestRunStopsWhenRelaysUnavailable(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("email,first_name\n")
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&b, "u%d@example.com,U%d\n", i, i)
	}
	list := writeFile(t, dir, "list.csv", b.String())
	results := filepath.Join(dir, "results.csv")
	down := &fakeSender{answer: func(string) sender.Result {
		return sender.Result{Status: sender.Deferred, Text: "connect: refused", Attempts: 3,
			Err: &sender.UnavailableError{Err: errors.New("connect: refused")}}
	}}
	sum, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results, Concurrency: 1}, down)
	var ue *sender.UnavailableError
	if !errors.As(err, &ue) {
		t.Fatalf("got %v, want an UnavailableError", err)
	}
	if down.total() >= 50 || sum.Counts[Deferred] != 50 || sum.Left != 0 {
		t.Errorf("tried %d, deferred %d, left %d: the run should stop trying early and record all 50", down.total(), sum.Counts[Deferred], sum.Left)
	}
	untried := 0
	for _, r := range readRecords(t, results) {
		if r.Status != Deferred {
			t.Errorf("%s: %s", r.Email, r.Status)
		}
		if strings.HasPrefix(r.Message, "not tried: no relay available") {
			untried++
		}
	}
	if untried != 50-down.total() {
		t.Errorf("%d rows say untried, want %d (the %d tried say why they failed)", untried, 50-down.total(), down.total())
	}
	up := &fakeSender{answer: func(string) sender.Result { return sender.Result{Status: sender.Delivered, Code: 250, Attempts: 1} }}
	sum, err = Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results, Concurrency: 2}, up)
	if err != nil || sum.Counts[Delivered] != 50 {
		t.Fatalf("re-run: %v, %v", err, sum.Counts)
	}
}
