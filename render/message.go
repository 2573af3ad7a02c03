package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/mailer-dev/mailer/address"
)

// Recipient is one row of the list as the template sees it.
type Recipient struct {
	// Address is the recipient's address as it goes on the wire (domain in
	// A-labels). It fills the To header together with Name.
	Address string
	// Name is the display name for To; may be empty.
	Name string
	// Fields are the row's columns by header name; templates read them as {{.name}}.
	Fields map[string]string
}

// Message is a rendered message.
type Message struct {
	// From is the address of the From header field (its first address, domain
	// in A-labels), not the envelope sender, which the caller chooses (this
	// address or a return path).
	From string
	// MessageID is the Message-ID header value without angle brackets.
	MessageID string
	// Data is the whole message, CRLF line endings. It aliases the buffer
	// passed to Render and is valid until that buffer is reused.
	Data []byte
	// UTF8 reports an address with a non-ASCII local part in the header,
	// written as raw UTF-8 (RFC 6532): the message can only travel with
	// SMTPUTF8 (RFC 6531). No other message has raw UTF-8 in its header.
	UTF8 bool
}

// scratch holds the buffers bodies are executed into before they are
// encoded into the message: reusing them saves growing a new one, several
// times over, for every message.
var scratch = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putScratch(b *bytes.Buffer) {
	if b.Cap() > 1<<20 {
		return // a rare huge body: let it go
	}
	b.Reset()
	scratch.Put(b)
}

// RowError is a row that cannot be rendered: a missing field, a header value
// with a line break, an unparsable address. The row is invalid; others go on.
type RowError struct {
	Part string // "Subject", "From", "text", "html", ...
	Err  error
}

func (e *RowError) Error() string { return e.Part + ": " + e.Err.Error() }
func (e *RowError) Unwrap() error { return e.Err }

