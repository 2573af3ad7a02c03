package sender

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/mailer-dev/mailer/internal/testrelay"
)

func TestRefusesSender(t *testing.T) {
	cases := []struct {
		stage    string
		code     int
		enhanced string
		text     string
		want     Status
		auth     bool
	}{
		{"MAIL", 530, "5.7.0", "Authentication required", Blocked, true},
		{"MAIL", 530, "5.7.0", "Must issue a STARTTLS command first", Blocked, true},
		{"MAIL", 553, "5.1.8", "Sender address rejected: Domain not found", Blocked, false},
		{"MAIL", 550, "", "Sender refused", Blocked, false},
		{"RCPT", 554, "5.7.1", "<bob@x.org>: Relay access denied", Blocked, false},
		{"RCPT", 554, "", "<bob@x.org>: Relay access denied", Blocked, false},
		{"RCPT", 550, "5.7.26", "Unauthenticated email is not accepted (DMARC)", Blocked, false},
		{"DATA", 554, "5.7.1", "Message rejected as spam", Blocked, false},
		{"DATA", 550, "5.7.26", "This mail has been blocked because the sender is unauthenticated", Blocked, false},
		{"RCPT", 535, "5.7.8", "Authentication credentials invalid", Blocked, true},
		{"AUTH", 535, "5.7.8", "Authentication credentials invalid", Blocked, true},
		{"DATA", 538, "5.7.11", "Encryption required", Blocked, true},
		{"RCPT", 550, "5.1.1", "User unknown", Bounced, false},
		{"RCPT", 552, "5.2.2", "Mailbox full", Deferred, false}, // RFC 5321 4.5.3.1.10: as 452
		{"DATA", 552, "5.3.4", "Message too big", Bounced, false},
		{"RCPT", 451, "4.7.1", "Try later", Deferred, false},
	}
	for _, c := range cases {
		re := &ReplyError{Stage: c.stage, Code: c.code, Enhanced: c.enhanced, Message: c.text}
		if got := fromReply(re).Status; got != c.want {
			t.Errorf("%s %d %s %q: %s, want %s", c.stage, c.code, c.enhanced, c.text, got, c.want)
		}
		if c.want == Blocked {
			if got := (&RefusedError{Reply: re}).Auth(); got != c.auth {
				t.Errorf("%s %d %s %q: Auth() = %v, want %v", c.stage, c.code, c.enhanced, c.text, got, c.auth)
			}
		}
	}
}

// refusedBy checks that res.Err says every relay is out because it refuses
// the sender, and returns the refusal.
func refusedBy(t *testing.T, res Result) *RefusedError {
	t.Helper()
	var ue *UnavailableError
	var rf *RefusedError
	if !errors.As(res.Err, &ue) || !errors.As(res.Err, &rf) {
		t.Fatalf("Err = %v, want an *UnavailableError from a *RefusedError (%+v)", res.Err, res)
	}
	return rf
}

// TestBlockedAtOnce: authentication refusals take the relay out at the
// first one; the next message is not tried, so a list is never blocked
// message by message.
func TestBlockedAtOnce(t *testing.T) {
	for _, c := range []struct {
		name string
		rule *testrelay.Rule
	}{
		{"530 at MAIL", rule("MAIL", ".", 530, smtp.EnhancedCode{5, 7, 0}, "Authentication required")},
		{"535 at RCPT", rule("RCPT", ".", 535, smtp.EnhancedCode{5, 7, 8}, "Authentication credentials invalid")},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := startRelay(t, testrelay.Options{Rules: []*testrelay.Rule{c.rule}})
			p, _ := New([]Relay{plainRelay(s)}, fastOpts())
			defer p.Close()
			res := p.Send(context.Background(), msg("ann@example.com"))
			if res.Status != Blocked || res.Code != c.rule.Code || res.Attempts != 1 {
				t.Fatalf("got %+v, want blocked %d after 1 attempt", res, c.rule.Code)
			}
			if rf := refusedBy(t, res); !rf.Auth() || !strings.Contains(rf.Error(), fmt.Sprintf("relay refuses the sender: %d", c.rule.Code)) {
				t.Errorf("refusal %q, Auth() %v", rf, rf.Auth())
			}
			next := p.Send(context.Background(), msg("bob@example.com"))
			if next.Status != Deferred || next.Attempts != 0 {
				t.Errorf("after the relay refused: got %+v, want deferred, not tried", next)
			}
			refusedBy(t, next)
			if s.Refused() != 1 {
				t.Errorf("relay refused %d times, want 1", s.Refused())
			}
		})
	}
}

