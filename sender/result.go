package sender

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// Status is the outcome of sending one message.
type Status string

const (
	// Delivered: the relay answered 2xx after the final dot.
	Delivered Status = "delivered"
	// Bounced: a permanent (5xx) rejection of the recipient at RCPT or
	// after DATA.
	Bounced Status = "bounced"
	// Blocked: the relay refused the sender, the session or the content
	// (see ReplyError.RefusesSender), which says nothing about the
	// recipient. Never final: another relay, or a later run once the
	// sender's problem is fixed, may deliver it.
	Blocked Status = "blocked"
	// Deferred: a temporary (4xx) rejection or a network failure before the
	// relay had the whole message, with retries exhausted. Safe to send again.
	Deferred Status = "deferred"
	// Unknown: the connection was lost after the final dot and before the
	// reply, so the relay may have accepted the message. Never retried here.
	Unknown Status = "unknown"
	// Invalid: the message cannot travel through the relay as it is: it
	// needs SMTPUTF8 and the relay does not offer it. Permanent; nothing was
	// sent. It has the same name as the campaign's invalid status.
	Invalid Status = "invalid"
	// Canceled: the context ended before the message was tried; nothing
	// happened and the caller should not record it.
	Canceled Status = "canceled"
)

// Result says what happened to one message.
type Result struct {
	Status Status
	// Code and Enhanced are the relay's last reply (0 and "" for network errors).
	Code     int
	Enhanced string
	// Text is the relay's reply text or the network error.
	Text string
	// Relay names the relay of the last attempt.
	Relay    string
	Attempts int
	// Time is when the last attempt began, after every wait: with a rate
	// limit, no one-second window holds more of these than rate + burst.
	Time time.Time
	// Err is an *UnavailableError when the message is deferred or blocked
	// and every relay is down or refuses the sender: the caller should stop
	// the run (a re-run resumes).
	Err error

	stage string // of a refusal: "MAIL", "RCPT", "DATA"
}

// ReplyError is an SMTP reply that was not a success.
type ReplyError struct {
	Stage    string // "MAIL", "RCPT", "DATA", "AUTH", ...
	Code     int
	Enhanced string // "5.1.1", or "" when the relay sent none
	Message  string
}

func (e *ReplyError) Error() string {
	s := fmt.Sprintf("%s: %d", e.Stage, e.Code)
	if e.Enhanced != "" {
		s += " " + e.Enhanced
	}
	return s + " " + e.Message
}

// Temporary reports whether the reply is worth trying again later: a 4xx,
// or a 552 to RCPT, which RFC 5321 section 4.5.3.1.10 says to treat as 452
// (too many recipients, or a mailbox over quota that may yet be emptied).
func (e *ReplyError) Temporary() bool {
	return e.Code/100 == 4 || e.Code == 552 && e.Stage == "RCPT"
}

// RefusesSender reports a permanent reply that refuses the sender, the
// session or the content rather than the recipient: any 5xx to MAIL FROM
// (or AUTH), a 5.7.x code (RFC 3463 "security or policy status": relay
// access denied, DMARC, spam and reputation blocks), 530 (authentication
// required, RFC 4954 section 6), 535 (credentials invalid) and 538
// (encryption required for the mechanism). A relay that says this to one
// message will say it to the next: it is the sender's to fix.
func (e *ReplyError) RefusesSender() bool {
	if e.Code/100 != 5 || e.Temporary() {
		return false
	}
	switch {
	case e.Code == 530, e.Code == 535, e.Code == 538:
		return true
	case e.Stage == "MAIL", e.Stage == "AUTH":
		return true
	case strings.HasPrefix(e.Enhanced, "5.7."):
		return true
	case e.Enhanced == "5.1.7", e.Enhanced == "5.1.8":
		// RFC 3463: bad sender's mailbox address syntax, bad sender's
		// system address; Postfix gives them at RCPT (smtpd_delay_reject).
		return true
	}
	// Relays without enhanced codes (RFC 2034) still say so in words;
	// Postfix's sender restrictions, applied at RCPT, all say "Sender
	// address rejected".
	t := strings.ToLower(e.Message)
	return strings.Contains(t, "relay access denied") || strings.Contains(t, "relaying denied") || strings.Contains(t, "authentication required") ||
		strings.Contains(t, "sender address rejected")
}