// Render renders the message for r into buf (which it resets) and returns it.
func (t *Template) Render(buf *bytes.Buffer, r Recipient) (*Message, error) {
	buf.Reset()
	if strings.ContainsAny(r.Name, "\r\n") {
		return nil, &RowError{"To", errors.New("the display name contains a line break (header injection refused)")}
	}
	// One budget for all the template output of the message: execution
	// stops as soon as it passes the limit.
	limit := t.opts.MaxMessageBytes
	bud := &budget{left: limit, limit: limit}
	capped := func(w io.Writer) io.Writer { return capWriter{w, bud} }
	m := &Message{UTF8: !isASCII(r.Address)}
	// rkey is address.Key(r.Address), a full parse: made once, for the
	// unsubscribe URL and the tracking key, and only when one needs it.
	var rkey, unsubURL string
	if t.unsub != nil {
		rkey = address.Key(r.Address)
		var err error
		if unsubURL, err = t.unsub.urlFor(rkey, r.Fields); err != nil {
			return nil, &RowError{"List-Unsubscribe", err}
		}
	}
	// data is the row as the template packages see it, built only when a
	// template runs there rather than as a program.
	var data map[string]string
	dataMap := func() map[string]string {
		if data != nil {
			return data
		}
		data = r.Fields
		if t.unsub != nil || data == nil {
			data = make(map[string]string, len(r.Fields)+1)
			for k, v := range r.Fields {
				data[k] = v
			}
			if t.unsub != nil {
				data[unsubscribeKey] = unsubURL
			}
		}
		return data
	}
	env := progEnv{fields: r.Fields, unsub: unsubURL, hasUnsub: t.unsub != nil, now: t.opts.Now}
	var small [16]slot
	sl := slots(small[:], t.slots)

	// Render every header value first: a row error must leave nothing behind.
	var fieldsBuf [8]field
	fields := fieldsBuf[:0]
	var fromDomain string
	var hbuf [256]byte
	hb := hbuf[:0]
	for i := range t.headers {
		hd := &t.headers[i]
		var hv headerValue
		if hd.static != nil {
			hv = *hd.static
			if err := bud.take(hd.staticLen); err != nil {
				return nil, &RowError{hd.name, err}
			}
		} else {
			var v string
			if hd.prog != nil {
				var err error
				if hb, err = hd.prog.exec(hb[:0], &env, sl, bud); err != nil {
					return nil, &RowError{hd.name, execErr(err)}
				}
				v = string(bytes.TrimSpace(hb))
			} else {
				sb := new(strings.Builder)
				if err := hd.tmpl.Execute(capped(sb), dataMap()); err != nil {
					return nil, &RowError{hd.name, execErr(err)}
				}
				v = strings.TrimSpace(sb.String())
			}
			var err error
			if hv, err = hd.value(v, t.opts.SubjectPrefix); err != nil {
				return nil, &RowError{hd.name, err}
			}
		}
		if hv.skip {
			continue
		}
		m.UTF8 = m.UTF8 || hv.utf8
		if hd.name == "From" {
			m.From, fromDomain = hv.from, hv.from[strings.LastIndexByte(hv.from, '@')+1:]
		}
		fields = append(fields, field{hd.name, hv.v})
	}
	var bodyText, bodyHTML []byte
	if t.text != nil {
		b, err := t.execBody(t.text, t.textProg, &env, sl, bud, capped, dataMap)
		if err != nil {
			return nil, &RowError{"text", execErr(err)}
		}
		defer putBody(b)
		bodyText = *b
	}
	if t.html != nil {
		b, err := t.execBody(t.html, t.htmlProg, &env, sl, bud, capped, dataMap)
		if err != nil {
			return nil, &RowError{"html", execErr(err)}
		}
		defer putBody(b)
		bodyHTML = *b
	}
	if t.opts.Tracking != nil {
		bodyText, bodyHTML = t.track(r, rkey, unsubURL, bodyText, bodyHTML)
	}
	var files []*attachment
	if len(t.staticAttach) > 0 || len(t.attachTmpls) > 0 || t.opts.AttachColumn != "" {
		var err error
		if files, err = t.attachments(dataMap, capped); err != nil {
			return nil, err
		}
	}
	// Encoded attachments take a third more: refuse before building.
	size := int64(len(bodyText) + len(bodyHTML))
	for _, f := range files {
		size += int64(len(f.data)) * 4 / 3
	}
	if size > limit {
		return nil, &RowError{"message", &TooLargeError{limit}}
	}
	m.MessageID = t.opts.MessageID(r.Address) + "@" + fromDomain

	// Fixed order: From, To, Subject, Date, Message-ID, the template's
	// other headers as written, then the MIME fields.
	get := func(k string) (string, bool) {
		for _, f := range fields {
			if f.k == k {
				return f.v, true
			}
		}
		return "", false
	}
	from, _ := get("From")
	writeField(buf, "From", from)
	writeField(buf, "To", formatAddress(r.Name, r.Address))
	if v, ok := get("Subject"); ok {
		writeField(buf, "Subject", v)
	}
	writeField(buf, "Date", t.date.format(t.opts.Now()))
	if strings.IndexByte(m.MessageID, ' ') < 0 { // writeField would not fold it
		buf.WriteString("Message-ID: <")
		buf.WriteString(m.MessageID)
		buf.WriteString(">\r\n")
	} else {
		writeField(buf, "Message-ID", "<"+m.MessageID+">")
	}
	for _, f := range fields {
		if f.k != "From" && f.k != "Subject" {
			writeField(buf, f.k, f.v)
		}
	}
	if t.unsub != nil {
		list, post := t.unsub.headers(unsubURL)
		writeField(buf, "List-Unsubscribe", list)
		writeField(buf, "List-Unsubscribe-Post", post)
	}

	// The encoded message, too, stops at the limit (quoted-printable can
	// triple a body).
	whole := &budget{left: limit - int64(buf.Len()), limit: limit}
	var err error
	if len(files) == 0 {
		err = appendContent(buf, whole, m.MessageID, bodyText, bodyHTML)
	} else {
		err = writeBodies(capWriter{buf, whole}, m.MessageID, bodyText, bodyHTML, files)
	}
	if err != nil {
		if tl := (*TooLargeError)(nil); errors.As(err, &tl) {
			return nil, &RowError{"message", tl}
		}
		return nil, err
	}
	if t.opts.DKIM != nil {
		if err := t.sign(buf); err != nil {
			return nil, err
		}
	}
	if int64(buf.Len()) > limit {
		return nil, &RowError{"message", &TooLargeError{limit}}
	}
	m.Data = buf.Bytes()
	return m, nil
}

