package sender

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/mailer-dev/mailer/internal/testrelay"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var transcriptLine = regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3} c\d+ [<>*] `)

// TestTranscriptRedactsAuth runs real AUTH PLAIN and AUTH LOGIN exchanges
// over STARTTLS and implicit TLS, on several connections at once, and reads
// both transcripts, the client's (Options.Debug) and the relay's: whole
// numbered lines, the session after STARTTLS included, and neither the
// password nor any AUTH payload.
func TestTranscriptRedactsAuth(t *testing.T) {
	const user, pass = "ann", "s3cret-pw"
	b64 := base64.StdEncoding.EncodeToString
	secrets := []string{pass, b64([]byte("\x00" + user + "\x00" + pass)), b64([]byte(user)), b64([]byte(pass)), "body-secret"}
	for _, tc := range []struct {
		scheme string
		login  bool
	}{{"smtp", false}, {"smtp", true}, {"smtps", false}, {"smtps", true}} {
		mech := map[bool]string{false: "PLAIN", true: "LOGIN"}[tc.login]
		t.Run(tc.scheme+"-"+mech, func(t *testing.T) {
			srvTLS, cliTLS, err := testrelay.TestTLS()
			if err != nil {
				t.Fatal(err)
			}
			var client, server lockedBuffer
			s := startRelay(t, testrelay.Options{TLS: srvTLS, ImplicitTLS: tc.scheme == "smtps", Users: map[string]string{user: pass}, Login: tc.login, Debug: &server})
			r, err := ParseRelay(tc.scheme+"://"+user+"@"+s.Addr(), false)
			if err != nil {
				t.Fatal(err)
			}
			r.Password, r.TLSConfig, r.MaxConns = pass, cliTLS, 3
			opts := fastOpts()
			opts.Debug = &client
			p, _ := New([]Relay{r}, opts)
			var wg sync.WaitGroup
			for i := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					m := msg(fmt.Sprintf("r%d@example.com", i))
					m.Data = []byte("Subject: hi\r\n\r\nbody-secret\r\n")
					if res := p.Send(context.Background(), m); res.Status != Delivered {
						t.Errorf("%+v", res)
					}
				}()
			}
			wg.Wait()
			p.Close()
			s.Close()
			for _, side := range []struct {
				name string
				text string
			}{{"client", client.String()}, {"relay", server.String()}} {
				text := side.text
				for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
					if !transcriptLine.MatchString(l) {
						t.Errorf("%s transcript: line %q is not a whole numbered line", side.name, l)
					}
				}
				for _, want := range []string{" c1 < 220 ", " c1 > EHLO ", " > AUTH " + mech, " > MAIL FROM:<news@acme.example>", " > RCPT TO:<r", " < 250 ", " > [redacted]", " > [message: 3 lines, ", " * closed"} {
					if mech == "PLAIN" && want == " > [redacted]" {
						continue // PLAIN goes in one line, with AUTH
					}
					if !strings.Contains(text, want) {
						t.Errorf("%s transcript lacks %q:\n%s", side.name, want, text)
					}
				}
				if tc.scheme == "smtp" {
					// The session goes on after STARTTLS: a second EHLO, then AUTH.
					_, after, ok := strings.Cut(text, " c1 * TLS handshake")
					if !ok || !strings.Contains(after, " c1 > EHLO ") || !strings.Contains(after, " c1 > AUTH ") {
						t.Errorf("%s transcript: nothing after STARTTLS:\n%s", side.name, text)
					}
				}
				for _, secret := range secrets {
					if strings.Contains(text, secret) {
						t.Errorf("%s transcript holds %q:\n%s", side.name, secret, text)
					}
				}
				if !strings.Contains(text, " c2 ") {
					t.Errorf("%s transcript: one connection only, want several:\n%s", side.name, text)
				}
			}
			if t.Failed() {
				t.Logf("client transcript:\n%s", client.String())
			}
		})
	}
}