// authProblem reports a refusal that is about the session's credentials or
// security settings: it will not change until the configuration does, so
// the relay is taken out after the first one.
func (e *ReplyError) authProblem() bool {
	switch e.Code {
	case 530, 535, 538:
		return true
	}
	switch e.Enhanced {
	case "5.7.0", "5.7.8", "5.7.9", "5.7.11", "5.7.57":
		// 5.7.0 is used for "authentication required" and "must issue
		// STARTTLS first"; the others are RFC 4954's and Microsoft's codes
		// for credentials and encryption.
		return e.Stage == "MAIL" || e.Stage == "AUTH" || strings.Contains(strings.ToLower(e.Message), "auth")
	}
	return e.Stage == "AUTH"
}

// RefusedError is a relay that refuses the sender, the session or the
// content (ReplyError.RefusesSender): it is taken out of the pool, at once
// for authentication problems, after a few in a row otherwise, for the
// rest of the run.
type RefusedError struct {
	Relay string
	Reply *ReplyError
}

func (e *RefusedError) Error() string {
	r := e.Reply
	s := fmt.Sprintf("relay refuses the sender: %d", r.Code)
	if r.Enhanced != "" {
		s += " " + r.Enhanced
	}
	return fmt.Sprintf("%s %s (%s, at %s)", s, r.Message, e.Relay, r.Stage)
}

func (e *RefusedError) Unwrap() error { return e.Reply }

// Auth reports a refusal of the session's authentication or security
// (530, 535, 538 and their enhanced codes): the relay settings must change;
// waiting or resending will not help.
func (e *RefusedError) Auth() bool { return e.Reply.authProblem() }

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// fromReply fills a Result from a relay's rejection.
func fromReply(re *ReplyError) Result {
	st := Deferred // 4xx, and any reply that makes no sense at this stage
	switch {
	case re.Temporary():
	case re.RefusesSender():
		st = Blocked
	case re.Code/100 == 5:
		st = Bounced
	}
	return Result{Status: st, Code: re.Code, Enhanced: re.Enhanced, Text: re.Stage + ": " + re.Message, stage: re.Stage}
}

// isEnhancedCode reports whether s looks like an RFC 3463 status code, "2.0.0".
func isEnhancedCode(s string) bool {
	if len(s) < 5 || s[0] < '2' || s[0] > '5' || s[1] != '.' {
		return false
	}
	n := 0 // digits in the current part
	dots := 1
	for i := 2; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			if n++; n > 3 {
				return false
			}
		case c == '.' && n > 0 && dots == 1:
			dots, n = 2, 0
		default:
			return false
		}
	}
	return dots == 2 && n > 0
}

// splitEnhanced splits a success reply's text into its enhanced code (when
// it starts with one) and the rest, on one line.
func splitEnhanced(text string) (enhanced, rest string) {
	if code, r, ok := strings.Cut(text, " "); ok && isEnhancedCode(code) {
		enhanced, text = code, r
	}
	if strings.ContainsAny(text, "\r\n\t") || strings.Contains(text, "  ") {
		return enhanced, oneLine(text)
	}
	return enhanced, text
}

// replyError converts go-smtp's error into ours, or returns nil when err is
// not an SMTP reply (a network failure).
func replyError(stage string, err error) *ReplyError {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return nil
	}
	re := &ReplyError{Stage: stage, Code: se.Code, Message: oneLine(se.Message)}
	if ec := se.EnhancedCode; ec != smtp.EnhancedCodeNotSet && ec != smtp.NoEnhancedCode && ec[0] > 0 {
		re.Enhanced = fmt.Sprintf("%d.%d.%d", ec[0], ec[1], ec[2])
	}
	return re
}

// UnavailableError means no relay could be used.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return "no relay available: " + e.Err.Error() }

func (e *UnavailableError) Unwrap() error { return e.Err }
