package track

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"golang.org/x/net/html"
)

// Mark prefixes a URL that must never be tracked: render's {{notrack}}
// writes it (only when tracking is configured), and Rewrite and Strip remove
// every occurrence, so it never reaches a mailbox. It is ASCII that
// html/template's URL normaliser and attribute escaper leave as is.
const Mark = "[notrack]"

// markEscaped is Mark as html/template writes it inside a URL's query,
// where it percent-encodes the brackets.
const markEscaped = "%5Bnotrack%5D"

// Options say how to rewrite one recipient's message.
type Options struct {
	// Base is the tracking server's URL, e.g. https://t.acme.example; the
	// links become Base/c/<token>, the open pixel Base/o/<token>.
	Base      string
	Secret    []byte
	Campaign  string
	Recipient string // RecipientKey of the recipient
	// TextLinks rewrites bare http(s) URLs of the text part too.
	TextLinks bool
	// Opens adds the open pixel to the HTML part.
	Opens bool
	// Skip are URLs never rewritten: the unsubscribe URL (of the body and
	// of List-Unsubscribe).
	Skip []string
	// Address is the recipient's address. A link that carries it (as
	// written or URL-encoded, in any case) is left as it is: its token
	// would carry it too, and a token is signed, not encrypted, so the
	// tracked URL would hold the address.
	Address string
}

