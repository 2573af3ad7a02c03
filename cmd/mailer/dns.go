package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mailer-dev/mailer/campaign"
	"github.com/mailer-dev/mailer/dnscheck"
	"github.com/mailer-dev/mailer/render"
	"github.com/spf13/pflag"
)

// DNSOptions are the DNS checks of check and send: recipient domains
// (--dns) and, for check, the sender's own records (--sender).
type DNSOptions struct {
	Domains     bool   // --dns
	Sender      bool   // --sender (check only)
	SendingIP   string // --sending-ip
	Resolver    string
	Rate        float64
	Concurrency int
	Timeout     time.Duration

	summary string // what the recipient pass found, for the check report
}

func (d *DNSOptions) addFlags(f *pflag.FlagSet, sender bool) {
	f.BoolVar(&d.Domains, "dns", false, "look up every recipient domain first: rows at a domain that does not exist or takes no mail (null MX) are invalid; likely typos (gmial.com) and lookup failures are warnings")
	f.StringVar(&d.Resolver, "resolver", "", "DNS server `HOST:PORT` for every lookup (default: the first nameserver of /etc/resolv.conf)")
	f.Float64Var(&d.Rate, "dns-rate", dnscheck.DefaultRate, "at most this many DNS lookups per second (0: no cap)")
	f.IntVar(&d.Concurrency, "dns-concurrency", dnscheck.DefaultConcurrency, "DNS lookups in flight at once")
	f.DurationVar(&d.Timeout, "dns-timeout", dnscheck.DefaultTimeout, "how long one DNS query waits for an answer (it is sent twice)")
	if sender {
		f.BoolVar(&d.Sender, "sender", false, "check the sender's DNS against the Gmail/Yahoo bulk-sender rules: SPF, DMARC, alignment, the DKIM key (--list is then optional)")
		f.StringVar(&d.SendingIP, "sending-ip", "", "`IP` address mail leaves from, to evaluate SPF for")
	}
}

func (d *DNSOptions) resolver() (*dnscheck.Resolver, error) {
	if d.Concurrency < 1 || d.Rate < 0 || d.Timeout <= 0 {
		return nil, &usageError{msg: "--dns-concurrency must be at least 1, --dns-rate at least 0, --dns-timeout above 0"}
	}
	rate := d.Rate
	if rate == 0 {
		rate = -1 // no cap
	}
	r, err := dnscheck.NewResolver(dnscheck.ResolverOptions{Server: d.Resolver, Rate: rate, Timeout: d.Timeout})
	if err != nil {
		if d.Resolver != "" {
			return nil, &usageError{msg: "--resolver: " + err.Error()}
		}
		return nil, &configError{fmt.Errorf("%w (give --resolver HOST:PORT)", err)}
	}
	return r, nil
}

// recipients runs the DNS pre-pass over the list's distinct domains when
// --dns is given (nil, nil when not).
func (d *DNSOptions) recipients(ctx context.Context, list, emailColumn, nameColumn string) (*dnscheck.Report, error) {
	if !d.Domains {
		return nil, nil
	}
	r, err := d.resolver()
	if err != nil {
		return nil, err
	}
	ds := dnscheck.NewDomains()
	if err := campaign.ListDomains(ctx, list, emailColumn, nameColumn, ds.Add); err != nil {
		return nil, err
	}
	rep, err := dnscheck.NewChecker(r).Check(ctx, ds, dnscheck.Options{Concurrency: d.Concurrency})
	if err != nil {
		return nil, err
	}
	temp, typos := 0, 0
	for _, f := range rep.Warnings {
		if f.Kind == dnscheck.KindTypo {
			typos++
		} else {
			temp++
		}
	}
	d.summary = fmt.Sprintf("dns: %d %s looked up: %d %s no mail (%d %s), %d temporary %s, %d likely %s",
		rep.Domains, plural(rep.Domains, "domain", "domains"), len(rep.Invalid), plural(len(rep.Invalid), "takes", "take"),
		rep.InvalidRows(), plural(rep.InvalidRows(), "row", "rows"), temp, plural(temp, "failure", "failures"), typos, plural(typos, "typo", "typos"))
	return rep, nil
}

// verdict is the hook campaign consults; nil without --dns.
func verdict(rep *dnscheck.Report) campaign.DomainVerdict {
	if rep == nil {
		return nil
	}
	return rep.Verdict
}

// warningGroups are the DNS warnings as check's groups: one per domain.
func warningGroups(rep *dnscheck.Report) []*campaign.Group {
	if rep == nil {
		return nil
	}
	var out []*campaign.Group
	for _, f := range rep.Warnings {
		g := &campaign.Group{Count: f.Rows}
		detail := "did you mean " + f.Suggestion + "?"
		if f.Kind == dnscheck.KindTypo {
			g.Kind = fmt.Sprintf("%s: likely a typo of %s", f.Domain, f.Suggestion)
		} else {
			g.Kind = fmt.Sprintf("%s: DNS lookup failed (%s)", f.Domain, f.Reason)
			detail = "temporary: these rows are sent as usual; check again later"
		}
		for i, l := range f.Lines {
			e := campaign.Example{Line: l, Detail: detail}
			if i == 0 {
				e.Email = f.Email
			}
			g.Examples = append(g.Examples, e)
		}
		out = append(out, g)
	}
	return out
}

