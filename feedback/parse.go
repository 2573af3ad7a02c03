package feedback

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"net/url"
	"regexp"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode ISO-8859-x, Windows-125x text bounces
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// DefaultMaxSize is the largest message Parse reads when Options.MaxSize is 0.
// Receivers return at most the original message, and mailer's messages are
// small; a larger one is not a report worth reading.
const DefaultMaxSize = 32 << 20

// Limits on the MIME tree, so that no input makes Parse deep or slow.
const (
	maxDepth  = 8
	maxParts  = 256
	maxGroups = 1000
)

// Options tune Parse.
type Options struct {
	// UnsubscribeMailto is the address of the List-Unsubscribe mailto
	// alternative, bare ("unsubscribe@acme.example") or as the URL
	// ("mailto:unsubscribe@acme.example?subject=unsubscribe"). A message
	// delivered to it (see Report.Envelope) that is not an auto-reply is an
	// unsubscribe of its From address. When the URL carries a subject, the
	// message's Subject must contain it (case-insensitively, so "Re:
	// Unsubscribe" counts): RFC 2369 clients send that subject, and it keeps
	// an ordinary reply to a mistyped address from unsubscribing anyone.
	// Empty: no message is read as an unsubscribe.
	UnsubscribeMailto string

	// MaxSize caps the bytes read from r; 0 means DefaultMaxSize.
	MaxSize int64
}

// TooLargeError is returned by Parse for a message over Options.MaxSize.
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("message larger than %d bytes", e.Limit)
}

// Parse reads one raw message (RFC 5322, with or without a leading mbox
// "From " line) and says what it reports. It returns an error only when r
// fails, the message is over the size limit, or opts is invalid; a message
// that cannot be read as mail is a Report of KindNotRecognised. Parse never
// panics on any input.
func Parse(r io.Reader, opts Options) (*Report, error) {
	mailto, subject, err := parseMailto(opts.UnsubscribeMailto)
	if err != nil {
		return nil, err
	}
	limit := opts.MaxSize
	if limit <= 0 {
		limit = DefaultMaxSize
	}
	raw, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	if int64(len(raw)) > limit {
		return nil, &TooLargeError{Limit: limit}
	}
	return parse(raw, mailto, subject), nil
}

func parse(raw []byte, mailto, mailtoSubject string) *Report {
	rep := &Report{Kind: KindNotRecognised}
	sum := sha256.Sum256(raw)
	rep.Key = "sha256:" + hex.EncodeToString(sum[:])

	body := raw
	if bytes.HasPrefix(body, []byte("From ")) { // an mbox separator line
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			body = body[i+1:]
		}
	}
	root, err := readTree(body)
	if root == nil {
		rep.Why = "not a mail message: " + err.Error()
		return rep
	}
	h := mail.Header{Header: root.header}
	if id := messageID(root.header); id != "" {
		rep.MessageID = id
		rep.Key = "mid:" + id
	}
	rep.From = firstAddress(root.header, "From")
	rep.Subject, _ = h.Subject()
	rep.Envelope = envelope(root.header)

	if rp := findReport(root); rp != nil {
		switch strings.ToLower(rp.params["report-type"]) {
		case "delivery-status", "global-delivery-status":
			if parseDSN(rep, rp) {
				return rep
			}
			rep.Why = "delivery-status report without recipient fields"
			return rep
		case "feedback-report":
			parseARF(rep, rp)
			return rep
		default:
			rep.Why = "report of type " + strings.ToLower(rp.params["report-type"])
			return rep
		}
	}
	if parseText(rep, root) {
		return rep
	}
	if why := autoReply(root.header, rep.Subject); why != "" {
		rep.Kind, rep.Format, rep.Why = KindAutoReply, FormatAutoReply, why
		return rep
	}
	if mailto != "" && parseUnsubscribe(rep, mailto, mailtoSubject) {
		return rep
	}
	if rep.Why == "" {
		rep.Why = "no delivery report, feedback report, known bounce text or unsubscribe request"
	}
	return rep
}

// part is one node of a message's MIME tree, its body decoded from its
// transfer encoding (and, for text/*, its charset). message/* parts are
// leaves: the returned message is read as its own header block.
type part struct {
	header   message.Header
	ct       string
	params   map[string]string
	body     []byte
	children []*part
}

func readTree(raw []byte) (*part, error) {
	e, err := message.Read(bytes.NewReader(raw))
	if e == nil {
		return nil, err
	}
	// Unknown charsets and encodings leave the body as it is: still readable.
	n := 0
	p, _ := readPartEntity(e, 0, &n)
	return p, nil
}

func readPartEntity(e *message.Entity, depth int, n *int) (*part, error) {
	*n++
	p := &part{header: e.Header}
	p.ct, p.params, _ = e.Header.ContentType()
	if p.ct == "" {
		p.ct = "text/plain"
	}
	p.ct = strings.ToLower(p.ct)
	if mr := e.MultipartReader(); mr != nil {
		if depth >= maxDepth {
			return p, nil
		}
		for *n < maxParts {
			sub, err := mr.NextPart()
			if err != nil {
				break
			}
			c, _ := readPartEntity(sub, depth+1, n)
			if c != nil {
				p.children = append(p.children, c)
			}
		}
		return p, nil
	}
	var err error
	p.body, err = io.ReadAll(e.Body)
	return p, err
}