// TestBlockedAfterDot: a policy block (554 5.7.1 after the dot, 550 5.7.26,
// relay access denied at RCPT) is blocked, and three in a row take the
// relay out.
func TestBlockedAfterThree(t *testing.T) {
	for _, c := range []struct {
		name string
		rule *testrelay.Rule
	}{
		{"554 5.7.1 after the dot", rule("DATA", ".", 554, smtp.EnhancedCode{5, 7, 1}, "Message rejected as spam")},
		{"550 5.7.26", rule("DATA", ".", 550, smtp.EnhancedCode{5, 7, 26}, "Unauthenticated email is not accepted")},
		{"relay access denied at RCPT", rule("RCPT", ".", 554, smtp.EnhancedCode{5, 7, 1}, "<x@example.com>: Relay access denied")},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := startRelay(t, testrelay.Options{Rules: []*testrelay.Rule{c.rule}})
			p, _ := New([]Relay{plainRelay(s)}, fastOpts())
			defer p.Close()
			for i := 1; i <= refuseAfter; i++ {
				res := p.Send(context.Background(), msg(fmt.Sprintf("r%d@example.com", i)))
				if res.Status != Blocked || res.Code != c.rule.Code || res.Attempts != 1 {
					t.Fatalf("message %d: got %+v, want blocked after 1 attempt", i, res)
				}
				if i < refuseAfter && res.Err != nil {
					t.Fatalf("message %d: relay out too soon: %v", i, res.Err)
				}
				if i == refuseAfter {
					if rf := refusedBy(t, res); rf.Auth() {
						t.Errorf("a policy block counted as an authentication problem: %v", rf)
					}
				}
			}
			if next := p.Send(context.Background(), msg("last@example.com")); next.Status != Deferred || next.Attempts != 0 {
				t.Errorf("after %d refusals: got %+v, want deferred, not tried", refuseAfter, next)
			}
			if s.Refused() != refuseAfter {
				t.Errorf("relay refused %d times, want %d", s.Refused(), refuseAfter)
			}
		})
	}
}

// TestBlockedNotInARow: refusals of some messages among deliveries do not
// take the relay out: only refusals in a row count.
func TestBlockedNotInARow(t *testing.T) {
	s := startRelay(t, testrelay.Options{Rules: []*testrelay.Rule{rule("DATA", "^spam", 554, smtp.EnhancedCode{5, 7, 1}, "Looks like spam")}})
	p, _ := New([]Relay{plainRelay(s)}, fastOpts())
	defer p.Close()
	for i := 0; i < 3*refuseAfter; i++ {
		to, want := fmt.Sprintf("ok%d@example.com", i), Delivered
		if i%2 == 0 {
			to, want = fmt.Sprintf("spam%d@example.com", i), Blocked
		}
		if res := p.Send(context.Background(), msg(to)); res.Status != want || res.Err != nil {
			t.Fatalf("%s: got %+v, want %s", to, res, want)
		}
	}
}

