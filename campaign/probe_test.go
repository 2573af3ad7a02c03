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

// No relay before the first message: nothing is sent and no row is
// recorded deferred (the campaign never started).
func TestProbeFailureRecordsNoDeferred(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("email,first_name\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "u%d@example.com,U\n", i)
	}
	list := writeFile(t, dir, "list.csv", b.String())
	fs := &fakeSender{probeErr: &sender.UnavailableError{Err: errors.New("connection refused")}}
	sum, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: filepath.Join(dir, "r.csv"), Concurrency: 4}, fs)
	var ue *sender.UnavailableError
	if !errors.As(err, &ue) || fs.total() != 0 || sum.Counts[Deferred] != 0 || sum.Left != 40 {
		t.Errorf("err %v, sent %d, deferred %d, left %d", err, fs.total(), sum.Counts[Deferred], sum.Left)
	}
}

// Interrupted while connecting: no error of its own (the caller reports
// the interruption), nothing sent.
func TestProbeInterrupted(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", "email,first_name\na@example.com,A\n")
	ctx, cancel := context.WithCancel(context.Background())
	fs := &fakeSender{}
	fs.probeHook = func() error { cancel(); return ctx.Err() }
	_, err := Run(ctx, Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: filepath.Join(dir, "r.csv")}, fs)
	if err != nil || fs.total() != 0 {
		t.Errorf("err %v, sent %d", err, fs.total())
	}
}
