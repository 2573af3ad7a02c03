package sender

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mailer-dev/mailer/internal/testrelay"
)

func TestStartTLSVerified(t *testing.T) {
	srvTLS, cliTLS, err := testrelay.TestTLS()
	if err != nil {
		t.Fatal(err)
	}
	s := startRelay(t, testrelay.Options{TLS: srvTLS, Users: map[string]string{"ann": "s3cret"}, Keep: true})
	r, err := ParseRelay("smtp://ann@"+s.Addr(), false)
	if err != nil {
		t.Fatal(err)
	}
	r.Password = "s3cret"
	r.TLSConfig = cliTLS
	p, _ := New([]Relay{r}, fastOpts())
	if err := p.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	if res := p.Send(context.Background(), msg("ok@example.com")); res.Status != Delivered {
		t.Fatalf("%+v", res)
	}
	p.Close()

	// The same relay with a certificate nobody vouches for: refused.
	r.TLSConfig = nil
	p2, _ := New([]Relay{r}, fastOpts())
	err = p2.Probe(context.Background())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("unverified certificate: got %v, want a certificate error", err)
	}

	// A wrong password is an error at Probe, before anything is sent.
	r.TLSConfig, r.Password = cliTLS, "wrong"
	p3, _ := New([]Relay{r}, fastOpts())
	if err := p3.Probe(context.Background()); err == nil || !strings.Contains(err.Error(), "AUTH") {
		t.Errorf("wrong password: got %v", err)
	}
}

func TestImplicitTLS(t *testing.T) {
	srvTLS, cliTLS, err := testrelay.TestTLS()
	if err != nil {
		t.Fatal(err)
	}
	s := startRelay(t, testrelay.Options{TLS: srvTLS, ImplicitTLS: true})
	r, _ := ParseRelay("smtps://"+s.Addr(), false)
	r.TLSConfig = cliTLS
	p, _ := New([]Relay{r}, fastOpts())
	if res := p.Send(context.Background(), msg("ok@example.com")); res.Status != Delivered {
		t.Fatalf("%+v", res)
	}
	p.Close()
}

func TestStartTLSRequired(t *testing.T) {
	s := startRelay(t, testrelay.Options{}) // offers no STARTTLS
	r, _ := ParseRelay("smtp://"+s.Addr(), false)
	p, _ := New([]Relay{r}, fastOpts())
	err := p.Probe(context.Background())
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("got %v, want a STARTTLS error", err)
	}
}

func TestAuthRefusedOverPlaintext(t *testing.T) {
	s := startRelay(t, testrelay.Options{Users: map[string]string{"ann": "pw"}})
	// Built by hand: ParseRelay already refuses this combination.
	r := Relay{Name: "smtp+plain://" + s.Addr(), Addr: s.Addr(), Host: "127.0.0.1", Security: Plain, Username: "ann", Password: "pw"}
	p, _ := New([]Relay{r}, fastOpts())
	err := p.Probe(context.Background())
	if err == nil || !strings.Contains(err.Error(), "unencrypted") {
		t.Fatalf("got %v, want AUTH refused", err)
	}
	if s.Accepted() != 0 {
		t.Error("a message went through")
	}
}

func TestProbeUnavailable(t *testing.T) {
	s := startRelay(t, testrelay.Options{})
	addr := s.Addr()
	s.Close()
	r, _ := ParseRelay("smtp+plain://"+addr, false)
	p, _ := New([]Relay{r}, fastOpts())
	err := p.Probe(context.Background())
	var ue *UnavailableError
	if err == nil || !errors.As(err, &ue) {
		t.Fatalf("got %v, want UnavailableError", err)
	}
}
