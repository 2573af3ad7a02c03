package campaign

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailer-dev/mailer/sender"
)

// TestLockFollowsTheRealFile runs a campaign and, while its first message is
// with the relay, starts a second run naming the same results file another
// way. The second run must be refused before it sends or writes anything.
func TestLockFollowsTheRealFile(t *testing.T) {
	for _, tc := range []struct {
		name  string
		alias func(t *testing.T, dir, results string) string
	}{
		{"symlink to the file", func(t *testing.T, dir, results string) string {
			link := filepath.Join(dir, "link.csv")
			if err := os.Symlink("results.csv", link); err != nil {
				t.Fatal(err)
			}
			return link
		}},
		{"hard link", func(t *testing.T, dir, results string) string {
			link := filepath.Join(dir, "hard.csv")
			if err := os.Link(results, link); err != nil {
				t.Fatal(err)
			}
			return link
		}},
		{"symlinked directory", func(t *testing.T, dir, results string) string {
			link := filepath.Join(t.TempDir(), "d")
			if err := os.Symlink(dir, link); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(link, "results.csv")
		}},
		{"relative path", func(t *testing.T, dir, results string) string {
			t.Chdir(dir)
			return "./results.csv"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			list := writeFile(t, dir, "list.csv", "email,first_name\na@example.com,A\nb@example.com,B\n")
			results := filepath.Join(dir, "results.csv")
			writeFile(t, dir, "results.csv", "") // a hard link needs the file
			alias := tc.alias(t, dir, results)

			inSend, release := make(chan struct{}, 1), make(chan struct{})
			first := &fakeSender{answer: func(string) sender.Result {
				select {
				case inSend <- struct{}{}:
				default:
				}
				<-release
				return sender.Result{Status: sender.Delivered, Code: 250, Relay: "fake", Attempts: 1}
			}}
			done := make(chan error, 1)
			go func() {
				_, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results}, first)
				done <- err
			}()
			select {
			case <-inSend:
			case err := <-done:
				t.Fatalf("first run ended early: %v", err)
			case <-time.After(10 * time.Second):
				t.Fatal("first run never sent")
			}
			before, _ := os.ReadFile(results)

			second := &fakeSender{}
			_, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: alias}, second)
			var le *LockedError
			if !errors.As(err, &le) || le.PID != fmt.Sprint(os.Getpid()) {
				t.Errorf("second run through %s: %v; want a LockedError naming pid %d", alias, err, os.Getpid())
			}
			if second.total() != 0 || second.probes != 0 {
				t.Errorf("the second run sent %v (probes %d)", second.sent, second.probes)
			}
			if after, _ := os.ReadFile(results); string(after) != string(before) {
				t.Errorf("the second run wrote to the results:\n%s\nthen\n%s", before, after)
			}
			close(release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			// The same campaign: through the other name, nothing is left to send.
			if _, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: alias}, second); err != nil {
				t.Fatal(err)
			}
			if first.total() != 2 || second.total() != 0 {
				t.Errorf("sent %v by the first run and %v by the second; want each recipient once", first.sent, second.sent)
			}
		})
	}
}

func TestRealPath(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(dir, "r.csv")
	writeFile(t, dir, "r.csv", "")
	os.Symlink("r.csv", filepath.Join(dir, "link.csv"))
	os.Symlink("new.csv", filepath.Join(dir, "dangling.csv"))
	os.Symlink(dir, filepath.Join(dir, "sub"))
	t.Chdir(dir)
	for in, want := range map[string]string{
		"r.csv": real, "./r.csv": real, real: real, "link.csv": real, "sub/r.csv": real, "sub/link.csv": real,
		"dangling.csv": filepath.Join(dir, "new.csv"), "sub/missing.csv": filepath.Join(dir, "missing.csv"),
	} {
		if got, err := RealPath(in); err != nil || got != want {
			t.Errorf("RealPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestDryRunWaitsForTheLock: a dry run given the results file of a real
// run that has written only its header is refused while that run holds the
// file; before, it passed the check and rewrote the file under the run.
func TestDryRunWaitsForTheLock(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", "email,first_name\na@example.com,A\n")
	results := writeFile(t, dir, "results.csv", resultsHeader())
	held, err := lockResults(results)
	if err != nil {
		t.Fatal(err)
	}
	defer held.close()
	_, err = Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results, DryRun: true}, &fakeSender{})
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("dry run while a run holds the file: %v, want a LockedError", err)
	}
	if b, _ := os.ReadFile(results); string(b) != resultsHeader() {
		t.Errorf("the dry run changed the file:\n%s", b)
	}
}
