package feedback

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseKeyStable(t *testing.T) {
	raw := []byte("From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nbody\r\n")
	r1, err := Parse(bytes.NewReader(raw), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := Parse(bytes.NewReader(raw), Options{})
	r3, _ := Parse(bytes.NewReader(append(raw, 'x')), Options{})
	if r1.Key != r2.Key || r1.Key == r3.Key || !strings.HasPrefix(r1.Key, "sha256:") {
		t.Errorf("keys %q %q %q: want equal for the same bytes, different otherwise", r1.Key, r2.Key, r3.Key)
	}
}

func TestParseMboxFromLine(t *testing.T) {
	raw, err := os.ReadFile("testdata/postfix/hard-5.1.1.eml")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Parse(bytes.NewReader(append([]byte("From MAILER-DAEMON Tue Dec  1 19:21:47 2026\n"), raw...)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Kind != KindDSN || len(rep.Recipients) != 1 {
		t.Fatalf("kind %q, %d recipients (%s)", rep.Kind, len(rep.Recipients), rep.Why)
	}
}

func TestParseTooLarge(t *testing.T) {
	_, err := Parse(strings.NewReader(strings.Repeat("x", 101)), Options{MaxSize: 100})
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Limit != 100 {
		t.Fatalf("err = %v, want *TooLargeError{100}", err)
	}
}

func TestParseNotMail(t *testing.T) {
	for _, in := range []string{"", "\x00\x01garbage", " leading space\r\n\r\n", "no colon here\r\n\r\n"} {
		rep, err := Parse(strings.NewReader(in), Options{UnsubscribeMailto: testMailto})
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if rep.Kind.Recognised() || len(rep.Recipients) != 0 || rep.Key == "" {
			t.Errorf("%q: %+v, want not recognised with a key", in, rep)
		}
	}
}

func TestUnsubscribeMailtoForms(t *testing.T) {
	raw, _ := os.ReadFile("testdata/unsubscribe-no-subject.eml")
	// A bare address (no subject asked for): any message to it unsubscribes.
	rep, err := Parse(bytes.NewReader(raw), Options{UnsubscribeMailto: "unsubscribe@ACME.example"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Kind != KindUnsubscribe || rep.Recipients[0].Address != "sam@example.com" {
		t.Errorf("bare mailto: %+v", rep)
	}
	// "Re: Unsubscribe" holds the subject.
	raw2 := bytes.Replace(raw, []byte("question about your newsletter"), []byte("Re: Unsubscribe"), 1)
	rep, _ = Parse(bytes.NewReader(raw2), Options{UnsubscribeMailto: testMailto})
	if rep.Kind != KindUnsubscribe {
		t.Errorf("Re: Unsubscribe: kind %q (%s)", rep.Kind, rep.Why)
	}
	// Without the option nothing is an unsubscribe.
	rep, _ = Parse(bytes.NewReader(raw2), Options{})
	if rep.Kind != KindNotRecognised {
		t.Errorf("no mailto option: kind %q", rep.Kind)
	}
	// An auto-reply to the unsubscribe address is not an unsubscribe.
	raw3 := bytes.Replace(raw2, []byte("Subject:"), []byte("Auto-Submitted: auto-replied\r\nSubject:"), 1)
	rep, _ = Parse(bytes.NewReader(raw3), Options{UnsubscribeMailto: testMailto})
	if rep.Kind != KindAutoReply {
		t.Errorf("auto-reply to the mailto: kind %q", rep.Kind)
	}
	if _, err := Parse(bytes.NewReader(raw), Options{UnsubscribeMailto: "mailto:not an address"}); err == nil {
		t.Error("bad mailto option: no error")
	}
}

// TestPostfixFresh runs gen.sh (a private Postfix on 127.0.0.1) and parses
// the DSNs it produces now, so the corpus does not drift from what Postfix
// writes. CI must install postfix and run as root for it to run.
func TestPostfixFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not starting Postfix")
	}
	if _, err := exec.LookPath("postfix"); err != nil {
		t.Skip("postfix is not installed (apt-get install postfix): not generating fresh DSNs")
	}
	if os.Geteuid() != 0 {
		t.Skip("not root: gen.sh needs root to start Postfix")
	}
	out := t.TempDir()
	cmd := exec.Command("bash", "testdata/postfix/gen.sh", out)
	cmd.Env = append(os.Environ(), "POSTFIX_SINK_PORT=10125")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen.sh: %v\n%s", err, b)
	}
	for _, tc := range corpus {
		if !strings.HasPrefix(tc.file, "postfix/") {
			continue
		}
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join(out, strings.TrimPrefix(tc.file, "postfix/")))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rep, err := Parse(f, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkReport(t, rep, tc.kind, tc.format, tc.key, tc.envelope, tc.origID, tc.rcpts)
		})
	}
}

// A DSN whose Status field gives only the class (5.0.0, as MTAs write when
// they do not map the reply) while its Diagnostic-Code holds the receiver's
// enhanced code is classified by the latter: a 5.7.1 spam refusal is a
// policy block, never a hard bounce that suppresses the recipient.
func TestDSNGenericStatusUsesDiagnostic(t *testing.T) {
	dsn := func(status, diag string) string {
		return "From: MAILER-DAEMON@relay.example\r\nTo: bounces@acme.example\r\nMessage-ID: <d1@relay.example>\r\n" +
			"Subject: Undelivered Mail\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n" +
			"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.example\r\n\r\n" +
			"Final-Recipient: rfc822; ann@example.org\r\nAction: failed\r\nStatus: " + status + "\r\n" +
			"Diagnostic-Code: smtp; " + diag + "\r\n--b--\r\n"
	}
	for _, c := range []struct {
		status, diag, want string
		class              Class
	}{
		{"5.0.0", "550 5.7.1 Message rejected as spam", "5.7.1", Policy},
		{"5.0.0", "550-5.7.26 Unauthenticated email is not accepted", "5.7.26", Policy},
		{"5.0.0", "550 5.1.1 No such user", "5.1.1", Hard},
		{"5.0.0", "550 no such user", "5.0.0", Hard},
		{"5.1.1", "550 5.7.1 odd", "5.1.1", Hard},          // a specific Status is the MTA's word
		{"4.0.0", "451 4.7.1 greylisted", "4.7.1", Policy}, // 4.7.x is the sender's (see Classify)
	} {
		rep, err := Parse(strings.NewReader(dsn(c.status, c.diag)), Options{})
		if err != nil || len(rep.Recipients) != 1 {
			t.Fatalf("%s %q: %v %+v", c.status, c.diag, err, rep)
		}
		r := rep.Recipients[0]
		if r.Status != c.want || r.Class != c.class {
			t.Errorf("Status %s, %q: got %s %s, want %s %s", c.status, c.diag, r.Status, r.Class, c.want, c.class)
		}
	}
}
