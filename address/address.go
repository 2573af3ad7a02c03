package address

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/mailer-dev/mailer/internal/safetext"
	"golang.org/x/net/idna"
)

// Address is a checked recipient address.
type Address struct {
	// Wire is what goes into RCPT TO and the To header: the local part as
	// written (UTF-8 allowed), the domain in A-labels.
	Wire string
	// Key is the address normalised for comparison: Wire lower-cased whole,
	// as mailbox providers treat addresses. Key(Wire) == Key.
	Key string
}

// Parse checks one list cell: exactly one address, no display name, no
// control or bidirectional-override character, a dot-atom local part and a
// domain that has an A-label form with a dot in it.
func Parse(cell string) (Address, error) {
	s := strings.TrimSpace(cell)
	if s == "" {
		return Address{}, errors.New("no address")
	}
	if !safetext.Safe(s) {
		// net/mail lets C1 controls and bidi overrides through in a UTF-8
		// local part: no mailbox has them, and they would reach terminals.
		return Address{}, fmt.Errorf("%q: control or bidirectional-override character", s)
	}
	if strings.ContainsAny(s, ",;") {
		return Address{}, fmt.Errorf("%q: one address per cell", s)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return Address{}, fmt.Errorf("%q: %v", s, strings.TrimPrefix(err.Error(), "mail: "))
	}
	if a.Name != "" || strings.ContainsAny(s, "<>") {
		return Address{}, fmt.Errorf("%q: the cell must hold the bare address (names go in the name column)", s)
	}
	at := strings.LastIndexByte(a.Address, '@')
	local, domain := a.Address[:at], a.Address[at+1:]
	if !dotAtom(local) {
		// net/mail unquotes "a b"@x; sent as is, RCPT TO would be malformed.
		return Address{}, fmt.Errorf("%q: quoted local parts are not supported", s)
	}
	ascii, err := idna.Lookup.ToASCII(domain)
	if err != nil {
		return Address{}, fmt.Errorf("%q: bad domain: %v", s, err)
	}
	if !strings.Contains(ascii, ".") {
		return Address{}, fmt.Errorf("%q: domain %q has no dot", s, domain)
	}
	// A non-ASCII local part (RFC 6531) is kept: it is sent with SMTPUTF8,
	// and a relay that does not offer it makes the row invalid at send time.
	wire := local + "@" + ascii
	return Address{Wire: wire, Key: strings.ToLower(wire)}, nil
}

// Key is the normalised form of s, the one key mailer compares addresses
// by: for an address Parse accepts, its Key (lower-cased whole, domain in
// A-labels); for anything else (an invalid cell being resumed, a line of a
// suppression file) s trimmed and lower-cased, so the same text always
// gives the same key.
func Key(s string) string {
	if a, err := Parse(s); err == nil {
		return a.Key
	}
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		// strings.ToLower would turn each bad byte into U+FFFD, and the
		// result might then parse: the key of a key must be the key.
		return asciiLower(s)
	}
	return strings.ToLower(s)
}

// asciiLower lower-cases the ASCII letters of s and keeps every other byte.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Domain is the lower-cased text after the last '@' of s, or "" when s has
// none. It does not check s.
func Domain(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return ""
	}
	return strings.ToLower(s[at+1:])
}

// dotAtom reports whether local is an RFC 5322 dot-atom (atext runs joined
// by single dots), which needs no quoting on the wire. Bytes above ASCII are
// allowed (RFC 6531 UTF-8 local parts).
func dotAtom(local string) bool {
	if local == "" || local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		switch {
		case c >= 0x80, c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// ASCIIDomain is addr with its domain in A-labels (IDNA 2008 lookup), the
// form header addresses and envelopes carry; the local part is kept.
func ASCIIDomain(addr string) (string, error) {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return "", fmt.Errorf("%q has no domain", addr)
	}
	d, err := idna.Lookup.ToASCII(addr[at+1:])
	if err != nil {
		return "", fmt.Errorf("%q: bad domain: %v", addr, err)
	}
	return addr[:at+1] + d, nil
}
