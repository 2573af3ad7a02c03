package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"maps"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/emersion/go-message/mail"
)

// Options are what rendering depends on besides the template and the row.
type Options struct {
	// Now is the clock for the Date header and the now function.
	Now func() time.Time
	// MessageID returns the left part of the Message-ID for a recipient
	// (the part before "@"); render adds the From domain. It must be unique
	// per recipient and campaign.
	MessageID func(recipient string) string

	// Unsubscribe, when set, adds the List-Unsubscribe fields (RFC 8058)
	// to every message and gives templates {{unsubscribe_url}}.
	Unsubscribe *Unsubscribe
	// DKIM, when set, signs every message.
	DKIM *DKIM
	// Files is where attachments are read from: the template's directory
	// tree. It must refuse paths that leave it, symbolic links included
	// (os.Root's FS does); render never opens files any other way.
	Files fs.FS
	// AttachColumn names a list column with more attachments for a row,
	// comma-separated paths in Files.
	AttachColumn string
	// MaxAttachmentBytes caps the attachments of one message, before
	// base64 [DefaultMaxAttachmentBytes].
	MaxAttachmentBytes int64
	// MaxMessageBytes caps one rendered message, and every template's
	// output on the way to it [DefaultMaxMessageBytes]: a row whose message
	// would pass it fails with a *TooLargeError.
	MaxMessageBytes int64
	// Tracking, when set, rewrites links for click (and open) tracking.
	Tracking *Tracking
	// SubjectPrefix goes before every rendered Subject (a test send's
	// "[test] "), inside the signature and the encoding.
	SubjectPrefix string
}

// Template is a parsed campaign template: header templates and the text
// and/or HTML body. It is safe for concurrent use by several goroutines.
type Template struct {
	name    string
	sum     [32]byte // SHA-256 of the source
	opts    Options
	headers []header
	text    *template.Template // nil when the template has only an html block
	html    *htmltemplate.Template

	// textProg and htmlProg are text and html compiled (program.go), or
	// nil when they do more than a program can.
	textProg, htmlProg *program
	slots              int // assignSlots over all programs
	date               *dateCache

	unsub        *unsubscriber        // nil without Options.Unsubscribe
	attachTmpls  []*template.Template // Attach lines that depend on the row
	staticAttach []*attachment        // Attach lines read at Parse
	staticBytes  int64
	dkimKeys     []string // header fields a DKIM signature covers
}

type header struct {
	name string // canonical, e.g. "Reply-To"
	line int
	tmpl *template.Template
	prog *program // tmpl compiled, or nil

	// static is the value of a header written as plain text, checked and
	// encoded once at Parse; staticLen is its length as the template
	// writes it, charged to each message's budget.
	static    *headerValue
	staticLen int
}

