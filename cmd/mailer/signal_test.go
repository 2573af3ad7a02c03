package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailer-dev/mailer/internal/testrelay"
)

// TestSecondSignalExitsAtOnce runs the real binary against a relay that
// never answers the final dot, so a first signal's clean stop waits on the
// relay (the message may be delivered: mailer waits for the verdict). A
// second signal must end the process at once with the code of that signal,
// also when stderr blocks (a full pipe, a terminal paused with Ctrl-S).
// The bound is generous for a loaded machine: the point is "at once", not
// the timeouts a clean stop waits for.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	const bound = time.Second
	bin := mailerBinary(t)
	for _, c := range []struct {
		name          string
		second        syscall.Signal
		code          int
		blockedStderr bool
	}{
		{"SIGINT twice", syscall.SIGINT, 130, false},
		{"SIGINT then SIGTERM", syscall.SIGTERM, 143, false},
		{"SIGINT twice, stderr blocked", syscall.SIGINT, 130, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			stall := &testrelay.Rule{Stage: "DATA", Match: regexp.MustCompile(`.`), Action: testrelay.Stall, Delay: time.Minute}
			srv, err := testrelay.Listen("127.0.0.1:0", testrelay.Options{Rules: []*testrelay.Rule{stall}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			dir := t.TempDir()
			list := filepath.Join(dir, "list.csv")
			var b strings.Builder
			b.WriteString("email\n")
			for i := 0; i < 20; i++ {
				fmt.Fprintf(&b, "r%d@example.com\n", i)
			}
			os.WriteFile(list, []byte(b.String()), 0o644)
			cmd := exec.Command(bin, "send", "--list", list, "--template", "announcement", "--relay", "smtp+plain://"+srv.Addr(),
				"--results", filepath.Join(dir, "r.csv"), "--concurrency", "2", "--quiet")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if c.blockedStderr {
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { r.Close(); w.Close() })
				fillPipe(t, w) // nobody reads r until the end: every write to stderr blocks
				cmd.Stderr = w
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() { cmd.Process.Kill() })
			// Both connections wait at the relay for the reply to the dot.
			deadline := time.Now().Add(10 * time.Second)
			for stall.Fired() < 2 {
				if time.Now().After(deadline) {
					t.Fatalf("the relay never held 2 messages\n%s", stderr.String())
				}
				time.Sleep(5 * time.Millisecond)
			}
			cmd.Process.Signal(syscall.SIGINT)
			select {
			case err := <-exited:
				t.Fatalf("the first signal ended the run at once (%v): the test needs a stop that waits\n%s", err, stderr.String())
			case <-time.After(200 * time.Millisecond):
			}
			start := time.Now()
			cmd.Process.Signal(c.second)
			select {
			case err = <-exited:
			case <-time.After(bound):
				t.Fatalf("still running %v after the second signal\n%s", bound, stderr.String())
			}
			t.Logf("exited %v after the second signal", time.Since(start))
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != c.code {
				t.Errorf("exit %v, want %d\n%s", err, c.code, stderr.String())
			}
			if !c.blockedStderr && !strings.Contains(stderr.String(), "interrupt: stopping (send it again to quit at once)") {
				t.Errorf("no stopping notice on stderr:\n%s", stderr.String())
			}
		})
	}
}

// fillPipe writes to w until the pipe's buffer is full.
func fillPipe(t *testing.T, w *os.File) {
	t.Helper()
	fd := int(w.Fd())
	if err := syscall.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := syscall.Write(fd, chunk); err != nil {
			if errors.Is(err, syscall.EAGAIN) {
				break
			}
			t.Fatal(err)
		}
	}
	if err := syscall.SetNonblock(fd, false); err != nil {
		t.Fatal(err)
	}
}
