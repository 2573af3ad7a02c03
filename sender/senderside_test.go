package sender

import (
	"context"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/mailer-dev/mailer/internal/testrelay"
)

// TestSenderRefusalsAtRCPT: Postfix applies its sender restrictions at RCPT
// by default (smtpd_delay_reject = yes), so a refusal of the sender comes
// in reply to RCPT, with 5.1.7 or 5.1.8 (RFC 3463: bad sender's mailbox
// syntax or system address) and "Sender address rejected". It is the
// sender's to fix, not the recipient's bounce.
func TestSenderRefusalsAtRCPT(t *testing.T) {
	for _, re := range []*ReplyError{
		{Stage: "RCPT", Code: 550, Enhanced: "5.1.8", Message: "<news@acme.example>: Sender address rejected: Domain not found"},
		{Stage: "RCPT", Code: 553, Enhanced: "5.1.7", Message: "<news@acme>: Sender address rejected: bad syntax"},
		{Stage: "RCPT", Code: 504, Enhanced: "5.5.2", Message: "<news>: Sender address rejected: need fully-qualified address"},
		{Stage: "DATA", Code: 550, Enhanced: "5.1.8", Message: "Access denied, bad outbound sender"},
	} {
		if got := fromReply(re).Status; got != Blocked {
			t.Errorf("%v: %s, want blocked", re, got)
		}
	}
}

// TestBlockedWaitsForOtherRelay: a relay that refuses the sender is out,
// and the only other one is down for a moment (connection refused): the
// message waits for that one to come back, as a deferred message would,
// instead of stopping the whole run as if every relay refused it.
func TestBlockedWaitsForOtherRelay(t *testing.T) {
	bad := startRelay(t, testrelay.Options{Rules: []*testrelay.Rule{rule("MAIL", ".", 530, smtp.EnhancedCode{5, 7, 0}, "Authentication required")}})
	later := deadRelay(t)
	opts := fastOpts()
	opts.DownFor, opts.UnavailableWait = 100*time.Millisecond, 10*time.Second
	p, _ := New([]Relay{plainRelay(bad), later}, opts)
	defer p.Close()
	if err := p.Probe(context.Background()); err != nil { // later is refused: out for DownFor
		t.Fatal(err)
	}
	good, err := testrelay.Listen(later.Addr, testrelay.Options{})
	if err != nil {
		t.Skipf("cannot listen again on %s: %v", later.Addr, err)
	}
	t.Cleanup(func() { good.Close() })
	res := p.Send(context.Background(), msg("r@example.com"))
	if res.Status != Delivered || res.Err != nil {
		t.Errorf("got %+v, want delivered once the other relay is back", res)
	}
}
