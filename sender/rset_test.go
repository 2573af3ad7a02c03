package sender

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/mailer-dev/mailer/internal/testrelay"
)

// lockedBuilder is a transcript sink safe for the pool's goroutines.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestNoRSETAfterRefusedDot: a reply to the final dot ends the transaction
// (RFC 5321 section 4.1.1.4), refused or not, so the next message on the
// connection starts with MAIL, on both paths; a refused RCPT still needs
// its RSET.
func TestNoRSETAfterRefusedDot(t *testing.T) {
	for _, strip := range []bool{false, true} {
		name := "pipelined"
		if strip {
			name = "one command at a time"
		}
		t.Run(name, func(t *testing.T) {
			s := startRelay(t, testrelay.Options{Rules: []*testrelay.Rule{
				{Stage: "DATA", Match: regexp.MustCompile("^spam@"), Code: 554, Text: "no"},
				{Stage: "RCPT", Match: regexp.MustCompile("^gone@"), Code: 550, Text: "no such user"},
			}})
			px := startTurnProxy(t, s.Addr(), strip)
			var log lockedBuilder
			o := fastOpts()
			o.MaxConns, o.Debug = 1, &log
			p, _ := New([]Relay{px.relay(t)}, o)
			for _, to := range []string{"spam@example.com", "ok1@example.com", "gone@example.com", "ok2@example.com"} {
				p.Send(context.Background(), msg(to))
			}
			p.Close()
			if n := strings.Count(log.String(), "> RSET"); n != 1 {
				t.Errorf("%d RSETs, want 1 (after the refused RCPT only):\n%s", n, log.String())
			}
			if s.Accepted() != 2 {
				t.Errorf("relay accepted %d, want 2", s.Accepted())
			}
		})
	}
}
