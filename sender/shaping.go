package sender

import (
	"context"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DomainLimit caps the traffic to one recipient domain.
type DomainLimit struct {
	// MaxConns is how many transactions for the domain may be in flight at
	// once over all relays (0: no cap).
	MaxConns int
	// Rate is the domain's messages per second (0: no limit).
	Rate rate.Limit
}

// domain is the shaping state of one recipient domain with a DomainLimit.
type domain struct {
	slots   chan struct{} // nil: no cap
	limiter *rate.Limiter // nil: no limit
}

func newDomain(dl DomainLimit) *domain {
	d := &domain{}
	if dl.MaxConns > 0 {
		d.slots = make(chan struct{}, dl.MaxConns)
	}
	if dl.Rate > 0 {
		d.limiter = rate.NewLimiter(dl.Rate, 1)
	}
	return d
}

// domain returns the shaping state of rcpt's domain, nil when it has no limit.
func (p *Pool) domain(rcpt string) *domain {
	if len(p.domains) == 0 {
		return nil
	}
	i := strings.LastIndexByte(rcpt, '@')
	if i < 0 {
		return nil
	}
	return p.domains[strings.ToLower(rcpt[i+1:])]
}

// window holds the times of the last n messages sent, so that no window of
// one second ever sees more than n: the token bucket alone keeps the rate
// but lets late timer wake-ups bunch a few messages together.
type window struct {
	mu   sync.Mutex
	ring []time.Time
	next int
}

func newWindow(n int) *window { return &window{ring: make([]time.Time, max(n, 1))} }

// take waits until one more message fits in the last second and returns
// the time it was counted at.
func (w *window) take(ctx context.Context) (time.Time, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		now := time.Now()
		oldest := w.ring[w.next]
		if wait := oldest.Add(time.Second).Sub(now); wait > 0 && !oldest.IsZero() {
			if err := sleep(ctx, wait); err != nil {
				return time.Time{}, err
			}
			continue
		}
		w.ring[w.next] = now
		w.next = (w.next + 1) % len(w.ring)
		return now, nil
	}
}

// tryTake counts one more message now if it fits in the last second,
// without waiting.
func (w *window) tryTake() (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if oldest := w.ring[w.next]; !oldest.IsZero() && now.Before(oldest.Add(time.Second)) {
		return time.Time{}, false
	}
	w.ring[w.next] = now
	w.next = (w.next + 1) % len(w.ring)
	return now, true
}