// findReport returns the multipart/report node: the message itself, or one
// inside a multipart/mixed (some relays wrap what they forward).
func findReport(p *part) *part {
	if p.ct == "multipart/report" {
		return p
	}
	for _, c := range p.children {
		if r := findReport(c); r != nil {
			return r
		}
	}
	return nil
}

// returned finds the returned message or its headers among a report's parts
// (RFC 3464 2, RFC 5965 2: message/rfc822 or text/rfc822-headers; RFC 6533:
// message/global and message/global-headers).
func returned(rp *part) (Original, bool) {
	for _, c := range rp.children {
		switch c.ct {
		case "message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers", "message/rfc822-headers":
			return originalFrom(c.body), true
		}
	}
	return Original{}, false
}

func originalFrom(b []byte) Original {
	th, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(b)))
	h := message.Header{Header: th}
	var o Original
	o.MessageID = messageID(h)
	o.To = addressesAll(h, "To")
	o.ReturnPath = firstAddress(h, "Return-Path")
	mh := mail.Header{Header: h}
	o.Subject, _ = mh.Subject()
	return o
}

func messageID(h message.Header) string {
	mh := mail.Header{Header: h}
	if id, err := mh.MessageID(); err == nil && id != "" {
		return id
	}
	// Some MTAs write IDs that go-message's strict parser refuses
	// (unbracketed, spaces); take the bracketed text or the whole value.
	v := strings.TrimSpace(h.Get("Message-Id"))
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			v = v[i+1 : i+j]
		}
	}
	if strings.ContainsAny(v, " \t\r\n") {
		return ""
	}
	return v
}

// envelope lists the addresses the report was delivered to, see
// Report.Envelope.
func envelope(h message.Header) []string {
	var out []string
	seen := map[string]bool{}
	add := func(a string) {
		k := strings.ToLower(a)
		if a != "" && !seen[k] {
			seen[k] = true
			out = append(out, a)
		}
	}
	for _, k := range []string{"Delivered-To", "X-Original-To", "To", "Return-Path"} {
		for _, a := range addressesAll(h, k) {
			add(a)
		}
	}
	return out
}

func addressesAll(h message.Header, key string) []string {
	var out []string
	for _, v := range h.Values(key) {
		out = append(out, parseAddresses(v)...)
	}
	return out
}

func firstAddress(h message.Header, key string) string {
	if l := addressesAll(h, key); len(l) > 0 {
		return l[0]
	}
	return ""
}

// parseAddresses reads an address list leniently: go-message's parser
// first, then a bare "a@b" or "<a@b>" (Return-Path, Delivered-To).
func parseAddresses(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" || v == "<>" {
		return nil
	}
	if l, err := mail.ParseAddressList(v); err == nil {
		var out []string
		for _, a := range l {
			if a.Address != "" {
				out = append(out, a.Address)
			}
		}
		return out
	}
	if a := bareAddress(v); a != "" {
		return []string{a}
	}
	return nil
}

var addrRe = regexp.MustCompile(`^[^\s<>@"(),;:]+@[^\s<>@"(),;:]+\.[^\s<>@"(),;:]+$`)

// bareAddress returns s as an address if it is one, with angle brackets,
// quotes and a trailing colon or period removed; else "".
func bareAddress(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimRight(s, ":.,;")
	s = strings.Trim(s, `"'`)
	s = strings.TrimPrefix(s, "<")
	s = strings.TrimSuffix(s, ">")
	if addrRe.MatchString(s) {
		return s
	}
	return ""
}

// typed strips an RFC 3464 type prefix: "rfc822; ann@x" -> "ann@x",
// "dns; mx.example" -> "mx.example", "smtp; 550 ..." -> "550 ...".
func typed(v string) string {
	v = unfold(v)
	if i := strings.IndexByte(v, ';'); i >= 0 && i < 16 && !strings.ContainsAny(v[:i], " <@") {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

func unfold(v string) string { return strings.Join(strings.Fields(v), " ") }

func parseMailto(s string) (addr, subject string, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", "", nil
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
	if len(s) >= 7 && strings.EqualFold(s[:7], "mailto:") {
		u, err := url.Parse("mailto:" + s[7:])
		if err != nil {
			return "", "", fmt.Errorf("unsubscribe mailto %q: %w", s, err)
		}
		addr, err = url.PathUnescape(u.Opaque)
		if err != nil {
			return "", "", fmt.Errorf("unsubscribe mailto %q: %w", s, err)
		}
		subject = u.Query().Get("subject")
	} else {
		addr = s
	}
	if bareAddress(addr) == "" || strings.ContainsAny(addr, "<>") {
		return "", "", fmt.Errorf("unsubscribe mailto %q: not an address", s)
	}
	return addr, subject, nil
}

// decodeWord decodes RFC 2047 words in a header value taken raw from a
// header block (the fields of a feedback report).
func decodeWord(s string) string {
	d := new(mime.WordDecoder)
	if out, err := d.DecodeHeader(s); err == nil {
		return out
	}
	return s
}
