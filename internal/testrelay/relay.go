// Package testrelay is an SMTP server on loopback built on go-smtp's
// server, to try mailer against: the engine of `mailer sink` and the
// scripted fake relay of the tests (sender.Relay is the other side, an
// upstream mailer sends through). It stores what it receives (as .eml files
// and/or in memory), counts connections, and can reject, defer, drop or
// stall recipients that match rules.
//
// It must not import campaign, render, sender or cmd.
package testrelay

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/mailer-dev/mailer/internal/transcript"
)

// Action is what a rule does to a matching recipient.
type Action int

const (
	// Reply answers with Rule.Code/Enhanced/Text (a 4xx or 5xx).
	Reply Action = iota
	// Drop closes the connection without a reply.
	Drop
	// Stall waits Rule.Delay before going on as normal.
	Stall
)

// Rule scripts the relay's answer for recipients matching Match at Stage
// ("MAIL", "RCPT" or "DATA"; DATA means after the final dot). At MAIL, Match
// is tried against the sender.
type Rule struct {
	Match    *regexp.Regexp
	Stage    string
	Action   Action
	Code     int
	Enhanced smtp.EnhancedCode
	Text     string
	Delay    time.Duration
	// Times limits how often the rule fires (0: always), so a test can
	// defer a recipient once and then accept it.
	Times int
	fired atomic.Int64
}

// Fired is how many times the rule matched (a stalled session counts as
// soon as its stall begins), so a test can wait for the moment it scripted.
func (r *Rule) Fired() int64 { return r.fired.Load() }

// Options configure a Server.
type Options struct {
	// Dir, when set, receives every accepted message as an .eml file.
	Dir string
	// Keep holds accepted messages in memory for Messages.
	Keep bool
	// TLS offers STARTTLS with this config; with ImplicitTLS the listener
	// itself speaks TLS.
	TLS         *tls.Config
	ImplicitTLS bool
	// Users enables AUTH PLAIN with these user/password pairs (AUTH LOGIN
	// instead with Login).
	Users map[string]string
	Login bool
	Rules []*Rule
	// SMTPUTF8 advertises the SMTPUTF8 extension.
	SMTPUTF8 bool
	// Debug, when set, receives the SMTP transcript of every connection
	// (package internal/transcript: numbered, AUTH and bodies left out).
	Debug io.Writer
}

// Message is one accepted message.
type Message struct {
	From, To string
	Data     []byte
	// UTF8 is true when the client gave MAIL FROM the SMTPUTF8 parameter.
	UTF8 bool
}

// Server is a running relay.
type Server struct {
	opts      Options
	srv       *smtp.Server
	ln        net.Listener
	done      chan struct{}
	closeOnce sync.Once
	conns     atomic.Int64
	open      atomic.Int64
	maxOpen   atomic.Int64
	accepted  atomic.Int64
	rejected  atomic.Int64
	seq       atomic.Int64
	mu        sync.Mutex
	msgs      []Message
	rcpts     map[string]int

	// With Options.Debug, each connection has a go-smtp server of its own,
	// as Server.Debug is one writer for all of a server's connections.
	log     *transcript.Log
	perConn map[*smtp.Server]bool // under mu
	closed  bool                  // under mu
	serving sync.WaitGroup
}

// Listen starts a relay on addr (for example "127.0.0.1:0").
func Listen(addr string, opts Options) (*Server, error) {
	if opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, ln: ln, done: make(chan struct{}), rcpts: map[string]int{}}
	if opts.TLS != nil && opts.ImplicitTLS {
		s.ln = tls.NewListener(ln, opts.TLS)
	}
	s.srv = s.newSMTP()
	if opts.Debug != nil {
		s.log = transcript.New(opts.Debug)
		s.perConn = map[*smtp.Server]bool{}
		go s.serveDebug(ln)
		return s, nil
	}
	go func() {
		defer close(s.done)
		s.srv.Serve(s.ln)
	}()
	return s, nil
}

func (s *Server) newSMTP() *smtp.Server {
	srv := smtp.NewServer(s)
	srv.Domain = "relay.test"
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.MaxMessageBytes = 64 << 20
	srv.MaxRecipients = 100
	srv.EnableSMTPUTF8 = s.opts.SMTPUTF8
	srv.ErrorLog = quietLog{}
	srv.TLSConfig = s.opts.TLS
	return srv
}

type quietLog struct{}

func (quietLog) Printf(string, ...interface{}) {}
func (quietLog) Println(...interface{})        {}

// Addr is the address the relay listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the relay and closes every connection.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.srv.Close()
		s.ln.Close() // Serve may not have registered it with srv yet
		<-s.done
		if s.log != nil {
			s.mu.Lock()
			s.closed = true
			for srv := range s.perConn {
				srv.Close()
			}
			s.mu.Unlock()
			s.serving.Wait()
		}
	})
	return nil
}

// Conns is how many connections the relay has accepted; MaxOpen the most
// that were open at one time.
func (s *Server) Conns() int64   { return s.conns.Load() }
func (s *Server) MaxOpen() int64 { return s.maxOpen.Load() }

// Open is how many connections are open now.
func (s *Server) Open() int64 { return s.open.Load() }

