package render

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"

	gomail "github.com/emersion/go-message/mail"
)

var testSecret = []byte("test-secret")

const testUnsubURL = "https://acme.example/unsubscribe?a={{.Address | urlquery}}&t={{.Token}}"

func testUnsub() *Unsubscribe {
	return &Unsubscribe{URL: testUnsubURL, Mailto: "unsubscribe@acme.example", Secret: testSecret}
}

func TestUnsubscribeToken(t *testing.T) {
	// The documented format, computed independently of the code under test.
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write([]byte("bob@example.com"))
	want := base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	for _, a := range []string{"bob@example.com", "Bob@Example.COM", " bob@example.com "} {
		if got := UnsubscribeToken([]byte("s3cret"), a); got != want {
			t.Errorf("UnsubscribeToken(%q) = %q, want %q", a, got, want)
		}
	}
	if len(want) != 43 {
		t.Errorf("token is %d characters, want 43", len(want))
	}
	if UnsubscribeToken([]byte("other"), "bob@example.com") == want {
		t.Error("token does not depend on the secret")
	}
}

func TestUnsubscribeHeaders(t *testing.T) {
	tm := parseWith(t, "unsubscribe.tmpl", Options{Unsubscribe: testUnsub()})
	var buf bytes.Buffer
	m, err := tm.Render(&buf, Recipient{Address: "Bob+news@Example.com", Fields: map[string]string{"first_name": "Bob"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := gomail.CreateReader(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	tok := UnsubscribeToken(testSecret, "bob+news@example.com")
	wantURL := "https://acme.example/unsubscribe?a=bob%2Bnews%40example.com&t=" + tok
	if got := r.Header.Get("List-Unsubscribe"); got != "<"+wantURL+">, <mailto:unsubscribe@acme.example?subject=unsubscribe>" {
		t.Errorf("List-Unsubscribe = %q", got)
	}
	if got := r.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", got)
	}
	// The same URL in both bodies: raw in text, &-escaped in the HTML href.
	var text, html string
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p.Body)
		ct, _, _ := p.Header.(*gomail.InlineHeader).ContentType()
		if ct == "text/plain" {
			text = string(b)
		} else {
			html = string(b)
		}
	}
	if !strings.Contains(text, wantURL) {
		t.Errorf("text part lacks %s:\n%s", wantURL, text)
	}
	if !strings.Contains(html, `href="`+strings.ReplaceAll(wantURL, "&", "&amp;")+`"`) {
		t.Errorf("html part lacks the escaped URL:\n%s", html)
	}
}

func TestUnsubscribeErrors(t *testing.T) {
	body := "From: a@acme.example\nSubject: s\n\n{{unsubscribe_url}}\n"
	cases := []struct {
		name, src string
		u         *Unsubscribe
		want      string
	}{
		{"not https", body, &Unsubscribe{URL: "http://acme.example/u?t={{.Token}}", Secret: testSecret}, "must be https://"},
		{"no token", body, &Unsubscribe{URL: "https://acme.example/u?a={{.Address}}", Secret: testSecret}, "does not carry {{.Token}}"},
		{"no secret", body, &Unsubscribe{URL: testUnsubURL}, "no secret"},
		{"bad template", body, &Unsubscribe{URL: "https://x/{{.Token", Secret: testSecret}, "unsubscribe URL"},
		{"bad mailto", body, &Unsubscribe{URL: testUnsubURL, Mailto: "not an address", Secret: testSecret}, "mailto"},
		{"func without config", body, nil, "no unsubscribe URL is configured"},
		{"header by hand", "From: a@acme.example\nList-Unsubscribe: <https://x>\n\nb\n", testUnsub(), "List-Unsubscribe: is set by mailer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("t.tmpl", []byte(c.src), Options{MessageID: fixedOpts.MessageID, Unsubscribe: c.u})
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want a ParseError containing %q", err, c.want)
			}
		})
	}
	// Without unsubscribe configured, a template may write its own header.
	if _, err := Parse("t.tmpl", []byte("From: a@acme.example\nList-Unsubscribe: <mailto:u@acme.example>\n\nb\n"), fixedOpts); err != nil {
		t.Error(err)
	}
	// A row value that breaks the URL makes that row invalid.
	o := fixedOpts
	o.Unsubscribe = &Unsubscribe{URL: "https://acme.example/u/{{.Fields.list}}?t={{.Token}}", Secret: testSecret}
	tm, err := Parse("t.tmpl", []byte(body), o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, err = tm.Render(&buf, Recipient{Address: "a@example.com", Fields: map[string]string{"list": "a b"}})
	var re *RowError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "contains a space") {
		t.Errorf("got %v, want a RowError about the space", err)
	}
	_, err = tm.Render(&buf, Recipient{Address: "a@example.com", Fields: map[string]string{}})
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "no column named list") {
		t.Errorf("got %v, want a RowError about the missing column", err)
	}
}

// TestVerifyUnsubscribeToken: the token of an address verifies for every
// spelling address.Key folds together; another address, another secret, a
// changed character, a wrong length or non-base64url do not, and the last
// two are told apart as malformed.
func TestVerifyUnsubscribeToken(t *testing.T) {
	secret := []byte("s3cret")
	tok := UnsubscribeToken(secret, "bob@example.com")
	flip := []byte(tok)
	flip[10] ^= 'A' ^ 'B'
	if flip[10] == tok[10] {
		flip[10] = 'A'
	}
	for _, c := range []struct {
		secret      []byte
		addr, token string
		want        error
	}{
		{secret, "bob@example.com", tok, nil},
		{secret, "Bob@Example.COM", tok, nil},
		{secret, "alice@example.com", tok, ErrWrongToken},
		{[]byte("other"), "bob@example.com", tok, ErrWrongToken},
		{secret, "bob@example.com", string(flip), ErrWrongToken},
		{secret, "bob@example.com", "", ErrMalformedToken},
		{secret, "bob@example.com", tok[:42], ErrMalformedToken},
		{secret, "bob@example.com", tok + "A", ErrMalformedToken},
		{secret, "bob@example.com", "!" + tok[1:], ErrMalformedToken},
		{secret, "bob@example.com", tok[:42] + "=", ErrMalformedToken},
	} {
		if got := VerifyUnsubscribeToken(c.secret, c.addr, c.token); got != c.want {
			t.Errorf("Verify(%q, %q, %q) = %v, want %v", c.secret, c.addr, c.token, got, c.want)
		}
	}
}
