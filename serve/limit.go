package serve

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter is a token bucket per client IP, in a map bounded to max
// clients. When it is full, the clients whose bucket has filled up again
// (idle for burst/rate) go first, since a new bucket is the same as theirs;
// if that is not enough, arbitrary ones go, each of which then gets at most
// one extra burst.
type limiter struct {
	mu      sync.Mutex
	r       rate.Limit
	burst   int
	max     int
	clients map[string]*client
}

type client struct {
	l    *rate.Limiter
	seen time.Time
}

func newLimiter(r rate.Limit, burst, max int) *limiter {
	return &limiter{r: r, burst: burst, max: max, clients: map[string]*client{}}
}

func (l *limiter) allow(ip string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clients[ip]
	if c == nil {
		if len(l.clients) >= l.max {
			l.sweep(now)
		}
		c = &client{l: rate.NewLimiter(l.r, l.burst)}
		l.clients[ip] = c
	}
	c.seen = now
	return c.l.AllowN(now, 1)
}

// has reports whether ip's bucket holds a token now, taking none.
func (l *limiter) has(ip string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clients[ip]
	return c == nil || c.l.TokensAt(now) >= 1
}

// sweep makes room for a quarter of max.
func (l *limiter) sweep(now time.Time) {
	full := time.Duration(float64(l.burst) / float64(l.r) * float64(time.Second))
	for ip, c := range l.clients {
		if now.Sub(c.seen) >= full {
			delete(l.clients, ip)
		}
	}
	for ip := range l.clients {
		if len(l.clients) <= l.max*3/4 {
			break
		}
		delete(l.clients, ip)
	}
}

func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}
