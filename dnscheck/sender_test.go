package dnscheck

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// senderZone: acme.example has everything; shop.example publishes DMARC
// only at the organisational domain of news.shop.example; bare.example has
// nothing but an address.
func senderZone(good, other ed25519.PrivateKey) string {
	return fmt.Sprintf(`
acme.example.                 300 IN TXT "v=spf1 ip4:192.0.2.10 -all"
acme.example.                 300 IN TXT "google-site-verification=abc"
_dmarc.acme.example.          300 IN TXT "v=DMARC1; p=reject; adkim=s; rua=mailto:d@acme.example"
sel._domainkey.acme.example.  300 IN TXT "%s"
old._domainkey.acme.example.  300 IN TXT "%s"
news.shop.example.            300 IN TXT "v=spf1 ip4:192.0.2.10 ~all"
_dmarc.shop.example.          300 IN TXT "v=DMARC1; p=quarantine; sp=none"
bounce.mailer.example.        300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
bare.example.                 300 IN A 192.0.2.1
twice.example.                300 IN TXT "v=spf1 -all"
twice.example.                300 IN TXT "v=spf1 ip4:192.0.2.10 -all"
$SERVFAIL _dmarc.flaky.example.
flaky.example.                300 IN TXT "v=spf1 ip4:192.0.2.10 -all"
`, dkimRecord(good.Public()), dkimRecord(other.Public()))
}

func probe(t *testing.T, domain, selector string, k ed25519.PrivateKey) *DKIMProbe {
	return &DKIMProbe{Domain: domain, Selector: selector, Key: k.Public(), Sign: func() ([]byte, error) {
		msg := "From: news@" + domain + "\r\nTo: probe@example.com\r\nSubject: probe\r\n\r\nprobe\r\n"
		var b bytes.Buffer
		if err := dkim.Sign(&b, strings.NewReader(msg), &dkim.SignOptions{Domain: domain, Selector: selector, Signer: k}); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}}
}

func TestCheckSender(t *testing.T) {
	good, other := newKey(t), newKey(t)
	s := startServer(t, senderZone(good, other))
	r := newResolver(t, s, ResolverOptions{})
	ip := net.ParseIP("192.0.2.10")
	for _, tc := range []struct {
		name string
		o    SenderOptions
		want []string // status and a part of the reason, per line: SPF, DMARC, alignment, DKIM
	}{
		{"all good", SenderOptions{From: "news@acme.example", SendingIP: ip, DKIM: probe(t, "acme.example", "sel", good)}, []string{
			`pass acme.example: "v=spf1 ip4:192.0.2.10 -all" gives pass for 192.0.2.10`,
			"pass _dmarc.acme.example: p=reject (adkim=s, aspf=r)",
			"pass DKIM d=acme.example (adkim=s) and return path acme.example (aspf=r) aligned with From acme.example",
			"pass sel._domainkey.acme.example: the published key verifies",
		}},
		{"key in DNS is another", SenderOptions{From: "news@acme.example", DKIM: probe(t, "acme.example", "old", good)}, []string{
			`pass acme.example: "v=spf1 ip4:192.0.2.10 -all" (no sending address given`,
			"pass _dmarc.acme.example",
			"pass DKIM d=acme.example",
			"fail old._domainkey.acme.example: the published key does not verify mailer's signature",
		}},
		{"no key in DNS", SenderOptions{From: "news@acme.example", DKIM: probe(t, "acme.example", "none", good)}, []string{
			"pass", "pass", "pass", "fail none._domainkey.acme.example: no key published",
		}},
		{"ip not allowed", SenderOptions{From: "news@acme.example", SendingIP: net.ParseIP("198.51.100.7")}, []string{
			"fail acme.example: \"v=spf1 ip4:192.0.2.10 -all\" gives fail for 198.51.100.7",
			"pass", "pass return path acme.example (aspf=r)", "warn messages are not DKIM-signed",
		}},
		{"dmarc at the organisational domain", SenderOptions{From: "news@news.shop.example", SendingIP: ip}, []string{
			"pass news.shop.example",
			"pass _dmarc.shop.example (organisational domain of news.shop.example): p=none (adkim=r, aspf=r); p=none only monitors",
			"pass return path news.shop.example",
			"warn",
		}},
		{"strict alignment", SenderOptions{From: "news@acme.example", ReturnPath: "b@bounce.mailer.example", SendingIP: ip, DKIM: probe(t, "mail.acme.example", "sel", good)}, []string{
			"pass bounce.mailer.example: \"v=spf1 ip4:192.0.2.0/24 -all\" gives pass",
			"pass _dmarc.acme.example: p=reject (adkim=s",
			"fail neither DKIM d=mail.acme.example nor return path bounce.mailer.example aligns with From acme.example",
			"fail sel._domainkey.mail.acme.example: no key published",
		}},
		{"nothing published", SenderOptions{From: "a@bare.example"}, []string{
			"fail bare.example: no SPF record",
			"fail _dmarc.bare.example: no DMARC record",
			"pass", "warn",
		}},
		{"two spf records", SenderOptions{From: "a@twice.example"}, []string{
			"fail twice.example: 2 SPF records", "fail", "pass", "warn",
		}},
		{"dmarc lookup fails", SenderOptions{From: "a@flaky.example"}, []string{
			"pass", "warn _dmarc.flaky.example: TXT lookup failed", "pass", "warn",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines := CheckSender(context.Background(), r, tc.o)
			if len(lines) != len(tc.want) {
				t.Fatalf("%d lines, want %d", len(lines), len(tc.want))
			}
			for i, l := range lines {
				got := string(l.Status) + " " + l.Reason
				if !strings.HasPrefix(got, tc.want[i]) {
					t.Errorf("%s: %q\nwant prefix %q", l.Check, got, tc.want[i])
				}
				if l.Status == Fail && l.Publish == "" {
					t.Errorf("%s fails without saying what to publish", l.Check)
				}
			}
		})
	}
}

// What a failing DKIM line says to publish is the record of the signing key.
func TestDKIMPublish(t *testing.T) {
	good, other := newKey(t), newKey(t)
	s := startServer(t, senderZone(good, other))
	r := newResolver(t, s, ResolverOptions{})
	l := checkDKIM(context.Background(), r, probe(t, "acme.example", "old", good))
	want := `old._domainkey.acme.example TXT "` + dkimRecord(good.Public()) + `"`
	if l.Publish != want {
		t.Fatalf("publish %q, want %q", l.Publish, want)
	}
}
