package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocarina/gocsv"
	"github.com/mailer-dev/mailer/internal/testrelay"
)

type shardRow struct {
	Email     string `csv:"email"`
	Status    string `csv:"status"`
	Relay     string `csv:"relay"`
	MessageID string `csv:"message_id"`
	Time      string `csv:"time"`
	Line      int    `csv:"line"`
	Reason    string `csv:"reason"`
	Print     string `csv:"fingerprint"`
}

func readShardRows(t *testing.T, path string) []shardRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []shardRow
	if err := gocsv.UnmarshalFile(f, &rows); err != nil {
		t.Fatalf("%s does not parse: %v", path, err)
	}
	return rows
}

// shardList writes a list of n sendable recipients with duplicates, an
// invalid address and suppressed recipients, and the suppression file.
func shardList(t *testing.T, dir string, n int) (list, supp, tmpl string, sendable []string) {
	var b strings.Builder
	b.WriteString("email,first_name\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "r%04d@example.com,R%d\n", i, i)
		sendable = append(sendable, fmt.Sprintf("r%04d@example.com", i))
		if i%25 == 0 {
			fmt.Fprintf(&b, "R%04d@Example.com,again\n", i) // a duplicate
		}
	}
	for i := 0; i < 8; i++ {
		fmt.Fprintf(&b, "gone%d@example.com,G\n", i)
	}
	b.WriteString("not an address,X\n,Y\n")
	list = filepath.Join(dir, "list.csv")
	os.WriteFile(list, []byte(b.String()), 0o644)
	supp = filepath.Join(dir, "supp.csv")
	os.WriteFile(supp, []byte("email\ngone0@example.com\ngone1@example.com\ngone2@example.com\ngone3@example.com\ngone4@example.com\ngone5@example.com\ngone6@example.com\ngone7@example.com\n"), 0o644)
	tmpl = filepath.Join(dir, "t.tmpl")
	os.WriteFile(tmpl, []byte("From: a@example.com\nSubject: hi {{.first_name}}\n\nhello\n"), 0o644)
	return list, supp, tmpl, sendable
}

// TestShardsAtOnce runs four shard processes of the real binary at once
// against one relay: every sendable recipient reaches it exactly once, the
// union of the four results files is the outcome of an unsharded run (with
// the same --campaign, the same Message-IDs too), and together they keep to
// --rate: 100/s over 400 messages, each shard taking 25/s.
func TestShardsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("four processes, four seconds at 100/s")
	}
	bin := mailerBinary(t)
	dir := t.TempDir()
	list, supp, tmpl, sendable := shardList(t, dir, 400)
	send := func(relay *testrelay.Server, results string, extra ...string) *exec.Cmd {
		args := append([]string{"send", "--list", list, "--template", tmpl, "--suppress", supp,
			"--relay", "smtp+plain://" + relay.Addr(), "--results", results, "--campaign", "spring-2025", "--quiet"}, extra...)
		return exec.Command(bin, args...)
	}

	ref := startTestRelay(t)
	if out, err := send(ref, filepath.Join(dir, "all.csv"), "--concurrency", "8").CombinedOutput(); err != nil {
		t.Fatalf("unsharded run: %v\n%s", err, out)
	}

	relay := startTestRelay(t)
	var wg sync.WaitGroup
	outs := make([][]byte, 4)
	errs := make([]error, 4)
	for k := 0; k < 4; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := send(relay, filepath.Join(dir, fmt.Sprintf("shard-%d.csv", k)), "--rate", "100/s", "--concurrency", "8")
			cmd.Env = append(os.Environ(), fmt.Sprintf("MAILER_SHARD=%d/4", k))
			outs[k], errs[k] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for k := range errs {
		if errs[k] != nil {
			t.Fatalf("shard %d: %v\n%s", k, errs[k], outs[k])
		}
		if !strings.Contains(string(outs[k]), fmt.Sprintf("(shard %d/4)", k)) {
			t.Errorf("shard %d's summary does not name it:\n%s", k, outs[k])
		}
	}
	for _, e := range sendable {
		if n := relay.Received(e); n != 1 {
			t.Errorf("%s reached the relay %d times, want 1", e, n)
		}
	}
	if got := relay.Accepted(); got != int64(len(sendable)) {
		t.Errorf("relay accepted %d messages, want %d", got, len(sendable))
	}

	key := func(r shardRow) string {
		return fmt.Sprintf("%d %s %s %s %s", r.Line, r.Email, r.Status, r.Reason, r.MessageID)
	}
	var want, got []string
	for _, r := range readShardRows(t, filepath.Join(dir, "all.csv")) {
		want = append(want, key(r))
	}
	var times []time.Time
	for k := 0; k < 4; k++ {
		for _, r := range readShardRows(t, filepath.Join(dir, fmt.Sprintf("shard-%d.csv", k))) {
			got = append(got, key(r))
			if !strings.Contains(r.Print, fmt.Sprintf("shard=%d/4", k)) || !strings.Contains(r.Print, "campaign=spring-2025") {
				t.Errorf("shard %d row fingerprint %q", k, r.Print)
			}
			if r.Status == "delivered" {
				tm, err := time.Parse(time.RFC3339, r.Time)
				if err != nil {
					t.Fatal(err)
				}
				times = append(times, tm)
			}
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		t.Errorf("the shards' results (%d rows) differ from the unsharded run's (%d rows)", len(got), len(want))
		for _, g := range got {
			if !slices.Contains(want, g) {
				t.Logf("only in the shards: %s", g)
			}
		}
	}

	// The rate: no one-second window holds more than the total rate plus
	// the shards' bursts (1 each), and over the whole run the fleet kept
	// within 1% of 100/s (each shard's first message is its burst).
	slices.SortFunc(times, time.Time.Compare)
	for i, j := 0, 0; i < len(times); i++ {
		for times[i].Sub(times[j]) >= time.Second {
			j++
		}
		if n := i - j + 1; n > 104 {
			t.Fatalf("%d messages within one second from %v: the campaign's --rate is 100/s (4 shards, burst 1 each)", n, times[j])
		}
	}
	span := times[len(times)-1].Sub(times[0]).Seconds()
	mean := float64(len(times)-4) / span
	t.Logf("%d messages in %.2fs: %.1f/s", len(times), span, mean)
	if mean > 101 {
		t.Errorf("the shards sent %.1f msgs/s together; --rate 100/s", mean)
	}
	if mean < 50 {
		t.Errorf("the shards sent only %.1f msgs/s together: not sharing 100/s", mean)
	}
}

func startTestRelay(t *testing.T) *testrelay.Server {
	t.Helper()
	s, err := testrelay.Listen("127.0.0.1:0", testrelay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
