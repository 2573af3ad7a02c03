package dnscheck

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"
)

// Status is the outcome of one sender check.
type Status string

// The statuses, as the table shows them.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Line is one row of the sender table.
type Line struct {
	Check   string `json:"check"` // SPF, DMARC, alignment, DKIM
	Status  Status `json:"status"`
	Reason  string `json:"reason"`
	Publish string `json:"publish,omitempty"` // the record to publish to fix it
}

// SenderOptions say what the campaign sends as.
type SenderOptions struct {
	From       string // the From address
	ReturnPath string // the envelope sender ["" : From]
	SendingIP  net.IP // the address the relay sends from; nil: SPF is not evaluated
	DKIM       *DKIMProbe
}

// DKIMProbe is the campaign's DKIM signing, to be tested against DNS.
type DKIMProbe struct {
	Domain, Selector string
	Key              crypto.PublicKey // the public half of the signing key
	// Sign returns a probe message signed as the campaign's messages are.
	Sign func() ([]byte, error)
}

// CheckSender checks the sender's DNS against what Gmail and Yahoo require
// of bulk senders since February 2024: SPF and DKIM, a DMARC record (p=none
// is enough) and DMARC alignment of DKIM or SPF with From.
func CheckSender(ctx context.Context, r *Resolver, o SenderOptions) []Line {
	from := domainOf(o.From)
	rp := domainOf(o.ReturnPath)
	if rp == "" {
		rp = from
	}
	var lines []Line
	lines = append(lines, checkSPF(ctx, r, rp, o))
	dl, rec := checkDMARC(ctx, r, from)
	lines = append(lines, dl)
	lines = append(lines, checkAlignment(from, rp, o.DKIM, rec))
	lines = append(lines, checkDKIM(ctx, r, o.DKIM))
	return lines
}

func domainOf(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	return strings.ToLower(strings.TrimSuffix(addr[at+1:], ">"))
}

func checkSPF(ctx context.Context, r *Resolver, domain string, o SenderOptions) Line {
	l := Line{Check: "SPF"}
	mech := "ip4:YOUR.SENDING.IP"
	if o.SendingIP != nil {
		mech = "ip4:" + o.SendingIP.String()
		if o.SendingIP.To4() == nil {
			mech = "ip6:" + o.SendingIP.String()
		}
	}
	publish := fmt.Sprintf(`%s TXT "v=spf1 %s -all"`, domain, mech)
	txts, err := r.LookupTXT(ctx, domain)
	var de *net.DNSError
	if err != nil && !(errors.As(err, &de) && de.IsNotFound) {
		l.Status, l.Reason = Warn, fmt.Sprintf("%s: TXT lookup failed: %v", domain, err)
		return l
	}
	var recs []string
	for _, t := range txts {
		if lt := strings.ToLower(t); lt == "v=spf1" || strings.HasPrefix(lt, "v=spf1 ") {
			recs = append(recs, t)
		}
	}
	switch len(recs) {
	case 0:
		l.Status, l.Reason, l.Publish = Fail, domain+": no SPF record", publish
		return l
	case 1:
	default:
		l.Status, l.Reason, l.Publish = Fail, fmt.Sprintf("%s: %d SPF records (RFC 7208 section 4.5: a permanent error)", domain, len(recs)), "one TXT record that merges them"
		return l
	}
	if o.SendingIP == nil {
		l.Status, l.Reason = Pass, fmt.Sprintf("%s: %q (no sending address given to evaluate it)", domain, recs[0])
		return l
	}
	sender := "postmaster@" + domain
	if o.ReturnPath != "" {
		sender = o.ReturnPath
	}
	res, err := spf.CheckHostWithSender(o.SendingIP, domain, sender, spf.WithResolver(r), spf.WithContext(ctx))
	detail := fmt.Sprintf("%s: %q gives %s for %s", domain, recs[0], res, o.SendingIP)
	if err != nil && res != spf.Pass && res != spf.Fail && res != spf.SoftFail {
		detail += " (" + err.Error() + ")"
	}
	l.Reason = detail
	switch res {
	case spf.Pass:
		l.Status = Pass
	case spf.Fail, spf.PermError:
		l.Status, l.Publish = Fail, fmt.Sprintf(`%s TXT "%s"`, domain, withMechanism(recs[0], mech))
	case spf.TempError:
		l.Status = Warn
	default: // softfail, neutral, none
		l.Status, l.Publish = Warn, fmt.Sprintf(`%s TXT "%s"`, domain, withMechanism(recs[0], mech))
	}
	return l
}

