package sender

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
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
	// HelloName is sent in EHLO ["localhost"].
	HelloName string
	// ConnectTimeout covers TCP connect, TLS handshake, greeting, EHLO and
	// AUTH [30s]. CommandTimeout covers each later command [60s] and
	// DataTimeout the body and the reply after the final dot [5m].
	ConnectTimeout, CommandTimeout, DataTimeout time.Duration
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
type Pool struct {
	opts    Options
	relays  []*upstream
	limiter *rate.Limiter // nil when unlimited
	next    atomic.Uint64
	dials   atomic.Int64
}

// New makes a pool. It opens no connection until Probe or Send.
func New(relays []Relay, opts Options) (*Pool, error) {
	if len(relays) == 0 {
		return nil, errors.New("no relay configured")
	}
	opts.defaults()
	p := &Pool{opts: opts}
	if opts.Rate > 0 {
		p.limiter = rate.NewLimiter(opts.Rate, opts.Burst)
	}
	for _, rc := range relays {
		n := rc.MaxConns
		if n <= 0 {
			n = opts.MaxConns
		}
		r := &upstream{cfg: rc, pool: p, idle: make(chan *conn, n), slots: make(chan struct{}, n)}
		if rc.Rate > 0 {
			r.limiter = rate.NewLimiter(rc.Rate, 1)
		}
		p.relays = append(p.relays, r)
	}
	return p, nil
}

// Dials reports how many connections the pool has opened so far.
func (p *Pool) Dials() int64 { return p.dials.Load() }

