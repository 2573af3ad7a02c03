package sender

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
)

// client is the SMTP client side of one connection (RFC 5321), written for
// the pool's one job: many single-recipient transactions, pipelined when the
// relay offers PIPELINING (RFC 2920), with no allocation per command.
//
// go-smtp's client sends one command per round trip and allocates for each;
// a transaction there costs four round trips (MAIL, RCPT, DATA, the body),
// here two (MAIL+RCPT+DATA, then the body). The server side of the tests and
// of `mailer sink` is still go-smtp's.
type client struct {
	raw  net.Conn // the TCP connection
	nc   net.Conn // what SMTP is spoken over: raw, or TLS over raw
	br   *bufio.Reader
	bw   *bufio.Writer
	ext  map[string]string // EHLO keywords (upper case) and their parameters
	text []byte            // the text of the last reply, lines joined by '\n'
	tls  bool
	pipe bool // the relay offers PIPELINING
	bit8 bool // the relay offers 8BITMIME
	dead bool // a read failed: the session is lost
}

// Buffer sizes: the writer holds a whole ~4-64 KB message so that the body
// and the final dot leave in few writes; replies are short.
const (
	writeBuf = 64 << 10
	readBuf  = 4 << 10
)

func newClient(raw net.Conn) *client {
	c := &client{raw: raw}
	c.setConn(raw)
	return c
}

func (c *client) setConn(nc net.Conn) {
	c.nc = nc
	c.br = bufio.NewReaderSize(nc, readBuf)
	c.bw = bufio.NewWriterSize(nc, writeBuf)
}

// reply reads one reply, possibly multi-line (RFC 5321 section 4.2.1), and
// returns its code; the text is in c.text until the next read.
func (c *client) reply() (int, error) {
	c.text = c.text[:0]
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			c.dead = true
			if errors.Is(err, bufio.ErrBufferFull) {
				return 0, errors.New("reply line too long")
			}
			return 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) < 3 {
			return 0, fmt.Errorf("malformed reply %q", line)
		}
		code := int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
		if line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9' {
			return 0, fmt.Errorf("malformed reply %q", line)
		}
		more := len(line) > 3 && line[3] == '-'
		if len(line) > 4 {
			if len(c.text) > 0 {
				c.text = append(c.text, '\n')
			}
			c.text = append(c.text, line[4:]...)
		}
		if !more {
			return code, nil
		}
	}
}

// expect reads a reply and turns any code but want into a *ReplyError.
func (c *client) expect(stage string, want int) error {
	code, err := c.reply()
	if err != nil {
		return err
	}
	if code != want {
		return c.replyErr(stage, code)
	}
	return nil
}

// replyErr makes a ReplyError of the last reply, splitting off an RFC 3463
// enhanced status code when the reply starts with one of its class.
func (c *client) replyErr(stage string, code int) *ReplyError {
	msg := oneLine(string(c.text))
	re := &ReplyError{Stage: stage, Code: code, Message: msg}
	if ec, rest, ok := strings.Cut(msg, " "); ok && isEnhancedCode(ec) && ec[0] == byte('0'+code/100) {
		re.Enhanced, re.Message = ec, rest
	}
	return re
}

// cmd sends one command and reads its reply.
func (c *client) cmd(stage string, want int, parts ...string) error {
	for _, p := range parts {
		c.bw.WriteString(p)
	}
	c.bw.WriteString("\r\n")
	if err := c.bw.Flush(); err != nil {
		return err
	}
	return c.expect(stage, want)
}

// handshake reads the greeting, says EHLO (HELO when refused), upgrades with
// STARTTLS when asked and authenticates when a user is set. The caller sets
// the deadline that bounds it all.
func (c *client) handshake(ctx context.Context, r *Relay, hello string, cfg *tls.Config) error {
	if err := c.expect("greeting", 220); err != nil {
		return err
	}
	if err := c.hello(hello); err != nil {
		return err
	}
	if r.Security == StartTLS {
		if _, ok := c.ext["STARTTLS"]; !ok {
			return errors.New("STARTTLS: the relay does not offer STARTTLS, which smtp:// requires")
		}
		if err := c.cmd("STARTTLS", 220, "STARTTLS"); err != nil {
			return err
		}
		tc := tls.Client(c.raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
		c.setConn(tc)
		c.tls = true
		// RFC 3207 section 4.2: forget what was learnt before TLS.
		if err := c.hello(hello); err != nil {
			return err
		}
	}
	if r.Username != "" {
		return c.auth(r)
	}
	return nil
}

func (c *client) hello(name string) error {
	c.ext = map[string]string{}
	err := c.cmd("EHLO", 250, "EHLO ", name)
	var re *ReplyError
	if errors.As(err, &re) && (re.Code == 500 || re.Code == 502) {
		return c.cmd("HELO", 250, "HELO ", name)
	}
	if err != nil {
		return err
	}
	lines := strings.Split(string(c.text), "\n")
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, " ")
		c.ext[strings.ToUpper(k)] = v
	}
	_, c.pipe = c.ext["PIPELINING"]
	_, c.bit8 = c.ext["8BITMIME"]
	return nil
}

