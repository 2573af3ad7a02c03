// Package transcript writes the SMTP transcript of many connections to one
// io.Writer, for people troubleshooting a relay: every line is prefixed with
// the time, the connection number and who spoke, and the AUTH exchange and
// message bodies are left out.
//
//	12:04:05.120 c3 * connect smtp://mail.example.com:587
//	12:04:05.131 c3 < 220 mail.example.com ESMTP
//	12:04:05.131 c3 > EHLO client.example
//	12:04:05.190 c3 > AUTH PLAIN [redacted]
//	12:04:05.201 c3 < 235 2.7.0 Authentication successful
//	12:04:05.201 c3 > MAIL FROM:<news@example.com>
//
// ">" is a line from the client to the server and "<" one from the server
// to the client, in a client's transcript and a server's alike; "*" is a
// note of the transcript's own. Lines of concurrent connections never mix:
// each line is written whole, under one lock.
//
// go-smtp's Client.DebugWriter and Server.Debug see both directions of a
// connection through one io.Writer. A Session tells them apart with a tap on
// the connection beneath: the side whose bytes crossed the tap last is the
// side whose bytes go-smtp writes next.
//
// It must not import campaign, render, sender or cmd.
package transcript

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Log is the transcript of a set of connections. It is safe for concurrent
// use. A write error stops the transcript, not the connections.
type Log struct {
	mu  sync.Mutex
	w   io.Writer
	n   int // connections so far
	err error
	buf []byte
	// Now is the clock of the time stamps [time.Now].
	Now func() time.Time
}

// New makes a Log that writes to w.
func New(w io.Writer) *Log { return &Log{w: w, Now: time.Now} }

// Err is the first error writing the transcript, if any.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *Log) emit(id int, mark byte, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	b := l.Now().AppendFormat(l.buf[:0], "15:04:05.000")
	b = fmt.Appendf(b, " c%d %c %s\n", id, mark, text)
	_, l.err = l.w.Write(b)
	l.buf = b
}

// Conn starts the transcript of a new connection. With wire set, the bytes
// given to FromClient and FromServer are themselves the transcript, until a
// STARTTLS succeeds (go-smtp's client can take no DebugWriter before its own
// STARTTLS); after that, or without wire, they only tell whose bytes the
// Session's Write sees next.
func (l *Log) Conn(wire bool) *Session {
	l.mu.Lock()
	l.n++
	id := l.n
	l.mu.Unlock()
	return &Session{log: l, id: id, wire: wire}
}

// Session is the transcript of one connection, to give to go-smtp as its
// debug writer.
type Session struct {
	log *Log
	id  int

	mu         sync.Mutex
	wire       bool      // the tapped bytes are plain SMTP (not TLS yet)
	fromClient bool      // whose bytes Write sees
	partial    [2][]byte // an unfinished line, by side (0: server, 1: client)
	closed     bool

	// the protocol state that redaction and elision need
	auth bool // between AUTH and its final reply: client lines are secret
	body bool // in the message body, until the lone "."
	// pending holds the verbs of the commands sent and not answered yet,
	// oldest first (from head on): with pipelining (RFC 2920) MAIL, RCPT
	// and DATA go out before their replies come, and the final dot of one
	// message and the commands of the next share a write, so a reply is
	// matched to its command by order, not by what was sent last.
	pending   []string
	head      int
	bodyLines int
	bodyBytes int
}

// ID is the connection's number in the transcript.
func (s *Session) ID() int { return s.id }

// Note writes a line of the transcript's own about the connection, such as
// where it goes or why it failed.
func (s *Session) Note(format string, args ...any) {
	s.log.emit(s.id, '*', oneLine(fmt.Sprintf(format, args...)))
}

// FromClient records that b went from the client to the server, as seen on
// the connection under go-smtp (plain bytes, or TLS records).
func (s *Session) FromClient(b []byte) { s.tap(true, b) }

// FromServer records that b went from the server to the client.
func (s *Session) FromServer(b []byte) { s.tap(false, b) }

func (s *Session) tap(fromClient bool, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fromClient = fromClient
	if s.wire {
		s.feed(b)
	}
}

// Write takes plain SMTP from go-smtp's debug writer, in the direction of
// the last tapped bytes. It never fails: a broken transcript must not break
// the connection.
func (s *Session) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.wire {
		s.feed(b)
	}
	return len(b), nil
}

// Close writes what is left of unfinished lines and a last note.
func (s *Session) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for side, p := range s.partial {
		if len(p) > 0 {
			s.line(side == 1, string(p))
		}
	}
	s.log.emit(s.id, '*', "closed")
}

func (s *Session) feed(b []byte) {
	side := 0
	if s.fromClient {
		side = 1
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			s.partial[side] = append(s.partial[side], b...)
			return
		}
		line := b[:i]
		if p := s.partial[side]; len(p) > 0 {
			line = append(p, line...)
			s.partial[side] = p[:0]
		}
		s.line(s.fromClient, strings.TrimSuffix(string(line), "\r"))
		b = b[i+1:]
	}
}

// line writes one line, minus what must not be in a transcript: the
// client's side of an AUTH exchange (RFC 4954 section 4: every line after
// AUTH until the server's final reply) and the message body.
func (s *Session) line(fromClient bool, text string) {
	if !fromClient {
		s.log.emit(s.id, '<', text)
		s.reply(text)
		return
	}
	switch {
	case s.body:
		if text == "." {
			s.body = false
			s.pending = append(s.pending, ".") // the final dot has a reply too
			s.log.emit(s.id, '>', fmt.Sprintf("[message: %d lines, %d bytes]", s.bodyLines, s.bodyBytes))
			s.log.emit(s.id, '>', ".")
			return
		}
		s.bodyLines++
		s.bodyBytes += len(text) + 2
		return
	case s.auth:
		s.log.emit(s.id, '>', "[redacted]")
		return
	}
	verb, rest, _ := strings.Cut(text, " ")
	verb = strings.ToUpper(verb)
	if verb == "AUTH" {
		s.auth = true
		if mech, ir, ok := strings.Cut(rest, " "); ok && ir != "" {
			text = verb + " " + mech + " [redacted]"
		}
	}
	s.pending = append(s.pending, verb)
	s.log.emit(s.id, '>', text)
}

// reply follows the protocol state on the last line of a server's reply.
func (s *Session) reply(text string) {
	if len(text) < 3 || len(text) > 3 && text[3] != ' ' {
		return // a continuation line, or not a reply
	}
	code := text[:3]
	if s.auth {
		if code == "334" {
			return // a challenge: the exchange goes on
		}
		s.auth = false
	}
	if s.head == len(s.pending) {
		return // the greeting, or a reply to nothing (421 before closing)
	}
	verb := s.pending[s.head]
	if s.head++; s.head == len(s.pending) {
		s.pending, s.head = s.pending[:0], 0
	}
	switch {
	case verb == "DATA" && code == "354":
		s.body, s.bodyLines, s.bodyBytes = true, 0, 0
	case verb == "STARTTLS" && code[0] == '2':
		s.wire = false // the rest is TLS records: go-smtp's debug writer takes over
		s.log.emit(s.id, '*', "TLS handshake")
	}
}

func oneLine(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		return strings.Join(strings.Fields(s), " ")
	}
	return s
}