// Accepted is how many messages the relay accepted (replied 250 to the dot).
func (s *Server) Accepted() int64 { return s.accepted.Load() }

// Refused is how many times a rule answered with a 4xx or 5xx.
func (s *Server) Refused() int64 { return s.rejected.Load() }

// Received counts how many times the final dot of a message for rcpt was
// received, whether or not it was then accepted.
func (s *Server) Received(rcpt string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rcpts[strings.ToLower(rcpt)]
}

// Messages returns the accepted messages (with Options.Keep).
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s.conns.Add(1)
	n := s.open.Add(1)
	for {
		m := s.maxOpen.Load()
		if n <= m || s.maxOpen.CompareAndSwap(m, n) {
			break
		}
	}
	return &session{s: s, c: c, authed: len(s.opts.Users) == 0}, nil
}

type session struct {
	s      *Server
	c      *smtp.Conn
	authed bool
	from   string
	to     []string
	utf8   bool
}

func (se *session) AuthMechanisms() []string {
	switch {
	case len(se.s.opts.Users) == 0:
		return nil
	case se.s.opts.Login:
		return []string{sasl.Login}
	}
	return []string{sasl.Plain}
}

func (se *session) Auth(mech string) (sasl.Server, error) {
	check := func(username, password string) error {
		if p, ok := se.s.opts.Users[username]; ok && p == password {
			se.authed = true
			return nil
		}
		return smtp.ErrAuthFailed
	}
	if se.s.opts.Login {
		return &loginServer{check: check}, nil
	}
	return sasl.NewPlainServer(func(_, username, password string) error { return check(username, password) }), nil
}

// loginServer is the server side of AUTH LOGIN (draft-murchison-sasl-login),
// which go-sasl no longer has: "Username:", then "Password:".
type loginServer struct {
	user     string
	haveUser bool
	check    func(user, password string) error
}

func (a *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch {
	case !a.haveUser && resp == nil:
		return []byte("Username:"), false, nil
	case !a.haveUser:
		a.user, a.haveUser = string(resp), true
		return []byte("Password:"), false, nil
	}
	return nil, true, a.check(a.user, string(resp))
}

func (se *session) Mail(from string, opts *smtp.MailOptions) error {
	if !se.authed {
		return smtp.ErrAuthRequired
	}
	se.utf8 = opts != nil && opts.UTF8
	if err := se.checkUTF8(from); err != nil {
		return err
	}
	if err := se.apply("MAIL", from); err != nil {
		return err
	}
	se.from = from
	return nil
}

// checkUTF8 refuses a non-ASCII address in a transaction without SMTPUTF8,
// as RFC 6531 section 3.2 has a strict server do.
func (se *session) checkUTF8(addr string) error {
	if se.utf8 {
		return nil
	}
	for i := 0; i < len(addr); i++ {
		if addr[i] >= 0x80 {
			return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 6, 7}, Message: "non-ASCII address without SMTPUTF8"}
		}
	}
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := se.checkUTF8(to); err != nil {
		return err
	}
	if err := se.apply("RCPT", to); err != nil {
		return err
	}
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	se.s.mu.Lock()
	for _, to := range se.to {
		se.s.rcpts[strings.ToLower(to)]++
	}
	se.s.mu.Unlock()
	for _, to := range se.to {
		if err := se.apply("DATA", to); err != nil {
			return err
		}
	}
	for _, to := range se.to {
		if err := se.s.store(se.from, to, data, se.utf8); err != nil {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "cannot store: " + err.Error()}
		}
	}
	se.s.accepted.Add(int64(len(se.to)))
	return nil
}

// apply runs the first rule matching rcpt at stage. A returned error is the
// reply; Drop closes the connection.
func (se *session) apply(stage, rcpt string) error {
	for _, r := range se.s.opts.Rules {
		if r.Stage != stage || !r.Match.MatchString(rcpt) {
			continue
		}
		if n := r.fired.Add(1); r.Times > 0 && n > int64(r.Times) {
			continue
		}
		switch r.Action {
		case Drop:
			se.c.Conn().Close()
			return errors.New("dropped")
		case Stall:
			time.Sleep(r.Delay)
			return nil
		default:
			se.s.rejected.Add(1)
			return &smtp.SMTPError{Code: r.Code, EnhancedCode: r.Enhanced, Message: r.Text}
		}
	}
	return nil
}

func (s *Server) store(from, to string, data []byte, utf8 bool) error {
	if s.opts.Keep {
		s.mu.Lock()
		s.msgs = append(s.msgs, Message{From: from, To: to, Data: bytes.Clone(data), UTF8: utf8})
		s.mu.Unlock()
	}
	if s.opts.Dir == "" {
		return nil
	}
	name := fmt.Sprintf("%06d-%s.eml", s.seq.Add(1), safeName(to))
	tmp := filepath.Join(s.opts.Dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.opts.Dir, name))
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '@' || r == '.' || r == '-' || r == '_' || r == '+' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
}

func (se *session) Reset() {
	se.from, se.to, se.utf8 = "", nil, false
}

func (se *session) Logout() error {
	se.s.open.Add(-1)
	return nil
}