// withMechanism adds mech to an SPF record, before its final all or
// redirect, which end the evaluation (RFC 7208 section 4.6.2).
func withMechanism(rec, mech string) string {
	f := strings.Fields(rec)
	for i, t := range f {
		lt := strings.ToLower(strings.TrimLeft(t, "+-~?"))
		if i > 0 && (lt == "all" || strings.HasPrefix(lt, "redirect=")) {
			return strings.Join(append(append(append([]string{}, f[:i]...), mech), f[i:]...), " ")
		}
	}
	return rec + " " + mech
}

// dmarcRecord is a DMARC record and where it was found.
type dmarcRecord struct {
	rec  *dmarc.Record
	at   string // the domain whose _dmarc holds it
	text string
}

// checkDMARC looks up _dmarc.DOMAIN, then the organisational domain's
// (RFC 7489 section 6.6.3).
func checkDMARC(ctx context.Context, r *Resolver, from string) (Line, *dmarcRecord) {
	l := Line{Check: "DMARC"}
	org, err := publicsuffix.EffectiveTLDPlusOne(from)
	if err != nil {
		org = from
	}
	for _, d := range []string{from, org} {
		txts, err := r.LookupTXT(ctx, "_dmarc."+d)
		var de *net.DNSError
		if err != nil && !(errors.As(err, &de) && de.IsNotFound) {
			l.Status, l.Reason = Warn, fmt.Sprintf("_dmarc.%s: TXT lookup failed: %v", d, err)
			return l, nil
		}
		var recs []string
		for _, t := range txts {
			if strings.HasPrefix(strings.TrimSpace(t), "v=DMARC1") {
				recs = append(recs, t)
			}
		}
		if len(recs) > 1 {
			l.Status, l.Reason, l.Publish = Fail, fmt.Sprintf("_dmarc.%s: %d DMARC records (RFC 7489 section 6.6.3: none applies)", d, len(recs)), "one record"
			return l, nil
		}
		if len(recs) == 1 {
			rec, err := dmarc.Parse(recs[0])
			if err != nil {
				l.Status, l.Reason = Fail, fmt.Sprintf("_dmarc.%s: %q: %v", d, recs[0], err)
				l.Publish = fmt.Sprintf(`_dmarc.%s TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@%s"`, org, org)
				return l, nil
			}
			where := "_dmarc." + d
			if d != from {
				where += " (organisational domain of " + from + ")"
			}
			policy := rec.Policy
			if d != from && rec.SubdomainPolicy != "" {
				policy = rec.SubdomainPolicy
			}
			l.Status, l.Reason = Pass, fmt.Sprintf("%s: p=%s (adkim=%s, aspf=%s)", where, policy, mode(rec.DKIMAlignment), mode(rec.SPFAlignment))
			if policy == dmarc.PolicyNone {
				l.Reason += "; p=none only monitors"
			}
			return l, &dmarcRecord{rec: rec, at: d, text: recs[0]}
		}
		if org == from {
			break
		}
	}
	l.Status = Fail
	l.Reason = "_dmarc." + from + ": no DMARC record"
	if org != from {
		l.Reason += " (nor at _dmarc." + org + ")"
	}
	l.Publish = fmt.Sprintf(`_dmarc.%s TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@%s"`, org, org)
	return l, nil
}

func mode(m dmarc.AlignmentMode) string {
	if m == dmarc.AlignmentStrict {
		return "s"
	}
	return "r"
}