// ParseError is a template that cannot be used at all; it names the file and line.
type ParseError struct {
	File string
	Line int // 0 when the error is not tied to a line
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// NoUnsubscribeURLError is a template that uses {{unsubscribe_url}} given
// no Options.Unsubscribe to make the URL with. It is a *ParseError too
// (errors.As finds both).
type NoUnsubscribeURLError struct{ File string }

func (e *NoUnsubscribeURLError) Error() string { return e.parse().Error() }

// Unwrap gives the *ParseError it also is.
func (e *NoUnsubscribeURLError) Unwrap() error { return e.parse() }

func (e *NoUnsubscribeURLError) parse() *ParseError {
	return &ParseError{File: e.File, Msg: "the template uses {{unsubscribe_url}} but no unsubscribe URL is configured"}
}

// generated are headers that mailer writes itself; a template may not set them.
var generated = map[string]string{
	"To":                        "To: is built from the list's address column; remove it from the template",
	"Bcc":                       "Bcc: has no place in a personalised message; remove it",
	"Date":                      "Date: is set by mailer when the message is rendered",
	"Message-Id":                "Message-ID: is set by mailer, unique per recipient",
	"Mime-Version":              "MIME-Version: is set by mailer",
	"Content-Type":              "Content-Type: is set by mailer from the text and html blocks",
	"Content-Transfer-Encoding": "Content-Transfer-Encoding: is chosen by mailer",
	"Dkim-Signature":            "DKIM-Signature: is added by mailer when DKIM signing is configured",
}

// addressHeaders hold address lists: parsed and re-encoded, not treated as text.
var addressHeaders = map[string]bool{"From": true, "Reply-To": true, "Cc": true, "Sender": true}

// Parse parses a template: a header block, a blank line, then the body. name
// is used in error messages (normally the file name).
func Parse(name string, src []byte, opts Options) (*Template, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MessageID == nil {
		return nil, &ParseError{File: name, Msg: "no Message-ID source (render.Options.MessageID)"}
	}
	if opts.MaxAttachmentBytes <= 0 {
		opts.MaxAttachmentBytes = DefaultMaxAttachmentBytes
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = DefaultMaxMessageBytes
	}
	src = bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))
	s := strings.ReplaceAll(string(src), "\r\n", "\n")
	t := &Template{name: name, opts: opts, sum: sha256.Sum256(src), date: new(dateCache)}
	fm := funcs(opts.Now)
	fm["unsubscribe_url"] = unsubscribeFunc
	limitFuncs(fm, opts.MaxMessageBytes)
	if opts.Unsubscribe != nil {
		us, err := newUnsubscriber(opts.Unsubscribe)
		if err != nil {
			return nil, &ParseError{File: name, Msg: err.Error()}
		}
		t.unsub = us
	}
	fm["notrack"] = func(u string) string { return u } // headers, attachments: never marked
	if opts.Tracking != nil {
		if err := opts.Tracking.check(); err != nil {
			return nil, &ParseError{File: name, Msg: err.Error()}
		}
	}
	if opts.DKIM != nil {
		if err := opts.DKIM.check(); err != nil {
			return nil, &ParseError{File: name, Msg: err.Error()}
		}
	}

	lines := strings.Split(s, "\n")
	bodyStart := -1
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "" {
			bodyStart = i + 1
			break
		}
		if l[0] == ' ' || l[0] == '\t' {
			if len(t.headers) == 0 {
				return nil, &ParseError{name, i + 1, "continuation line before any header"}
			}
			h := &t.headers[len(t.headers)-1]
			h.tmpl = nil // re-parsed below from the unfolded text
			continue
		}
		k, _, ok := strings.Cut(l, ":")
		if !ok || !validFieldName(k) {
			return nil, &ParseError{name, i + 1, fmt.Sprintf("%q is not a header line (want \"Name: value\"; end the header block with a blank line)", l)}
		}
		t.headers = append(t.headers, header{name: canonical(k), line: i + 1})
	}
	if bodyStart < 0 {
		return nil, &ParseError{name, len(lines), "no blank line between the header block and the body"}
	}
	// Second pass: unfold and parse each header's value as a template.
	hi := -1
	var vals []string
	for i := 0; i < bodyStart-1; i++ {
		l := lines[i]
		if l[0] == ' ' || l[0] == '\t' {
			vals[hi] += " " + strings.TrimSpace(l)
			continue
		}
		hi++
		_, v, _ := strings.Cut(l, ":")
		vals = append(vals, strings.TrimSpace(v))
	}
	seen := map[string]bool{}
	hasFrom, usesUnsub := false, false
	var attach []header
	var attachVals []string
	kept := t.headers[:0]
	for i := range t.headers {
		h := t.headers[i]
		if msg, bad := generated[h.name]; bad {
			return nil, &ParseError{name, h.line, msg}
		}
		if t.unsub != nil && strings.HasPrefix(h.name, "List-Unsubscribe") {
			return nil, &ParseError{name, h.line, h.name + ": is set by mailer from the unsubscribe URL; remove it from the template"}
		}
		if seen[h.name] && h.name != attachHeader {
			return nil, &ParseError{name, h.line, h.name + ": appears twice"}
		}
		seen[h.name] = true
		hasFrom = hasFrom || h.name == "From"
		v, used := rewriteUnsubscribe(vals[i])
		usesUnsub = usesUnsub || used
		tm, err := template.New(h.name).Funcs(fm).Option("missingkey=error").Parse(v)
		if err != nil {
			return nil, &ParseError{name, h.line, fmt.Sprintf("%s: %v", h.name, cleanTemplateErr(err))}
		}
		h.tmpl = tm
		h.prog = compile(tm.Tree)
		if v, ok := h.prog.literal(); ok {
			if hv, err := h.value(strings.TrimSpace(v), opts.SubjectPrefix); err == nil {
				h.static, h.staticLen = &hv, len(v)
			}
		}
		if h.name == "From" {
			if err := checkStaticFrom(tm); err != nil {
				return nil, &ParseError{name, h.line, "From: " + err.Error()}
			}
		}
		if h.name == attachHeader {
			attach, attachVals = append(attach, h), append(attachVals, vals[i])
			continue
		}
		kept = append(kept, h)
	}
	t.headers = kept
	if opts.DKIM != nil {
		t.dkimKeys = dkimKeysFor(t.HeaderNames())
	}
	if !hasFrom {
		return nil, &ParseError{File: name, Msg: "no From: header"}
	}
	if err := t.parseAttach(attach, attachVals); err != nil {
		return nil, err
	}

	body, used := rewriteUnsubscribe(strings.Join(lines[bodyStart:], "\n"))
	if strings.TrimSpace(body) == "" {
		// Every recipient would get an empty message: surely a template
		// cut short. Name the blank line, or the last header when the file
		// ends with the header block.
		line := min(bodyStart, strings.Count(s, "\n"))
		return nil, &ParseError{name, line, "the header block is not followed by a body (a blank line, then the text or the {{define}} blocks)"}
	}
	if usesUnsub = usesUnsub || used; usesUnsub && t.unsub == nil {
		return nil, &NoUnsubscribeURLError{File: name}
	}
	offset := bodyStart // body line 1 is file line bodyStart+1
	bodyFM, htmlFM := maps.Clone(fm), htmlFuncs(fm)
	notrackFuncs(bodyFM, htmlFM, opts.Tracking != nil)
	bt, err := template.New("body").Funcs(bodyFM).Option("missingkey=error").Parse(body)
	if err != nil {
		return nil, &ParseError{File: name, Msg: "body: " + shiftLine(cleanTemplateErr(err), offset)}
	}
	textT, htmlT := bt.Lookup("text"), bt.Lookup("html")
	if textT == nil && htmlT == nil {
		t.text = bt
		t.compileBodies()
		return t, nil
	}
	if !blank(bt.Tree) {
		return nil, &ParseError{File: name, Msg: `body has text outside the {{define "text"}} and {{define "html"}} blocks`}
	}
	t.text = textT
	if htmlT != nil {
		ht, err := htmltemplate.New("body").Funcs(htmlFM).Option("missingkey=error").Parse(body)
		if err != nil {
			return nil, &ParseError{File: name, Msg: "html: " + shiftLine(cleanTemplateErr(err), offset)}
		}
		t.html = ht.Lookup("html")
		t.htmlProg = compileHTML(t.html, opts.MaxMessageBytes)
	}
	t.compileBodies()
	return t, nil
}

