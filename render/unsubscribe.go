package render

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"text/template"

	"github.com/mailer-dev/mailer/address"
)

// Unsubscribe configures one-click unsubscribe (RFC 8058). With it every
// message carries
//
//	List-Unsubscribe: <https://...>, <mailto:...?subject=unsubscribe>
//	List-Unsubscribe-Post: List-Unsubscribe=One-Click
//
// and templates may use {{unsubscribe_url}} for the visible link.
type Unsubscribe struct {
	// URL is a text/template for the per-recipient HTTPS URL. Its data has
	// .Address (the normalised address), .Token (UnsubscribeToken of it) and
	// .Fields (the row) and .Campaign, for example
	//	https://acme.example/unsubscribe?a={{.Address | urlquery}}&t={{.Token}}
	// It must render an https:// URL that carries .Token.
	URL string
	// Mailto is an optional address for the mailto: alternative
	// (RFC 2369), used by receivers that do not do HTTPS POST.
	Mailto string
	// Campaign is the campaign's name, .Campaign in URL, so that one
	// endpoint can tell campaigns apart.
	Campaign string
	// Secret keys the HMAC of the token. It comes from the environment,
	// never from a flag, so it does not show in process listings.
	Secret []byte
}

// Check reports a configuration that cannot work: no secret, a URL template
// that does not parse, is not HTTPS or does not carry the token, a bad
// mailto address. Parse makes the same check.
func (u *Unsubscribe) Check() error {
	_, err := newUnsubscriber(u)
	return err
}

// UnsubscribeToken is the token that proves an unsubscribe URL was made by
// mailer for addr: the HMAC-SHA256 of address.Key(addr) keyed
// with secret, in unpadded base64url (RFC 4648 section 5), 43 characters.
// The page behind the URL recomputes it from the address and compares in
// constant time (hmac.Equal).
func UnsubscribeToken(secret []byte, addr string) string {
	return keyToken(secret, address.Key(addr))
}

// keyToken is UnsubscribeToken of an address already normalised by address.Key.
func keyToken(secret []byte, key string) string {
	return base64.RawURLEncoding.EncodeToString(unsubscribeMAC(secret, key))
}

// unsubscribeMAC is the HMAC-SHA256 of an address's key under secret.
func unsubscribeMAC(secret []byte, key string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(key))
	return m.Sum(nil)
}

// UnsubscribeTokenLen is the length of an UnsubscribeToken: 32 bytes of
// HMAC-SHA256 in unpadded base64url.
const UnsubscribeTokenLen = 43

// ErrMalformedToken is a token that cannot be one UnsubscribeToken made: the
// wrong length or not base64url. It is told apart from a wrong token, which
// has the right shape but another key or address.
var ErrMalformedToken = errors.New("malformed unsubscribe token")

// ErrWrongToken is a well-formed token that was not made for the address
// with the secret.
var ErrWrongToken = errors.New("unsubscribe token does not match the address")

// VerifyUnsubscribeToken checks that token is UnsubscribeToken(secret,
// addr): the same address.Key normalisation, compared in constant time
// (hmac.Equal), so the time taken says nothing about how much matched. It
// returns nil, ErrMalformedToken or ErrWrongToken.
func VerifyUnsubscribeToken(secret []byte, addr, token string) error {
	if len(token) != UnsubscribeTokenLen {
		return ErrMalformedToken
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil {
		return ErrMalformedToken
	}
	if !hmac.Equal(got, unsubscribeMAC(secret, address.Key(addr))) {
		return ErrWrongToken
	}
	return nil
}

// UnsubscribeURLPattern renders the unsubscribe URL template tmpl with addr
// for .Address, token for .Token and field for every .Fields value the
// template names, so a server can learn where each one sits in the URL
// (mailer serve puts placeholders in and finds them again). It parses and
// executes the template as messages are rendered, so the two cannot drift.
func UnsubscribeURLPattern(tmpl, addr, token, field string) (string, error) {
	t, err := template.New("unsubscribe URL").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("unsubscribe URL: %s", cleanTemplateErr(err))
	}
	fields := map[string]string{}
	for _, m := range fieldRefRE.FindAllStringSubmatch(tmpl, -1) {
		fields[m[1]+m[2]] = field
	}
	var sb strings.Builder
	if err := t.Execute(&sb, unsubscribeData{Address: addr, Token: token, Fields: fields}); err != nil {
		return "", fmt.Errorf("unsubscribe URL: %s", cleanTemplateErr(err))
	}
	return sb.String(), nil
}

// fieldRefRE finds the row fields a URL template names: .Fields.name or
// index .Fields "name".
var fieldRefRE = regexp.MustCompile(`\.Fields\.([A-Za-z0-9_]+)|index\s+\.Fields\s+"([^"]*)"`)

