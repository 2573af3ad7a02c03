package sender

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/mailer-dev/mailer/internal/testrelay"
)

func TestFailover(t *testing.T) {
	s := startRelay(t, testrelay.Options{})
	dead := deadRelay(t)
	o := fastOpts()
	o.DownFor = time.Minute // once out, the dead relay stays out for the test
	p, err := New([]Relay{dead, plainRelay(s)}, o)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Probe(context.Background()); err != nil {
		t.Fatalf("Probe with one relay up: %v", err)
	}
	const n = 200
	for i, r := range sendAll(context.Background(), p, n, 8, rcpt) {
		if r.Status != Delivered || r.Relay != plainRelay(s).Name || r.Err != nil {
			t.Fatalf("message %d: %+v", i, r)
		}
	}
	if s.Accepted() != n {
		t.Errorf("live relay accepted %d, want %d", s.Accepted(), n)
	}
	// The dead relay was tried once at Probe and then left alone.
	if d := p.Dials() - s.Conns(); d > 1 {
		t.Errorf("%d dials to the dead relay; the breaker should have taken it out after the first", d)
	}
}

func TestFailoverMidRun(t *testing.T) {
	a := startRelay(t, testrelay.Options{})
	b := startRelay(t, testrelay.Options{})
	o := fastOpts()
	o.DownFor = time.Minute
	ra := plainRelay(a)
	ra.MsgsPerConn = 1 // every message needs a new connection to a
	p, _ := New([]Relay{ra, plainRelay(b)}, o)
	defer p.Close()
	for i, r := range sendAll(context.Background(), p, 20, 1, rcpt) {
		if r.Status != Delivered {
			t.Fatalf("before: message %d: %+v", i, r)
		}
	}
	if a.Accepted() == 0 || b.Accepted() == 0 {
		t.Fatalf("both relays should share the traffic: %d and %d", a.Accepted(), b.Accepted())
	}
	a.Close() // a goes down
	before := b.Accepted()
	for i, r := range sendAll(context.Background(), p, 100, 4, func(i int) string { return rcpt(100 + i) }) {
		if r.Status != Delivered || r.Relay != plainRelay(b).Name {
			t.Fatalf("after: message %d: %+v", i, r)
		}
	}
	if got := b.Accepted() - before; got != 100 {
		t.Errorf("relay b accepted %d after a went down, want 100", got)
	}
}

func TestAllRelaysDown(t *testing.T) {
	o := fastOpts()
	o.DownFor = 20 * time.Millisecond
	o.UnavailableWait = 200 * time.Millisecond
	o.MaxAttempts = 100 // the wait, not the attempts, must end it
	p, _ := New([]Relay{deadRelay(t), deadRelay(t)}, o)
	defer p.Close()
	res := p.Send(context.Background(), msg("a@example.com"))
	var ue *UnavailableError
	if res.Status != Deferred || !errors.As(res.Err, &ue) {
		t.Fatalf("got %+v, want deferred with an UnavailableError", res)
	}
	if res.Attempts >= 100 {
		t.Errorf("%d attempts: Send should give up after UnavailableWait", res.Attempts)
	}
	// Cancelled while waiting for a relay to come back: Canceled or deferred, promptly.
	o.UnavailableWait = time.Hour
	p2, _ := New([]Relay{deadRelay(t)}, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Result)
	go func() { done <- p2.Send(ctx, msg("b@example.com")) }()
	waitFor(t, "the relay to be taken out", 5*time.Second, p2.allDown)
	cancel()
	select {
	case r := <-done:
		if r.Status != Deferred && r.Status != Canceled {
			t.Errorf("got %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Send did not return after cancel")
	}
}

func TestRetryGoesToAnotherRelay(t *testing.T) {
	bad := startRelay(t, testrelay.Options{Rules: []*testrelay.Rule{rule("RCPT", ".", 451, smtp.EnhancedCode{4, 3, 0}, "local problem")}})
	good := startRelay(t, testrelay.Options{})
	p, _ := New([]Relay{plainRelay(bad), plainRelay(good)}, fastOpts())
	defer p.Close()
	for i, r := range sendAll(context.Background(), p, 20, 1, rcpt) {
		if r.Status != Delivered || r.Relay != plainRelay(good).Name || r.Attempts > 2 {
			t.Fatalf("message %d: %+v", i, r)
		}
	}
	if good.Accepted() != 20 {
		t.Errorf("good relay accepted %d, want 20", good.Accepted())
	}
}

func TestBoundedRetries(t *testing.T) {
	s := startRelay(t, testrelay.Options{Rules: []*testrelay.Rule{
		rule("RCPT", "^temp@", 450, smtp.EnhancedCode{4, 2, 1}, "mailbox busy"),
		rule("RCPT", "^perm@", 550, smtp.EnhancedCode{5, 1, 1}, "no such user"),
	}})
	o := fastOpts()
	o.MaxAttempts = 5
	p, _ := New([]Relay{plainRelay(s)}, o)
	defer p.Close()
	if r := p.Send(context.Background(), msg("temp@example.com")); r.Status != Deferred || r.Attempts != 5 || r.Code != 450 {
		t.Errorf("4xx: %+v, want deferred after 5 attempts", r)
	}
	if s.Refused() != 5 {
		t.Errorf("relay refused %d times, want exactly 5 tries", s.Refused())
	}
	if r := p.Send(context.Background(), msg("perm@example.com")); r.Status != Bounced || r.Attempts != 1 {
		t.Errorf("5xx: %+v, want bounced at once", r)
	}
	if s.Refused() != 6 {
		t.Errorf("a 5xx was retried: %d refusals", s.Refused())
	}
}

func TestWeights(t *testing.T) {
	a := startRelay(t, testrelay.Options{})
	b := startRelay(t, testrelay.Options{})
	ra, rb := plainRelay(a), plainRelay(b)
	ra.Weight, rb.Weight = 3, 1
	p, _ := New([]Relay{ra, rb}, fastOpts())
	defer p.Close()
	for i, r := range sendAll(context.Background(), p, 400, 1, rcpt) {
		if r.Status != Delivered {
			t.Fatalf("message %d: %+v", i, r)
		}
	}
	if a.Accepted() != 300 || b.Accepted() != 100 {
		t.Errorf("weights 3:1 gave %d:%d, want 300:100", a.Accepted(), b.Accepted())
	}
}
