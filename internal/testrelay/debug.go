package testrelay

import (
	"crypto/tls"
	"net"
	"sync"

	"github.com/emersion/go-smtp"
	"github.com/mailer-dev/mailer/internal/transcript"
)

// serveDebug accepts connections on ln and serves each with a go-smtp
// server of its own whose Debug is that connection's transcript. The tap
// goes under TLS, where go-smtp looks for a *tls.Conn.
func (s *Server) serveDebug(ln net.Listener) {
	defer close(s.done)
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed
		}
		log := s.log.Conn(false)
		log.Note("connect from %s", c.RemoteAddr())
		l := &oneConn{addr: ln.Addr(), done: make(chan struct{})}
		l.c = &tapConn{Conn: c, log: log, closed: l.close}
		if s.opts.TLS != nil && s.opts.ImplicitTLS {
			l.c = tls.Server(l.c, s.opts.TLS)
		}
		srv := s.newSMTP()
		srv.Debug = log
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.perConn[srv] = true
		s.serving.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.serving.Done()
			srv.Serve(l)
			s.mu.Lock()
			delete(s.perConn, srv)
			s.mu.Unlock()
		}()
	}
}

// oneConn is a listener that yields one connection, then waits until that
// connection is closed, so that its go-smtp server's Serve returns.
type oneConn struct {
	c    net.Conn
	addr net.Addr
	took bool
	once sync.Once
	done chan struct{}
}

func (l *oneConn) Accept() (net.Conn, error) {
	if !l.took {
		l.took = true
		return l.c, nil
	}
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneConn) close()         { l.once.Do(func() { close(l.done) }) }
func (l *oneConn) Close() error   { l.close(); return nil }
func (l *oneConn) Addr() net.Addr { return l.addr }

// tapConn tells the transcript whose bytes go-smtp's Debug sees next.
type tapConn struct {
	net.Conn
	log    *transcript.Session
	closed func()
}

func (t *tapConn) Read(b []byte) (int, error) {
	n, err := t.Conn.Read(b)
	if n > 0 {
		t.log.FromClient(b[:n])
	}
	return n, err
}

func (t *tapConn) Write(b []byte) (int, error) {
	n, err := t.Conn.Write(b)
	if n > 0 {
		t.log.FromServer(b[:n])
	}
	return n, err
}

func (t *tapConn) Close() error {
	err := t.Conn.Close()
	t.log.Close()
	t.closed()
	return err
}

var _ smtp.Backend = (*Server)(nil)