// CheckBase reports a base URL that cannot be used: not absolute http(s),
// with a query or fragment, or with a character that would need escaping
// in an HTML attribute.
func CheckBase(base string) error {
	if base == "" {
		return errors.New("no base URL")
	}
	if strings.ContainsAny(base, " \t\r\n\"'<>&\\`") {
		return fmt.Errorf("base URL %q has a space, quote, angle bracket, & or backslash", base)
	}
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("base URL %q: %v", base, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("base URL %q: want http:// or https:// and a host", base)
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(base, "?") || strings.HasSuffix(base, "#") {
		return fmt.Errorf("base URL %q: no query or fragment (the token follows /c/)", base)
	}
	return nil
}

// Rewrite rewrites the links of one message's HTML and text bodies (either
// may be nil) and returns the new bodies; a body with nothing to change is
// returned as is. In the HTML only the href of <a> and <area> changes, by
// byte offset, so every other byte stays as it was; links are found with
// the HTML tokenizer (not a regular expression), so a link inside a comment,
// a <script> or an attribute's text is no link. Untouched: relative links,
// mailto:, tel:, #anchors, Skip URLs and URLs marked with Mark. The links
// are numbered from 1 in order, the HTML part first, then the text part.
func Rewrite(htmlBody, textBody []byte, o Options) (outHTML, outText []byte) {
	base := strings.TrimRight(o.Base, "/")
	n := 0
	link := func(dest string) string {
		n++
		return base + "/c/" + Sign(o.Secret, Token{Kind: Click, Campaign: o.Campaign, Recipient: o.Recipient, Link: n, URL: dest})
	}
	// carries are the lower-case forms of the address a URL may hold,
	// made on the first link that needs them: most bodies have few links,
	// some none.
	var carries []string
	skip := func(u string) bool {
		for _, s := range o.Skip {
			if u == s {
				return true
			}
		}
		if carries == nil && o.Address != "" {
			a := strings.ToLower(o.Address)
			carries = []string{a, strings.ToLower(url.QueryEscape(a)), strings.ToLower(url.PathEscape(a))}
		}
		if len(carries) > 0 {
			lu := strings.ToLower(u)
			for _, c := range carries {
				if strings.Contains(lu, c) {
					return true
				}
			}
		}
		return false
	}
	outHTML = htmlBody
	if htmlBody != nil {
		var pixel string
		if o.Opens {
			pixel = `<img src="` + base + "/o/" + Sign(o.Secret, Token{Kind: Open, Campaign: o.Campaign, Recipient: o.Recipient}) +
				`" width="1" height="1" alt="" style="display:none">`
		}
		outHTML = rewriteHTML(htmlBody, link, skip, pixel)
	}
	outText = textBody
	if textBody != nil && o.TextLinks {
		outText = rewriteText(textBody, link, skip)
	}
	return Strip(outHTML), Strip(outText)
}

// Strip removes every Mark: what a message sent untracked (no consent)
// gets instead of Rewrite.
func Strip(b []byte) []byte {
	if bytes.Contains(b, []byte(Mark)) {
		b = bytes.ReplaceAll(b, []byte(Mark), nil)
	}
	if bytes.Contains(b, []byte(markEscaped)) {
		b = bytes.ReplaceAll(b, []byte(markEscaped), nil)
	}
	return b
}

func rewriteHTML(src []byte, link func(string) string, skip func(string) bool, pixel string) []byte {
	var out []byte
	last, off, bodyEnd := 0, 0, -1
	z := html.NewTokenizer(bytes.NewReader(src))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		raw := z.Raw()
		start := off
		off += len(raw)
		switch tt {
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "body" {
				bodyEnd = start
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			if !hasAttr || (string(name) != "a" && string(name) != "area") {
				continue
			}
			vs, ve, ok := hrefSpan(raw)
			if !ok {
				continue
			}
			val := html.UnescapeString(string(raw[vs:ve]))
			if strings.Contains(val, Mark) || strings.Contains(val, markEscaped) {
				continue // notrack: the mark is stripped below
			}
			u := strings.TrimSpace(val)
			if !trackable(u) || skip(u) {
				continue
			}
			out = append(out, src[last:start+vs]...)
			out = append(out, link(u)...)
			last = start + ve
		}
	}
	if out == nil && pixel == "" {
		return src
	}
	if pixel == "" {
		return append(out, src[last:]...)
	}
	at := len(src)
	if bodyEnd >= last {
		at = bodyEnd
	}
	out = append(out, src[last:at]...)
	out = append(out, pixel...)
	return append(out, src[at:]...)
}

// hrefSpan finds the value of the first href attribute in a raw start tag,
// with the attribute rules of the tokenizer (WHATWG 13.2.5.32-38), and
// returns its offsets in tag: inside the quotes when quoted.
func hrefSpan(tag []byte) (start, end int, ok bool) {
	i := 1 // past '<'
	isSpace := func(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' }
	for i < len(tag) && !isSpace(tag[i]) && tag[i] != '/' && tag[i] != '>' {
		i++
	}
	skipWS := func() {
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
	}
	seen := map[string]bool{}
	skipWS()
	for i < len(tag) && tag[i] != '>' {
		// attribute name
		ks := i
		for i < len(tag) {
			c := tag[i]
			if c == '=' && i == ks {
				i++
				continue
			}
			if isSpace(c) || c == '/' || c == '>' || c == '=' {
				break
			}
			i++
		}
		ke := i
		vs, ve := i, i
		skipWS()
		switch {
		case i < len(tag) && tag[i] == '/':
			i++
		case i < len(tag) && tag[i] == '=':
			i++
			skipWS()
			if i >= len(tag) {
				break
			}
			switch q := tag[i]; q {
			case '>':
			case '"', '\'':
				i++
				vs = i
				for i < len(tag) && tag[i] != q {
					i++
				}
				ve = i
				if i < len(tag) {
					i++
				}
			default:
				vs = i
				for i < len(tag) && !isSpace(tag[i]) && tag[i] != '>' {
					i++
				}
				ve = i
			}
		}
		key := strings.ToLower(string(tag[ks:ke]))
		if ke > ks && !seen[key] {
			seen[key] = true
			if key == "href" {
				return vs, ve, true
			}
		}
		if ke == ks && i == ks {
			i++ // cannot happen with a tokenizer's tag; never loop
		}
		skipWS()
	}
	return 0, 0, false
}

var textURL = regexp.MustCompile(`(?i)\bhttps?://[^\s<>"]+`)

func rewriteText(src []byte, link func(string) string, skip func(string) bool) []byte {
	var out []byte
	last := 0
	for _, m := range textURL.FindAllIndex(src, -1) {
		s, e := m[0], trimURLEnd(src[m[0]:m[1]])+m[0]
		if bytes.HasSuffix(src[:s], []byte(Mark)) {
			continue
		}
		u := string(src[s:e])
		if !trackable(u) || skip(u) {
			continue
		}
		out = append(out, src[last:s]...)
		out = append(out, link(u)...)
		last = e
	}
	if out == nil {
		return src
	}
	return append(out, src[last:]...)
}

// trimURLEnd leaves out punctuation that ends a sentence rather than the
// URL: "see https://a.example/x." and "(https://a.example/x)".
func trimURLEnd(u []byte) int {
	n := len(u)
	for n > 0 {
		c := u[n-1]
		switch c {
		case '.', ',', ';', ':', '!', '?', '\'', '*':
			n--
			continue
		case ')', ']', '}':
			open := map[byte]byte{')': '(', ']': '[', '}': '{'}[c]
			if bytes.Count(u[:n], []byte{open}) < bytes.Count(u[:n], []byte{c}) {
				n--
				continue
			}
		}
		break
	}
	return n
}
