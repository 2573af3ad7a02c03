package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestQuotaAcrossRunsAndACrash: --quota 12/day holds over a first run, a
// run killed with SIGKILL while sending, and the runs after it, because
// each counts what the results file says was handed to the relay today
// (what was in flight at the kill counts too). When it is used, the run
// stops with exit 75, says when the quota resets, and records nothing for
// the recipients left.
func TestQuotaAcrossRunsAndACrash(t *testing.T) {
	bin := mailerBinary(t)
	relay := startTestRelay(t)
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("email\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "r%02d@example.com\n", i)
	}
	list := filepath.Join(dir, "list.csv")
	os.WriteFile(list, []byte(b.String()), 0o644)
	results := filepath.Join(dir, "r.csv")
	const quota = 12
	send := func(extra ...string) *exec.Cmd {
		args := append([]string{"send", "--list", list, "--template", "announcement", "--relay", "smtp+plain://" + relay.Addr(),
			"--results", results, "--quota", fmt.Sprintf("%d/day", quota), "--quota-tz", "UTC", "--quiet"}, extra...)
		return exec.Command(bin, args...)
	}
	if out, err := send("--limit", "3").CombinedOutput(); err != nil {
		t.Fatalf("first run: %v\n%s", err, out)
	}

	// The second run is killed once it has sent something.
	cmd := send("--rate", "10/s")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a send by the second run", func() bool { return relay.Accepted() > 4 })
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if relay.Accepted() >= quota {
		t.Fatalf("the killed run got to %d messages before the kill: too late to test", relay.Accepted())
	}

	for run := 0; run < 2; run++ {
		out, err := send().CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 75 {
			t.Fatalf("run after the crash: %v, want exit 75\n%s", err, out)
		}
		if !strings.Contains(string(out), "hint: daily quota used on every relay; it resets at ") || !strings.Contains(string(out), " 00:00 UTC: run the same command again after that") {
			t.Errorf("no line saying when the quota resets:\n%s", out)
		}
	}
	rows := readResultRows(t, results)
	handed := 0
	for _, r := range rows {
		switch r.Status {
		case "delivered", "unknown":
			handed++
		default:
			t.Errorf("row %+v", r)
		}
	}
	if handed != quota {
		t.Errorf("%d rows delivered or in flight, want the quota %d", handed, quota)
	}
	if n := relay.Accepted(); n > quota {
		t.Errorf("the relay got %d messages over three runs and a crash; quota %d", n, quota)
	}
	if len(rows) != quota {
		t.Errorf("%d rows: recipients left for tomorrow must not be recorded", len(rows))
	}
}

// waitFor polls cond until it holds, up to a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
