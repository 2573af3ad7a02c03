package testrelay

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/emersion/go-smtp"
)

// replySpec is STAGE[:REGEX]:CODE [X.Y.Z] [TEXT]. The regular expression
// ends at the first colon followed by a code, so the text may hold colons.
var replySpec = regexp.MustCompile(`^(?i:(MAIL|RCPT|DATA))(?::(.*?))?:([45][0-9][0-9])(?:[ \t]+([45]\.[0-9]{1,3}\.[0-9]{1,3}))?(?:[ \t]+(.*))?$`)

// ParseReply parses a scripted reply, the value of `mailer sink --reply`:
//
//	STAGE[:REGEX]:CODE [X.Y.Z] [TEXT]
//
// STAGE is MAIL (the reply to MAIL FROM), RCPT or DATA (the reply after
// the final dot). REGEX, when given, is matched against the sender at MAIL
// and the recipient at RCPT and DATA; without it the reply is for every
// transaction. CODE is a 4xx or 5xx, X.Y.Z an optional RFC 3463 code.
// Examples: "MAIL:530 5.7.0 Authentication required",
// "DATA:554 5.7.1 Message rejected as spam", "RCPT:^bob@:552 5.2.2 Mailbox full".
func ParseReply(spec string) (*Rule, error) {
	m := replySpec.FindStringSubmatch(strings.TrimSpace(spec))
	if m == nil {
		return nil, fmt.Errorf("reply %q: want STAGE[:REGEX]:CODE [X.Y.Z] [TEXT], STAGE one of MAIL, RCPT, DATA and CODE a 4xx or 5xx, e.g. 'MAIL:530 5.7.0 Authentication required'", spec)
	}
	expr := m[2]
	if expr == "" {
		expr = ".*"
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("reply %q: %v", spec, err)
	}
	code, _ := strconv.Atoi(m[3])
	r := &Rule{Stage: strings.ToUpper(m[1]), Match: re, Code: code, Enhanced: smtp.NoEnhancedCode, Text: m[5]}
	if m[4] != "" {
		var c smtp.EnhancedCode
		for i, part := range strings.Split(m[4], ".") {
			c[i], _ = strconv.Atoi(part)
		}
		if c[0] != code/100 {
			return nil, fmt.Errorf("reply %q: enhanced code %s does not match reply code %d", spec, m[4], code)
		}
		r.Enhanced = c
	}
	if r.Text == "" {
		r.Text = "scripted reply"
	}
	return r, nil
}
