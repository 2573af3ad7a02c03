package bounces

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailer-dev/mailer/mailbox"
	"github.com/mailer-dev/mailer/suppress"
)

// maildir writes n copies of the real Postfix DSN, each with its own
// Message-Id (so its own report key), into a new Maildir's new/.
func maildir(t *testing.T, n int) string {
	t.Helper()
	raw, err := os.ReadFile("../feedback/testdata/postfix/hard-5.1.1.eml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, sub := range []string{"new", "cur", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		m := strings.Replace(string(raw), "<20261201192204.0312D984174@mx.origin.test>", fmt.Sprintf("<dsn%d@mx.origin.test>", i), 1)
		if err := os.WriteFile(filepath.Join(dir, "new", fmt.Sprintf("%04d.test", i)), []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func count(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// recorder is a suppression writer that sees what is marked when it is
// asked to write, and may fail.
type recorder struct {
	entryWriter
	md       string
	fail     error
	batches  []int // entries per AppendAll
	unmarked []int // messages still in new/ at each AppendAll
}

func (r *recorder) AppendAll(es []suppress.Entry) error {
	r.batches = append(r.batches, len(es))
	r.unmarked = append(r.unmarked, len(mustReadDir(filepath.Join(r.md, "new"))))
	err := r.entryWriter.AppendAll(es)
	if r.fail != nil {
		// As a failed fsync: the lines may be in the file all the same.
		return r.fail
	}
	return err
}

func mustReadDir(dir string) []os.DirEntry {
	ents, _ := os.ReadDir(dir)
	return ents
}

func withWriter(t *testing.T, r *recorder) {
	t.Cleanup(func() { openWriter = func(path string) (entryWriter, error) { return suppress.OpenWriter(path) } })
	openWriter = func(path string) (entryWriter, error) {
		w, err := suppress.OpenWriter(path)
		r.entryWriter = w
		return r, err
	}
}

func drain(t *testing.T, md, supp string) (*Processor, error) {
	t.Helper()
	p, err := Open(context.Background(), Options{Suppress: supp})
	if err != nil {
		t.Fatal(err)
	}
	src, err := mailbox.OpenMaildir(md, 0)
	if err != nil {
		t.Fatal(err)
	}
	derr := p.Drain(context.Background(), src)
	return p, errors.Join(derr, p.Close())
}

// TestDrainBatchesThenMarks: the suppression rows of a batch are written
// in one AppendAll while every message of the batch is still unmarked, and
// the messages are marked after.
func TestDrainBatchesThenMarks(t *testing.T) {
	md := maildir(t, BatchSize+10)
	rec := &recorder{md: md}
	withWriter(t, rec)
	supp := filepath.Join(t.TempDir(), "s.csv")
	p, err := drain(t, md, supp)
	if err != nil {
		t.Fatal(err)
	}
	// All the DSNs are for the same address and key differently: one row
	// each. At least two batches (BatchSize, or fewer when BatchWait
	// passed), each written while all of its messages are still in new/.
	total, left := 0, BatchSize+10
	for i, n := range rec.batches {
		if n > BatchSize {
			t.Errorf("batch %d of %d rows", i, n)
		}
		if rec.unmarked[i] != left {
			t.Errorf("batch %d: %d messages in new/ at its write, want %d (none marked before its row is written)", i, rec.unmarked[i], left)
		}
		left -= n
		total += n
	}
	if len(rec.batches) < 2 || total != BatchSize+10 {
		t.Errorf("AppendAll batches %v", rec.batches)
	}
	if n := count(t, filepath.Join(md, "cur")); n != BatchSize+10 || p.Summary().Marked != n {
		t.Errorf("%d in cur/, %d marked", n, p.Summary().Marked)
	}
	var rows int
	if err := suppress.Read(supp, func(suppress.Entry) error { rows++; return nil }); err != nil || rows != BatchSize+10 {
		t.Errorf("%d rows (%v)", rows, err)
	}
}

// TestDrainFailedSyncMarksNothing: when the suppression write fails (a
// failed fsync), the run stops with that error and no message of the
// batch is marked; the next run reads them all again and applies them.
func TestDrainFailedSyncMarksNothing(t *testing.T) {
	md := maildir(t, 5)
	fail := errors.New("fsync: input/output error")
	rec := &recorder{md: md, fail: fail}
	withWriter(t, rec)
	supp := filepath.Join(t.TempDir(), "s.csv")
	p, err := drain(t, md, supp)
	if !errors.Is(err, fail) {
		t.Fatalf("Drain with a failing write: %v", err)
	}
	if n := count(t, filepath.Join(md, "cur")); n != 0 || p.Summary().Marked != 0 {
		t.Fatalf("%d messages marked after a failed write (%d counted)", n, p.Summary().Marked)
	}
	if len(rec.batches) != 1 {
		t.Errorf("written %d times, want once (no retry that could write the rows twice)", len(rec.batches))
	}
	// The rows did reach the file: the re-run reads the messages again,
	// finds their keys applied, writes nothing twice and marks them.
	rec.fail = nil
	p, err = drain(t, md, supp)
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, filepath.Join(md, "cur")); n != 5 || p.Summary().AlreadyApplied != 5 || len(p.Summary().Suppressed) != 0 {
		t.Errorf("re-run: %d marked, summary %+v", n, p.Summary())
	}
}
