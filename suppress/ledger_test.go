package suppress

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLedger(t *testing.T) {
	p := write(t, "s.csv", strings.Join(Columns, ",")+"\n"+
		"Soft@example.com,4.2.2,full,2024-11-01T00:00:00.000Z,soft-bounce,bounces:mid:1\n"+
		"soft@example.com,4.2.2,full,2024-11-20T00:00:00.000Z,soft-bounce,bounces:mid:2\n"+
		"gone@example.com,5.1.1,no such user,,hard-bounce,bounces:mid:3\n"+
		"plain@example.com\n")
	l, err := ReadLedger(p)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Has("bounces:mid:1", "soft@example.com") || !l.Has("bounces:mid:3", "gone@example.com") || l.Has("bounces:mid:3", "soft@example.com") {
		t.Error("Has wrong")
	}
	nov10 := time.Date(2024, 11, 10, 0, 0, 0, 0, time.UTC)
	if n := l.SoftSince("soft@example.com", nov10); n != 1 {
		t.Errorf("SoftSince Nov 10 = %d", n)
	}
	if n := l.SoftSince("soft@example.com", time.Time{}); n != 2 {
		t.Errorf("SoftSince all = %d", n)
	}
	if _, ok := l.Suppressed("soft@example.com"); ok {
		t.Error("soft rows suppress in the ledger")
	}
	if r, ok := l.Suppressed("plain@example.com"); !ok || r != "" {
		t.Errorf("plain: %q %v", r, ok)
	}
	l.Add("bounces:mid:4", "soft@example.com", SoftBounce, nov10)
	if n := l.SoftSince("soft@example.com", nov10); n != 2 || !l.Has("bounces:mid:4", "soft@example.com") {
		t.Errorf("after Add: %d", n)
	}
	l.Add("bounces:mid:5", "soft@example.com", SoftBounceLimit, nov10)
	if r, _ := l.Suppressed("soft@example.com"); r != SoftBounceLimit {
		t.Errorf("after the limit row: %q", r)
	}
	empty, err := ReadLedger(filepath.Join(t.TempDir(), "missing.csv"))
	if err != nil || empty.Has("x", "y") {
		t.Errorf("missing file: %v", err)
	}
}
