package sender

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/mailer-dev/mailer/internal/testrelay"
)

func TestOutcomes(t *testing.T) {
	s := startRelay(t, testrelay.Options{Rules: []*testrelay.Rule{
		rule("RCPT", "^bounce@", 550, smtp.EnhancedCode{5, 1, 1}, "User unknown"),
		rule("RCPT", "^defer@", 451, smtp.EnhancedCode{4, 7, 1}, "Try later"),
		rule("DATA", "^spam@", 554, smtp.EnhancedCode{5, 7, 1}, "Looks like spam"),
		{Stage: "RCPT", Match: regexp.MustCompile("^flaky@"), Code: 450, Enhanced: smtp.EnhancedCode{4, 2, 0}, Text: "busy", Times: 1},
		{Stage: "RCPT", Match: regexp.MustCompile("^drop@"), Action: testrelay.Drop},
		{Stage: "DATA", Match: regexp.MustCompile("^lost@"), Action: testrelay.Drop},
	}})
	p, err := New([]Relay{plainRelay(s)}, fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cases := []struct {
		to       string
		status   Status
		code     int
		enhanced string
		attempts int
		received int // final dots the relay got for this recipient
	}{
		{"ok@example.com", Delivered, 250, "2.0.0", 1, 1},
		{"bounce@example.com", Bounced, 550, "5.1.1", 1, 0},
		{"defer@example.com", Deferred, 451, "4.7.1", 3, 0},
		{"spam@example.com", Blocked, 554, "5.7.1", 1, 1},
		{"flaky@example.com", Delivered, 250, "2.0.0", 2, 1},
		{"drop@example.com", Deferred, 0, "", 3, 0},
		{"lost@example.com", Unknown, 0, "", 1, 1},
	}
	for _, c := range cases {
		t.Run(c.to, func(t *testing.T) {
			res := p.Send(context.Background(), msg(c.to))
			if res.Status != c.status || res.Code != c.code || res.Enhanced != c.enhanced || res.Attempts != c.attempts {
				t.Errorf("got %+v; want status %s code %d enhanced %q attempts %d", res, c.status, c.code, c.enhanced, c.attempts)
			}
			if res.Relay != "smtp+plain://"+s.Addr() {
				t.Errorf("relay %q", res.Relay)
			}
			if got := s.Received(c.to); got != c.received {
				t.Errorf("relay received %d copies, want %d", got, c.received)
			}
		})
	}
}

func TestConnectionReuse(t *testing.T) {
	s := startRelay(t, testrelay.Options{})
	o := fastOpts()
	o.MaxConns = 3
	p, err := New([]Relay{plainRelay(s)}, o)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	var wg sync.WaitGroup
	jobs := make(chan int)
	for w := 0; w < 8; w++ { // more callers than connections: they must share
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if res := p.Send(context.Background(), msg(fmt.Sprintf("r%d@example.com", i))); res.Status != Delivered {
					t.Errorf("r%d: %+v", i, res)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	p.Close()
	if s.Accepted() != n {
		t.Errorf("relay accepted %d, want %d", s.Accepted(), n)
	}
	if s.Conns() > 3 || s.MaxOpen() > 3 {
		t.Errorf("%d connections (%d at once) for %d messages; want at most 3", s.Conns(), s.MaxOpen(), n)
	}
}

func TestMsgsPerConn(t *testing.T) {
	s := startRelay(t, testrelay.Options{})
	r := plainRelay(s)
	r.MsgsPerConn = 10
	p, _ := New([]Relay{r}, fastOpts())
	for i := 0; i < 35; i++ {
		if res := p.Send(context.Background(), msg(fmt.Sprintf("r%d@example.com", i))); res.Status != Delivered {
			t.Fatal(res)
		}
	}
	p.Close()
	if s.Conns() != 4 {
		t.Errorf("35 messages at 10 per connection used %d connections, want 4", s.Conns())
	}
}

func TestCanceledBeforeSending(t *testing.T) {
	s := startRelay(t, testrelay.Options{})
	o := fastOpts()
	o.Rate = 1 // the second message would wait a second
	p, _ := New([]Relay{plainRelay(s)}, o)
	if res := p.Send(context.Background(), msg("a@example.com")); res.Status != Delivered {
		t.Fatal(res)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res := p.Send(ctx, msg("b@example.com")); res.Status != Canceled {
		t.Errorf("got %+v, want canceled", res)
	}
	if s.Received("b@example.com") != 0 {
		t.Error("canceled message reached the relay")
	}
	p.Close()
}

func TestStalledRelayTimesOut(t *testing.T) {
	s := startRelay(t, testrelay.Options{Rules: []*testrelay.Rule{{Stage: "RCPT", Match: regexp.MustCompile("."), Action: testrelay.Stall, Delay: 2 * time.Second}}})
	o := fastOpts()
	o.CommandTimeout = 100 * time.Millisecond
	o.MaxAttempts = 1
	p, _ := New([]Relay{plainRelay(s)}, o)
	start := time.Now()
	res := p.Send(context.Background(), msg("slow@example.com"))
	if res.Status != Deferred || !strings.Contains(res.Text, "timeout") {
		t.Errorf("got %+v, want deferred by timeout", res)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("took %v; the command timeout is 100ms", d)
	}
}