// Test552AtRcptIsTemporary: RFC 5321 section 4.5.3.1.10 has a 552 to RCPT
// treated as 452: deferred and retried, not bounced.
func Test552AtRcptIsTemporary(t *testing.T) {
	s := startRelay(t, testrelay.Options{Rules: []*testrelay.Rule{
		{Stage: "RCPT", Match: regexp.MustCompile("^full@"), Code: 552, Enhanced: smtp.EnhancedCode{5, 2, 2}, Text: "Mailbox full"},
		{Stage: "RCPT", Match: regexp.MustCompile("^once@"), Code: 552, Enhanced: smtp.EnhancedCode{5, 2, 2}, Text: "Mailbox full", Times: 1},
	}})
	p, _ := New([]Relay{plainRelay(s)}, fastOpts())
	defer p.Close()
	if res := p.Send(context.Background(), msg("full@example.com")); res.Status != Deferred || res.Code != 552 || res.Attempts != 3 {
		t.Errorf("full: got %+v, want deferred 552 after 3 attempts", res)
	}
	if res := p.Send(context.Background(), msg("once@example.com")); res.Status != Delivered || res.Attempts != 2 {
		t.Errorf("once: got %+v, want delivered on the second attempt", res)
	}
}

// TestWrongPasswordRefused: 535 at AUTH in Probe is a refusal of the
// sender's configuration, not an unreachable relay.
func TestWrongPasswordRefused(t *testing.T) {
	srvTLS, cliTLS, err := testrelay.TestTLS()
	if err != nil {
		t.Fatal(err)
	}
	s := startRelay(t, testrelay.Options{TLS: srvTLS, Users: map[string]string{"ann": "s3cret"}})
	r, _ := ParseRelay("smtp://ann@"+s.Addr(), false)
	r.TLSConfig, r.Password = cliTLS, "wrong"
	p, _ := New([]Relay{r}, fastOpts())
	defer p.Close()
	err = p.Probe(context.Background())
	var rf *RefusedError
	if !errors.As(err, &rf) || !rf.Auth() || rf.Reply.Code != 535 || rf.Reply.Stage != "AUTH" {
		t.Fatalf("Probe: got %v, want a 535 refusal at AUTH", err)
	}
	if res := p.Send(context.Background(), msg("ann@example.com")); res.Status != Deferred || res.Attempts != 0 {
		t.Errorf("after a wrong password: got %+v, want deferred, not tried", res)
	}
	if p.Dials() != 1 {
		t.Errorf("%d dials, want 1: a relay that refused the password is not dialled again", p.Dials())
	}
}

// TestBlockedGoesToOtherRelay: with two relays of which one refuses the
// sender, every message ends delivered through the other, none bounced or
// blocked, and the refusing relay is tried only until its breaker opens.
func TestBlockedGoesToOtherRelay(t *testing.T) {
	for _, c := range []struct {
		name string
		rule *testrelay.Rule
		max  int64 // refusals the bad relay may give: its breaker, plus the messages in flight
	}{
		{"530 at MAIL", rule("MAIL", ".", 530, smtp.EnhancedCode{5, 7, 0}, "Authentication required"), 4},
		{"554 5.7.1 after the dot", rule("DATA", ".", 554, smtp.EnhancedCode{5, 7, 1}, "Message rejected as spam"), refuseAfter + 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := startRelay(t, testrelay.Options{Rules: []*testrelay.Rule{c.rule}})
			good := startRelay(t, testrelay.Options{})
			p, _ := New([]Relay{plainRelay(bad), plainRelay(good)}, fastOpts())
			defer p.Close()
			if err := p.Probe(context.Background()); err != nil {
				t.Fatal(err)
			}
			const n = 40
			var wg sync.WaitGroup
			results := make([]Result, n)
			sem := make(chan struct{}, 4)
			for i := range n {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					results[i] = p.Send(context.Background(), msg(fmt.Sprintf("r%d@example.com", i)))
				}()
			}
			wg.Wait()
			for i, res := range results {
				if res.Status != Delivered || res.Relay != plainRelay(good).Name || res.Err != nil {
					t.Errorf("r%d: got %+v, want delivered through the good relay", i, res)
				}
			}
			if good.Accepted() != n {
				t.Errorf("good relay accepted %d, want %d", good.Accepted(), n)
			}
			if got := bad.Refused(); got < 1 || got > c.max {
				t.Errorf("bad relay refused %d times, want 1 to %d", got, c.max)
			}
		})
	}
}
