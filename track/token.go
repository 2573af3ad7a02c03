package track

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/url"
	"strings"
)

// Kind tells a click from an open.
type Kind string

// The kinds of event, as tokens and the events file name them.
const (
	Click Kind = "click"
	Open  Kind = "open"
)

// Token is what a tracked URL carries. It holds no address: Recipient is
// the opaque key of RecipientKey.
type Token struct {
	Kind      Kind
	Campaign  string
	Recipient string
	// Link is the position of the link in the message, from 1: the HTML
	// part's tracked links in document order, then the text part's. 0 for
	// an open.
	Link int
	// URL is the destination of a click; "" for an open.
	URL string
}

// tokenVersion is the first byte of every token: a later format can be told apart.
const tokenVersion = 1

// macSize is the truncated HMAC-SHA256 tag: 128 bits, which a forger must
// guess online, one HTTP request per try.
const macSize = 16

// ErrBadToken is a token that is malformed or whose signature does not
// verify: the handler answers 404 and records nothing.
var ErrBadToken = errors.New("track: bad token")

// RecipientKey is the opaque key of a recipient in a campaign: the first
// 16 bytes of HMAC-SHA256(secret, "rcpt\x00" + campaign + "\x00" +
// address), in unpadded base64url (22 characters). address must be
// normalised by the caller (lower-cased, domain in A-labels), so that the
// report, computing the key of each results row, finds the same one. The
// key differs between campaigns: events of two campaigns cannot be joined
// on it without the secret.
func RecipientKey(secret []byte, campaign, address string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("rcpt\x00" + campaign + "\x00" + address))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// Sign encodes t into its URL-safe form (see README, "Tracking"):
//
//	base64url( payload || HMAC-SHA256(secret, "mailer-track\x00" || payload)[:16] )
//	payload = version(1) kind('c'|'o') uvarint(len campaign) campaign
//	          uvarint(len recipient) recipient uvarint(link) url
func Sign(secret []byte, t Token) string {
	p := make([]byte, 0, 8+len(t.Campaign)+len(t.Recipient)+len(t.URL)+macSize)
	p = append(p, tokenVersion, kindByte(t.Kind))
	p = binary.AppendUvarint(p, uint64(len(t.Campaign)))
	p = append(p, t.Campaign...)
	p = binary.AppendUvarint(p, uint64(len(t.Recipient)))
	p = append(p, t.Recipient...)
	p = binary.AppendUvarint(p, uint64(max(t.Link, 0)))
	p = append(p, t.URL...)
	p = append(p, mac(secret, p)...)
	return base64.RawURLEncoding.EncodeToString(p)
}

// Verify decodes s and checks its signature in constant time. Any change
// to any byte (destination, recipient, link, campaign, kind) fails with
// ErrBadToken, as does a click whose destination is not http(s).
func Verify(secret []byte, s string) (Token, error) {
	var t Token
	if len(s) > 4096 {
		return t, ErrBadToken
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 2+macSize {
		return t, ErrBadToken
	}
	p, tag := b[:len(b)-macSize], b[len(b)-macSize:]
	if !hmac.Equal(tag, mac(secret, p)) {
		return t, ErrBadToken
	}
	if p[0] != tokenVersion {
		return t, ErrBadToken
	}
	switch p[1] {
	case 'c':
		t.Kind = Click
	case 'o':
		t.Kind = Open
	default:
		return t, ErrBadToken
	}
	rest := p[2:]
	str := func() (string, bool) {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			return "", false
		}
		v := string(rest[k : k+int(n)])
		rest = rest[k+int(n):]
		return v, true
	}
	var ok bool
	if t.Campaign, ok = str(); !ok {
		return t, ErrBadToken
	}
	if t.Recipient, ok = str(); !ok {
		return t, ErrBadToken
	}
	n, k := binary.Uvarint(rest)
	if k <= 0 || n > 1<<20 {
		return t, ErrBadToken
	}
	t.Link, t.URL = int(n), string(rest[k:])
	if t.Kind == Click && !trackable(t.URL) {
		return t, ErrBadToken
	}
	return t, nil
}

func kindByte(k Kind) byte {
	if k == Open {
		return 'o'
	}
	return 'c'
}

func mac(secret, payload []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("mailer-track\x00"))
	m.Write(payload)
	return m.Sum(nil)[:macSize]
}

// trackable reports an absolute http(s) URL with a host: the only links
// that are rewritten, and the only destinations a click redirects to.
func trackable(s string) bool {
	if len(s) < 8 || strings.ContainsAny(s, " \t\r\n\x00") {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	sc := strings.ToLower(u.Scheme)
	return sc == "http" || sc == "https"
}
