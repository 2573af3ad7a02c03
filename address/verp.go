package address

import (
	"fmt"
	"strings"
)

// VERP returns the envelope sender that carries rcpt inside returnPath
// (variable envelope return path): bounces@acme.example and
// ann@example.com give bounces+ann=example.com@acme.example. A bounce that
// arrives later, hours after the run, is addressed to it, and
// DecodeVERP tells which recipient bounced. The recipient's domain is
// lower-cased; its local part is kept as it is, since only the receiving
// domain may interpret it.
//
// A long recipient can make the local part exceed the 64 octets of RFC 5321
// section 4.5.3.1.1; most relays accept that, some refuse it at MAIL.
func VERP(returnPath, rcpt string) (string, error) {
	rpLocal, rpDomain, ok := splitAddr(returnPath)
	if !ok {
		return "", fmt.Errorf("return path %q: not an address", returnPath)
	}
	if strings.Contains(rpLocal, "+") {
		return "", fmt.Errorf("return path %q: the local part may not hold '+', which VERP uses as its delimiter", returnPath)
	}
	local, domain, ok := splitAddr(rcpt)
	if !ok || !isASCII(domain) || strings.ContainsAny(domain, "=@") {
		return "", fmt.Errorf("recipient %q: not an address with an A-label domain", rcpt)
	}
	return rpLocal + "+" + local + "=" + strings.ToLower(domain) + "@" + rpDomain, nil
}

// DecodeVERP recovers the recipient from an address made by VERP with the
// same returnPath: the text between "local+" and the last "=" is the
// recipient's local part (which may itself hold "=" or "+"), the rest up to
// "@" its domain. ok is false for an address VERP did not make.
func DecodeVERP(returnPath, addr string) (rcpt string, ok bool) {
	rpLocal, rpDomain, ok := splitAddr(returnPath)
	if !ok {
		return "", false
	}
	local, domain, ok := splitAddr(addr)
	if !ok || !strings.EqualFold(domain, rpDomain) {
		return "", false
	}
	// Receivers may change the case of the local part they bounce to.
	if len(local) <= len(rpLocal)+1 || !strings.EqualFold(local[:len(rpLocal)+1], rpLocal+"+") {
		return "", false
	}
	enc := local[len(rpLocal)+1:]
	eq := strings.LastIndexByte(enc, '=')
	if eq <= 0 || eq == len(enc)-1 {
		return "", false
	}
	return enc[:eq] + "@" + enc[eq+1:], true
}

func splitAddr(a string) (local, domain string, ok bool) {
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 {
		return "", "", false
	}
	return a[:at], a[at+1:], true
}
