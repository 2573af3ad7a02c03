package sender

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/textproto"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// The pipelined transaction (RFC 2920). go-smtp's client has no pipelining,
// so on a relay that offers PIPELINING the pool speaks the mail transaction
// itself, on the connection go-smtp greeted, secured and authenticated:
//
//	[RSET] MAIL RCPT DATA     one write, then the replies in order
//	body and final dot        one write, dot-stuffed in one pass (dot.go)
//
// RFC 2920 section 3.1 lets message content start a command group, so when
// another Send is waiting for a connection of the relay as the body goes,
// its MAIL, RCPT and DATA join the same write (the lane: see take) and the
// connection passes to it with its envelope already on the way: one round
// trip per message on a busy connection.
//
// Switching readers: go-smtp reads through a bufio.Reader of its own. After
// EHLO and AUTH a relay sends nothing until the client speaks again, so
// that reader holds no byte of ours when conn.rd takes over; and conn.rd
// holds none when go-smtp sends QUIT, for the same reason.

// pipeline makes c speak its transactions itself over w, the connection
// go-smtp speaks on (plain, or TLS above c.nc).
func (c *conn) pipeline(w net.Conn) {
	c.wire = w
	c.rd = textproto.NewReader(bufio.NewReaderSize(&wireReader{c: c}, 4096))
	c.ext8bit, _ = c.c.Extension("8BITMIME")
}

// wireOf returns the connection under go-smtp's client sc, which it does
// not export: tc itself, or the TLS connection above it. ok is false when
// it cannot be found (a go-smtp that changed); c then stays on go-smtp's
// own transaction, one command at a time.
func wireOf(sc *smtp.Client, tc *trackConn) (net.Conn, bool) {
	f := reflect.ValueOf(sc).Elem().FieldByName("conn")
	if !f.IsValid() || f.Type() != reflect.TypeFor[net.Conn]() {
		return nil, false
	}
	nc := *(*net.Conn)(f.Addr().UnsafePointer())
	switch w := nc.(type) {
	case *trackConn:
		return w, w == tc
	case *tls.Conn:
		return w, w.NetConn() == tc
	}
	return nil, false
}

// wireReader reads the relay's replies for conn.rd, with the transcript
// and go-smtp's bound on the length of a line (RFC 5321 section 4.5.3.1.6,
// doubled): a relay cannot make the reader grow without end.
type wireReader struct {
	c    *conn
	line int // bytes since the last LF
}

const maxReplyLine = 2000

var errLongLine = errors.New("reply line too long")

func (r *wireReader) Read(p []byte) (int, error) {
	n, err := r.c.wire.Read(p)
	if n > 0 {
		r.c.nc.log.received(p[:n])
		if i := bytes.LastIndexByte(p[:n], '\n'); i >= 0 {
			r.line = n - i - 1
		} else {
			r.line += n
		}
		if r.line > maxReplyLine {
			return n, errLongLine
		}
	}
	return n, err
}

// write sends b in one call and returns how much of it left.
func (c *conn) write(b []byte) (int, error) {
	n, err := c.wire.Write(b)
	c.nc.log.sent(b[:n])
	return n, err
}

// appendEnvelope appends the command group that starts m's transaction:
// RSET when the last one was refused (RFC 5321 section 4.1.1.5), MAIL with
// the parameters go-smtp's Mail would give it, RCPT and DATA.
func (c *conn) appendEnvelope(b []byte, m *Message, mo *smtp.MailOptions, rset bool) []byte {
	if rset {
		b = append(b, "RSET\r\n"...)
	}
	b = append(b, "MAIL FROM:<"...)
	b = append(b, m.From...)
	b = append(b, '>')
	if c.ext8bit {
		b = append(b, " BODY=8BITMIME"...)
	}
	if mo != nil && mo.UTF8 {
		b = append(b, " SMTPUTF8"...)
	}
	b = append(b, "\r\nRCPT TO:<"...)
	b = append(b, m.To...)
	return append(b, ">\r\nDATA\r\n"...)
}

