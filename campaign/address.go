package campaign

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/mailer-dev/mailer/internal/safetext"
	"golang.org/x/net/idna"
)

// address is a checked recipient address.
type address struct {
	// wire is what goes into RCPT TO and the To header: the local part as
	// written (UTF-8 allowed), the domain in A-labels.
	wire string
	// key is the address normalised for comparison: wire lower-cased whole,
	// as mailbox providers treat addresses.
	key string
}

// parseAddress checks one list cell: exactly one address, no display name.
func parseAddress(cell string) (address, error) {
	s := strings.TrimSpace(cell)
	if s == "" {
		return address{}, errors.New("no address")
	}
	if !safetext.Safe(s) {
		// net/mail lets C1 controls and bidi overrides through in a UTF-8
		// local part: no mailbox has them, and they would reach terminals.
		return address{}, fmt.Errorf("%q: control or bidirectional-override character", s)
	}
	if strings.ContainsAny(s, ",;") {
		return address{}, fmt.Errorf("%q: one address per cell", s)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return address{}, fmt.Errorf("%q: %v", s, strings.TrimPrefix(err.Error(), "mail: "))
	}
	if a.Name != "" || strings.ContainsAny(s, "<>") {
		return address{}, fmt.Errorf("%q: the cell must hold the bare address (names go in the name column)", s)
	}
	at := strings.LastIndexByte(a.Address, '@')
	local, domain := a.Address[:at], a.Address[at+1:]
	if !dotAtom(local) {
		// net/mail unquotes "a b"@x; sent as is, RCPT TO would be malformed.
		return address{}, fmt.Errorf("%q: quoted local parts are not supported", s)
	}
	ascii, err := idna.Lookup.ToASCII(domain)
	if err != nil {
		return address{}, fmt.Errorf("%q: bad domain: %v", s, err)
	}
	if !strings.Contains(ascii, ".") {
		return address{}, fmt.Errorf("%q: domain %q has no dot", s, domain)
	}
	// A non-ASCII local part (RFC 6531) is kept: it is sent with SMTPUTF8,
	// and a relay that does not offer it makes the row invalid at send time.
	wire := local + "@" + ascii
	return address{wire: wire, key: strings.ToLower(wire)}, nil
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

// keyOf is the normalised key of a cell that may not be a valid address
// (for resuming invalid rows and reading suppression lists).
func keyOf(cell string) string {
	if a, err := parseAddress(cell); err == nil {
		return a.key
	}
	return strings.ToLower(strings.TrimSpace(cell))
}

// digest is a fixed-size stand-in for a key in the sets that grow with the
// list; 128 bits make a collision as good as impossible for any real list.
type digest [16]byte

func digestOf(key string) digest {
	sum := sha256.Sum256([]byte(key))
	var d digest
	copy(d[:], sum[:16])
	return d
}