// unsubscribeKey is where a render keeps the recipient's unsubscribe URL in
// the data map for {{unsubscribe_url}}. A NUL cannot be a list column's
// name that a template reaches with .name, so it collides with nothing.
const unsubscribeKey = "\x00unsubscribe_url"

// unsubscribeCall finds {{unsubscribe_url}} in actions; Parse rewrites it to
// (unsubscribe_url $) so the function gets the data of the render, which
// carries the recipient's URL. (listmonk rewrites its UnsubscribeURL the
// same way: template functions cannot see per-execution state otherwise.)
var (
	actionRE          = regexp.MustCompile(`\{\{[\s\S]*?\}\}`)
	unsubscribeCallRE = regexp.MustCompile(`\bunsubscribe_url\b`)
)

func rewriteUnsubscribe(src string) (string, bool) {
	used := false
	out := actionRE.ReplaceAllStringFunc(src, func(a string) string {
		if !unsubscribeCallRE.MatchString(a) {
			return a
		}
		used = true
		return unsubscribeCallRE.ReplaceAllString(a, "(unsubscribe_url $$)")
	})
	return out, used
}

// unsubscribeFunc is the template function behind {{unsubscribe_url}}.
func unsubscribeFunc(data map[string]string) (string, error) {
	u, ok := data[unsubscribeKey]
	if !ok {
		return "", errors.New("unsubscribe_url: no unsubscribe URL is configured")
	}
	return u, nil
}

// unsubscriber renders the per-recipient URL and the header values.
type unsubscriber struct {
	url      *template.Template
	campaign string
	mailto   string
	secret   []byte
}

type unsubscribeData struct {
	Address  string
	Token    string
	Fields   map[string]string
	Campaign string
}

func newUnsubscriber(u *Unsubscribe) (*unsubscriber, error) {
	if len(u.Secret) == 0 {
		return nil, errors.New("unsubscribe: no secret to make the tokens with")
	}
	t, err := template.New("unsubscribe URL").Option("missingkey=error").Parse(u.URL)
	if err != nil {
		return nil, fmt.Errorf("unsubscribe URL: %s", cleanTemplateErr(err))
	}
	us := &unsubscriber{url: t, secret: u.Secret, campaign: u.Campaign}
	if u.Mailto != "" {
		a, err := mail.ParseAddress(u.Mailto)
		if err != nil || a.Name != "" {
			return nil, fmt.Errorf("unsubscribe mailto %q: want a bare address", u.Mailto)
		}
		if us.mailto, err = address.ASCIIDomain(a.Address); err != nil {
			return nil, fmt.Errorf("unsubscribe mailto: %v", err)
		}
	}
	// Try it on a made-up recipient: a URL that is not HTTPS or that
	// forgets the token is a mistake in the configuration, not in a row.
	const probe = "probe@example.com"
	got, err := us.urlFor(address.Key(probe), map[string]string{})
	if err != nil && !strings.Contains(err.Error(), "no column") {
		return nil, err
	}
	if err == nil && !strings.Contains(got, UnsubscribeToken(us.secret, probe)) {
		return nil, fmt.Errorf("unsubscribe URL %q does not carry {{.Token}}: the receiving page could not verify it", u.URL)
	}
	return us, nil
}

// urlFor renders the unsubscribe URL of the address whose address.Key is key.
func (us *unsubscriber) urlFor(key string, fields map[string]string) (string, error) {
	var sb strings.Builder
	d := unsubscribeData{Address: key, Token: keyToken(us.secret, key), Fields: fields, Campaign: us.campaign}
	if err := us.url.Execute(&sb, d); err != nil {
		if s := err.Error(); strings.Contains(s, "map has no entry for key") {
			return "", fmt.Errorf("unsubscribe URL: %v", execErr(err))
		}
		return "", fmt.Errorf("unsubscribe URL: %s", cleanTemplateErr(err))
	}
	s := sb.String()
	// RFC 8058 section 3.1: the URI must be HTTPS. The header carries it in
	// angle brackets (RFC 2369), so nothing may end or fold it.
	if strings.ContainsAny(s, " \t\r\n<>\"") {
		return "", fmt.Errorf("unsubscribe URL %q contains a space, quote or angle bracket (escape values with urlquery)", s)
	}
	pu, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("unsubscribe URL: %v", err)
	}
	if pu.Scheme != "https" || pu.Host == "" {
		return "", fmt.Errorf("unsubscribe URL %q: must be https:// (RFC 8058)", s)
	}
	return s, nil
}

// headers returns the List-Unsubscribe and List-Unsubscribe-Post values.
func (us *unsubscriber) headers(u string) (list, post string) {
	list = "<" + u + ">"
	if us.mailto != "" {
		list += ", <mailto:" + us.mailto + "?subject=unsubscribe>"
	}
	return list, "List-Unsubscribe=One-Click"
}