type field struct{ k, v string }

// headerValue is a header's rendered value as it goes in the message.
type headerValue struct {
	v    string
	skip bool   // an optional header that renders empty: left out
	from string // From: the envelope sender, domain in A-labels
	utf8 bool   // an address with a non-ASCII local part
}

// value checks and encodes the rendered value v of the header.
func (hd *header) value(v, subjectPrefix string) (headerValue, error) {
	at := func(err error) error { return err }
	if hd.name == "From" { // the envelope sender: say where it is written
		at = func(err error) error { return fmt.Errorf("%w (template line %d)", err, hd.line) }
	}
	if strings.ContainsAny(v, "\r\n") {
		return headerValue{}, at(errors.New("value contains a line break (header injection refused)"))
	}
	var hv headerValue
	switch {
	case addressHeaders[hd.name]:
		if v == "" {
			if hd.name == "From" {
				return headerValue{}, at(errors.New("renders empty"))
			}
			hv.skip = true
			return hv, nil
		}
		list, err := mail.ParseAddressList(v)
		if err != nil {
			return headerValue{}, at(fmt.Errorf("%q: %v", v, err))
		}
		if hd.name == "From" {
			if err := oneFrom(v, list); err != nil {
				return headerValue{}, at(err)
			}
		}
		for _, a := range list {
			if a.Address, err = address.ASCIIDomain(a.Address); err != nil {
				return headerValue{}, at(err)
			}
			hv.utf8 = hv.utf8 || !isASCII(a.Address)
		}
		if hd.name == "From" {
			hv.from = list[0].Address
		}
		hv.v = formatAddresses(list)
	case v == "" && hd.name != "Subject":
		hv.skip = true
	default:
		if hd.name == "Subject" {
			v = subjectPrefix + v // inside the encoding and the signature
		}
		hv.v = mime.QEncoding.Encode("utf-8", v)
	}
	return hv, nil
}

// bodies holds the buffers bodies are executed into.
var bodies = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

func putBody(b *[]byte) {
	if cap(*b) > 1<<20 {
		return // a rare huge body: let it go
	}
	*b = (*b)[:0]
	bodies.Put(b)
}

// bodyTemplate is a text or html body template.
type bodyTemplate interface {
	Execute(io.Writer, any) error
}

// execBody executes a body: as a program when it compiled to one, else
// with its template package.
func (t *Template) execBody(tm bodyTemplate, p *program, env *progEnv, sl []slot, bud *budget, capped func(io.Writer) io.Writer, data func() map[string]string) (*[]byte, error) {
	b := bodies.Get().(*[]byte)
	var err error
	if p != nil {
		*b, err = p.exec((*b)[:0], env, sl, bud)
	} else {
		w := bytes.NewBuffer((*b)[:0])
		err = tm.Execute(capped(w), data())
		*b = w.Bytes()
	}
	if err != nil {
		putBody(b)
		return nil, err
	}
	return b, nil
}

// oneFrom refuses a From that is not exactly one address. RFC 5322 section
// 3.6.2 allows several authors only with a Sender field, receivers treat
// it as a sign of spoofing (DMARC cannot align it), and the envelope sender
// is taken from it; a group ("name:;") has none.
func oneFrom(v string, list []*mail.Address) error {
	switch len(list) {
	case 1:
		return nil
	case 0:
		return fmt.Errorf("%q holds no address", v)
	}
	return fmt.Errorf("%q is %d addresses; a message has one From address", v, len(list))
}

