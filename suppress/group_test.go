package suppress

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// TestGroupCommits: while one commit's fsync is held up, 200 appends
// arrive; none returns before its fsync, the 200 share a few fsyncs, and
// the file has every entry once under one header.
func TestGroupCommits(t *testing.T) {
	const n = 200
	var syncs atomic.Int32
	release := make(chan struct{})
	first := make(chan struct{})
	syncFile = func(f *os.File) error {
		if syncs.Add(1) == 1 {
			close(first)
			<-release
		}
		return f.Sync()
	}
	t.Cleanup(func() { syncFile = (*os.File).Sync })
	path := filepath.Join(t.TempDir(), "s.csv")
	w, err := OpenWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	g := NewGroup(w)
	defer g.Close()

	var returned atomic.Int32
	errs := make(chan error, n+1)
	go func() {
		errs <- g.Append(Entry{Email: "first@example.com", Reason: Unsubscribe})
		returned.Add(1)
	}()
	<-first
	var started, wg sync.WaitGroup
	for i := 0; i < n; i++ {
		started.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			errs <- g.Append(Entry{Email: fmt.Sprintf("u%d@example.com", i), Reason: Unsubscribe, Source: "one-click"})
			returned.Add(1)
		}()
	}
	started.Wait()
	if r := returned.Load(); r != 0 {
		t.Fatalf("%d appends returned before their fsync", r)
	}
	close(release)
	wg.Wait()
	for i := 0; i < n+1; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if s := syncs.Load(); s > n/2 {
		t.Errorf("%d fsyncs for %d appends: not grouped", s, n+1)
	} else {
		t.Logf("%d fsyncs for %d appends", s, n+1)
	}
	seen := map[string]int{}
	for _, e := range readAll(t, path) {
		seen[e.Email]++
	}
	if len(seen) != n+1 {
		t.Errorf("%d entries, want %d", len(seen), n+1)
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("%s %d times", k, c)
		}
	}
}

// TestGroupFailedSync: a failed fsync is the error of every append of that
// commit; after Close appends are refused and nothing more is written.
func TestGroupFailedSync(t *testing.T) {
	fail := errors.New("fsync failed")
	syncFile = func(*os.File) error { return fail }
	t.Cleanup(func() { syncFile = (*os.File).Sync })
	path := filepath.Join(t.TempDir(), "s.csv")
	w, err := OpenWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	g := NewGroup(w)
	if err := g.Append(Entry{Email: "a@example.com"}); !errors.Is(err, fail) {
		t.Errorf("Append with a failing fsync: %v", err)
	}
	g.Close()
	g.Close()
	syncFile = (*os.File).Sync
	before, _ := os.ReadFile(path)
	if err := g.Append(Entry{Email: "b@example.com"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Errorf("an Append after Close wrote %q", after[len(before):])
	}
}

// TestWriterConcurrentAppends: goroutines of one process appending through
// one Writer (flock does not keep them apart) write whole lines, each once.
func TestWriterConcurrentAppends(t *testing.T) {
	path := write(t, "s.csv", "email,reason\n")
	w, err := OpenWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := w.Append(Entry{Email: fmt.Sprintf("c%d@example.com", i)}); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if got := readAll(t, path); len(got) != 50 {
		t.Errorf("%d entries, want 50", len(got))
	}
}
