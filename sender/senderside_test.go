package sender

import "testing"

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