// warnDNS tells send's user what the pre-pass found.
func warnDNS(u *ui, d *DNSOptions, rep *dnscheck.Report) {
	if rep == nil {
		return
	}
	u.info(d.summary)
	for _, f := range rep.Warnings {
		msg := fmt.Sprintf("%s: DNS lookup failed (%s) for %d %s: sent as usual", f.Domain, f.Reason, f.Rows, plural(f.Rows, "row", "rows"))
		if f.Kind == dnscheck.KindTypo {
			msg = fmt.Sprintf("%s looks like a typo of %s: %d %s from line %d (mailer check --dns lists them)", f.Domain, f.Suggestion, f.Rows, plural(f.Rows, "row", "rows"), f.Lines[0])
		}
		u.warn(msg, "kind", "dns", "domain", f.Domain, "rows", f.Rows)
	}
}

// checkSender runs --sender: the From domain comes from the template, the
// return path and DKIM from the deliverability settings.
// senderChecks runs the checks of the sender's own DNS for the template's
// From domain.
func senderChecks(ctx context.Context, o *CheckOptions, tmpl *render.Template) (from string, so dnscheck.SenderOptions, lines []dnscheck.Line, err error) {
	d := &o.DNS
	from = tmpl.FromDomain()
	if from == "" {
		return "", so, nil, &usageError{msg: "--sender needs a template whose From address does not depend on the row"}
	}
	so = dnscheck.SenderOptions{From: "postmaster@" + from, ReturnPath: o.Deliver.ReturnPath}
	if d.SendingIP != "" {
		if so.SendingIP = net.ParseIP(d.SendingIP); so.SendingIP == nil {
			return "", so, nil, &usageError{msg: fmt.Sprintf("--sending-ip %q: not an IP address", d.SendingIP)}
		}
	}
	if o.Deliver.DKIMKey != "" {
		probe, err := dkimProbe(&o.Deliver, from)
		if err != nil {
			return "", so, nil, err
		}
		so.DKIM = probe
	}
	r, err := d.resolver()
	if err != nil {
		return "", so, nil, err
	}
	return from, so, dnscheck.CheckSender(ctx, r, so), nil
}

// checkSender runs the sender checks and prints them on their own: the
// table, or with --format json one document {"sender": [...]}.
func checkSender(ctx context.Context, o *CheckOptions, tmpl *render.Template, stdout io.Writer) error {
	from, so, lines, err := senderChecks(ctx, o, tmpl)
	if err != nil {
		return err
	}
	if o.Format == "json" {
		if err := encodeJSON(stdout, map[string]any{"sender": lines}); err != nil {
			return err
		}
	} else {
		printSender(stdout, from, so, lines)
	}
	return senderStrict(o, lines)
}

// senderStrict is the exit of --strict when a sender check fails.
func senderStrict(o *CheckOptions, lines []dnscheck.Line) error {
	fails := 0
	for _, l := range lines {
		if l.Status == dnscheck.Fail {
			fails++
		}
	}
	if fails > 0 && o.Strict {
		return &exitStatus{code: exitDataErr, hint: fmt.Sprintf("%d sender %s and --strict: publish the records shown, then check again (DNS changes take up to the record's TTL to be seen)", fails, plural(fails, "check fails", "checks fail"))}
	}
	return nil
}

// dkimProbe signs a probe message with render's signer, as every message
// of the campaign is signed.
func dkimProbe(d *DeliverOptions, from string) (*dnscheck.DKIMProbe, error) {
	if countSet(d.DKIMKey, d.DKIMDomain, d.DKIMSelector) < 3 {
		return nil, &usageError{msg: "DKIM needs all of --dkim-key, --dkim-domain and --dkim-selector"}
	}
	pemData, err := os.ReadFile(d.DKIMKey)
	if err != nil {
		return nil, fmt.Errorf("DKIM key: %w", err)
	}
	k, err := render.ParseDKIMKey(pemData)
	if err != nil {
		return nil, &configError{fmt.Errorf("DKIM key %s: %w", d.DKIMKey, err)}
	}
	src := "From: mailer probe <postmaster@" + from + ">\nSubject: mailer DKIM probe\n\nThis message tests DKIM signing.\n"
	t, err := render.Parse("dkim-probe", []byte(src), render.Options{
		DKIM: &render.DKIM{Domain: d.DKIMDomain, Selector: d.DKIMSelector, Signer: k},
		Now:  time.Now, MessageID: func(string) string { return "dkim-probe" },
	})
	if err != nil {
		return nil, err
	}
	return &dnscheck.DKIMProbe{Domain: d.DKIMDomain, Selector: d.DKIMSelector, Key: k.Public(), Sign: func() ([]byte, error) {
		var buf bytes.Buffer
		m, err := t.Render(&buf, render.Recipient{Address: "probe@example.com"})
		if err != nil {
			return nil, err
		}
		return bytes.Clone(m.Data), nil
	}}, nil
}

// printSender writes the sender table: one line per check, pass, warn or
// fail, with what to publish under a line that does not pass.
func printSender(w io.Writer, from string, so dnscheck.SenderOptions, lines []dnscheck.Line) {
	rp := from
	if at := strings.LastIndexByte(so.ReturnPath, '@'); at >= 0 {
		rp = strings.ToLower(so.ReturnPath[at+1:])
	}
	fmt.Fprintf(w, "sender: From domain %s, return path domain %s (Gmail and Yahoo bulk-sender rules, 2024)\n", from, rp)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	counts := map[dnscheck.Status]int{}
	for _, l := range lines {
		counts[l.Status]++
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", l.Check, l.Status, l.Reason)
		if l.Publish != "" {
			fmt.Fprintf(tw, "  \t\tpublish: %s\n", l.Publish)
		}
	}
	tw.Flush()
	var parts []string
	if n := counts[dnscheck.Fail]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", n, plural(n, "fail", "fails")))
	}
	if n := counts[dnscheck.Warn]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", n, plural(n, "warning", "warnings")))
	}
	if len(parts) == 0 {
		parts = []string{"all pass"}
	}
	fmt.Fprintf(w, "sender result: %s\n", strings.Join(parts, ", "))
}