// writeBodies writes the MIME structure of a message with attachments: the
// text and/or html body inside multipart/mixed with the files (a message
// without any is appendContent's).
func writeBodies(buf io.Writer, id string, text, html []byte, files []*attachment) error {
	w, err := message.CreateWriter(buf, mimeHeader(true, `multipart/mixed; boundary="`+boundary(id, "mixed")+`"`, ""))
	if err != nil {
		return err
	}
	if err := writeContent(nil, w, id, text, html); err != nil {
		return err
	}
	for _, a := range files {
		if err := writeAttachment(w, a); err != nil {
			return err
		}
	}
	return w.Close()
}

// writeContent writes the body parts: as the whole message into buf, or as
// the first part of the multipart parent.
func writeContent(buf io.Writer, parent *message.Writer, id string, text, html []byte) error {
	create := func(h message.Header) (*message.Writer, error) {
		if parent != nil {
			return parent.CreatePart(h)
		}
		return message.CreateWriter(buf, h)
	}
	top := parent == nil
	switch {
	case text != nil && html != nil:
		w, err := create(mimeHeader(top, `multipart/alternative; boundary="`+boundary(id, "")+`"`, ""))
		if err != nil {
			return err
		}
		for _, p := range []struct {
			ct   string
			body []byte
		}{{"text/plain", text}, {"text/html", html}} {
			cte := transferEncoding(p.body)
			pw, err := w.CreatePart(mimeHeader(false, p.ct+"; charset=utf-8", cte))
			if err != nil {
				return err
			}
			if err := writeBody(pw, cte, p.body); err != nil {
				return err
			}
		}
		return w.Close()
	case html != nil:
		text = html
		fallthrough
	default:
		ct := "text/plain"
		if html != nil {
			ct = "text/html"
		}
		cte := transferEncoding(text)
		w, err := create(mimeHeader(top, ct+"; charset=utf-8", cte))
		if err != nil {
			return err
		}
		return writeBody(w, cte, text)
	}
}

// boundary is a multipart boundary derived from the Message-ID, so the same
// inputs give the same bytes (golden files) and no two messages share one.
func boundary(id, kind string) string {
	sum := sha256.Sum256([]byte(id + kind))
	return "=_" + hex.EncodeToString(sum[:12])
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// formatAddresses formats an address list; net/mail encodes non-ASCII
// display names per RFC 2047.
func formatAddresses(list []*mail.Address) string {
	var b strings.Builder
	for i, a := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.String())
	}
	return b.String()
}

// dateCache holds the last Date value written: the messages of one second
// share it (RFC1123Z depends on nothing but the second and the zone).
type dateCache struct{ last atomic.Pointer[dateEntry] }

type dateEntry struct {
	sec int64
	loc *time.Location
	s   string
}

func (c *dateCache) format(now time.Time) string {
	if e := c.last.Load(); e != nil && e.sec == now.Unix() && e.loc == now.Location() {
		return e.s
	}
	s := now.Format(time.RFC1123Z)
	c.last.Store(&dateEntry{now.Unix(), now.Location(), s})
	return s
}

// formatAddress is (&mail.Address{Name: name, Address: addr}).String(),
// in one allocation for the common case: an ASCII display name and an
// ASCII dot-atom local part (FuzzFormatAddress holds net/mail as the oracle).
func formatAddress(name, addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || !dotAtom(addr[:at]) {
		return (&mail.Address{Name: name, Address: addr}).String()
	}
	n := len(addr) + 2
	if name != "" {
		n += len(name) + 3
		for i := 0; i < len(name); i++ {
			switch c := name[i]; {
			case c == '"' || c == '\\':
				n++
			case c != '\t' && (c < ' ' || c > '~'):
				return (&mail.Address{Name: name, Address: addr}).String()
			}
		}
	}
	b := make([]byte, 0, n)
	if name != "" {
		b = append(b, '"')
		for i := 0; i < len(name); i++ {
			if c := name[i]; c == '"' || c == '\\' {
				b = append(b, '\\', c)
			} else {
				b = append(b, c)
			}
		}
		b = append(b, '"', ' ')
	}
	b = append(b, '<')
	b = append(b, addr...)
	b = append(b, '>')
	return string(b)
}

