package sender

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mailer-dev/mailer/internal/testrelay"
)

func TestPerRelayConnectionCap(t *testing.T) {
	a := startRelay(t, testrelay.Options{})
	b := startRelay(t, testrelay.Options{})
	ra, rb := plainRelay(a), plainRelay(b)
	ra.MaxConns, rb.MaxConns = 2, 5
	ra.MsgsPerConn = 7
	p, _ := New([]Relay{ra, rb}, fastOpts())
	for i, r := range sendAll(context.Background(), p, 400, 16, rcpt) {
		if r.Status != Delivered {
			t.Fatalf("message %d: %+v", i, r)
		}
	}
	p.Close()
	if a.MaxOpen() > 2 || b.MaxOpen() > 5 {
		t.Errorf("at once: %d connections to a (cap 2), %d to b (cap 5)", a.MaxOpen(), b.MaxOpen())
	}
	// 7 messages per connection: a needed at least ceil(accepted/7) connections.
	if min := (a.Accepted() + 6) / 7; a.Conns() < min {
		t.Errorf("a: %d connections for %d messages at 7 per connection", a.Conns(), a.Accepted())
	}
	if b.Conns() > 5 {
		t.Errorf("b: %d connections, want them reused (at most 5)", b.Conns())
	}
}

// pool goroutines: every goroutine whose stack is in this package, other than the caller.
func senderGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n")[1:] {
		if strings.Contains(g, "mailer/sender.") {
			n++
		}
	}
	return n
}

func TestCancelStopsPromptlyWithoutLeaks(t *testing.T) {
	s := startRelay(t, testrelay.Options{Rules: []*testrelay.Rule{{Stage: "RCPT", Match: regexp.MustCompile("^stall"), Action: testrelay.Stall, Delay: 3 * time.Second}}})
	o := fastOpts()
	o.CommandTimeout, o.DataTimeout = time.Minute, time.Minute // only cancellation can end the stall
	o.Rate, o.Burst = 1000, 1
	p, _ := New([]Relay{plainRelay(s)}, o)
	if r := p.Send(context.Background(), msg("warm@example.com")); r.Status != Delivered {
		t.Fatal(r)
	}
	base := senderGoroutines()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Result, 16)
	for i := 0; i < 16; i++ { // 4 stall on the connections, 12 wait for one
		go func() { done <- p.Send(ctx, msg(fmt.Sprintf("stall%d@example.com", i))) }()
	}
	waitFor(t, "four stalled transactions", 5*time.Second, func() bool { return s.Open() == 4 && p.Open() == 4 })
	cancel()
	deadline := time.After(2 * time.Second) // the stall lasts 3 s, the command timeout a minute
	for i := 0; i < 16; i++ {
		select {
		case r := <-done:
			if r.Status != Canceled {
				t.Errorf("got %+v, want canceled", r)
			}
		case <-deadline:
			t.Fatalf("only %d of 16 Sends returned after cancel", i)
		}
	}
	p.Close()
	if n := p.Open(); n != 0 {
		t.Errorf("%d connections left open after Close", n)
	}
	waitFor(t, "pool goroutines to end", 5*time.Second, func() bool { return senderGoroutines() <= base })
	if s.Received("stall0@example.com") != 0 {
		t.Error("a cancelled message reached the relay")
	}
}