// compileBodies compiles the text body and gives the columns of all the
// programs their slots.
func (t *Template) compileBodies() {
	if t.text != nil {
		t.textProg = compile(t.text.Tree)
	}
	ps := []*program{t.textProg, t.htmlProg}
	for _, h := range t.headers {
		ps = append(ps, h.prog)
	}
	t.slots = assignSlots(ps...)
}

// Fingerprint is the hex SHA-256 of the template's source, which tells a
// resumed campaign whether the template changed.
func (t *Template) Fingerprint() string { return hex.EncodeToString(t.sum[:]) }

// Name is the name the template was parsed under.
func (t *Template) Name() string { return t.name }

// HasListUnsubscribe reports whether messages carry List-Unsubscribe: from
// Options.Unsubscribe, or written in the template.
func (t *Template) HasListUnsubscribe() bool {
	if t.unsub != nil {
		return true
	}
	for _, h := range t.headers {
		if h.name == "List-Unsubscribe" {
			return true
		}
	}
	return false
}

// HeaderNames lists the header names the template sets, in order.
func (t *Template) HeaderNames() []string {
	names := make([]string, len(t.headers))
	for i, h := range t.headers {
		names[i] = h.name
	}
	return names
}

// FromDomain is the domain (in A-labels) of the template's From address as
// it renders for a row with no columns: a literal From, or one whose
// columns have defaults; "" when the From needs a column or would fail a
// row (header.value, Render's check).
func (t *Template) FromDomain() string {
	for _, h := range t.headers {
		if h.name != "From" {
			continue
		}
		hv := h.static
		if hv == nil {
			var sb strings.Builder
			if err := h.tmpl.Execute(&sb, map[string]string{}); err != nil {
				return ""
			}
			v, err := h.value(strings.TrimSpace(sb.String()), "")
			if err != nil {
				return ""
			}
			hv = &v
		}
		return hv.from[strings.LastIndexByte(hv.from, '@')+1:]
	}
	return ""
}

// checkStaticFrom checks a From written as plain text (no {{...}}) once, at
// parse time, with the rules Render applies to every row: a bad From is
// the template's mistake, not each row's.
func checkStaticFrom(tm *template.Template) error {
	var b strings.Builder
	if tm.Tree == nil || tm.Tree.Root == nil {
		return errors.New("renders empty")
	}
	for _, n := range tm.Tree.Root.Nodes {
		tn, ok := n.(*parse.TextNode)
		if !ok {
			return nil // depends on the row: checked per row
		}
		b.Write(tn.Text)
	}
	v := strings.TrimSpace(b.String())
	if v == "" {
		return errors.New("renders empty")
	}
	list, err := mail.ParseAddressList(v)
	if err != nil {
		return fmt.Errorf("%q: %v", v, err)
	}
	return oneFrom(v, list)
}

func blank(tr *parse.Tree) bool {
	if tr == nil || tr.Root == nil {
		return true
	}
	for _, n := range tr.Root.Nodes {
		tn, ok := n.(*parse.TextNode)
		if !ok || strings.TrimSpace(string(tn.Text)) != "" {
			return false
		}
	}
	return true
}

func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// canonical spells a header name the usual way: "reply-to" -> "Reply-To".
func canonical(k string) string {
	b := []byte(strings.ToLower(k))
	up := true
	for i, c := range b {
		if up && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		up = c == '-'
	}
	return string(b)
}

// cleanTemplateErr drops the "template: NAME:" prefix the template packages add.
func cleanTemplateErr(err error) string {
	s := err.Error()
	for _, p := range []string{"template: ", "html/template:"} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

// shiftLine rewrites "body:N:" positions in a template error into file lines.
func shiftLine(msg string, offset int) string {
	rest, ok := strings.CutPrefix(msg, "body:")
	if !ok {
		return msg
	}
	var n int
	if _, err := fmt.Sscanf(rest, "%d", &n); err != nil {
		return msg
	}
	_, tail, _ := strings.Cut(rest, ":")
	return fmt.Sprintf("line %d:%s", n+offset, tail)
}
