package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// peakRSS runs mailer with args in dir and returns its peak resident set
// size in bytes (getrusage's ru_maxrss), with its stdout and stderr.
func peakRSS(t *testing.T, dir string, args ...string) (int64, string) {
	t.Helper()
	cmd := exec.Command(mailerBinary(t), args...)
	cmd.Dir = dir
	out, _ := cmd.CombinedOutput()
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Skip("no rusage here")
	}
	return ru.Maxrss << 10, string(out) // Linux reports KiB
}

// TestCapsBoundMemory: a template that loops a hundred million times, or a
// list with a 64 MiB cell, costs the row (invalid, with the reason) and not
// the machine: mailer's peak RSS stays under 200 MB.
func TestCapsBoundMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 64 MiB list")
	}
	const maxRSS = 200 << 20
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "loop.tmpl"), []byte("From: a@example.com\nSubject: s\n\n{{range 100000000}}0123456789{{end}}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "field.tmpl"), []byte("From: a@example.com\nSubject: s\n\n{{.notes}}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "one.csv"), []byte("email,notes\na@example.com,x\nb@example.com,y\n"), 0o644)
	f, err := os.Create(filepath.Join(dir, "huge.csv"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("email,notes\na@example.com,")
	chunk := []byte(strings.Repeat("x", 1<<20))
	for range 64 {
		f.Write(chunk)
	}
	f.WriteString("\nb@example.com,fine\n")
	f.Close()

	for _, tc := range []struct{ name, list, tmpl, reason string }{
		{"range template", "one.csv", "loop.tmpl", "text: passes the 25 MB limit for one message"},
		{"64 MiB field", "huge.csv", "field.tmpl", "the row is longer than 1 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			results := tc.name + ".csv"
			rss, out := peakRSS(t, dir, "send", "--dry-run", "--list", tc.list, "--template", tc.tmpl, "--results", results, "--quiet", "--concurrency", "4")
			t.Logf("peak RSS %.1f MB", float64(rss)/1e6)
			if raceEnabled {
				t.Log("built with -race: its shadow memory inflates RSS; the ceiling is checked without -race")
			} else if rss > maxRSS {
				t.Errorf("peak RSS %d MB, over %d MB", rss>>20, maxRSS>>20)
			}
			b, err := os.ReadFile(filepath.Join(dir, results))
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !strings.Contains(string(b), "a@example.com,invalid,,,") || !strings.Contains(string(b), tc.reason) {
				t.Errorf("results do not record a as invalid (%s):\n%.2000s\n%s", tc.reason, b, out)
			}
			if tc.list == "huge.csv" && !strings.Contains(string(b), "b@example.com,dry-run,") {
				t.Errorf("the row after the huge one was not rendered:\n%.2000s", b)
			}
		})
	}
}

// TestFIFOAttachmentEnds: a row that attaches a FIFO is invalid at once;
// the run ends by itself, and were it stuck, SIGTERM would end it.
func TestFIFOAttachmentEnds(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	os.WriteFile(filepath.Join(dir, "t.tmpl"), []byte("From: a@example.com\nSubject: s\n\nhi\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "list.csv"), []byte("email,files\na@example.com,pipe\nb@example.com,\n"), 0o644)
	cmd := exec.Command(mailerBinary(t), "send", "--dry-run", "--list", "list.csv", "--template", "t.tmpl", "--attach-column", "files", "--results", "r.csv", "--quiet")
	cmd.Dir = dir
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Error("still running after 10s: sending SIGTERM")
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatal("SIGTERM did not end the run")
		}
		return
	}
	b, _ := os.ReadFile(filepath.Join(dir, "r.csv"))
	if !strings.Contains(string(b), `a@example.com,invalid,,,"Attach: attachment ""pipe"": is a named pipe (FIFO), not a regular file"`) ||
		!strings.Contains(string(b), "b@example.com,dry-run,") {
		t.Errorf("results:\n%s", b)
	}
}
