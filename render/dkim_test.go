package render

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

func loadKey(t testing.TB, file string) crypto.Signer {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseDKIMKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// dkimTXT is the DNS TXT record that publishes k's public key (RFC 6376
// section 3.6.1; RFC 8463 for Ed25519).
func dkimTXT(t *testing.T, k crypto.Signer) string {
	t.Helper()
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	}
	t.Fatalf("key type %T", k)
	return ""
}

// verifyDKIM checks data's signatures against k with no DNS: the lookup
// answers for selector._domainkey.acme.example only.
func verifyDKIM(t *testing.T, data []byte, k crypto.Signer) []*dkim.Verification {
	t.Helper()
	txt := dkimTXT(t, k)
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(data), &dkim.VerifyOptions{
		LookupTXT: func(domain string) ([]string, error) {
			if domain != "mail2026._domainkey.acme.example" {
				return nil, errors.New("no such record: " + domain)
			}
			return []string{txt}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// maskDKIM hides what changes with the clock in a signature: t= (go-msgauth
// stamps time.Now) and so b=. bh= and h= stay in the golden files; the
// signature itself is checked by verifying it.
func maskDKIM(data []byte) []byte {
	if !bytes.HasPrefix(data, []byte("DKIM-Signature:")) {
		return data
	}
	end := dkimFieldEnd.FindIndex(data)
	field := string(data[:end[0]])
	field = dkimTime.ReplaceAllString(field, "${1}t=TIME")
	field = dkimSig.ReplaceAllString(field, "${1}b=SIGNATURE")
	return append([]byte(field), data[end[0]:]...)
}

func TestDKIM(t *testing.T) {
	for _, file := range []string{"dkim-rsa.pem", "dkim-ed25519.pem"} {
		t.Run(file, func(t *testing.T) {
			k := loadKey(t, file)
			tm := parseWith(t, "all.tmpl", Options{Unsubscribe: testUnsub(), Files: testFiles(), DKIM: &DKIM{Domain: "acme.example", Selector: "mail2026", Signer: k}})
			var buf bytes.Buffer
			m, err := tm.Render(&buf, Recipient{Address: "ann@example.com", Name: "Ann", Fields: map[string]string{"first_name": "Ann"}})
			if err != nil {
				t.Fatal(err)
			}
			vs := verifyDKIM(t, m.Data, k)
			if len(vs) != 1 || vs[0].Err != nil {
				t.Fatalf("verification: %+v", vs[0])
			}
			if vs[0].Domain != "acme.example" {
				t.Errorf("d=%s", vs[0].Domain)
			}
			signed := map[string]bool{}
			for _, h := range vs[0].HeaderKeys {
				signed[strings.ToLower(h)] = true
			}
			for _, h := range []string{"from", "to", "subject", "date", "message-id", "mime-version", "content-type", "list-unsubscribe", "list-unsubscribe-post", "reply-to"} {
				if !signed[h] {
					t.Errorf("%s is not signed (h=%v)", h, vs[0].HeaderKeys)
				}
			}
			// A changed List-Unsubscribe (a forger's redirect) breaks it.
			bad := bytes.Replace(m.Data, []byte("<https://acme.example/"), []byte("<https://evil.example/"), 1)
			if vs := verifyDKIM(t, bad, k); vs[0].Err == nil {
				t.Error("a changed List-Unsubscribe still verifies")
			}
			// So does a changed body.
			bad = bytes.Replace(m.Data, []byte("Hi Ann"), []byte("Hi Eve"), 1)
			if vs := verifyDKIM(t, bad, k); vs[0].Err == nil {
				t.Error("a changed body still verifies")
			}
		})
	}
	if _, err := ParseDKIMKey([]byte("not a key")); err == nil {
		t.Error("garbage parsed as a key")
	}
	_, err := Parse("t.tmpl", []byte("From: a@acme.example\n\nb\n"), Options{MessageID: fixedOpts.MessageID, DKIM: &DKIM{Domain: "acme.example"}})
	if err == nil || !strings.Contains(err.Error(), "selector") {
		t.Errorf("incomplete DKIM options: %v", err)
	}
}
