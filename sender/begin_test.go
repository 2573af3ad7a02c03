package sender

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailer-dev/mailer/internal/testrelay"
)

// begins counts the calls of each message's Begin and checks, at each
// call, that nothing of the message is on the wire yet: its RCPT is not
// in the client's transcript.
type begins struct {
	t    *testing.T
	wire *lockedBuffer // the pool's Debug transcript
	fail map[string]error

	mu sync.Mutex
	n  map[string]int
}

func (b *begins) msg(to string) *Message {
	m := msg(to)
	m.Begin = func() error {
		if strings.Contains(b.wire.String(), "RCPT TO:<"+to+">") {
			b.t.Errorf("%s: Begin called after its RCPT was written", to)
		}
		b.mu.Lock()
		if b.n == nil {
			b.n = map[string]int{}
		}
		b.n[to]++
		b.mu.Unlock()
		return b.fail[to]
	}
	return m
}

func (b *begins) count(to string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n[to]
}

// beginPool is a pool of one relay behind a turn proxy: strip takes
// PIPELINING away (go-smtp's transaction), else the pool pipelines.
func beginPool(t *testing.T, ro testrelay.Options, strip bool, o Options) (*Pool, *testrelay.Server, *begins) {
	t.Helper()
	s := startRelay(t, ro)
	px := startTurnProxy(t, s.Addr(), strip)
	b := &begins{t: t, wire: &lockedBuffer{}}
	o.Debug = b.wire
	p, err := New([]Relay{px.relay(t)}, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := pipelined(t, p); got == strip {
		t.Fatalf("pipelined %v, want %v", got, !strip)
	}
	return p, s, b
}

var beginPaths = []struct {
	name  string
	strip bool
}{{"one-at-a-time", true}, {"pipelined", false}}

// TestBeginOncePerMessageOnTheWire: Begin is called once for each message
// whose transaction reaches the wire, before its first byte, whatever the
// outcome and however many attempts it takes (flaky@ and mailfail are
// tried again, drop@ three times), and never for a message refused before
// MAIL for want of SMTPUTF8.
func TestBeginOncePerMessageOnTheWire(t *testing.T) {
	for _, path := range beginPaths {
		t.Run(path.name, func(t *testing.T) {
			o := fastOpts()
			o.MaxConns = 1
			o.DownFor = time.Millisecond
			p, _, b := beginPool(t, testrelay.Options{Rules: faultRules()}, path.strip, o)
			for _, to := range faultRcpts {
				m := b.msg(to)
				if !strings.Contains(to, "@") { // a MAIL rule: it matches the sender
					m = b.msg("x" + to + "@example.com")
					m.From = to + "@acme.example"
					to = m.To
				}
				res := p.Send(context.Background(), m)
				if n := b.count(to); n != 1 {
					t.Errorf("%s (%s in %d attempts): Begin called %d times, want 1", to, res.Status, res.Attempts, n)
				}
			}
			const rcpt = "josé@example.com"
			m := b.msg(rcpt)
			m.UTF8 = true
			if res := p.Send(context.Background(), m); res.Status != Invalid {
				t.Fatalf("without SMTPUTF8: %+v", res)
			}
			if n := b.count(rcpt); n != 0 {
				t.Errorf("Begin called %d times for a message refused before MAIL", n)
			}
		})
	}
}

// TestBeginNotWhileWaiting: Sends cancelled while they wait for the rate
// or for a connection never call Begin; a Begin that fails keeps its
// message off the wire, also when its group would have ridden with the
// body before it, and the messages after it go on.
func TestBeginNotWhileWaiting(t *testing.T) {
	for _, path := range beginPaths {
		t.Run(path.name, func(t *testing.T) {
			t.Run("rate", func(t *testing.T) {
				o := fastOpts()
				o.Rate = 0.001 // one message, then a wait of many minutes
				p, _, b := beginPool(t, testrelay.Options{}, path.strip, o)
				if res := p.Send(context.Background(), b.msg("first@example.com")); res.Status != Delivered {
					t.Fatalf("first: %+v", res)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan Result)
				go func() { done <- p.Send(ctx, b.msg("waits@example.com")) }()
				waitFor(t, "the rate limiter to hold the second", 5*time.Second, func() bool { return p.limiter.Tokens() < 0 })
				cancel()
				if res := <-done; res.Status != Canceled {
					t.Errorf("cancelled while waiting for the rate: %+v", res)
				}
				if n := b.count("waits@example.com"); n != 0 {
					t.Errorf("Begin called %d times for a message that waited for the rate", n)
				}
			})
			t.Run("connection", func(t *testing.T) {
				stall := &testrelay.Rule{Stage: "RCPT", Match: regexp.MustCompile("^slow@"), Action: testrelay.Stall, Delay: 300 * time.Millisecond}
				o := fastOpts()
				o.MaxConns = 1
				p, s, b := beginPool(t, testrelay.Options{Rules: []*testrelay.Rule{stall}}, path.strip, o)
				slow := make(chan Result)
				go func() { slow <- p.Send(context.Background(), b.msg("slow@example.com")) }()
				waitFor(t, "the stall at RCPT", 5*time.Second, func() bool { return stall.Fired() > 0 })
				// It gives up while the only connection is slow@'s.
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				defer cancel()
				if res := p.Send(ctx, b.msg("waits@example.com")); res.Status != Canceled {
					t.Errorf("cancelled while waiting for a connection: %+v", res)
				}
				if res := <-slow; res.Status != Delivered {
					t.Errorf("slow: %+v", res)
				}
				if n := b.count("waits@example.com"); n != 0 || s.Received("waits@example.com") != 0 {
					t.Errorf("Begin called %d times for a message that waited for a connection", n)
				}
			})
			t.Run("failing", func(t *testing.T) {
				o := fastOpts()
				o.MaxConns = 1
				p, s, b := beginPool(t, testrelay.Options{}, path.strip, o)
				errJournal := errors.New("journal: disk full")
				var to []string
				b.fail = map[string]error{}
				for i := range 30 {
					to = append(to, rcpt(i))
					if i%5 == 2 {
						b.fail[rcpt(i)] = errJournal
					}
				}
				// Eight Sends at once on one connection: with PIPELINING
				// most groups ride with the body before (the taker calls
				// Begin).
				res := make([]Result, len(to))
				var wg sync.WaitGroup
				work := make(chan int)
				for range 8 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range work {
							res[i] = p.Send(context.Background(), b.msg(to[i]))
						}
					}()
				}
				for i := range to {
					work <- i
				}
				close(work)
				wg.Wait()
				for i, r := range res {
					if n := b.count(to[i]); n != 1 {
						t.Errorf("%s: Begin called %d times, want 1", to[i], n)
					}
					if b.fail[to[i]] != nil {
						if r.Status != Canceled || !errors.Is(r.Err, errJournal) || r.Attempts != 0 {
							t.Errorf("%s, whose Begin failed: %+v, want canceled with its error", to[i], r)
						}
						if s.Received(to[i]) != 0 || strings.Contains(b.wire.String(), "RCPT TO:<"+to[i]+">") {
							t.Errorf("%s, whose Begin failed, reached the relay", to[i])
						}
						continue
					}
					if r.Status != Delivered || s.Received(to[i]) != 1 {
						t.Errorf("%s: %+v, received %d", to[i], r, s.Received(to[i]))
					}
				}
			})
		})
	}
}