// dotAtom reports whether net/mail writes local unquoted: ASCII atext
// and dots, none first, last or next to another.
func dotAtom(local string) bool {
	for i := 0; i < len(local); i++ {
		c := local[i]
		switch {
		case c == '.':
			if i == 0 || local[i-1] == '.' || i == len(local)-1 {
				return false
			}
		case c < '!' || c > '~' || strings.IndexByte("()<>[]:;@\\,\"", c) >= 0:
			return false
		}
	}
	return true
}

// writeField writes "Key: value" CRLF, folding at spaces so lines stay within
// 78 characters where the value allows it (RFC 5322 section 2.2.3).
func writeField(buf *bytes.Buffer, k, v string) {
	buf.WriteString(k)
	buf.WriteString(":")
	col := len(k) + 1
	for v != "" {
		word := v
		if i := strings.IndexByte(v[1:], ' '); i >= 0 {
			word = v[:i+1]
		}
		if col > len(k)+1 && col+len(word) > 78 {
			buf.WriteString("\r\n")
			col = 0
		}
		if col == len(k)+1 && word[0] != ' ' {
			buf.WriteByte(' ')
			col++
		}
		buf.WriteString(word)
		col += len(word)
		v = v[len(word):]
	}
	buf.WriteString("\r\n")
}

// execErr turns text/template's error about a missing map key into a plain
// sentence naming the field.
func execErr(err error) error {
	if tl := (*TooLargeError)(nil); errors.As(err, &tl) {
		return tl
	}
	s := err.Error()
	if i := strings.Index(s, "map has no entry for key "); i >= 0 {
		return fmt.Errorf("the list has no column named %s", strings.Trim(s[i+len("map has no entry for key "):], `"`))
	}
	return errors.New(cleanTemplateErr(err))
}

// mimeHeader starts the MIME fields of an entity. AddRaw keeps our spelling
// of the names (MIME-Version, not Mime-Version); go-message writes fields in
// the reverse order of adding.
func mimeHeader(top bool, contentType, cte string) message.Header {
	var h message.Header
	if cte != "" {
		h.AddRaw([]byte("Content-Transfer-Encoding: " + cte + "\r\n"))
	}
	h.AddRaw([]byte("Content-Type: " + contentType + "\r\n"))
	if top {
		h.AddRaw([]byte("MIME-Version: 1.0\r\n"))
	}
	return h
}

// writeBody writes body through w, which applies the transfer encoding named
// in the header. Quoted-printable turns LF into CRLF by itself; for 7bit the
// line endings are normalised here.
func writeBody(w *message.Writer, enc string, body []byte) error {
	if enc == "7bit" {
		// One write of the CRLF form (a 7bit body has no CR of its own):
		// the encoder's cost is per write, not per byte.
		crlf := scratch.Get().(*bytes.Buffer)
		defer putScratch(crlf)
		crlf.Grow(len(body) + bytes.Count(body, []byte("\n")))
		for len(body) > 0 {
			line, rest, found := bytes.Cut(body, []byte("\n"))
			crlf.Write(line)
			if found {
				crlf.WriteString("\r\n")
			}
			body = rest
		}
		body = crlf.Bytes()
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	return w.Close()
}

// transferEncoding picks 7bit when the body is ASCII with short lines (what a
// person can read in the raw message), else quoted-printable, which keeps
// every line within RFC 5322's limits (RFC 2045 section 6.7).
func transferEncoding(body []byte) string {
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if len(line) > 76 || !plainLine(line) {
			return "quoted-printable"
		}
	}
	return "7bit"
}

// plainLine reports whether line has only ASCII other than NUL and CR,
// eight bytes at a time.
func plainLine(line []byte) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for len(line) >= 8 {
		v := binary.LittleEndian.Uint64(line)
		cr := v ^ (0x0d * lo)
		// v&hi: a byte >= 0x80; (x-lo)&^x&hi: a zero byte in x (v for NUL,
		// cr for CR).
		if (v|(v-lo)&^v|(cr-lo)&^cr)&hi != 0 {
			return false
		}
		line = line[8:]
	}
	for _, c := range line {
		if c >= 0x80 || c == 0 || c == '\r' {
			return false
		}
	}
	return true
}
