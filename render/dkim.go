package render

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// DKIM configures DKIM signing (RFC 6376) of every message.
type DKIM struct {
	// Domain is the signing domain (d=); for DMARC it should be the From
	// domain or its organisational domain.
	Domain string
	// Selector names the key (s=): the public key is published in DNS as
	// TXT at SELECTOR._domainkey.DOMAIN.
	Selector string
	// Signer is the private key: RSA (rsa-sha256, RFC 6376) or Ed25519
	// (ed25519-sha256, RFC 8463). ParseDKIMKey reads one from PEM.
	Signer crypto.Signer
}

// dkimHeaders are the fields every signature covers: those of RFC 6376
// section 5.4.1 that mailer writes, and both List-Unsubscribe fields, which
// RFC 8058 section 4 requires to be signed. go-msgauth skips a name that is
// absent from the message.
var dkimHeaders = []string{
	"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
	"List-Unsubscribe", "List-Unsubscribe-Post",
}

// ParseDKIMKey parses a PEM private key for DKIM: "RSA PRIVATE KEY"
// (PKCS #1) or "PRIVATE KEY" (PKCS #8, RSA or Ed25519), as openssl genrsa,
// openssl genpkey and go-msgauth's dkim-keygen write them.
func ParseDKIMKey(pemData []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemData)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		return checkDKIMKey(k)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported key type %T", k)
		}
		return checkDKIMKey(s)
	}
	return nil, fmt.Errorf("PEM block %q is not a private key (want RSA PRIVATE KEY or PRIVATE KEY)", block.Type)
}

func checkDKIMKey(s crypto.Signer) (crypto.Signer, error) {
	switch k := s.(type) {
	case *rsa.PrivateKey:
		// RFC 8301 section 3.2: verifiers must refuse RSA keys under 1024 bits.
		if k.N.BitLen() < 1024 {
			return nil, fmt.Errorf("RSA key of %d bits: DKIM needs at least 1024 (2048 recommended)", k.N.BitLen())
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("unsupported key type %T (want RSA or Ed25519)", s)
}

func (d *DKIM) check() error {
	if d.Domain == "" || d.Selector == "" || d.Signer == nil {
		return errors.New("DKIM needs a domain, a selector and a key")
	}
	_, err := checkDKIMKey(d.Signer)
	return err
}

// sign prepends a DKIM-Signature field to the message in buf. Relaxed
// canonicalisation of header and body survives the re-folding and
// whitespace changes that relays are known to make.
func (t *Template) sign(buf *bytes.Buffer) error {
	d := t.opts.DKIM
	s, err := dkim.NewSigner(&dkim.SignOptions{
		Domain:                 d.Domain,
		Selector:               d.Selector,
		Signer:                 d.Signer,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             t.dkimKeys,
	})
	if err != nil {
		return fmt.Errorf("DKIM: %w", err)
	}
	if _, err := s.Write(buf.Bytes()); err != nil {
		s.Close()
		return fmt.Errorf("DKIM: %w", err)
	}
	if err := s.Close(); err != nil {
		return fmt.Errorf("DKIM: %w", err)
	}
	msg := bytes.Clone(buf.Bytes())
	buf.Reset()
	buf.WriteString(s.Signature())
	buf.Write(msg)
	return nil
}

// dkimKeysFor lists the fields a signature covers: dkimHeaders, then the
// template's own (Reply-To, List-Id, ...): whatever the sender wrote, a
// forger should not be able to change.
func dkimKeysFor(names []string) []string {
	out := append([]string(nil), dkimHeaders...)
	for _, n := range names {
		skip := false
		for _, k := range dkimHeaders {
			if strings.EqualFold(n, k) {
				skip = true
			}
		}
		if !skip {
			out = append(out, n)
		}
	}
	return out
}
