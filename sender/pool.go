package sender

import (
	"cmp"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailer-dev/mailer/internal/transcript"
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
	// Quota is each relay's daily quota when the relay sets none (0: none):
	// a relay that was handed that many messages since midnight in
	// QuotaZone [time.Local] takes no more until the next midnight. When
	// every relay's quota is used, Send returns a *QuotaError. Handed counts
	// what earlier runs sent today.
	Quota     int
	QuotaZone *time.Location
	// Now is the clock of the quotas [time.Now].
	Now func() time.Time
	// Debug, when set, receives the SMTP transcript of every connection,
	// each line prefixed with the connection's number and direction, the
	// AUTH exchange and message bodies left out (package
	// internal/transcript). Lines are written whole, one at a time; an
	// error writing them does not stop sending.
	Debug io.Writer
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
	if o.QuotaZone == nil {
		o.QuotaZone = time.Local
	}
	if o.Now == nil {
		o.Now = time.Now
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
	// Begin, when set, is called at most once per Send, from whichever
	// goroutine writes, immediately before the first byte of the message's
	// transaction is written to a connection: its MAIL FROM (or the RSET
	// before it), its pipelined command group, or that group riding in the
	// write of the previous message's body (lane.go). It is called on the
	// first attempt that gets that far; retries do not call it again. A
	// message that never gets that far (refused before MAIL for SMTPUTF8,
	// cancelled while it waits for the rate, a connection or a relay's
	// quota) never calls it. So a caller can note there that the message
	// may reach a relay, and know that a message Send is still waiting
	// with has not. If Begin returns an error, nothing of the message is
	// written and Send returns Status Canceled with Err set to that error.
	// Begin should be quick: a connection waits for it.
	Begin func() error
}

// beginOnce calls a Message's Begin at most once per Send. The goroutine
// that calls it (the Send's own, or the one writing the previous body on a
// lane) hands the connection to the Send afterwards: reads of it after the
// handover see what the call did.
type beginOnce struct {
	fn     func() error
	called bool
	err    error
}

// call calls Begin the first time and returns its error, then and later.
func (b *beginOnce) call() error {
	if !b.called {
		b.called = true
		if b.fn != nil {
			b.err = b.fn()
		}
	}
	return b.err
}

// canceledBy is the outcome of a message whose Begin failed: not sent.
func canceledBy(err error) Result {
	return Result{Status: Canceled, Text: "not sent: " + err.Error(), Err: err}
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
	// transcript is the SMTP transcript of Options.Debug (nil: none).
	transcript *debugLog
	// changed is closed and replaced whenever a relay's health changes, to
	// wake Sends waiting for one to come back.
	changed chan struct{}
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
	if opts.Debug != nil {
		p.transcript = &debugLog{transcript.New(opts.Debug)}
	}
	if opts.Rate > 0 {
		p.limiter = rate.NewLimiter(opts.Rate, opts.Burst)
		p.window = newWindow(int(opts.Rate) + opts.Burst)
	}
	for name, dl := range opts.Domains {
		p.domains[strings.ToLower(name)] = newDomain(dl)
	}
	for _, rc := range relays {
		u := newUpstream(p, len(p.relays), rc)
		u.quota = newQuota(cmp.Or(rc.Quota, opts.Quota), opts.QuotaZone, opts.Now)
		p.relays = append(p.relays, u)
	}
	return p, nil
}

// Refused lists the refusals that took relays out of the pool for the
// run (RefusedError: the relay refuses the sender), one per such relay, so
// a run that the other relays finished can still say a relay needs fixing.
func (p *Pool) Refused() []*RefusedError {
	var out []*RefusedError
	for _, r := range p.relays {
		if re := r.refusal(); re != nil {
			out = append(out, re)
		}
	}
	return out
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
		c, err := r.get(ctx, nil)
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

// Close ends every idle connection with QUIT, all at once: each waits for
// its own 221, not for the others'. Call it after the last Send;
// connections still in use by a Send are closed when it returns them.
func (p *Pool) Close() error {
	var wg sync.WaitGroup
	for _, r := range p.relays {
		r.closed.Store(true)
		for {
			select {
			case c := <-r.idle:
				wg.Add(1)
				go func() {
					defer wg.Done()
					c.quit()
					<-r.slots
				}()
				continue
			default:
			}
			break
		}
	}
	wg.Wait()
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
	b := &beginOnce{fn: m.Begin}
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
		res, err := p.attempt(ctx, r, m, b)
		if err == errRefusedMeanwhile {
			blocked |= 1 << r.index
			if p.usableBesides(blocked) { // pick waits for one that is down for a while
				attempt-- // m was not tried
				hurry = true
				continue
			}
			ue := &UnavailableError{Err: p.downErr()}
			if last.Status != "" {
				last.Err, last.Attempts = ue, attempt-1
				return last
			}
			return Result{Status: Deferred, Relay: r.cfg.Name, Text: "not tried: " + ue.Error(), Err: ue}
		}
		if err != nil && ctx.Err() != nil {
			return stopped(attempt)
		}
		if err == nil {
			giveUp = time.Time{} // a relay answered
		}
		res.Attempts = attempt
		if res.Status == Invalid || res.Status == Canceled {
			// Refused before MAIL, or Begin failed: this one was no try.
			res.Attempts = attempt - 1
		}
		if res.Status == Blocked {
			// A relay that refuses the sender says nothing about the
			// recipient: another relay may take it, whatever MaxAttempts.
			blocked |= 1 << r.index
			if p.usableBesides(blocked) { // pick waits for one that is down for a while
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

// errRefusedMeanwhile: the relay refused the sender (for the rest of the
// run) while the message waited for one of its connections.
var errRefusedMeanwhile = errors.New("the relay refuses the sender")

// attempt makes one try on one connection of r. A connection reused from
// the idle set may have been closed by the relay meanwhile; such a failure
// at MAIL is not the message's fault, so it is tried once more on a fresh
// connection before it counts. A non-nil error means the try was cut short
// by ctx or by a connection that could not be opened.
func (p *Pool) attempt(ctx context.Context, r *upstream, m *Message, b *beginOnce) (Result, error) {
	if r.limited.Load() {
		if err := r.limiter.Wait(ctx); err != nil {
			return Result{Status: Deferred, Relay: r.cfg.Name, Text: err.Error()}, err
		}
	}
	for fresh := false; ; fresh = true {
		j := &job{ctx: ctx, m: m, begin: b, got: make(chan *conn, 1)}
		offer := j
		if fresh {
			offer = nil // once more: on a connection of its own, not in a lane
		}
		c, err := r.get(ctx, offer)
		if err == errLost {
			// The connection that took m's turn failed first: nothing of
			// m was answered. As with a stale connection, once more.
			if !fresh {
				continue
			}
			return Result{Status: Deferred, Relay: r.cfg.Name, Text: err.Error(), Time: time.Now()}, nil
		}
		if err != nil {
			return Result{Status: Deferred, Relay: r.cfg.Name, Text: err.Error()}, err
		}
		if r.refusal() != nil {
			// The relay refused the sender while m waited for one of its
			// connections: m goes elsewhere without asking it again. If
			// its group went ahead (DATA included, lane.go), only closing
			// the connection ends that transaction with nothing delivered.
			c.broken = c.broken || j.sent
			r.put(c)
			return Result{}, errRefusedMeanwhile
		}
		reused := c.wasIdle
		start := time.Now()
		if j.sent {
			start = j.start
		} else if p.window != nil {
			if start, err = p.window.take(ctx); err != nil {
				r.put(c)
				return Result{Status: Deferred, Relay: r.cfg.Name, Text: err.Error()}, err
			}
		}
		res, stale := c.send(ctx, m, b, p.opts, j.sent)
		res.Time = start
		res.Relay = r.cfg.Name
		again := stale && reused && !fresh
		if !again {
			// Before put: a Send that c is handed to next (lane.go) sees
			// what this outcome did to the relay (a refusal that takes it
			// out).
			r.observe(&res)
		}
		r.put(c)
		if again {
			continue
		}
		if res.Status == Canceled && res.Err == nil {
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
		var quotaReset time.Time // set when a relay was passed over for its quota
		for _, r := range p.relays {
			if exclude&(1<<r.index) != 0 {
				continue
			}
			if r.quota != nil {
				if full, next := r.quota.full(); full {
					if quotaReset.IsZero() || next.Before(quotaReset) {
						quotaReset = next
					}
					continue
				}
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
			if best.quota != nil {
				best.quota.take() // under p.mu: no other pick sees it not yet full
			}
			p.mu.Unlock()
			return best, nil
		}
		p.mu.Unlock()
		if earliest.IsZero() && !quotaReset.IsZero() {
			return nil, &QuotaError{Reset: quotaReset} // none down, the rest at quota
		}
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

// usableBesides reports whether a relay outside mask may take a message in
// this run: one that has not refused the sender, even if it is down for a
// while.
func (p *Pool) usableBesides(mask uint64) bool {
	for _, r := range p.relays {
		if mask&(1<<r.index) != 0 {
			continue
		}
		if r.refusal() == nil {
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
