package sender

import (
	"context"
	"strings"
	"testing"

	"github.com/mailer-dev/mailer/internal/relay"
)

// TestSMTPUTF8 sends to a non-ASCII local part through a relay with and
// without the extension.
func TestSMTPUTF8(t *testing.T) {
	const rcpt = "josé@example.com"
	utf8Msg := &Message{From: "news@acme.example", To: rcpt, Data: []byte("To: <" + rcpt + ">\r\nSubject: hi\r\n\r\nhello\r\n"), UTF8: true}
	asciiMsg := msg("ann@example.com")

	s := startRelay(t, relay.Options{SMTPUTF8: true, Keep: true})
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
	s2 := startRelay(t, relay.Options{})
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
