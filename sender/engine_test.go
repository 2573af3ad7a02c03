package sender

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/mailer-dev/mailer/internal/testrelay"
	"golang.org/x/time/rate"
)

// deadRelay is a loopback address where nothing listens: connections are refused.
func deadRelay(t *testing.T) Relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r, err := ParseRelay("smtp+plain://"+addr, false)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sendAll sends n messages from workers goroutines and returns the results.
func sendAll(ctx context.Context, p *Pool, n, workers int, to func(i int) string) []Result {
	res := make([]Result, n)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				res[i] = p.Send(ctx, msg(to(i)))
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return res
}

func rcpt(i int) string { return fmt.Sprintf("r%d@example.com", i) }

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond) // a poll interval, not a wait for an event
	}
}

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

func Test421SlowsRelay(t *testing.T) {
	s := startRelay(t, testrelay.Options{Rules: []*testrelay.Rule{
		{Stage: "RCPT", Match: regexp.MustCompile("^busy@"), Code: 421, Enhanced: smtp.EnhancedCode{4, 7, 0}, Text: "too many connections, slow down", Times: 1},
		{Stage: "RCPT", Match: regexp.MustCompile("^limit@"), Code: 451, Enhanced: smtp.EnhancedCode{4, 7, 1}, Text: "rate limit exceeded", Times: 1},
	}})
	r := plainRelay(s)
	r.Rate = 400
	p, _ := New([]Relay{r}, fastOpts())
	defer p.Close()
	u := p.relays[0]
	if res := p.Send(context.Background(), msg("busy@example.com")); res.Status != Delivered || res.Attempts != 2 {
		t.Fatalf("got %+v, want delivered on the second try", res)
	}
	if got := u.limiter.Limit(); got != 200 {
		t.Fatalf("after a 421 the relay's rate is %v, want 400/2", got)
	}
	// A second throttling reply within the second does not halve again...
	u.mu.Lock()
	u.throttled = time.Now().Add(time.Hour) // "just now", however slow this machine is
	u.mu.Unlock()
	if res := p.Send(context.Background(), msg("limit@example.com")); res.Status != Delivered {
		t.Fatalf("%+v", res)
	}
	if got := u.limiter.Limit(); got != 200 {
		t.Fatalf("rate %v: halved twice within a second", got)
	}
	// ...and a calm second later, each success raises it by a quarter, back to the base.
	for want := rate.Limit(250); ; want = min(want*5/4, 400) {
		u.mu.Lock()
		u.raised = time.Now().Add(-2 * time.Second)
		u.throttled = u.raised
		u.mu.Unlock()
		if res := p.Send(context.Background(), msg("ok@example.com")); res.Status != Delivered {
			t.Fatal(res)
		}
		if got := u.limiter.Limit(); got != want {
			t.Fatalf("recovering: rate %v, want %v", got, want)
		}
		if want == 400 {
			break
		}
	}
	if u.slow.Load() {
		t.Error("still marked slow at its base rate")
	}
}

func Test421WithoutOwnRateStillSlows(t *testing.T) {
	s := startRelay(t, testrelay.Options{Rules: []*testrelay.Rule{
		{Stage: "MAIL", Match: regexp.MustCompile("."), Code: 421, Enhanced: smtp.EnhancedCode{4, 3, 2}, Text: "closing", Times: 1},
	}})
	p, _ := New([]Relay{plainRelay(s)}, fastOpts())
	defer p.Close()
	u := p.relays[0]
	if u.limited.Load() {
		t.Fatal("a relay without a rate starts limited")
	}
	if res := p.Send(context.Background(), msg("a@example.com")); res.Status != Delivered {
		t.Fatalf("%+v", res)
	}
	if !u.limited.Load() || u.limiter.Limit() == rate.Inf {
		t.Error("a 421 left the relay at full speed")
	}
}

