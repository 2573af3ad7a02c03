package sender

import (
	"context"
	"io"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// conn is one SMTP session, spoken with go-smtp's client.
type conn struct {
	c       *smtp.Client
	nc      *trackConn
	pool    *Pool
	up      *upstream
	sent    int  // transactions completed on it
	wasIdle bool // waited in the idle set: the relay may have closed it
	dirty   bool // the last transaction failed: RSET before the next
	broken  bool // unusable: close instead of reuse

	// With PIPELINING (pipe.go), the transaction is spoken here, over
	// wire, the connection go-smtp speaks on; rd reads the replies and
	// wbuf holds each write. nil wire: go-smtp's transaction.
	wire    net.Conn
	rd      *textproto.Reader
	wbuf    []byte
	ext8bit bool
	// next is a Send whose command group left with the last body (lane.go):
	// the connection is its when this transaction ends.
	next *job
}

// send runs one mail transaction. stale reports a network failure at the
// first command, the sign of a connection the relay already closed. A ctx
// cancelled before the body starts abandons the transaction (Canceled: the
// relay has nothing); once the body is on its way, the timeouts bound it.
// ahead says m's command group left already (lane.go). b is m's Begin,
// called just before m's first byte is written.
func (c *conn) send(ctx context.Context, m *Message, b *beginOnce, o Options, ahead bool) (res Result, stale bool) {
	mo, refused := c.check(m)
	if refused != nil {
		return *refused, false
	}
	if c.wire != nil {
		return c.sendPiped(ctx, m, b, mo, o, ahead)
	}
	if ctx.Err() != nil {
		return Result{Status: Canceled, Text: "canceled before the message was sent"}, false
	}
	if err := b.call(); err != nil {
		return canceledBy(err), false
	}
	stop := context.AfterFunc(ctx, c.nc.abort)
	stage, err := c.envelope(m, mo)
	var w io.WriteCloser
	if err == nil {
		stage = "DATA"
		w, err = c.c.Data()
	}
	if !stop() {
		c.broken = true
		return Result{Status: Canceled, Text: "canceled before the message was sent"}, false
	}
	if err != nil && stage == "RSET" {
		// A relay that will not reset says nothing about this recipient:
		// try again on a fresh connection.
		c.broken = true
		return Result{Status: Deferred, Text: "RSET: " + err.Error()}, true
	}
	if err != nil {
		if re := replyError(stage, err); re != nil {
			c.dirty = true
			if re.Code == 421 { // RFC 5321 section 3.8: the relay is closing
				c.broken = true
			}
			return fromReply(re), false
		}
		c.broken = true
		// Nothing came back: on a reused connection, a relay that hung up.
		return Result{Status: Deferred, Text: stage + ": " + err.Error()}, stage == "MAIL" // RSET returned above
	}
	c.nc.SetWriteDeadline(time.Now().Add(o.DataTimeout))
	if _, err := w.Write(m.Data); err != nil {
		c.broken = true
		return Result{Status: Deferred, Text: "DATA: " + err.Error()}, false
	}
	c.nc.clearWriteErr()
	dw := w.(*smtp.DataCommand)
	resp, err := dw.CloseWithResponse()
	if err != nil {
		if re := replyError("DATA", err); re != nil {
			// The reply to the final dot ends the transaction whatever it
			// says (RFC 5321 section 4.1.1.4): the next needs no RSET.
			c.sent++
			if re.Code == 421 {
				c.broken = true
			}
			return fromReply(re), false
		}
		c.broken = true
		if c.nc.wroteErr() != nil {
			// The final dot never left: the relay cannot have accepted it.
			return Result{Status: Deferred, Text: "DATA: " + err.Error()}, false
		}
		// RFC 5321 section 4.1.1.4: the message is the relay's once it has
		// replied 250 to the final dot. Without a reply we cannot know.
		return Result{Status: Unknown, Text: "connection lost after the message was sent, before the relay replied: " + err.Error()}, false
	}
	c.sent++
	res = Result{Status: Delivered, Code: 250}
	res.Enhanced, res.Text = splitEnhanced(resp.StatusText)
	return res, false
}

// check is what refuses m on c before any byte of it is written: an
// address that would break the command line, or SMTPUTF8 that c's relay
// does not offer. Otherwise it returns m's MAIL parameters on c.
func (c *conn) check(m *Message) (*smtp.MailOptions, *Result) {
	if strings.ContainsAny(m.From, "\r\n<>") || strings.ContainsAny(m.To, "\r\n<>") {
		return nil, &Result{Status: Bounced, Text: "address with CR, LF, < or > refused"}
	}
	return mailOptions(c.c, m)
}

// envelope starts a transaction: RSET when the last one failed (RFC 5321
// section 4.1.1.5; a completed one needs none), MAIL and RCPT. It returns
// the stage that failed.
func (c *conn) envelope(m *Message, mo *smtp.MailOptions) (string, error) {
	if c.dirty {
		if err := c.c.Reset(); err != nil {
			return "RSET", err
		}
		c.dirty = false
	}
	if err := c.c.Mail(m.From, mo); err != nil {
		return "MAIL", err
	}
	if err := c.c.Rcpt(m.To, nil); err != nil {
		return "RCPT", err
	}
	return "", nil
}

func (c *conn) quit() {
	c.c.CommandTimeout = 5 * time.Second
	if err := c.c.Quit(); err != nil {
		c.c.Close()
	}
	c.pool.open.Add(-1)
}

func (c *conn) close() {
	c.c.Close()
	c.pool.open.Add(-1)
}

// trackConn is the connection under go-smtp's client. It remembers a write
// error, which tells a body that never fully left (deferred: safe to retry)
// from a reply that never came (unknown), and it clamps every deadline to a
// limit: the handshake's, or now once the context is cancelled.
type trackConn struct {
	net.Conn
	mu       sync.Mutex
	writeErr error
	limit    time.Time
	// log, when the pool keeps a transcript, learns from every read and
	// write which side speaks (debug.go).
	log *debugConn
}

func (t *trackConn) Read(b []byte) (int, error) {
	n, err := t.Conn.Read(b)
	if t.log != nil && n > 0 {
		t.log.FromServer(b[:n])
	}
	return n, err
}

func (t *trackConn) Close() error {
	err := t.Conn.Close()
	if t.log != nil {
		t.log.Close()
	}
	return err
}

func (t *trackConn) Write(b []byte) (int, error) {
	n, err := t.Conn.Write(b)
	if t.log != nil && n > 0 {
		t.log.FromClient(b[:n])
	}
	if err != nil {
		t.mu.Lock()
		t.writeErr = err
		t.mu.Unlock()
	}
	return n, err
}

func (t *trackConn) clearWriteErr() {
	t.mu.Lock()
	t.writeErr = nil
	t.mu.Unlock()
}

func (t *trackConn) wroteErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.writeErr
}

func (t *trackConn) setLimit(l time.Time) {
	t.mu.Lock()
	t.limit = l
	t.mu.Unlock()
	if !l.IsZero() {
		t.Conn.SetDeadline(l)
	}
}

// abort makes every pending and later read or write fail at once.
func (t *trackConn) abort() { t.setLimit(time.Now()) }

func (t *trackConn) clamp(d time.Time) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.limit.IsZero() && (d.IsZero() || d.After(t.limit)) {
		return t.limit
	}
	return d
}

func (t *trackConn) SetDeadline(d time.Time) error      { return t.Conn.SetDeadline(t.clamp(d)) }
func (t *trackConn) SetReadDeadline(d time.Time) error  { return t.Conn.SetReadDeadline(t.clamp(d)) }
func (t *trackConn) SetWriteDeadline(d time.Time) error { return t.Conn.SetWriteDeadline(t.clamp(d)) }