// Probe opens one connection to each relay (TLS and AUTH included) and keeps
// it for sending. It fails only when no relay can be reached, so a run with a
// wrong address or password stops before anything is sent.
func (p *Pool) Probe(ctx context.Context) error {
	var errs []error
	for _, r := range p.relays {
		c, err := r.get(ctx)
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

// Close ends every idle connection with QUIT. Call it after the last Send.
func (p *Pool) Close() error {
	for _, r := range p.relays {
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
// final outcome. ctx bounds the waiting (rate limit, free connection,
// backoff); a transaction under way is bounded by the timeouts instead, so
// that a cancelled run never leaves a message half-sent without knowing.
func (p *Pool) Send(ctx context.Context, m *Message) Result {
	var last Result
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			if err := sleep(ctx, p.backoff(attempt-1)); err != nil {
				last.Attempts = attempt - 1
				return last
			}
		}
		if p.limiter != nil {
			if err := p.limiter.Wait(ctx); err != nil {
				if attempt == 1 {
					return Result{Status: Canceled}
				}
				last.Attempts = attempt - 1
				return last
			}
		}
		res, err := p.attempt(ctx, m)
		if err != nil && attempt == 1 && ctx.Err() != nil {
			return Result{Status: Canceled}
		}
		res.Attempts = attempt
		if res.Status != Deferred || attempt >= p.opts.MaxAttempts {
			return res
		}
		last = res
	}
}

// attempt makes one try on one connection. A connection reused from the
// idle set may have been closed by the relay meanwhile; such a failure at
// MAIL is not the message's fault, so it is tried once more on a fresh
// connection before it counts.
func (p *Pool) attempt(ctx context.Context, m *Message) (Result, error) {
	r := p.pick()
	if r.limiter != nil {
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
		res, stale := c.send(m, p.opts)
		res.Relay = r.cfg.Name
		r.put(c)
		if stale && reused && !fresh {
			continue
		}
		return res, nil
	}
}

// pick chooses the relay for the next attempt: round robin.
func (p *Pool) pick() *upstream {
	return p.relays[(p.next.Add(1)-1)%uint64(len(p.relays))]
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

// upstream is one relay's connections: idle ones ready for reuse, and slots
// that cap how many exist at once.
type upstream struct {
	cfg     Relay
	pool    *Pool
	limiter *rate.Limiter
	idle    chan *conn
	slots   chan struct{}
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
			return nil, err
		}
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// put returns c to the idle set, or closes it when it is broken or has
// carried its quota of messages.
func (r *upstream) put(c *conn) {
	if c.broken {
		c.close()
		<-r.slots
		return
	}
	if r.cfg.MsgsPerConn > 0 && c.sent >= r.cfg.MsgsPerConn {
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
	tc := &trackConn{Conn: nc}
	fail := func(stage string, err error) (*conn, error) {
		nc.Close()
		if re := replyError(stage, err); re != nil {
			return nil, fmt.Errorf("%s: %w", r.cfg.Name, re)
		}
		return nil, fmt.Errorf("%s %s: %w", stage, r.cfg.Name, err)
	}
	// The whole handshake runs under one deadline: go-smtp arms its own per
	// command, which trackConn clamps to this one.
	tc.limit = time.Now().Add(o.ConnectTimeout)
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
	tc.limit = time.Time{}
	sc.CommandTimeout = o.CommandTimeout
	sc.SubmissionTimeout = o.DataTimeout
	return &conn{c: sc, nc: tc}, nil
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

// conn is one SMTP session.
type conn struct {
	c       *smtp.Client
	nc      *trackConn
	sent    int  // transactions completed on it
	wasIdle bool // waited in the idle set: the relay may have closed it
	dirty   bool // the last transaction failed: RSET before the next
	broken  bool // unusable: close instead of reuse
}

// send runs one mail transaction. stale reports a network failure at the
// first command, the sign of a connection the relay already closed.
func (c *conn) send(m *Message, o Options) (res Result, stale bool) {
	if c.dirty {
		if err := c.c.Reset(); err != nil {
			c.broken = true
			return Result{Status: Deferred, Text: "RSET: " + err.Error()}, true
		}
		c.dirty = false
	}
	mo, refused := mailOptions(c.c, m)
	if refused != nil {
		return *refused, false
	}
	if err := c.c.Mail(m.From, mo); err != nil {
		return c.fail("MAIL", err), replyError("MAIL", err) == nil
	}
	if err := c.c.Rcpt(m.To, nil); err != nil {
		return c.fail("RCPT", err), false
	}
	w, err := c.c.Data()
	if err != nil {
		return c.fail("DATA", err), false
	}
	c.nc.SetWriteDeadline(time.Now().Add(o.DataTimeout))
	if _, err := w.Write(m.Data); err != nil {
		c.broken = true
		return Result{Status: Deferred, Text: "DATA: " + err.Error()}, false
	}
	c.nc.writeErr = nil
	resp, err := w.CloseWithResponse()
	c.nc.SetWriteDeadline(time.Time{})
	if err != nil {
		if re := replyError("DATA", err); re != nil {
			c.dirty = true
			c.sent++
			return fromReply(re), false
		}
		c.broken = true
		if c.nc.writeErr != nil {
			// The final dot never left: the relay cannot have accepted it.
			return Result{Status: Deferred, Text: "DATA: " + err.Error()}, false
		}
		// RFC 5321 section 4.1.1.4: the message is the relay's once it has
		// replied 250 to the final dot. Without a reply we cannot know.
		return Result{Status: Unknown, Text: "connection lost after the message was sent, before the relay replied: " + err.Error()}, false
	}
	c.sent++
	res = Result{Status: Delivered, Code: 250, Text: oneLine(resp.StatusText)}
	if code, rest, ok := strings.Cut(res.Text, " "); ok && isEnhancedCode(code) {
		res.Enhanced, res.Text = code, rest
	}
	return res, false
}

// fail turns an error before DATA's final dot into a Result.
func (c *conn) fail(stage string, err error) Result {
	if re := replyError(stage, err); re != nil {
		c.dirty = true
		if re.Code == 421 { // RFC 5321 section 3.8: the relay is closing
			c.broken = true
		}
		return fromReply(re)
	}
	c.broken = true
	return Result{Status: Deferred, Text: stage + ": " + err.Error()}
}

func (c *conn) quit() {
	c.c.CommandTimeout = 5 * time.Second
	if err := c.c.Quit(); err != nil {
		c.c.Close()
	}
}

func (c *conn) close() { c.c.Close() }

// trackConn remembers a write error, which tells a body that never fully
// left (deferred: safe to retry) from a reply that never came (unknown).
// During the handshake it also clamps every deadline to limit.
type trackConn struct {
	net.Conn
	writeErr error
	limit    time.Time
}

func (t *trackConn) clamp(d time.Time) time.Time {
	if !t.limit.IsZero() && (d.IsZero() || d.After(t.limit)) {
		return t.limit
	}
	return d
}

func (t *trackConn) SetDeadline(d time.Time) error      { return t.Conn.SetDeadline(t.clamp(d)) }
func (t *trackConn) SetReadDeadline(d time.Time) error  { return t.Conn.SetReadDeadline(t.clamp(d)) }
func (t *trackConn) SetWriteDeadline(d time.Time) error { return t.Conn.SetWriteDeadline(t.clamp(d)) }

func (t *trackConn) Write(b []byte) (int, error) {
	n, err := t.Conn.Write(b)
	if err != nil {
		t.writeErr = err
	}
	return n, err
}
