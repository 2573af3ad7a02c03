package sender

import (
	"context"
	"strings"
	"testing"

	"github.com/mailer-dev/mailer/internal/testrelay"
)

func TestVERPRoundTrip(t *testing.T) {
	cases := []struct{ rp, rcpt, want string }{
		{"bounces@acme.example", "user@example.com", "bounces+user=example.com@acme.example"},
		{"bounces@acme.example", "Ann.Lee@Example.COM", "bounces+Ann.Lee=example.com@acme.example"},
		{"bounces@acme.example", "a+tag@example.com", "bounces+a+tag=example.com@acme.example"},
		{"bounces@acme.example", "x=y@example.com", "bounces+x=y=example.com@acme.example"},
		{"bounces@acme.example", "josé@xn--bcher-kva.example", "bounces+josé=xn--bcher-kva.example@acme.example"},
		{"b@mail.acme.example", "o'neil@sub.example.co.uk", "b+o'neil=sub.example.co.uk@mail.acme.example"},
	}
	for _, c := range cases {
		got, err := VERP(c.rp, c.rcpt)
		if err != nil || got != c.want {
			t.Errorf("VERP(%q, %q) = %q, %v; want %q", c.rp, c.rcpt, got, err, c.want)
			continue
		}
		back, ok := DecodeVERP(c.rp, got)
		if !ok || !strings.EqualFold(back, c.rcpt) || back[:strings.LastIndexByte(back, '@')] != c.rcpt[:strings.LastIndexByte(c.rcpt, '@')] {
			t.Errorf("DecodeVERP(%q) = %q, %v; want %q", got, back, ok, c.rcpt)
		}
		// A receiver that upper-cases what it bounces to still decodes.
		if back, ok := DecodeVERP(c.rp, strings.ToUpper(got[:1])+got[1:]); !ok || !strings.EqualFold(back, c.rcpt) {
			t.Errorf("DecodeVERP of a re-cased address: %q, %v", back, ok)
		}
	}
	for _, a := range []string{"bounces@acme.example", "other+u=example.com@acme.example", "bounces+u=example.com@elsewhere.example",
		"bounces+nodomain@acme.example", "bounces+u=@acme.example", "bounces+=example.com@acme.example", "nonsense"} {
		if r, ok := DecodeVERP("bounces@acme.example", a); ok {
			t.Errorf("DecodeVERP(%q) = %q, want not ok", a, r)
		}
	}
	for _, rp := range []string{"", "bounces", "b+x@acme.example"} {
		if _, err := VERP(rp, "u@example.com"); err == nil {
			t.Errorf("VERP with return path %q: no error", rp)
		}
	}
}

func FuzzVERP(f *testing.F) {
	f.Add("bounces@acme.example", "user@example.com")
	f.Add("b@x.example", "a=b+c@d.example")
	f.Fuzz(func(t *testing.T, rp, rcpt string) {
		v, err := VERP(rp, rcpt)
		if err != nil {
			return
		}
		back, ok := DecodeVERP(rp, v)
		if !ok || !strings.EqualFold(back, rcpt) {
			t.Fatalf("VERP(%q, %q) = %q decodes to %q, %v", rp, rcpt, v, back, ok)
		}
	})
}

// TestSMTPUTF8 sends to a non-ASCII local part through a relay with and
// without the extension.
func TestSMTPUTF8(t *testing.T) {
	const rcpt = "josé@example.com"
	utf8Msg := &Message{From: "news@acme.example", To: rcpt, Data: []byte("To: <" + rcpt + ">\r\nSubject: hi\r\n\r\nhello\r\n"), UTF8: true}
	asciiMsg := msg("ann@example.com")

	s := startRelay(t, testrelay.Options{SMTPUTF8: true, Keep: true})
	p, _ := New([]Relay{plainRelay(s)}, fastOpts())
	if res := p.Send(context.Background(), utf8Msg); res.Status != Delivered {
		t.Fatalf("with SMTPUTF8: %+v", res)
	}
	if res := p.Send(context.Background(), asciiMsg); res.Status != Delivered {
		t.Fatalf("ASCII message: %+v", res)
	}
	p.Close()
	got := s.Messages()
	if len(got) != 2 || got[0].To != rcpt || !got[0].UTF8 || got[1].UTF8 {
		t.Errorf("relay got %+v; want the UTF-8 message with SMTPUTF8 and the ASCII one without", got)
	}

	// A VERP envelope sender with the non-ASCII local part needs it too,
	// even when the header itself is ASCII.
	s2 := startRelay(t, testrelay.Options{})
	p2, _ := New([]Relay{plainRelay(s2)}, fastOpts())
	defer p2.Close()
	for _, m := range []*Message{utf8Msg, {From: "bounces+josé=example.com@acme.example", To: "ann@example.com", Data: asciiMsg.Data}} {
		res := p2.Send(context.Background(), m)
		if res.Status != Invalid || !strings.Contains(res.Text, "does not offer SMTPUTF8") || res.Attempts != 0 {
			t.Errorf("without SMTPUTF8: got %+v, want invalid with no attempt counted", res)
		}
	}
	if s2.Received(rcpt) != 0 {
		t.Error("the message reached a relay without SMTPUTF8")
	}
	// The connection is still good for the next, ASCII, message.
	if res := p2.Send(context.Background(), asciiMsg); res.Status != Delivered {
		t.Errorf("ASCII message after a refused one: %+v", res)
	}
	if s2.Conns() != 1 {
		t.Errorf("%d connections, want the one reused", s2.Conns())
	}
}
