package sender

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/mailer-dev/mailer/internal/testrelay"
	"golang.org/x/time/rate"
)

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
