package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mailer-dev/mailer/internal/testrelay"
	"github.com/mailer-dev/mailer/sender"
)

// A wrong password (535 at AUTH, seen by the probe) is bad configuration:
// exit 78 with a hint to check the password, not 69 "relays unavailable".
func TestWrongPasswordExits78(t *testing.T) {
	srvTLS, cliTLS, err := testrelay.TestTLS()
	if err != nil {
		t.Fatal(err)
	}
	s, err := testrelay.Listen("127.0.0.1:0", testrelay.Options{TLS: srvTLS, Users: map[string]string{"ann": "s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r, err := sender.ParseRelay("smtp://ann@"+s.Addr(), false)
	if err != nil {
		t.Fatal(err)
	}
	r.Password, r.TLSConfig = "wrong", cliTLS
	p, err := sender.New([]sender.Relay{r}, sender.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	err = p.Probe(context.Background())
	if err == nil {
		t.Fatal("probe with a wrong password succeeded")
	}
	if code := exitCode(err); code != exitConfig {
		t.Errorf("exit code %d, want %d (%v)", code, exitConfig, err)
	}
	if h := hintFor(err); !strings.Contains(h, "check the password") {
		t.Errorf("hint %q", h)
	}
}

func TestRefusalExitCodes(t *testing.T) {
	cases := []struct {
		stage, enhanced, text string
		code, exit            int
		hint                  string
	}{
		{"MAIL", "5.7.0", "Authentication required", 530, exitConfig, "add user@ to the relay URL"},
		{"MAIL", "5.7.0", "Must issue a STARTTLS command first", 530, exitConfig, "use smtp:// (STARTTLS) or smtps://"},
		{"AUTH", "5.7.8", "Authentication credentials invalid", 535, exitConfig, "check the password"},
		{"MAIL", "5.7.11", "Encryption required for requested authentication mechanism", 538, exitConfig, "requires encryption"},
		{"DATA", "5.7.1", "Message rejected as spam", 554, exitUnavailable, "refuses the sender or the content"},
		{"RCPT", "5.7.1", "<a@b>: Relay access denied", 554, exitUnavailable, "relay access"},
	}
	for _, c := range cases {
		rf := &sender.RefusedError{Relay: "smtp+plain://127.0.0.1:25", Reply: &sender.ReplyError{Stage: c.stage, Code: c.code, Enhanced: c.enhanced, Message: c.text}}
		err := error(&sender.UnavailableError{Err: errors.Join(rf)})
		if got := exitCode(err); got != c.exit {
			t.Errorf("%d %s: exit %d, want %d", c.code, c.text, got, c.exit)
		}
		if h := hintFor(err); !strings.Contains(h, c.hint) || !strings.Contains(h, "re-run") {
			t.Errorf("%d %s: hint %q, want it to say %q", c.code, c.text, h, c.hint)
		}
	}
}