// auth runs AUTH PLAIN or LOGIN (RFC 4954), only over TLS.
func (c *client) auth(r *Relay) error {
	if !c.tls {
		return errors.New("AUTH: AUTH over an unencrypted connection is refused")
	}
	mechs := " " + strings.ToUpper(c.ext["AUTH"]) + " "
	var mech sasl.Client
	switch {
	case strings.Contains(mechs, " PLAIN "):
		mech = sasl.NewPlainClient("", r.Username, r.Password)
	case strings.Contains(mechs, " LOGIN "):
		mech = sasl.NewLoginClient(r.Username, r.Password)
	default:
		return errors.New("AUTH: the relay offers neither AUTH PLAIN nor AUTH LOGIN")
	}
	name, ir, err := mech.Start()
	if err != nil {
		return fmt.Errorf("AUTH: %w", err)
	}
	resp := "="
	if ir != nil {
		resp = base64.StdEncoding.EncodeToString(ir)
	}
	c.bw.WriteString("AUTH " + name + " " + resp + "\r\n")
	for {
		if err := c.bw.Flush(); err != nil {
			return err
		}
		code, err := c.reply()
		if err != nil {
			return err
		}
		switch code {
		case 235:
			return nil
		case 334:
			ch, err := base64.StdEncoding.DecodeString(string(c.text))
			if err != nil {
				return fmt.Errorf("AUTH: bad challenge: %w", err)
			}
			out, err := mech.Next(ch)
			if err != nil {
				c.bw.WriteString("*\r\n") // RFC 4954 section 4: cancel
				c.bw.Flush()
				return fmt.Errorf("AUTH: %w", err)
			}
			c.bw.WriteString(base64.StdEncoding.EncodeToString(out) + "\r\n")
		default:
			return c.replyErr("AUTH", code)
		}
	}
}

// envelope sends MAIL FROM, RCPT TO and DATA: in one write with PIPELINING
// (RFC 2920 section 3.1: DATA may end a group; every reply is then read in
// order), or one at a time. It returns the first refusal; when the relay
// said 354 to DATA all the same, the empty message is ended with a lone dot
// so that the session stays in step.
func (c *client) envelope(from, to string) error {
	if !c.pipe {
		if err := c.cmd("MAIL", 250, c.mailCmd(from)...); err != nil {
			return err
		}
		if err := c.cmd("RCPT", 250, "RCPT TO:<", to, ">"); err != nil {
			return err
		}
		return c.cmd("DATA", 354, "DATA")
	}
	for _, p := range c.mailCmd(from) {
		c.bw.WriteString(p)
	}
	c.bw.WriteString("\r\nRCPT TO:<")
	c.bw.WriteString(to)
	c.bw.WriteString(">\r\nDATA\r\n")
	if err := c.bw.Flush(); err != nil {
		return err
	}
	var first error
	for i, st := range [...]string{"MAIL", "RCPT", "DATA"} {
		want := 250
		if i == 2 {
			want = 354
		}
		code, err := c.reply()
		if err != nil {
			if first != nil {
				return first // a relay that says 421 may hang up at once
			}
			return err
		}
		if code != want && first == nil {
			first = c.replyErr(st, code)
		}
		if i == 2 && code == 354 && first != nil {
			c.bw.WriteString(".\r\n")
			if err := c.bw.Flush(); err != nil {
				return err
			}
			if _, err := c.reply(); err != nil {
				return err
			}
		}
	}
	return first
}

func (c *client) mailCmd(from string) []string {
	if c.bit8 {
		return []string{"MAIL FROM:<", from, "> BODY=8BITMIME"}
	}
	return []string{"MAIL FROM:<", from, ">"}
}

// body writes the message with dot-stuffing (RFC 5321 section 4.5.2) and
// the final dot. It reports whether the final dot went out: without it the
// relay cannot have accepted the message.
func (c *client) body(data []byte) (sent bool, err error) {
	end := len(data) == 0 || !bytes.HasSuffix(data, crlf)
	if len(data) > 0 && data[0] == '.' {
		c.bw.WriteByte('.')
	}
	for {
		i := bytes.Index(data, nlDot)
		if i < 0 {
			c.bw.Write(data)
			break
		}
		c.bw.Write(data[:i+1])
		c.bw.WriteByte('.')
		data = data[i+1:]
	}
	if end {
		c.bw.Write(crlf)
	}
	c.bw.WriteString(".\r\n")
	if err := c.bw.Flush(); err != nil {
		return false, err
	}
	return true, nil
}

var crlf, nlDot = []byte("\r\n"), []byte("\n.")

// deadline arms the read and write deadline for the next exchange.
func (c *client) deadline(d time.Duration) { c.nc.SetDeadline(time.Now().Add(d)) }

func (c *client) close() error { return c.nc.Close() }
