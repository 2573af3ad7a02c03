package sender

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/mailer-dev/mailer/internal/testrelay"
)

func startRelay(t *testing.T, opts testrelay.Options) *testrelay.Server {
	t.Helper()
	s, err := testrelay.Listen("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func plainRelay(s *testrelay.Server) Relay {
	r, err := ParseRelay("smtp+plain://"+s.Addr(), false)
	if err != nil {
		panic(err)
	}
	return r
}

func fastOpts() Options {
	return Options{MaxConns: 4, MaxAttempts: 3, Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		ConnectTimeout: 5 * time.Second, CommandTimeout: 5 * time.Second, DataTimeout: 5 * time.Second}
}

func msg(to string) *Message {
	return &Message{From: "news@acme.example", To: to, Data: []byte("Subject: hi\r\n\r\nhello " + to + "\r\n")}
}

func rule(stage, re string, code int, enh smtp.EnhancedCode, text string) *testrelay.Rule {
	return &testrelay.Rule{Stage: stage, Match: regexp.MustCompile(re), Code: code, Enhanced: enh, Text: text}
}

func TestOutcomes(t *testing.T) {
	s := startRelay(t, testrelay.Options{Rules: []*testrelay.Rule{
		rule("RCPT", "^bounce@", 550, smtp.EnhancedCode{5, 1, 1}, "User unknown"),
		rule("RCPT", "^defer@", 451, smtp.EnhancedCode{4, 7, 1}, "Try later"),
		rule("DATA", "^spam@", 554, smtp.EnhancedCode{5, 7, 1}, "Looks like spam"),
		{Stage: "RCPT", Match: regexp.MustCompile("^flaky@"), Code: 450, Enhanced: smtp.EnhancedCode{4, 2, 0}, Text: "busy", Times: 1},
		{Stage: "RCPT", Match: regexp.MustCompile("^drop@"), Action: testrelay.Drop},
		{Stage: "DATA", Match: regexp.MustCompile("^lost@"), Action: testrelay.Drop},
	}})
	p, err := New([]Relay{plainRelay(s)}, fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cases := []struct {
		to       string
		status   Status
		code     int
		enhanced string
		attempts int
		received int // final dots the relay got for this recipient
	}{
		{"ok@example.com", Delivered, 250, "2.0.0", 1, 1},
		{"bounce@example.com", Bounced, 550, "5.1.1", 1, 0},
		{"defer@example.com", Deferred, 451, "4.7.1", 3, 0},
		{"spam@example.com", Blocked, 554, "5.7.1", 1, 1},
		{"flaky@example.com", Delivered, 250, "2.0.0", 2, 1},
		{"drop@example.com", Deferred, 0, "", 3, 0},
		{"lost@example.com", Unknown, 0, "", 1, 1},
	}
	for _, c := range cases {
		t.Run(c.to, func(t *testing.T) {
			res := p.Send(context.Background(), msg(c.to))
			if res.Status != c.status || res.Code != c.code || res.Enhanced != c.enhanced || res.Attempts != c.attempts {
				t.Errorf("got %+v; want status %s code %d enhanced %q attempts %d", res, c.status, c.code, c.enhanced, c.attempts)
			}
			if res.Relay != "smtp+plain://"+s.Addr() {
				t.Errorf("relay %q", res.Relay)
			}
			if got := s.Received(c.to); got != c.received {
				t.Errorf("relay received %d copies, want %d", got, c.received)
			}
		})
	}
}

func TestConnectionReuse(t *testing.T) {
	s := startRelay(t, testrelay.Options{})
	o := fastOpts()
	o.MaxConns = 3
	p, err := New([]Relay{plainRelay(s)}, o)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	var wg sync.WaitGroup
	jobs := make(chan int)
	for w := 0; w < 8; w++ { // more callers than connections: they must share
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if res := p.Send(context.Background(), msg(fmt.Sprintf("r%d@example.com", i))); res.Status != Delivered {
					t.Errorf("r%d: %+v", i, res)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	p.Close()
	if s.Accepted() != n {
		t.Errorf("relay accepted %d, want %d", s.Accepted(), n)
	}
	if s.Conns() > 3 || s.MaxOpen() > 3 {
		t.Errorf("%d connections (%d at once) for %d messages; want at most 3", s.Conns(), s.MaxOpen(), n)
	}
}

func TestMsgsPerConn(t *testing.T) {
	s := startRelay(t, testrelay.Options{})
	r := plainRelay(s)
	r.MsgsPerConn = 10
	p, _ := New([]Relay{r}, fastOpts())
	for i := 0; i < 35; i++ {
		if res := p.Send(context.Background(), msg(fmt.Sprintf("r%d@example.com", i))); res.Status != Delivered {
			t.Fatal(res)
		}
	}
	p.Close()
	if s.Conns() != 4 {
		t.Errorf("35 messages at 10 per connection used %d connections, want 4", s.Conns())
	}
}

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

func TestCanceledBeforeSending(t *testing.T) {
	s := startRelay(t, testrelay.Options{})
	o := fastOpts()
	o.Rate = 1 // the second message would wait a second
	p, _ := New([]Relay{plainRelay(s)}, o)
	if res := p.Send(context.Background(), msg("a@example.com")); res.Status != Delivered {
		t.Fatal(res)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res := p.Send(ctx, msg("b@example.com")); res.Status != Canceled {
		t.Errorf("got %+v, want canceled", res)
	}
	if s.Received("b@example.com") != 0 {
		t.Error("canceled message reached the relay")
	}
	p.Close()
}

func TestStalledRelayTimesOut(t *testing.T) {
	s := startRelay(t, testrelay.Options{Rules: []*testrelay.Rule{{Stage: "RCPT", Match: regexp.MustCompile("."), Action: testrelay.Stall, Delay: 2 * time.Second}}})
	o := fastOpts()
	o.CommandTimeout = 100 * time.Millisecond
	o.MaxAttempts = 1
	p, _ := New([]Relay{plainRelay(s)}, o)
	start := time.Now()
	res := p.Send(context.Background(), msg("slow@example.com"))
	if res.Status != Deferred || !strings.Contains(res.Text, "timeout") {
		t.Errorf("got %+v, want deferred by timeout", res)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("took %v; the command timeout is 100ms", d)
	}
}

func TestParseRelay(t *testing.T) {
	cases := []struct {
		in, name, err string
		sec           Security
		user          string
		conns, per    int
	}{
		{in: "smtp://mail.example.com", name: "smtp://mail.example.com:587", sec: StartTLS},
		{in: "smtps://bob@mail.example.com", name: "smtps://mail.example.com:465", sec: ImplicitTLS, user: "bob"},
		{in: "smtp+plain://127.0.0.1:2525?max_conns=8&msgs_per_conn=100", name: "smtp+plain://127.0.0.1:2525", sec: Plain, conns: 8, per: 100},
		{in: "smtp+plain://localhost", name: "smtp+plain://localhost:25", sec: Plain},
		{in: "smtp+plain://mail.example.com", err: "only to loopback"},
		{in: "smtp+plain://bob@127.0.0.1", err: "AUTH over an unencrypted connection is refused"},
		{in: "smtp://bob:pw@mail.example.com", err: "password in the URL is refused"},
		{in: "http://mail.example.com", err: "scheme must be"},
		{in: "smtp://", err: "no host"},
		{in: "smtp://h?max_conns=0", err: "max_conns"},
		{in: "smtp://h?bogus=1", err: "unknown parameter"},
	}
	for _, c := range cases {
		r, err := ParseRelay(c.in, false)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: got %v, want error %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if r.Name != c.name || r.Security != c.sec || r.Username != c.user || r.MaxConns != c.conns || r.MsgsPerConn != c.per {
			t.Errorf("%s: got %+v", c.in, r)
		}
	}
	if _, err := ParseRelay("smtp+plain://mail.example.com", true); err != nil {
		t.Errorf("allowPlain: %v", err)
	}
}

func TestParseRate(t *testing.T) {
	cases := []struct {
		in   string
		want float64
		err  bool
	}{
		{"200/s", 200, false}, {"120/m", 2, false}, {"3600/h", 1, false}, {"50", 50, false},
		{"0", 0, false}, {"", 0, false}, {"0.5/s", 0.5, false},
		{"-1/s", 0, true}, {"x/s", 0, true}, {"10/d", 0, true},
	}
	for _, c := range cases {
		got, err := ParseRate(c.in)
		if (err != nil) != c.err || float64(got) != c.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v (error %v)", c.in, got, err, c.want, c.err)
		}
	}
}
