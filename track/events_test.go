package track

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLogConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	l, err := OpenLog(path)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 500
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e := Event{Time: time.Unix(int64(i), 0).UTC(), Campaign: "c1", Recipient: fmt.Sprintf("w%d", w), Kind: Click, Link: i + 1, Agent: Browser}
				if err := l.Append(context.Background(), e); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	checkLines(t, path, map[string]int{"w0": each, "w1": each, "w2": each, "w3": each, "w4": each, "w5": each, "w6": each, "w7": each})
	if err := l.Append(context.Background(), Event{}); err == nil {
		t.Error("Append after Close succeeded")
	}
}

// checkLines reads path back: whole lines only, and per writer each link
// 1..n exactly once.
func checkLines(t *testing.T, path string, want map[string]int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewReader(f)
	seen := map[string]map[int]bool{}
	total := 0
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if seen[e.Recipient] == nil {
			seen[e.Recipient] = map[int]bool{}
		}
		if seen[e.Recipient][e.Link] {
			t.Fatalf("%s link %d twice", e.Recipient, e.Link)
		}
		seen[e.Recipient][e.Link] = true
		total++
	}
	if r.Torn != 0 {
		t.Error("torn line")
	}
	n := 0
	for w, k := range want {
		n += k
		if len(seen[w]) != k {
			t.Errorf("%s: %d events, want %d", w, len(seen[w]), k)
		}
	}
	if total != n {
		t.Errorf("%d lines, want %d", total, n)
	}
}

// TestLogProcesses has 4 processes (this test binary, as helpers) append
// to one file at once: flock keeps their commits whole.
func TestLogProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	const procs, each = 4, 300
	var cmds []*exec.Cmd
	for p := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAppend$")
		cmd.Env = append(os.Environ(), "TRACK_HELPER_EVENTS="+path, "TRACK_HELPER_ID=p"+strconv.Itoa(p), "TRACK_HELPER_N="+strconv.Itoa(each))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int{}
	for p := range procs {
		want["p"+strconv.Itoa(p)] = each
	}
	checkLines(t, path, want)
}

func TestHelperAppend(t *testing.T) {
	path := os.Getenv("TRACK_HELPER_EVENTS")
	if path == "" {
		t.Skip("helper process for TestLogProcesses")
	}
	n, _ := strconv.Atoi(os.Getenv("TRACK_HELPER_N"))
	l, err := OpenLog(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 4 {
				if err := l.Append(context.Background(), Event{Campaign: "c1", Recipient: os.Getenv("TRACK_HELPER_ID"), Kind: Click, Link: i + 1, Agent: Bot}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	whole := `{"time":"2026-11-03T09:00:00Z","campaign":"c1","rcpt":"k","kind":"click","link":1,"agent":"browser"}` + "\n"
	if err := os.WriteFile(path, []byte(whole+`{"time":"2026-11-03T09:00:01Z","camp`), 0o600); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	r := NewReader(f)
	if e, err := r.Next(); err != nil || e.Recipient != "k" {
		t.Fatalf("first: %+v %v", e, err)
	}
	if _, err := r.Next(); err != io.EOF || r.Torn != 1 {
		t.Errorf("torn tail: %v, Torn %d", err, r.Torn)
	}
	f.Close()
	// Opening for append cuts the torn tail, so the next line is whole.
	l, err := OpenLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(context.Background(), Event{Campaign: "c1", Recipient: "k2", Kind: Open, Agent: Bot}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), whole) || strings.Count(string(b), "\n") != 2 || strings.Contains(string(b), "camp\n") {
		t.Errorf("after repair:\n%s", b)
	}
	// A bad line before the end is an error that names it.
	os.WriteFile(path, []byte(whole+"garbage\n"+whole), 0o600)
	f, _ = os.Open(path)
	defer f.Close()
	r = NewReader(f)
	r.Next()
	if _, err := r.Next(); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad middle line: %v", err)
	}
}

// TestGroupCommit: appends that arrive while a commit is under way share
// the next write and fsync.
func TestGroupCommit(t *testing.T) {
	l, err := OpenLog(filepath.Join(t.TempDir(), "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	entered, release := make(chan struct{}), make(chan struct{})
	first := true
	l.testWrite = func() { // runs on the commit goroutine only
		if first {
			first = false
			close(entered)
			<-release
		}
	}
	var wg sync.WaitGroup
	add := func(i int) {
		defer wg.Done()
		if err := l.Append(context.Background(), Event{Campaign: "c1", Recipient: "r", Kind: Click, Link: i}); err != nil {
			t.Error(err)
		}
	}
	wg.Add(1)
	go add(1)
	// Wait for the first commit to be stuck in its write, then queue 7.
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("first append not taken")
	}
	deadline := time.Now().Add(10 * time.Second)
	for i := 2; i <= 8; i++ {
		wg.Add(1)
		go add(i)
	}
	for len(l.reqs) != 7 {
		if time.Now().After(deadline) {
			t.Fatalf("%d appends queued, want 7", len(l.reqs))
		}
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if n := l.commits.Load(); n != 2 {
		t.Errorf("%d commits for 8 appends, want 2 (the first, then the 7 that waited)", n)
	}
}

// TestCloseWhileAppending: every Append returns, and each that returned
// nil is in the file.
func TestCloseWhileAppending(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	l, err := OpenLog(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := map[string]int{}
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				if l.Append(context.Background(), Event{Campaign: "c1", Recipient: fmt.Sprintf("g%d", g), Kind: Click, Link: i + 1}) == nil {
					mu.Lock()
					ok[fmt.Sprintf("g%d", g)]++
					mu.Unlock()
				}
			}
		}()
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("an Append hangs after Close")
	}
	for g := range 8 { // a writer that got nothing in has no line either
		if k := fmt.Sprintf("g%d", g); ok[k] == 0 {
			delete(ok, k)
		}
	}
	checkLines(t, path, ok)
}

// TestTornLineWhileOpen: a torn line left while this Log is open (another
// serve on the same file died mid-append, or a write of ours failed half
// way on a full disk) is cut before the next commit, under the lock, so it
// does not glue onto the next line and make the file unreadable.
func TestTornLineWhileOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	l, err := OpenLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	if err := l.Append(ctx, Event{Campaign: "c1", Recipient: "k1", Kind: Open, Agent: Bot}); err != nil {
		t.Fatal(err)
	}
	other, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	other.WriteString(`{"time":"2026-11-03T09:00:01Z","camp`)
	other.Close()
	if err := l.Append(ctx, Event{Campaign: "c1", Recipient: "k2", Kind: Open, Agent: Bot}); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	r := NewReader(f)
	var got []string
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading back: %v", err)
		}
		got = append(got, e.Recipient)
	}
	if strings.Join(got, ",") != "k1,k2" || r.Torn != 0 {
		t.Errorf("read %v, torn %d; want k1,k2 and no torn line", got, r.Torn)
	}
}