// sendPiped runs m's transaction on a pipelining connection. ahead says its
// command group left already, with the previous message's body. It has the
// outcomes of conn.send, reply for reply.
func (c *conn) sendPiped(ctx context.Context, m *Message, b *beginOnce, mo *smtp.MailOptions, o Options, ahead bool) (Result, bool) {
	if !ahead && ctx.Err() != nil {
		return Result{Status: Canceled, Text: "canceled before the message was sent"}, false
	}
	if !ahead {
		if err := b.call(); err != nil {
			return canceledBy(err), false
		}
	}
	stop := context.AfterFunc(ctx, c.nc.abort)
	c.nc.SetDeadline(time.Now().Add(o.CommandTimeout))
	rset := false
	if !ahead {
		rset = c.dirty
		c.wbuf = c.appendEnvelope(c.wbuf[:0], m, mo, rset)
		if _, err := c.write(c.wbuf); err != nil {
			c.broken = true
			if !stop() {
				return Result{Status: Canceled, Text: "canceled before the message was sent"}, false
			}
			stage := "MAIL"
			if rset {
				stage = "RSET"
			}
			return Result{Status: Deferred, Text: stage + ": " + err.Error()}, true
		}
	}
	res, ok, stale := c.envelopeReplies(rset)
	if !stop() {
		c.broken = true
		return Result{Status: Canceled, Text: "canceled before the message was sent"}, false
	}
	if !ok {
		return res, stale
	}
	c.nc.SetDeadline(time.Now().Add(o.DataTimeout))
	c.wbuf = appendDotted(c.wbuf[:0], m.Data)
	dotEnd := len(c.wbuf)
	c.wbuf = c.take(c.wbuf)
	n, err := c.write(c.wbuf)
	if cap(c.wbuf) > 1<<20 {
		c.wbuf = nil // a large message: do not keep its buffer for the small ones
	}
	if err != nil {
		c.broken = true
		if n < dotEnd {
			// The final dot never left: the relay cannot have accepted it.
			return Result{Status: Deferred, Text: "DATA: " + err.Error()}, false
		}
		return Result{Status: Unknown, Text: "connection lost after the message was sent, before the relay replied: " + err.Error()}, false
	}
	code, text, err := c.rd.ReadResponse(0)
	if err != nil {
		c.broken = true
		// RFC 5321 section 4.1.1.4: the message is the relay's once it has
		// replied 250 to the final dot. Without a reply we cannot know.
		return Result{Status: Unknown, Text: "connection lost after the message was sent, before the relay replied: " + err.Error()}, false
	}
	c.sent++
	// The reply to the final dot ends the transaction whatever it says
	// (RFC 5321 section 4.1.1.4): the next needs no RSET, and may already
	// be on its way.
	if code != 250 {
		re := replyOf("DATA", code, text)
		if code == 421 {
			c.broken = true
		}
		return fromReply(re), false
	}
	res = Result{Status: Delivered, Code: 250}
	res.Enhanced, res.Text = splitEnhanced(text)
	return res, false
}

// envelopeReplies reads the replies to a command group, every one of them
// (RFC 2920 section 3.1: the client must check all statuses), and returns
// the first refusal as the outcome. ok means DATA got its 354 and the body
// may go. A 354 after a refused MAIL or RCPT is ended with a lone dot.
func (c *conn) envelopeReplies(rset bool) (res Result, ok, stale bool) {
	if rset {
		code, text, err := c.rd.ReadResponse(0)
		if err == nil && code != 250 {
			err = replyOf("RSET", code, text) // its Error says "RSET: "
		} else if err != nil {
			err = errors.New("RSET: " + err.Error())
		}
		if err != nil {
			// A relay that will not reset says nothing about this
			// recipient: try again on a fresh connection.
			c.broken = true
			return Result{Status: Deferred, Text: err.Error()}, false, true
		}
		c.dirty = false
	}
	var refusal *ReplyError
	for _, stage := range [...]string{"MAIL", "RCPT", "DATA"} {
		code, text, err := c.rd.ReadResponse(0)
		if err != nil {
			c.broken = true
			if refusal != nil {
				return fromReply(refusal), false, false
			}
			// Nothing came back: on a reused connection, a relay that hung up.
			return Result{Status: Deferred, Text: stage + ": " + err.Error()}, false, stage == "MAIL"
		}
		switch {
		case stage == "MAIL" && code == 250, stage == "RCPT" && code/10 == 25:
			continue
		case stage == "DATA" && code == 354:
			if refusal == nil {
				return Result{}, true, false
			}
			// RFC 2920 section 3.1: a DATA accepted although no
			// recipient was: send a single dot.
			if _, err := c.write([]byte(".\r\n")); err != nil {
				c.broken = true
			} else if _, _, err := c.rd.ReadResponse(0); err != nil {
				c.broken = true
			}
			continue
		}
		if refusal == nil {
			refusal = replyOf(stage, code, text)
		}
		if code == 421 { // RFC 5321 section 3.8: the relay is closing
			c.broken = true
			break
		}
	}
	c.dirty = true
	return fromReply(refusal), false, false
}

// replyOf is the ReplyError of a refusal read by conn.rd, parsed as
// go-smtp parses the replies it reads itself.
func replyOf(stage string, code int, text string) *ReplyError {
	se := &smtp.SMTPError{Code: code, Message: text}
	if first, rest, ok := strings.Cut(text, " "); ok {
		if ec, ok := parseEnhanced(first); ok {
			se.EnhancedCode = ec
			// RFC 2034: the code starts every line of the reply.
			se.Message = strings.ReplaceAll(rest, "\n"+first+" ", "\n")
		}
	}
	return replyError(stage, se)
}

func parseEnhanced(s string) (smtp.EnhancedCode, bool) {
	var ec smtp.EnhancedCode
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return ec, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return ec, false
		}
		ec[i] = n
	}
	return ec, true
}
