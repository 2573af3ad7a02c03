package campaign

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mailer-dev/mailer/address"
	"github.com/mailer-dev/mailer/sender"
)

// envSender records each message's envelope and answers with answer.
type envSender struct {
	mu     sync.Mutex
	got    map[string]sender.Message
	answer func(m *sender.Message) sender.Result
}

func (e *envSender) Probe(context.Context) error { return nil }

func (e *envSender) Send(_ context.Context, m *sender.Message) sender.Result {
	if res, ok := begin(m); !ok {
		return res
	}
	e.mu.Lock()
	if e.got == nil {
		e.got = map[string]sender.Message{}
	}
	e.got[m.To] = sender.Message{From: m.From, To: m.To, UTF8: m.UTF8}
	e.mu.Unlock()
	if e.answer != nil {
		return e.answer(m)
	}
	return sender.Result{Status: sender.Delivered, Code: 250, Relay: "fake", Attempts: 1}
}

func TestEnvelopeAndVERP(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", "email,first_name\nann@Example.com,Ann\njosé@example.com,José\n")
	cases := []struct {
		name string
		env  Envelope
		want map[string]string // recipient -> envelope sender
	}{
		{"from", Envelope{}, map[string]string{"ann@example.com": "news@acme.example", "josé@example.com": "news@acme.example"}},
		{"return path", Envelope{ReturnPath: "bounces@acme.example"}, map[string]string{"ann@example.com": "bounces@acme.example", "josé@example.com": "bounces@acme.example"}},
		{"verp", Envelope{ReturnPath: "bounces@acme.example", VERP: true}, map[string]string{"ann@example.com": "bounces+ann=example.com@acme.example", "josé@example.com": "bounces+josé=example.com@acme.example"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.env.Check(); err != nil {
				t.Fatal(err)
			}
			results := filepath.Join(dir, c.name+".csv")
			es := &envSender{}
			if _, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results, Envelope: c.env}, es); err != nil {
				t.Fatal(err)
			}
			for rcpt, want := range c.want {
				if got := es.got[rcpt].From; got != want {
					t.Errorf("%s: MAIL FROM %q, want %q", rcpt, got, want)
				}
			}
			if !es.got["josé@example.com"].UTF8 || es.got["ann@example.com"].UTF8 {
				t.Errorf("UTF8 flags: %+v", es.got)
			}
			// The results keep the envelope sender, after line, and
			// a VERP address leads back to the recipient.
			raw, _ := os.ReadFile(results)
			if header, _, _ := strings.Cut(string(raw), "\n"); !strings.HasSuffix(header, ",line,envelope_from,fingerprint,reason") {
				t.Errorf("header %q: envelope_from must follow line, before fingerprint", header)
			}
			for _, r := range readRecords(t, results) {
				if r.EnvelopeFrom != c.want[r.Email] {
					t.Errorf("%s: envelope_from %q, want %q", r.Email, r.EnvelopeFrom, c.want[r.Email])
				}
				if c.env.VERP {
					if back, ok := address.DecodeVERP(c.env.ReturnPath, r.EnvelopeFrom); !ok || back != r.Email {
						t.Errorf("DecodeVERP(%q) = %q, %v; want %q", r.EnvelopeFrom, back, ok, r.Email)
					}
				}
			}
		})
	}
	for _, bad := range []Envelope{{VERP: true}, {ReturnPath: "not an address"}, {ReturnPath: "b+x@acme.example", VERP: true}} {
		if err := bad.Check(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// TestSMTPUTF8Refused: a relay without SMTPUTF8 makes the row invalid, with
// the reason, and a re-run does not try it again.
func TestSMTPUTF8Refused(t *testing.T) {
	if Status(sender.Invalid) != Invalid {
		t.Fatalf("sender.Invalid %q is not campaign's %q", sender.Invalid, Invalid)
	}
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", "email,first_name\nann@example.com,Ann\njosé@example.com,José\n")
	results := filepath.Join(dir, "r.csv")
	es := &envSender{answer: func(m *sender.Message) sender.Result {
		if m.UTF8 {
			return sender.Result{Status: sender.Invalid, Text: "relay does not offer SMTPUTF8", Relay: "fake", Attempts: 1}
		}
		return sender.Result{Status: sender.Delivered, Code: 250, Relay: "fake", Attempts: 1}
	}}
	sum, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results}, es)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts[Invalid] != 1 || sum.Counts[Delivered] != 1 {
		t.Errorf("counts %v", sum.Counts)
	}
	r := byEmail(readRecords(t, results))["josé@example.com"][0]
	if r.Status != Invalid || !strings.Contains(r.Message, "SMTPUTF8") {
		t.Errorf("record %+v", r)
	}
	sum, err = Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc)}, Results: results}, es)
	if err != nil || sum.Skipped != 2 {
		t.Errorf("re-run: %+v, %v", sum, err)
	}
}
