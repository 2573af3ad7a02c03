package testrelay

import (
	"testing"

	"github.com/emersion/go-smtp"
)

func TestParseReply(t *testing.T) {
	cases := []struct {
		spec, stage, match, text string
		code                     int
		enh                      smtp.EnhancedCode
		hits, misses             string
	}{
		{"MAIL:530 5.7.0 Authentication required", "MAIL", ".*", "Authentication required", 530, smtp.EnhancedCode{5, 7, 0}, "a@b", ""},
		{"data:554 5.7.1 Message rejected as spam", "DATA", ".*", "Message rejected as spam", 554, smtp.EnhancedCode{5, 7, 1}, "x@y", ""},
		{"RCPT:^bob@:552 5.2.2 Mailbox full", "RCPT", "^bob@", "Mailbox full", 552, smtp.EnhancedCode{5, 2, 2}, "bob@x", "alice@x"},
		{"RCPT:^a:b@:550", "RCPT", "^a:b@", "scripted reply", 550, smtp.NoEnhancedCode, "a:b@x", "a@x"},
		{"RCPT:554 5.7.1 <b@x>: Relay access denied", "RCPT", ".*", "<b@x>: Relay access denied", 554, smtp.EnhancedCode{5, 7, 1}, "b@x", ""},
		{"RCPT:@x\\.org$:451 Try later", "RCPT", "@x\\.org$", "Try later", 451, smtp.NoEnhancedCode, "a@x.org", "a@y.org"},
	}
	for _, c := range cases {
		r, err := ParseReply(c.spec)
		if err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		if r.Stage != c.stage || r.Match.String() != c.match || r.Code != c.code || r.Enhanced != c.enh || r.Text != c.text {
			t.Errorf("%q: got %s %q %d %v %q", c.spec, r.Stage, r.Match, r.Code, r.Enhanced, r.Text)
		}
		if c.hits != "" && !r.Match.MatchString(c.hits) || c.misses != "" && r.Match.MatchString(c.misses) {
			t.Errorf("%q: regex %q matches wrongly", c.spec, r.Match)
		}
	}
	for _, bad := range []string{"", "MAIL", "MAIL:250 ok", "HELO:550 no", "RCPT:(:550 x", "MAIL:530 4.7.0 mismatch", "MAIL:5300"} {
		if _, err := ParseReply(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
