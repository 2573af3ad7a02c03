package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenTranscript: the transcript holds addresses, so only its owner may
// read it, and each run appends to it under a header line of its own.
func TestOpenTranscript(t *testing.T) {
	p := filepath.Join(t.TempDir(), "smtp.log")
	for range 2 {
		f, err := openTranscript(p, "--debug-smtp", "mailer send")
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("12:00:00.000 c1 * closed\n")
		f.Close()
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(p)
	if n := strings.Count(string(b), "# mailer send, "); n != 2 || strings.Count(string(b), "c1 * closed") != 2 {
		t.Errorf("two runs, got %d headers:\n%s", n, b)
	}
	if f, err := openTranscript("", "--debug-smtp", "mailer send"); f != nil || err != nil {
		t.Errorf("no path: got %v, %v", f, err)
	}
	if _, err := openTranscript(filepath.Join(p, "x"), "--debug-smtp", "mailer send"); err == nil || !strings.Contains(err.Error(), "--debug-smtp") {
		t.Errorf("unopenable: got %v", err)
	}
}
