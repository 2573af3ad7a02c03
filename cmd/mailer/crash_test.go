package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gocarina/gocsv"
	"github.com/mailer-dev/mailer/internal/testrelay"
)

// mailerBinary returns a path that runs this test binary as mailer
// (testscript.Main dispatches on the program name).
func mailerBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "mailer")
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	return link
}

type resultRow struct {
	Email  string `csv:"email"`
	Status string `csv:"status"`
}

func readResultRows(t *testing.T, path string) []resultRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []resultRow
	if err := gocsv.UnmarshalFile(f, &rows); err != nil {
		t.Fatalf("results file does not parse: %v", err)
	}
	return rows
}

// waitForDelivery waits until the results file records a delivery.
func waitForDelivery(t *testing.T, results string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(results); err == nil && strings.Contains(string(b), ",delivered,") {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the run never delivered")
}

// TestCrashResume kills mailer with SIGKILL at random points of a
// 2,000-recipient campaign and re-runs it until it completes. Whatever the
// timing: every recipient ends with exactly one final row, and the relay
// got each recipient at most once (only recipients recorded unknown may be
// in doubt, and they are not sent again).
func TestCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and re-runs a 2,000-recipient campaign")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	bin := mailerBinary(t)
	srv, err := testrelay.Listen("127.0.0.1:0", testrelay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	dir := t.TempDir()
	const n = 2000
	list := filepath.Join(dir, "list.csv")
	var b strings.Builder
	b.WriteString("email,first_name\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "r%04d@example.com,R%d\n", i, i)
	}
	os.WriteFile(list, []byte(b.String()), 0o644)
	tmpl := filepath.Join(dir, "t.tmpl")
	os.WriteFile(tmpl, []byte("From: a@example.com\nSubject: hi {{.first_name}}\n\nhello\n"), 0o644)
	results := filepath.Join(dir, "results.csv")
	args := []string{"send", "--list", list, "--template", tmpl, "--relay", "smtp+plain://" + srv.Addr(),
		"--results", results, "--concurrency", "8", "--rate", "4000/s", "--quiet"}

	kills := 0
	for run := 0; run < 20; run++ {
		cmd := exec.Command(bin, args...)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if kills < 5 {
			// Kill at a random point after this run started sending (its
			// pid heads the journal, with attempts after it).
			sending := make(chan struct{})
			mine := fmt.Sprintf(",%d\n", cmd.Process.Pid)
			go func() {
				for i := 0; i < 2000; i++ {
					if b, _ := os.ReadFile(results + ".journal"); strings.Contains(string(b), mine) && strings.Contains(string(b), "\n+,") {
						close(sending)
						return
					}
					time.Sleep(2 * time.Millisecond)
				}
			}()
			select {
			case <-sending:
				time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
				cmd.Process.Signal(syscall.SIGKILL)
				<-done
				kills++
				continue
			case err := <-done:
				if err != nil {
					t.Fatalf("run %d: %v\n%s", run, err, out.String())
				}
			}
		} else if err := <-done; err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, out.String())
		}
		if strings.Contains(out.String(), "already done") || strings.Contains(out.String(), "delivered") {
			break
		}
	}
	t.Logf("killed %d times", kills)

	rows := readResultRows(t, results)
	final := map[string][]string{}
	for _, r := range rows {
		switch r.Status {
		case "delivered", "bounced", "unknown", "invalid", "suppressed":
			final[r.Email] = append(final[r.Email], r.Status)
		}
	}
	unknown := 0
	for i := 0; i < n; i++ {
		email := fmt.Sprintf("r%04d@example.com", i)
		st := final[email]
		if len(st) != 1 {
			t.Errorf("%s has final rows %v, want exactly one", email, st)
			continue
		}
		got := srv.Received(email)
		switch {
		case st[0] == "unknown":
			unknown++
			if got > 1 {
				t.Errorf("%s (unknown) reached the relay %d times", email, got)
			}
		case got != 1:
			t.Errorf("%s is %s but reached the relay %d times", email, st[0], got)
		}
	}
	t.Logf("%d recipients recorded unknown after %d kills", unknown, kills)
}

// TestSignalExitCodes: SIGINT exits 130 and SIGTERM 143, after recording
// what was in flight; the journal is then empty.
func TestSignalExitCodes(t *testing.T) {
	bin := mailerBinary(t)
	for _, c := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		srv, err := testrelay.Listen("127.0.0.1:0", testrelay.Options{})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		list := filepath.Join(dir, "list.csv")
		var b strings.Builder
		b.WriteString("email\n")
		for i := 0; i < 500; i++ {
			fmt.Fprintf(&b, "r%d@example.com\n", i)
		}
		os.WriteFile(list, []byte(b.String()), 0o644)
		results := filepath.Join(dir, "r.csv")
		cmd := exec.Command(bin, "send", "--list", list, "--template", "announcement", "--relay", "smtp+plain://"+srv.Addr(),
			"--results", results, "--rate", "50/s", "--quiet")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitForDelivery(t, results)
		cmd.Process.Signal(c.sig)
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != c.code {
			t.Errorf("%v: exit %v, want %d\n%s", c.sig, err, c.code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "run the same command again to resume") {
			t.Errorf("%v: no resume hint in\n%s", c.sig, stderr.String())
		}
		if st, err := os.Stat(results + ".journal"); err != nil || st.Size() != 0 {
			t.Errorf("%v: journal not emptied after a clean stop", c.sig)
		}
		rows := readResultRows(t, results)
		if len(rows) == 0 || len(rows) >= 500 || int(srv.Accepted()) != len(rows) {
			t.Errorf("%v: %d rows, relay accepted %d", c.sig, len(rows), srv.Accepted())
		}
		srv.Close()
	}
}

// TestCrashWhileWaitingOnRate kills mailer with SIGKILL while most of its
// messages wait in the pool (--rate 5/s: with 4 connections, send keeps 16
// messages in flight, and all but about one per connection wait for the
// rate). Only a message whose first byte reached a relay may be recorded
// unknown by the next run: the ones that were still waiting are sent, not
// lost.
func TestCrashWhileWaitingOnRate(t *testing.T) {
	const conns = 4
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
	send := func(rate string) *exec.Cmd {
		return exec.Command(bin, "send", "--list", list, "--template", "announcement", "--relay", "smtp+plain://"+relay.Addr(),
			"--results", results, "--rate", rate, "--concurrency", fmt.Sprint(conns), "--quiet")
	}
	cmd := send("5/s")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a few deliveries", func() bool { return relay.Accepted() >= 3 })
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	if out, err := send("1000/s").CombinedOutput(); err != nil {
		t.Fatalf("run after the crash: %v\n%s", err, out)
	}
	unknown, delivered := 0, 0
	for _, r := range readResultRows(t, results) {
		switch r.Status {
		case "unknown":
			unknown++
		case "delivered":
			delivered++
		default:
			t.Errorf("row %+v", r)
		}
	}
	if unknown > conns {
		t.Errorf("%d recipients recorded unknown after the crash, want at most %d (one per connection): messages waiting for the rate were lost", unknown, conns)
	}
	if unknown+delivered != 40 || int64(delivered) > relay.Accepted() {
		t.Errorf("%d unknown and %d delivered of 40; the relay accepted %d", unknown, delivered, relay.Accepted())
	}
}
