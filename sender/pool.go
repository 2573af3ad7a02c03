package sender

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"golang.org/x/time/rate"
)

// Options configure a Pool. Zero values take the defaults in brackets.
type Options struct {
	// Rate is the global limit in messages per second over all relays and
	// connections (0: unlimited). Burst is the limiter's bucket size [1].
	// Every attempt takes a token, so no window of a second ever sees more
	// than Rate+Burst messages leave, whatever the concurrency.
	Rate  rate.Limit
	Burst int
	// MaxConns is each relay's connection cap when the relay sets none [4].
	MaxConns int
	// MaxAttempts bounds tries per message for 4xx replies and network
	// failures [3]. 5xx replies are never retried.
	MaxAttempts int
	// Backoff is the wait before the second try, doubled for each try after
	// and jittered by up to half [1s]; MaxBackoff caps it [1m].
	Backoff, MaxBackoff time.Duration
	// DownFor is how long a relay that refuses connections (or keeps
	// answering 421) is taken out of the pool the first time; it doubles
	// each time the relay fails again, up to MaxBackoff [5s].
	DownFor time.Duration
	// UnavailableWait is how long Send waits for a relay to come back when
	// every relay is down before it gives up with an *UnavailableError in
	// Result.Err [2m].
	UnavailableWait time.Duration
	// Domains limits traffic per recipient domain (lower-case, as in
	// "gmail.com"), the way MTAs shape traffic to large mailbox providers.
	Domains map[string]DomainLimit
	// HelloName is sent in EHLO ["localhost"].
	HelloName string
	// ConnectTimeout covers TCP connect, TLS handshake, greeting, EHLO and
	// AUTH [30s]. CommandTimeout covers each later command [60s] and
	// DataTimeout the body and the reply after the final dot [5m].
	ConnectTimeout, CommandTimeout, DataTimeout time.Duration
}

// DomainLimit caps the traffic to one recipient domain.
type DomainLimit struct {
	// MaxConns is how many transactions for the domain may be in flight at
	// once over all relays (0: no cap).
	MaxConns int
	// Rate is the domain's messages per second (0: no limit).
	Rate rate.Limit
}

func (o *Options) defaults() {
	if o.Burst <= 0 {
		o.Burst = 1
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 4
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Minute
	}
	if o.DownFor <= 0 {
		o.DownFor = 5 * time.Second
	}
	if o.UnavailableWait <= 0 {
		o.UnavailableWait = 2 * time.Minute
	}
	if o.HelloName == "" {
		o.HelloName = "localhost"
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 30 * time.Second
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = time.Minute
	}
	if o.DataTimeout <= 0 {
		o.DataTimeout = 5 * time.Minute
	}
}

// Message is one message to send: the envelope and the data.
type Message struct {
	From string // envelope sender (MAIL FROM)
	To   string // the one recipient (RCPT TO)
	Data []byte // CRLF-terminated RFC 5322 message
	UTF8 bool   // the header has raw UTF-8 addresses: needs SMTPUTF8
}

// Pool sends messages over reused connections to one or more relays. It is
// safe for concurrent use; callers bound their own concurrency.
//
// Traffic is spread over the healthy relays by weight (smooth weighted round
// robin). A relay that refuses connections, or answers 421 three times in a
// row, is taken out for a while (a circuit breaker) and its work goes to the
// others. A 421 or a throttling reply halves the relay's rate, which then
// recovers by a quarter each calm second. A relay that refuses the sender
// (blocked: an authentication problem at once, other refusals after
// refuseAfter in a row) is out for the rest of the run, and a message it
// blocked is tried on another relay at once.
type Pool struct {
	opts    Options
	relays  []*upstream
	limiter *rate.Limiter // nil when unlimited
	window  *window       // nil when unlimited
	domains map[string]*domain
	dials   atomic.Int64
	open    atomic.Int64
	mu      sync.Mutex // guards the relays' weighted round-robin state
	// changed is closed and replaced whenever a relay's health changes, to
	// wake Sends waiting for one to come back.
	changed chan struct{}
}

type domain struct {
	slots   chan struct{} // nil: no cap
	limiter *rate.Limiter // nil: no limit
}

