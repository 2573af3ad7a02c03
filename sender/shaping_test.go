package sender

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mailer-dev/mailer/internal/testrelay"
)

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
