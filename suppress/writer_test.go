package suppress

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain lets the test binary be one of the writer processes of
// TestWritersInProcesses: with SUPPRESS_TEST_WRITER set it appends and exits.
func TestMain(m *testing.M) {
	if spec := os.Getenv("SUPPRESS_TEST_WRITER"); spec != "" {
		os.Exit(childWriter(spec))
	}
	os.Exit(m.Run())
}

// childWriter appends n entries w<id>-<i>@example.com to path, given as
// "path|id|n".
func childWriter(spec string) int {
	parts := strings.Split(spec, "|")
	id, n := parts[1], 0
	fmt.Sscan(parts[2], &n)
	w, err := OpenWriter(parts[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := 0; i < n; i++ {
		e := Entry{Email: fmt.Sprintf("w%s-%d@example.com", id, i), Reason: HardBounce, Code: "5.1.1",
			Diagnostic: "550 5.1.1 <x>: no such user, \"quoted\"", Source: "writer " + id, Time: time.Now()}
		if err := w.Append(e); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if err := w.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestWritersInProcesses: 8 processes append 1,000 entries each to a file
// none of them finds: one header, 8,000 whole rows, each entry once.
func TestWritersInProcesses(t *testing.T) {
	const procs, each = 8, 1000
	path := filepath.Join(t.TempDir(), "suppress.csv")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, procs)
	for p := 0; p < procs; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), fmt.Sprintf("SUPPRESS_TEST_WRITER=%s|%d|%d", path, p, each))
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[p] = fmt.Errorf("writer %d: %v: %s", p, err, out)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(data), "\n") {
		t.Error("the file ends in a torn line")
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if lines[0] != strings.Join(Columns, ",") || len(lines) != procs*each+1 {
		t.Fatalf("%d lines, first %q", len(lines), lines[0])
	}
	for i, l := range lines[1:] {
		if strings.Count(l, ",") != len(Columns)-1+1 || !strings.HasPrefix(l, "w") { // the diagnostic holds one comma, quoted
			t.Fatalf("line %d not well-formed: %q", i+2, l)
		}
	}
	seen := map[string]int{}
	for _, e := range readAll(t, path) {
		seen[e.Email]++
		if e.Reason != HardBounce || e.Code != "5.1.1" || e.Time.IsZero() || !strings.HasPrefix(e.Source, "writer ") {
			t.Fatalf("entry %+v", e)
		}
	}
	for p := 0; p < procs; p++ {
		for i := 0; i < each; i++ {
			if k := fmt.Sprintf("w%d-%d@example.com", p, i); seen[k] != 1 {
				t.Fatalf("%s appears %d times", k, seen[k])
			}
		}
	}
}

// TestAppendAfterTornLine: a writer that died mid-line leaves a torn last
// line (here in an open quote); readers pass over it and the next Append
// cuts it, so its own line starts on a line of its own.
func TestAppendAfterTornLine(t *testing.T) {
	path := write(t, "s.csv", strings.Join(Columns, ",")+"\na@example.com,,,,manual,\n\"b@exa")
	if got := readAll(t, path); len(got) != 1 || got[0].Email != "a@example.com" {
		t.Fatalf("read %+v", got)
	}
	w, err := OpenWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Append(Entry{Email: "c@example.com", Reason: Unsubscribe}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	want := strings.Join(Columns, ",") + "\na@example.com,,,,manual,\nc@example.com,,,,unsubscribe,\n"
	if string(b) != want {
		t.Errorf("file:\n%q\nwant\n%q", b, want)
	}
}

// TestAppendKeepsTheFileColumns: a file of an earlier kind (only email, or
// the old bounce columns) gets rows in its own columns, which still line up.
func TestAppendKeepsTheFileColumns(t *testing.T) {
	when := time.Date(2024, 11, 5, 9, 0, 0, 0, time.UTC)
	e := Entry{Email: "=gone@example.com", Code: "5.1.1", Diagnostic: "550\r\nno such user", Time: when, Reason: HardBounce, Source: "send"}
	for head, row := range map[string]string{
		"email":                            `'=gone@example.com`,
		"email,enhanced_code,message,time": `'=gone@example.com,5.1.1,550\r\nno such user,2024-11-05T09:00:00.000Z`,
		"\ufeffreason,email":               `hard-bounce,'=gone@example.com`,
		"":                                 `'=gone@example.com,5.1.1,550\r\nno such user,2024-11-05T09:00:00.000Z,hard-bounce,send`,
	} {
		content := ""
		if head != "" {
			content = head + "\n"
		}
		path := write(t, "s.csv", content)
		w, err := OpenWriter(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
		w.Close()
		b, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(lines) != 2 || lines[1] != row {
			t.Errorf("header %q: got %q, want row %q", head, b, row)
		}
		if got := readAll(t, path); len(got) != 1 || got[0].Email != "=gone@example.com" {
			t.Errorf("header %q: read back %+v", head, got)
		}
	}
}

// TestAppendSyncs: every Append fsyncs before it returns, and a failed
// fsync is its error.
func TestAppendSyncs(t *testing.T) {
	syncs := 0
	fail := errors.New("fsync failed")
	var failing bool
	syncFile = func(f *os.File) error {
		syncs++
		if failing {
			return fail
		}
		return f.Sync()
	}
	t.Cleanup(func() { syncFile = (*os.File).Sync })
	w, err := OpenWriter(filepath.Join(t.TempDir(), "s.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := 0; i < 3; i++ {
		if err := w.Append(Entry{Email: strconv.Itoa(i) + "@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	if syncs != 3 {
		t.Errorf("%d fsyncs for 3 appends", syncs)
	}
	failing = true
	if err := w.Append(Entry{Email: "x@example.com"}); !errors.Is(err, fail) {
		t.Errorf("Append with a failing fsync: %v", err)
	}
}

func TestOpenWriterError(t *testing.T) {
	if _, err := OpenWriter(filepath.Join(t.TempDir(), "no", "such", "dir.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v", err)
	}
}

// TestAppendAllOneSync: AppendAll writes a batch with one fsync, and no
// entries write nothing (not even the header).
func TestAppendAllOneSync(t *testing.T) {
	syncs := 0
	syncFile = func(f *os.File) error { syncs++; return f.Sync() }
	t.Cleanup(func() { syncFile = (*os.File).Sync })
	path := filepath.Join(t.TempDir(), "s.csv")
	w, err := OpenWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.AppendAll(nil); err != nil || syncs != 0 {
		t.Fatalf("AppendAll(nil): %v, %d fsyncs", err, syncs)
	}
	if fi, _ := os.Stat(path); fi.Size() != 0 {
		t.Fatalf("AppendAll(nil) wrote %d bytes", fi.Size())
	}
	var es []Entry
	for i := 0; i < 300; i++ {
		es = append(es, Entry{Email: strconv.Itoa(i) + "@example.com", Reason: HardBounce})
	}
	if err := w.AppendAll(es); err != nil {
		t.Fatal(err)
	}
	if syncs != 1 {
		t.Errorf("%d fsyncs for one AppendAll of 300", syncs)
	}
	if got := readAll(t, path); len(got) != 300 || got[299].Email != "299@example.com" {
		t.Errorf("read back %d entries", len(got))
	}
}

// TestShortWriteCut: a write cut short (a full disk) is taken back before
// AppendAll returns its error. Left in the file, a tail cut inside the time
// column reads as a whole record, so the next append kept it and every
// later Read failed on its time.
func TestShortWriteCut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.csv")
	w, err := OpenWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	at := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	if err := w.Append(Entry{Email: "ann@example.org", Reason: HardBounce, Time: at}); err != nil {
		t.Fatal(err)
	}
	full := errors.New("no space left on device")
	writeFile = func(f *os.File, b []byte) (int, error) {
		i := bytes.Index(b, []byte("2026-11-03")) + 7 // inside the time column
		n, _ := f.Write(b[:i])
		return n, full
	}
	err = w.Append(Entry{Email: "bob@example.org", Code: "5.1.1", Diagnostic: "gone", Reason: HardBounce, Time: at})
	writeFile = (*os.File).Write
	if !errors.Is(err, full) {
		t.Fatalf("short write: %v", err)
	}
	if err := w.Append(Entry{Email: "cy@example.org", Reason: Unsubscribe, Time: at}); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := Read(path, func(e Entry) error { got = append(got, e.Email); return nil }); err != nil {
		t.Fatalf("Read after a short write: %v", err)
	}
	if strings.Join(got, ",") != "ann@example.org,cy@example.org" {
		t.Errorf("read %v", got)
	}
}
