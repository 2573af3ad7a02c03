package sender

import "github.com/emersion/go-smtp"

// utf8Text is the text of the outcome of a message that needs SMTPUTF8 at a
// relay that does not offer it.
const utf8Text = "relay does not offer SMTPUTF8, which the non-ASCII address needs (RFC 6531); not sent"

// needsUTF8 reports whether m can only travel with SMTPUTF8: an envelope
// address with a non-ASCII local part (domains go as A-labels), or a header
// with raw UTF-8 addresses (RFC 6532).
func needsUTF8(m *Message) bool {
	return m.UTF8 || !isASCII(m.From) || !isASCII(m.To)
}

// mailOptions are the MAIL FROM parameters for m on c. A message that needs
// SMTPUTF8 on a relay without it has no ASCII form to fall back to (RFC
// 6530 section 7 leaves downgrading to the receiver); it is refused here,
// before MAIL, as Invalid: permanent for this recipient, never retried.
func mailOptions(c *smtp.Client, m *Message) (*smtp.MailOptions, *Result) {
	if !needsUTF8(m) {
		return nil, nil
	}
	if ok, _ := c.Extension("SMTPUTF8"); !ok {
		return nil, &Result{Status: Invalid, Text: utf8Text}
	}
	return &smtp.MailOptions{UTF8: true}, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