func TestRepeated421TakesRelayOut(t *testing.T) {
	busy := startRelay(t, testrelay.Options{Rules: []*testrelay.Rule{rule("RCPT", ".", 421, smtp.EnhancedCode{4, 4, 5}, "busy")}})
	good := startRelay(t, testrelay.Options{})
	o := fastOpts()
	o.DownFor = time.Minute
	p, _ := New([]Relay{plainRelay(busy), plainRelay(good)}, o)
	defer p.Close()
	for i, r := range sendAll(context.Background(), p, 60, 1, rcpt) {
		if r.Status != Delivered {
			t.Fatalf("message %d: %+v", i, r)
		}
	}
	if busy.Refused() != 3 {
		t.Errorf("the 421 relay was tried %d times; after 3 it should be out", busy.Refused())
	}
	if good.Accepted() != 60 {
		t.Errorf("good relay accepted %d, want 60", good.Accepted())
	}
}

func TestDomainConnectionCap(t *testing.T) {
	s := startRelay(t, testrelay.Options{})
	o := fastOpts()
	o.MaxConns = 8
	o.Domains = map[string]DomainLimit{"slow.example": {MaxConns: 1}}
	p, _ := New([]Relay{plainRelay(s)}, o)
	res := sendAll(context.Background(), p, 100, 8, func(i int) string { return fmt.Sprintf("u%d@Slow.Example", i) })
	for i, r := range res {
		if r.Status != Delivered {
			t.Fatalf("message %d: %+v", i, r)
		}
	}
	p.Close()
	if s.MaxOpen() != 1 {
		t.Errorf("%d connections at once for a domain capped at 1", s.MaxOpen())
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

func TestParseDomainLimit(t *testing.T) {
	cases := []struct {
		in, domain string
		conns      int
		rate       float64
		err        bool
	}{
		{in: "gmail.com=5,20/s", domain: "gmail.com", conns: 5, rate: 20},
		{in: "Yahoo.COM=2", domain: "yahoo.com", conns: 2},
		{in: "outlook.com=0,600/m", domain: "outlook.com", rate: 10},
		{in: "gmail.com", err: true},
		{in: "=5", err: true},
		{in: "a@gmail.com=5", err: true},
		{in: "gmail.com=x", err: true},
		{in: "gmail.com=5,fast", err: true},
	}
	for _, c := range cases {
		d, dl, err := ParseDomainLimit(c.in)
		if c.err {
			if err == nil {
				t.Errorf("%q: no error", c.in)
			}
			continue
		}
		if err != nil || d != c.domain || dl.MaxConns != c.conns || float64(dl.Rate) != c.rate {
			t.Errorf("%q: got %q %+v %v", c.in, d, dl, err)
		}
	}
}

// The global rate holds over every one-second window, whatever the
// concurrency: counted on the times Send reports each message went out.
func TestRateOverAnyWindow(t *testing.T) {
	s := startRelay(t, testrelay.Options{})
	o := fastOpts()
	o.MaxConns = 8
	o.Rate, o.Burst = 200, 5
	p, _ := New([]Relay{plainRelay(s)}, o)
	defer p.Close()
	res := sendAll(context.Background(), p, 300, 16, rcpt)
	times := make([]time.Time, len(res))
	for i, r := range res {
		if r.Status != Delivered || r.Time.IsZero() {
			t.Fatalf("message %d: %+v", i, r)
		}
		times[i] = r.Time
	}
	slices.SortFunc(times, time.Time.Compare)
	for i, j := 0, 0; i < len(times); i++ {
		for times[i].Sub(times[j]) >= time.Second {
			j++
		}
		if n := i - j + 1; n > 205 {
			t.Fatalf("%d messages within one second from %v; the limit is 200/s with a burst of 5", n, times[j])
		}
	}
}

func TestIsEnhancedCode(t *testing.T) {
	for s, want := range map[string]bool{"2.0.0": true, "5.7.1": true, "4.7.123": true, "2.123.4": true,
		"2.0": false, "6.0.0": false, "2.0.0.0": false, "2..0": false, "2.0.": false, "2.1234.0": false, "x.0.0": false, "250": false} {
		if got := isEnhancedCode(s); got != want {
			t.Errorf("isEnhancedCode(%q) = %v", s, got)
		}
	}
	if e, r := splitEnhanced([]byte("2.0.0 Ok: queued as  X")); e != "2.0.0" || r != "Ok: queued as X" {
		t.Errorf("splitEnhanced: %q %q", e, r)
	}
}