// aligned reports whether domain aligns with from (RFC 7489 section 3.1):
// equal under strict mode, the same organisational domain under relaxed.
func aligned(domain, from string, m dmarc.AlignmentMode) bool {
	if strings.EqualFold(domain, from) {
		return true
	}
	if m == dmarc.AlignmentStrict {
		return false
	}
	a, err1 := publicsuffix.EffectiveTLDPlusOne(domain)
	b, err2 := publicsuffix.EffectiveTLDPlusOne(from)
	return err1 == nil && err2 == nil && strings.EqualFold(a, b)
}

func checkAlignment(from, rp string, d *DKIMProbe, rec *dmarcRecord) Line {
	l := Line{Check: "alignment"}
	adkim, aspf := dmarc.AlignmentMode(dmarc.AlignmentRelaxed), dmarc.AlignmentMode(dmarc.AlignmentRelaxed)
	if rec != nil {
		adkim, aspf = rec.rec.DKIMAlignment, rec.rec.SPFAlignment
	}
	var ok []string
	if d != nil && aligned(d.Domain, from, adkim) {
		ok = append(ok, fmt.Sprintf("DKIM d=%s (adkim=%s)", d.Domain, mode(adkim)))
	}
	if aligned(rp, from, aspf) {
		ok = append(ok, fmt.Sprintf("return path %s (aspf=%s)", rp, mode(aspf)))
	}
	if len(ok) > 0 {
		l.Status, l.Reason = Pass, strings.Join(ok, " and ")+" aligned with From "+from
		return l
	}
	l.Status = Fail
	if d != nil {
		l.Reason = fmt.Sprintf("neither DKIM d=%s nor return path %s aligns with From %s", d.Domain, rp, from)
	} else {
		l.Reason = fmt.Sprintf("no DKIM, and return path %s does not align with From %s", rp, from)
	}
	l.Publish = "sign with d=" + from + ", or send with a return path at " + from
	return l
}

// dkimRecord is the TXT record that publishes key (RFC 6376 section 3.6.1).
func dkimRecord(key crypto.PublicKey) string {
	switch k := key.(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k)
	case nil:
		return "v=DKIM1; p=..."
	}
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return "v=DKIM1; p=..."
	}
	return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
}

func checkDKIM(ctx context.Context, r *Resolver, d *DKIMProbe) Line {
	l := Line{Check: "DKIM"}
	if d == nil {
		l.Status, l.Reason = Warn, "messages are not DKIM-signed: Gmail and Yahoo require DKIM from bulk senders"
		return l
	}
	name := d.Selector + "._domainkey." + d.Domain
	publish := fmt.Sprintf(`%s TXT "%s"`, name, dkimRecord(d.Key))
	lookup := func(n string) ([]string, error) { return r.LookupTXT(ctx, n) }
	txts, err := lookup(name)
	var de *net.DNSError
	switch {
	case errors.As(err, &de) && de.IsNotFound:
		l.Status, l.Reason, l.Publish = Fail, name+": no key published", publish
		return l
	case err != nil:
		l.Status, l.Reason = Warn, fmt.Sprintf("%s: TXT lookup failed: %v", name, err)
		return l
	case len(txts) > 1:
		l.Status, l.Reason, l.Publish = Fail, fmt.Sprintf("%s: %d TXT records (RFC 6376 section 3.6.2.2: undefined)", name, len(txts)), publish
		return l
	}
	msg, err := d.Sign()
	if err != nil {
		l.Status, l.Reason = Fail, "signing a probe message: "+err.Error()
		return l
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: lookup})
	if err != nil || len(vs) != 1 {
		l.Status, l.Reason = Fail, fmt.Sprintf("the probe message has %d signatures (%v)", len(vs), err)
		return l
	}
	switch v := vs[0]; {
	case v.Err == nil:
		l.Status, l.Reason = Pass, name+": the published key verifies mailer's signature"
	case dkim.IsTempFail(v.Err):
		l.Status, l.Reason = Warn, name+": "+v.Err.Error()
	default:
		msg := v.Err.Error()
		if i := strings.LastIndex(msg, "dkim: "); i >= 0 {
			msg = msg[i+len("dkim: "):]
		}
		l.Status, l.Reason, l.Publish = Fail, name+": the published key does not verify mailer's signature ("+msg+"): it is not the public half of the signing key", publish
	}
	return l
}