// New makes a pool. It opens no connection until Probe or Send.
func New(relays []Relay, opts Options) (*Pool, error) {
	if len(relays) == 0 {
		return nil, errors.New("no relay configured")
	}
	if len(relays) > 64 {
		return nil, errors.New("at most 64 relays")
	}
	opts.defaults()
	p := &Pool{opts: opts, changed: make(chan struct{}), domains: map[string]*domain{}}
	if opts.Rate > 0 {
		p.limiter = rate.NewLimiter(opts.Rate, opts.Burst)
		p.window = newWindow(int(opts.Rate) + opts.Burst)
	}
	for name, dl := range opts.Domains {
		d := &domain{}
		if dl.MaxConns > 0 {
			d.slots = make(chan struct{}, dl.MaxConns)
		}
		if dl.Rate > 0 {
			d.limiter = rate.NewLimiter(dl.Rate, 1)
		}
		p.domains[strings.ToLower(name)] = d
	}
	for _, rc := range relays {
		n := rc.MaxConns
		if n <= 0 {
			n = opts.MaxConns
		}
		if rc.Weight <= 0 {
			rc.Weight = 1
		}
		r := &upstream{cfg: rc, index: len(p.relays), pool: p, idle: make(chan *conn, n), slots: make(chan struct{}, n)}
		r.base = rate.Inf
		if rc.Rate > 0 {
			r.base = rc.Rate
		}
		r.limiter = rate.NewLimiter(r.base, 1)
		r.limited.Store(rc.Rate > 0)
		p.relays = append(p.relays, r)
	}
	return p, nil
}

// Dials reports how many connections the pool has opened so far.
func (p *Pool) Dials() int64 { return p.dials.Load() }

// Open reports how many of the pool's connections are open now.
func (p *Pool) Open() int64 { return p.open.Load() }

