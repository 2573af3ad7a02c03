package sender

import (
	"bytes"
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
	// Bounced: a permanent (5xx) rejection at MAIL, RCPT or DATA.
	Bounced Status = "bounced"
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
	// Err is an *UnavailableError when the message is deferred because every
	// relay was down: the caller should stop the run (a re-run resumes).
	Err error
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

// Temporary reports whether the reply is a 4xx, worth trying again later.
func (e *ReplyError) Temporary() bool { return e.Code/100 == 4 }

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// fromReply fills a Result from a relay's rejection.
func fromReply(re *ReplyError) Result {
	st := Deferred // 4xx, and any reply that makes no sense at this stage
	if re.Code/100 == 5 {
		st = Bounced
	}
	return Result{Status: st, Code: re.Code, Enhanced: re.Enhanced, Text: re.Stage + ": " + re.Message}
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
func splitEnhanced(text []byte) (enhanced, rest string) {
	if i := bytes.IndexByte(text, ' '); i > 0 && isEnhancedCode(string(text[:i])) {
		enhanced, text = string(text[:i]), text[i+1:]
	}
	if bytes.ContainsAny(text, "\r\n\t") || bytes.Contains(text, []byte("  ")) {
		return enhanced, oneLine(string(text))
	}
	return enhanced, string(text)
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
