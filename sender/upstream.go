package sender

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// upstream is one relay's connections (idle ones ready for reuse, and slots
// that cap how many exist at once) and its health (health.go: the circuit
// breaker, refusals, throttling and recovery).
type upstream struct {
	cfg   Relay
	index int
	pool  *Pool
	idle  chan *conn
	slots chan struct{}
	// handoff is where Sends waiting for a connection offer themselves to
	// a pipelining connection's next write (lane.go).
	handoff chan *job
	closed  atomic.Bool
	current int    // weighted round-robin state, under pool.mu
	quota   *quota // the daily quota; nil: none

	// limiter carries the relay's own rate (base) and, after throttling,
	// the reduced one; limited says whether it can hold anyone up.
	limiter *rate.Limiter
	base    rate.Limit
	limited atomic.Bool
	sent    atomic.Int64 // transactions finished, for the observed rate
	slow    atomic.Bool  // running below base

	mu        sync.Mutex
	down      time.Time     // out of the pool until then
	failures  int           // consecutive connection failures or 421s
	refusals  int           // consecutive refusals of the sender
	refused   *RefusedError // non-nil: out for the rest of the run, it refuses the sender
	downFor   time.Duration
	lastErr   error
	throttled time.Time // last slow-down
	raised    time.Time // last step of recovery
	lastCount int64     // sent at the last rate observation
	lastAt    time.Time
}

// newUpstream makes the index'th relay of p, with the pool's defaults for
// what rc leaves unset.
func newUpstream(p *Pool, index int, rc Relay) *upstream {
	n := rc.MaxConns
	if n <= 0 {
		n = p.opts.MaxConns
	}
	if rc.Weight <= 0 {
		rc.Weight = 1
	}
	r := &upstream{cfg: rc, index: index, pool: p, idle: make(chan *conn, n), slots: make(chan struct{}, n), handoff: make(chan *job)}
	r.base = rate.Inf
	if rc.Rate > 0 {
		r.base = rc.Rate
	}
	r.limiter = rate.NewLimiter(r.base, 1)
	r.limited.Store(rc.Rate > 0)
	return r
}

// get returns an idle connection, or dials a new one when under the cap,
// or waits for one of the two. With j, it also offers j to the next write
// of a busy pipelining connection (lane.go), which then hands itself over.
func (r *upstream) get(ctx context.Context, j *job) (*conn, error) {
	select {
	case c := <-r.idle:
		return c, nil
	default:
	}
	var offer chan *job // nil: never ready
	if j != nil {
		offer = r.handoff
	}
	select {
	case c := <-r.idle:
		return c, nil
	case offer <- j:
		// Taken: the wait is bounded by the taker's timeouts, and a
		// cancelled ctx is seen by the transaction that follows.
		if c := <-j.got; c != nil {
			return c, nil
		}
		return nil, errLost
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
	if r.handOver(c) {
		return
	}
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
