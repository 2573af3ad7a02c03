package sender

import "github.com/mailer-dev/mailer/internal/transcript"

// debugLog is the pool's SMTP transcript (Options.Debug). A nil *debugLog
// keeps none, so that dial needs no test for it.
type debugLog struct{ *transcript.Log }

// conn starts the transcript of a connection to rc. Before TLS, go-smtp's
// debug writer cannot be had in time (NewClientStartTLS speaks first), so
// the transcript reads the wire until STARTTLS and go-smtp's debug writer
// after; with implicit TLS the wire is never plain.
func (l *debugLog) conn(rc Relay) *debugConn {
	if l == nil {
		return nil
	}
	s := l.Conn(rc.Security != ImplicitTLS)
	s.Note("connect %s", rc.Name)
	return &debugConn{s}
}

// debugConn is one connection's transcript; nil keeps none.
type debugConn struct{ *transcript.Session }

// end notes why the connection failed, closes its transcript and returns err.
func (c *debugConn) end(err error) error {
	if c != nil {
		c.Note("%v", err)
		c.Close()
	}
	return err
}

// sent records b, plain SMTP that sender wrote itself (not through go-smtp)
// on the connection go-smtp speaks on.
func (c *debugConn) sent(b []byte) {
	if c != nil {
		c.FromClient(nil)
		c.Write(b)
	}
}

// received records b, plain SMTP that sender read itself.
func (c *debugConn) received(b []byte) {
	if c != nil {
		c.FromServer(nil)
		c.Write(b)
	}
}