// Probe opens one connection to each relay (TLS and AUTH included) and keeps
// it for sending. It fails only when no relay can be reached, so a run with a
// wrong address or password stops before anything is sent. A relay that
// cannot be reached is taken out of the pool for a while.
func (p *Pool) Probe(ctx context.Context) error {
	var errs []error
	for _, r := range p.relays {
		c, err := r.get(ctx)
		if ctx.Err() != nil {
			return ctx.Err() // interrupted, not unavailable
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.put(c)
	}
	if len(errs) == len(p.relays) {
		return &UnavailableError{Err: errors.Join(errs...)}
	}
	return nil
}

// UnavailableError means no relay could be used.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return "no relay available: " + e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }

// Close ends every idle connection with QUIT. Call it after the last Send;
// connections still in use by a Send are closed when it returns them.
func (p *Pool) Close() error {
	for _, r := range p.relays {
		r.closed.Store(true)
		for {
			select {
			case c := <-r.idle:
				c.quit()
				<-r.slots
				continue
			default:
			}
			break
		}
	}
	return nil
}

// Send delivers m, retrying temporary failures with backoff, and returns the
// final outcome. ctx bounds the waiting (rate limits, a free connection,
// backoff, a relay to come back) and the commands before the body; once the
// body is under way the transaction is bounded by the timeouts instead, so
// that a cancelled run never leaves a message half-sent without knowing.
// A retry goes to another relay when there is a healthy one.
func (p *Pool) Send(ctx context.Context, m *Message) Result {
	var last Result
	var tried uint64     // relays already tried for m
	var blocked uint64   // relays that refused the sender of m: never again
	hurry := false       // the last try was blocked: the next goes at once
	var giveUp time.Time // when every relay is down: when to stop waiting
	d := p.domain(m.To)
	if d != nil && d.slots != nil {
		select {
		case d.slots <- struct{}{}:
			defer func() { <-d.slots }()
		case <-ctx.Done():
			return Result{Status: Canceled}
		}
	}
	// stopped ends Send on a cancelled ctx: nothing was tried yet (Canceled,
	// not recorded) or the last try's outcome stands.
	stopped := func(attempt int) Result {
		if attempt == 1 {
			return Result{Status: Canceled}
		}
		last.Attempts = attempt - 1
		return last
	}
	for attempt := 1; ; attempt++ {
		if attempt > 1 && !hurry {
			if err := sleep(ctx, p.backoff(attempt-1)); err != nil {
				return stopped(attempt)
			}
		}
		if p.limiter != nil && p.limiter.Wait(ctx) != nil {
			return stopped(attempt)
		}
		if d != nil && d.limiter != nil && d.limiter.Wait(ctx) != nil {
			return stopped(attempt)
		}
		hurry = false
		r, err := p.pick(ctx, tried, blocked, &giveUp)
		if err != nil {
			if ctx.Err() != nil {
				return stopped(attempt)
			}
			res := last
			if res.Status == "" {
				res.Status = Deferred
			}
			if res.Status != Blocked { // a refusal's reply is worth more
				res.Text = err.Error()
			}
			res.Err, res.Attempts = err, attempt-1
			return res
		}
		tried |= 1 << r.index
		res, err := p.attempt(ctx, r, m)
		if err != nil && ctx.Err() != nil {
			return stopped(attempt)
		}
		if err == nil {
			giveUp = time.Time{} // a relay answered
		}
		res.Attempts = attempt
		if res.Status == Invalid {
			res.Attempts = attempt - 1 // refused before MAIL: this one was no try
		}
		if res.Status == Blocked {
			// A relay that refuses the sender says nothing about the
			// recipient: another relay may take it, whatever MaxAttempts.
			blocked |= 1 << r.index
			if p.healthyBesides(blocked) {
				last, hurry = res, true
				continue
			}
			if p.allDown() {
				res.Err = &UnavailableError{Err: p.downErr()}
			}
			return res
		}
		if res.Status != Deferred || attempt >= p.opts.MaxAttempts {
			if res.Status == Deferred && p.allDown() {
				res.Err = &UnavailableError{Err: errors.New(res.Text)}
			}
			return res
		}
		last = res
	}
}

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

// attempt makes one try on one connection of r. A connection reused from
// the idle set may have been closed by the relay meanwhile; such a failure
// at MAIL is not the message's fault, so it is tried once more on a fresh
// connection before it counts. A non-nil error means the try was cut short
// by ctx or by a connection that could not be opened.
func (p *Pool) attempt(ctx context.Context, r *upstream, m *Message) (Result, error) {
	if r.limited.Load() {
		if err := r.limiter.Wait(ctx); err != nil {
			return Result{Status: Deferred, Relay: r.cfg.Name, Text: err.Error()}, err
		}
	}
	for fresh := false; ; fresh = true {
		c, err := r.get(ctx)
		if err != nil {
			return Result{Status: Deferred, Relay: r.cfg.Name, Text: err.Error()}, err
		}
		reused := c.wasIdle
		start := time.Now()
		if p.window != nil {
			if start, err = p.window.take(ctx); err != nil {
				r.put(c)
				return Result{Status: Deferred, Relay: r.cfg.Name, Text: err.Error()}, err
			}
		}
		res, stale := c.send(ctx, m, p.opts)
		res.Time = start
		res.Relay = r.cfg.Name
		r.put(c)
		if stale && reused && !fresh {
			continue
		}
		r.observe(&res)
		if res.Status == Canceled {
			return res, ctx.Err()
		}
		return res, nil
	}
}

// pick chooses the relay for the next try by smooth weighted round robin
// (as nginx does) among the healthy relays, preferring one not yet tried for
// this message and never one in exclude. When every relay is down it waits
// for the first to come back, up to UnavailableWait from when this message
// found them all down.
func (p *Pool) pick(ctx context.Context, tried, exclude uint64, giveUp *time.Time) (*upstream, error) {
	for {
		p.mu.Lock()
		now := time.Now()
		var best, bestTried *upstream
		total := 0
		earliest := time.Time{}
		changed := p.changed
		for _, r := range p.relays {
			if exclude&(1<<r.index) != 0 {
				continue
			}
			if until := r.downUntil(); now.Before(until) {
				if earliest.IsZero() || until.Before(earliest) {
					earliest = until
				}
				continue
			}
			r.current += r.cfg.Weight
			total += r.cfg.Weight
			if tried&(1<<r.index) != 0 {
				if bestTried == nil || r.current > bestTried.current {
					bestTried = r
				}
				continue
			}
			if best == nil || r.current > best.current {
				best = r
			}
		}
		if best == nil {
			best = bestTried
		}
		if best != nil {
			best.current -= total
			p.mu.Unlock()
			return best, nil
		}
		p.mu.Unlock()
		if giveUp.IsZero() {
			*giveUp = now.Add(p.opts.UnavailableWait)
		}
		if earliest.IsZero() || earliest.After(*giveUp) {
			return nil, &UnavailableError{Err: p.downErr()}
		}
		t := time.NewTimer(time.Until(earliest))
		select {
		case <-t.C:
		case <-changed:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
		t.Stop()
	}
}

// healthyBesides reports whether a relay outside mask is in the pool now.
func (p *Pool) healthyBesides(mask uint64) bool {
	now := time.Now()
	for _, r := range p.relays {
		if mask&(1<<r.index) == 0 && !now.Before(r.downUntil()) {
			return true
		}
	}
	return false
}

func (p *Pool) allDown() bool {
	now := time.Now()
	for _, r := range p.relays {
		if !now.Before(r.downUntil()) {
			return false
		}
	}
	return true
}

func (p *Pool) downErr() error {
	var errs []error
	for _, r := range p.relays {
		r.mu.Lock()
		if r.lastErr != nil {
			errs = append(errs, r.lastErr)
		}
		r.mu.Unlock()
	}
	if len(errs) == 0 {
		return errors.New("every relay is down")
	}
	return errors.Join(errs...)
}

// wake tells Sends waiting in pick that a relay's health changed.
func (p *Pool) wake() {
	p.mu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

func (p *Pool) backoff(n int) time.Duration {
	d := p.opts.Backoff << (n - 1)
	if d > p.opts.MaxBackoff || d <= 0 {
		d = p.opts.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// upstream is one relay's connections (idle ones ready for reuse, and slots
// that cap how many exist at once) and its health.
type upstream struct {
	cfg     Relay
	index   int
	pool    *Pool
	idle    chan *conn
	slots   chan struct{}
	closed  atomic.Bool
	current int // weighted round-robin state, under pool.mu

	// limiter carries the relay's own rate (base) and, after throttling,
	// the reduced one; limited says whether it can hold anyone up.
	limiter *rate.Limiter
	base    rate.Limit
	limited atomic.Bool
	sent    atomic.Int64 // transactions finished, for the observed rate
	slow    atomic.Bool  // running below base

	mu        sync.Mutex
	down      time.Time // out of the pool until then
	failures  int       // consecutive connection failures or 421s
	refusals  int       // consecutive refusals of the sender
	refused   bool      // out for the rest of the run: it refuses the sender
	downFor   time.Duration
	lastErr   error
	throttled time.Time // last slow-down
	raised    time.Time // last step of recovery
	lastCount int64     // sent at the last rate observation
	lastAt    time.Time
}

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
	if !r.refused {
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
	out := !r.refused && (err.Auth() || r.refusals >= refuseAfter)
	if out {
		r.refused, r.lastErr = true, err
		r.down = time.Now().AddDate(100, 0, 0)
	}
	r.mu.Unlock()
	if out {
		r.pool.wake()
	}
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
		r.mu.Lock()
		clean := r.failures == 0 && r.refusals == 0
		r.mu.Unlock()
		if !clean {
			r.ok()
		}
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

// get returns an idle connection, or dials a new one when under the cap,
// or waits for one of the two.
func (r *upstream) get(ctx context.Context) (*conn, error) {
	select {
	case c := <-r.idle:
		return c, nil
	default:
	}
	select {
	case c := <-r.idle:
		return c, nil
	case r.slots <- struct{}{}:
		c, err := r.dial(ctx)
		if err != nil {
			<-r.slots
			var re *RefusedError
			switch {
			case ctx.Err() != nil:
			case errors.As(err, &re):
				r.refuse(re)
			default:
				r.fail(err, true)
			}
			return nil, err
		}
		r.tick()
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// put returns c to the idle set, or closes it when it is broken, has
// carried its quota of messages, or the pool is closed.
func (r *upstream) put(c *conn) {
	if c.broken {
		c.close()
		<-r.slots
		return
	}
	if r.cfg.MsgsPerConn > 0 && c.sent >= r.cfg.MsgsPerConn || r.closed.Load() {
		c.quit()
		<-r.slots
		return
	}
	c.wasIdle = true
	r.idle <- c
}

func (r *upstream) dial(ctx context.Context) (*conn, error) {
	o := r.pool.opts
	r.pool.dials.Add(1)
	ctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	d := net.Dialer{}
	nc, err := d.DialContext(ctx, "tcp", r.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", r.cfg.Name, err)
	}
	// go-smtp takes no context and arms its own deadline per command;
	// trackConn clamps them all to one limit for the whole handshake, and
	// a cancelled ctx pulls that limit to now.
	tc := &trackConn{Conn: nc}
	tc.setLimit(time.Now().Add(o.ConnectTimeout))
	stop := context.AfterFunc(ctx, tc.abort)
	defer stop()
	fail := func(stage string, err error) (*conn, error) {
		nc.Close()
		// go-smtp's STARTTLS handshake happens inside EHLO: say TLS.
		if cv := (*tls.CertificateVerificationError)(nil); errors.As(err, &cv) && r.cfg.Security == StartTLS {
			stage = "STARTTLS"
		}
		if re := replyError(stage, err); re != nil {
			if stage == "AUTH" && re.Code/100 == 5 { // wrong user or password, most often
				return nil, &RefusedError{Relay: r.cfg.Name, Reply: re}
			}
			return nil, fmt.Errorf("%s: %w", r.cfg.Name, re)
		}
		return nil, fmt.Errorf("%s %s: %w", stage, r.cfg.Name, err)
	}
	cfg := r.tlsConfig()
	var sc *smtp.Client
	switch r.cfg.Security {
	case ImplicitTLS:
		tlsConn := tls.Client(tc, cfg)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			return fail("TLS", err)
		}
		sc = smtp.NewClient(tlsConn)
	case StartTLS:
		// go-smtp says EHLO as "localhost" before STARTTLS, then ours after.
		if sc, err = smtp.NewClientStartTLS(tc, cfg); err != nil {
			if strings.Contains(err.Error(), "doesn't support STARTTLS") {
				err = errors.New("the relay does not offer STARTTLS, which smtp:// requires (smtp+plain:// is for loopback relays)")
			}
			return fail("STARTTLS", err)
		}
	default:
		sc = smtp.NewClient(tc)
	}
	if err := sc.Hello(o.HelloName); err != nil {
		return fail("EHLO", err)
	}
	if r.cfg.Username != "" {
		if _, isTLS := sc.TLSConnectionState(); !isTLS {
			return fail("AUTH", errors.New("AUTH over an unencrypted connection is refused"))
		}
		var mech sasl.Client
		switch {
		case sc.SupportsAuth("PLAIN"):
			mech = sasl.NewPlainClient("", r.cfg.Username, r.cfg.Password)
		case sc.SupportsAuth("LOGIN"):
			mech = sasl.NewLoginClient(r.cfg.Username, r.cfg.Password)
		default:
			return fail("AUTH", errors.New("the relay offers neither AUTH PLAIN nor AUTH LOGIN"))
		}
		if err := sc.Auth(mech); err != nil {
			return fail("AUTH", err)
		}
	}
	if !stop() {
		return fail("connect", ctx.Err())
	}
	tc.setLimit(time.Time{})
	sc.CommandTimeout = o.CommandTimeout
	sc.SubmissionTimeout = o.DataTimeout
	r.pool.open.Add(1)
	return &conn{c: sc, nc: tc, pool: r.pool}, nil
}

func (r *upstream) tlsConfig() *tls.Config {
	cfg := &tls.Config{ServerName: r.cfg.Host, MinVersion: tls.VersionTLS12}
	if r.cfg.TLSConfig != nil {
		cfg = r.cfg.TLSConfig.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = r.cfg.Host
		}
	}
	return cfg
}

// conn is one SMTP session, spoken with go-smtp's client.
type conn struct {
	c       *smtp.Client
	nc      *trackConn
	pool    *Pool
	sent    int  // transactions completed on it
	wasIdle bool // waited in the idle set: the relay may have closed it
	dirty   bool // the last transaction failed: RSET before the next
	broken  bool // unusable: close instead of reuse
}

// send runs one mail transaction. stale reports a network failure at the
// first command, the sign of a connection the relay already closed. A ctx
// cancelled before the body starts abandons the transaction (Canceled: the
// relay has nothing); once the body is on its way, the timeouts bound it.
func (c *conn) send(ctx context.Context, m *Message, o Options) (res Result, stale bool) {
	if strings.ContainsAny(m.From, "\r\n<>") || strings.ContainsAny(m.To, "\r\n<>") {
		return Result{Status: Bounced, Text: "address with CR, LF, < or > refused"}, false
	}
	mo, refused := mailOptions(c.c, m)
	if refused != nil {
		return *refused, false
	}
	stop := context.AfterFunc(ctx, c.nc.abort)
	stage, err := c.envelope(m, mo)
	var w io.WriteCloser
	if err == nil {
		stage = "DATA"
		w, err = c.c.Data()
	}
	if !stop() {
		c.broken = true
		return Result{Status: Canceled, Text: "canceled before the message was sent"}, false
	}
	if err != nil && stage == "RSET" {
		// A relay that will not reset says nothing about this recipient:
		// try again on a fresh connection.
		c.broken = true
		return Result{Status: Deferred, Text: "RSET: " + err.Error()}, true
	}
	if err != nil {
		if re := replyError(stage, err); re != nil {
			c.dirty = true
			if re.Code == 421 { // RFC 5321 section 3.8: the relay is closing
				c.broken = true
			}
			return fromReply(re), false
		}
		c.broken = true
		// Nothing came back: on a reused connection, a relay that hung up.
		return Result{Status: Deferred, Text: stage + ": " + err.Error()}, stage == "MAIL" || stage == "RSET"
	}
	c.nc.SetWriteDeadline(time.Now().Add(o.DataTimeout))
	if _, err := w.Write(m.Data); err != nil {
		c.broken = true
		return Result{Status: Deferred, Text: "DATA: " + err.Error()}, false
	}
	c.nc.clearWriteErr()
	dw := w.(*smtp.DataCommand)
	resp, err := dw.CloseWithResponse()
	if err != nil {
		if re := replyError("DATA", err); re != nil {
			c.dirty = true
			c.sent++
			if re.Code == 421 {
				c.broken = true
			}
			return fromReply(re), false
		}
		c.broken = true
		if c.nc.wroteErr() != nil {
			// The final dot never left: the relay cannot have accepted it.
			return Result{Status: Deferred, Text: "DATA: " + err.Error()}, false
		}
		// RFC 5321 section 4.1.1.4: the message is the relay's once it has
		// replied 250 to the final dot. Without a reply we cannot know.
		return Result{Status: Unknown, Text: "connection lost after the message was sent, before the relay replied: " + err.Error()}, false
	}
	c.sent++
	res = Result{Status: Delivered, Code: 250}
	res.Enhanced, res.Text = splitEnhanced([]byte(resp.StatusText))
	return res, false
}

// envelope starts a transaction: RSET when the last one failed (RFC 5321
// section 4.1.1.5; a completed one needs none), MAIL and RCPT. It returns
// the stage that failed.
func (c *conn) envelope(m *Message, mo *smtp.MailOptions) (string, error) {
	if c.dirty {
		if err := c.c.Reset(); err != nil {
			return "RSET", err
		}
		c.dirty = false
	}
	if err := c.c.Mail(m.From, mo); err != nil {
		return "MAIL", err
	}
	if err := c.c.Rcpt(m.To, nil); err != nil {
		return "RCPT", err
	}
	return "", nil
}

func (c *conn) quit() {
	c.c.CommandTimeout = 5 * time.Second
	if err := c.c.Quit(); err != nil {
		c.c.Close()
	}
	c.pool.open.Add(-1)
}

func (c *conn) close() {
	c.c.Close()
	c.pool.open.Add(-1)
}

// trackConn is the connection under go-smtp's client. It remembers a write
// error, which tells a body that never fully left (deferred: safe to retry)
// from a reply that never came (unknown), and it clamps every deadline to a
// limit: the handshake's, or now once the context is cancelled.
type trackConn struct {
	net.Conn
	mu       sync.Mutex
	writeErr error
	limit    time.Time
}

func (t *trackConn) Write(b []byte) (int, error) {
	n, err := t.Conn.Write(b)
	if err != nil {
		t.mu.Lock()
		t.writeErr = err
		t.mu.Unlock()
	}
	return n, err
}

func (t *trackConn) clearWriteErr() {
	t.mu.Lock()
	t.writeErr = nil
	t.mu.Unlock()
}

func (t *trackConn) wroteErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.writeErr
}

func (t *trackConn) setLimit(l time.Time) {
	t.mu.Lock()
	t.limit = l
	t.mu.Unlock()
	if !l.IsZero() {
		t.Conn.SetDeadline(l)
	}
}

// abort makes every pending and later read or write fail at once.
func (t *trackConn) abort() { t.setLimit(time.Now()) }

func (t *trackConn) clamp(d time.Time) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.limit.IsZero() && (d.IsZero() || d.After(t.limit)) {
		return t.limit
	}
	return d
}

func (t *trackConn) SetDeadline(d time.Time) error      { return t.Conn.SetDeadline(t.clamp(d)) }
func (t *trackConn) SetReadDeadline(d time.Time) error  { return t.Conn.SetReadDeadline(t.clamp(d)) }
func (t *trackConn) SetWriteDeadline(d time.Time) error { return t.Conn.SetWriteDeadline(t.clamp(d)) }

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
