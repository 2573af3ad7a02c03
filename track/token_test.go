package track

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

var secret = []byte("0123456789abcdef-tracking")

func TestTokenRoundTrip(t *testing.T) {
	for _, tok := range []Token{
		{Kind: Click, Campaign: "c0ffee", Recipient: RecipientKey(secret, "c0ffee", "ann@example.com"), Link: 3, URL: "https://acme.example/p?q=1&r=%20#frag"},
		{Kind: Open, Campaign: "c0ffee", Recipient: "k"},
		{Kind: Click, Campaign: "", Recipient: "", Link: 1, URL: "http://a.example"},
	} {
		s := Sign(secret, tok)
		if strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Errorf("token %q is not base64url", s)
		}
		got, err := Verify(secret, s)
		if err != nil || got != tok {
			t.Errorf("Verify(Sign(%+v)) = %+v, %v", tok, got, err)
		}
	}
}

func TestTokenTampering(t *testing.T) {
	tok := Token{Kind: Click, Campaign: "c0ffee", Recipient: RecipientKey(secret, "c0ffee", "ann@example.com"), Link: 2, URL: "https://acme.example/offer"}
	s := Sign(secret, tok)
	raw, _ := base64.RawURLEncoding.DecodeString(s)
	// Every single bit of the payload and the tag is covered.
	for i := range raw {
		for bit := 0; bit < 8; bit++ {
			b := append([]byte(nil), raw...)
			b[i] ^= 1 << bit
			if _, err := Verify(secret, base64.RawURLEncoding.EncodeToString(b)); !errors.Is(err, ErrBadToken) {
				t.Fatalf("byte %d bit %d flipped: %v, want ErrBadToken", i, bit, err)
			}
		}
	}
	// A forger's token: the same fields with another destination,
	// recipient, link or campaign, keeping the old tag.
	tag := raw[len(raw)-macSize:]
	for name, f := range map[string]Token{
		"destination": {Kind: Click, Campaign: tok.Campaign, Recipient: tok.Recipient, Link: 2, URL: "https://evil.example/"},
		"recipient":   {Kind: Click, Campaign: tok.Campaign, Recipient: RecipientKey(secret, "c0ffee", "bob@example.com"), Link: 2, URL: tok.URL},
		"link":        {Kind: Click, Campaign: tok.Campaign, Recipient: tok.Recipient, Link: 3, URL: tok.URL},
		"campaign":    {Kind: Click, Campaign: "c0ffef", Recipient: tok.Recipient, Link: 2, URL: tok.URL},
		"kind":        {Kind: Open, Campaign: tok.Campaign, Recipient: tok.Recipient, Link: 2, URL: tok.URL},
	} {
		fb, _ := base64.RawURLEncoding.DecodeString(Sign(secret, f))
		forged := append(fb[:len(fb)-macSize:len(fb)-macSize], tag...)
		if _, err := Verify(secret, base64.RawURLEncoding.EncodeToString(forged)); !errors.Is(err, ErrBadToken) {
			t.Errorf("changed %s with the old signature: %v, want ErrBadToken", name, err)
		}
	}
	for name, bad := range map[string]string{
		"other secret": Sign([]byte("another secret"), tok),
		"truncated":    s[:len(s)-4],
		"empty":        "",
		"not base64":   "!!!!" + s,
		"padded":       s + "==",
		"too long":     strings.Repeat("A", 5000),
		"javascript":   Sign(secret, Token{Kind: Click, URL: "javascript:alert(1)"}),
	} {
		if _, err := Verify(secret, bad); !errors.Is(err, ErrBadToken) {
			t.Errorf("%s: %v, want ErrBadToken", name, err)
		}
	}
}

func TestRecipientKey(t *testing.T) {
	k := RecipientKey(secret, "c1", "ann@example.com")
	if len(k) != 22 || strings.Contains(k, "ann") {
		t.Errorf("key %q: want 22 opaque characters", k)
	}
	if k != RecipientKey(secret, "c1", "ann@example.com") {
		t.Error("key not stable")
	}
	for _, other := range []string{RecipientKey(secret, "c2", "ann@example.com"), RecipientKey(secret, "c1", "bob@example.com"), RecipientKey([]byte("x"), "c1", "ann@example.com")} {
		if other == k {
			t.Error("keys of different campaign, address or secret are equal")
		}
	}
}
