package sender

import (
	"errors"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// An upstream's health is a circuit breaker and a rate. The breaker opens
// (the relay is out of the pool until r.down) on refused connections or
// repeated 421s, for a period that doubles each time, and for good on
// refusals of the sender; a working transaction closes it. The rate is
// halved on throttling replies and recovers in calm seconds.

// downUntil is when the relay comes back into the pool (zero or past: in).
func (r *upstream) downUntil() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.down
}

// fail records a connection failure or a 421. A relay that refuses
// connections is taken out at once; one that answers 421 after three in a
// row. Each time it is taken out again the period doubles.
func (r *upstream) fail(err error, connect bool) {
	r.mu.Lock()
	now := time.Now()
	if now.Before(r.down) { // already out: the others' news is old
		r.mu.Unlock()
		return
	}
	r.failures++
	r.lastErr = err
	out := connect || r.failures >= 3
	if out {
		if r.downFor == 0 {
			r.downFor = r.pool.opts.DownFor
		} else if r.downFor *= 2; r.downFor > max(r.pool.opts.MaxBackoff, r.pool.opts.DownFor) {
			r.downFor = max(r.pool.opts.MaxBackoff, r.pool.opts.DownFor)
		}
		r.down = now.Add(r.downFor)
	}
	r.mu.Unlock()
	if out {
		r.pool.wake()
	}
}

// ok records a working transaction: the breaker closes again.
func (r *upstream) ok() {
	r.mu.Lock()
	if r.refused == nil {
		r.failures, r.refusals, r.downFor, r.lastErr = 0, 0, 0, nil
	}
	r.mu.Unlock()
}

// refuseAfter is how many refusals of the sender in a row take a relay out
// when they are not about authentication (those take it out at once): a
// content or reputation block may be about one message, but not three.
const refuseAfter = 3

// refuse records a refusal of the sender. A relay that refuses it this way
// will not change its mind within the run: once out, it stays out, so its
// work goes to the other relays and, with none left, the run stops.
func (r *upstream) refuse(err *RefusedError) {
	r.mu.Lock()
	r.refusals++
	out := r.refused == nil && (err.Auth() || r.refusals >= refuseAfter)
	if out {
		r.refused, r.lastErr = err, err
		r.down = time.Now().AddDate(100, 0, 0)
	}
	r.mu.Unlock()
	if out {
		r.pool.wake()
	}
}

// refusal is the refusal that took the relay out for the run, or nil.
func (r *upstream) refusal() *RefusedError {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused
}

// observe updates the relay's health and rate from one outcome.
func (r *upstream) observe(res *Result) {
	switch {
	case res.Status == Delivered || res.Status == Bounced:
		if r.sent.Add(1)&63 == 0 {
			r.tick()
		}
		if r.slow.Load() {
			r.recover()
		}
		r.ok()
	case res.Status == Blocked:
		r.refuse(&RefusedError{Relay: r.cfg.Name, Reply: &ReplyError{Stage: res.stage, Code: res.Code, Enhanced: res.Enhanced, Message: strings.TrimPrefix(res.Text, res.stage+": ")}})
	case res.Code == 421:
		r.fail(errors.New(r.cfg.Name+": "+res.Text), false)
		r.throttle()
	case throttling(res):
		r.throttle()
	}
}

// throttling reports a reply that asks us to slow down: 4.7.x (RFC 3463
// "security or policy status", where providers put rate limits) or text
// that says so.
func throttling(res *Result) bool {
	if res.Code/100 != 4 {
		return false
	}
	if strings.HasPrefix(res.Enhanced, "4.7.") {
		return true
	}
	t := strings.ToLower(res.Text)
	return strings.Contains(t, "too many") || strings.Contains(t, "rate limit") || strings.Contains(t, "try again later") && strings.Contains(t, "rate")
}

// minRate is the floor of throttling: a relay is never slowed below it.
const minRate = rate.Limit(1)

// throttle halves the relay's rate, at most once a second. With no rate of
// its own, the starting point is the rate observed over the last second or so.
func (r *upstream) throttle() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.throttled) < time.Second {
		return
	}
	r.throttled, r.raised = now, now
	cur := r.limiter.Limit()
	if cur == rate.Inf {
		cur = r.observedLocked(now)
	}
	next := cur / 2
	if next < minRate {
		next = minRate
	}
	r.limiter.SetLimit(next)
	r.limited.Store(true)
	r.slow.Store(true)
}

// observedLocked estimates the relay's current rate from its transactions.
func (r *upstream) observedLocked(now time.Time) rate.Limit {
	n := r.sent.Load()
	dt := now.Sub(r.lastAt).Seconds()
	if r.lastAt.IsZero() || dt <= 0 || dt > 10 {
		return rate.Limit(r.pool.opts.MaxConns) * 10 // no recent measure: a guess
	}
	est := rate.Limit(float64(n-r.lastCount) / dt)
	if est < minRate {
		est = minRate
	}
	return est
}

// recover raises a slowed relay's rate by a quarter for each second without
// a throttling reply, back to its base.
func (r *upstream) recover() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.raised) < time.Second {
		return
	}
	r.raised = now
	next := r.limiter.Limit() * 5 / 4
	if r.base != rate.Inf && next >= r.base || r.base == rate.Inf && now.Sub(r.throttled) > 30*time.Second {
		r.limiter.SetLimit(r.base)
		r.limited.Store(r.base != rate.Inf)
		r.slow.Store(false)
		return
	}
	r.limiter.SetLimit(next)
}

// tick remembers the transaction count once a second, for observedLocked.
func (r *upstream) tick() {
	r.mu.Lock()
	if now := time.Now(); now.Sub(r.lastAt) >= time.Second {
		r.lastCount, r.lastAt = r.sent.Load(), now
	}
	r.mu.Unlock()
}
