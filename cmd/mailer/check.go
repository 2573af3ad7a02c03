package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mailer-dev/mailer/campaign"
	"github.com/mailer-dev/mailer/dnscheck"
	"github.com/spf13/cobra"
)

// CheckOptions are the settings of `mailer check`.
type CheckOptions struct {
	ListOptions
	Strict  bool
	MaxSize int
	Format  string
	Config  string
	Deliver DeliverOptions // unsubscribe, DKIM, attachments: the message as send makes it
	DNS     DNSOptions     // --dns, --sender (dns.go)
}

func newCheckCmd(stdout io.Writer, u *ui, runF func(*CheckOptions) error) *cobra.Command {
	o := &CheckOptions{}
	cmd := &cobra.Command{
		Use:   "check --list FILE --template FILE [--suppress FILE]...",
		Short: "Render every row without sending and report problems and warnings",
		Long: `check renders every row of the list exactly as send --dry-run would and reports,
grouped with counts and the first lines of each group: rows that will not be sent
(bad addresses, rows the template fails on), duplicates and suppressed rows, and
warnings about what bulk receivers punish. Exit 0 when every row is fine, 65 when
rows are invalid; warnings fail only with --strict.`,
		Example: `  mailer check --list examples/contacts.csv --template examples/newsletter.tmpl
  mailer check --list contacts.csv --template newsletter.tmpl --suppress unsubscribed.csv --strict`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			if _, err := resolveSettings(c, u, o.Config); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return runCheck(c.Context(), o, stdout)
		},
	}
	f := cmd.Flags()
	o.ListOptions.addFlags(f)
	f.BoolVar(&o.Strict, "strict", false, "exit 65 on warnings too")
	f.IntVar(&o.MaxSize, "max-size", campaign.DefaultMaxSize, "warn about messages larger than this many `bytes`")
	f.StringVar(&o.Format, "format", "text", "output format: text or json")
	f.StringVar(&o.Config, "config", "", "YAML config `FILE` (or MAILER_CONFIG), as for send; settings check has no use for are ignored")
	o.Deliver.addFlags(f)
	o.DNS.addFlags(f, true)
	return cmd
}

func runCheck(ctx context.Context, o *CheckOptions, stdout io.Writer) error {
	senderOnly := o.List == "" && o.DNS.Sender && o.Template != "" // --sender needs no list
	if err := o.required("check"); err != nil && !senderOnly {
		return err
	}
	if o.Format != "text" && o.Format != "json" {
		return &usageError{msg: fmt.Sprintf("--format %q: want text or json", o.Format)}
	}
	tmpl, err := loadTemplateWith(o.Template, campaignID("results.csv"), &o.Deliver)
	if err != nil {
		return err
	}
	if o.List == "" { // --sender alone
		return checkSender(ctx, o, tmpl, stdout)
	}
	dnsRep, err := o.DNS.recipients(ctx, o.List, o.EmailColumn, o.NameColumn)
	if err != nil {
		return err
	}
	rep, err := campaign.Check(ctx, campaign.CheckOptions{
		PrepareOptions: campaign.PrepareOptions{ListOptions: o.campaignWith(tmpl, verdict(dnsRep))},
		MaxSize:        o.MaxSize,
	})
	if err != nil {
		return err
	}
	rep.Warnings = append(rep.Warnings, warningGroups(dnsRep)...)
	var senderErr error
	switch {
	case o.Format == "json" && o.DNS.Sender:
		// One document: the report with the sender checks beside it.
		_, _, lines, err := senderChecks(ctx, o, tmpl)
		if err != nil {
			return err
		}
		if err := encodeJSON(stdout, struct {
			*campaign.CheckReport
			Sender []dnscheck.Line `json:"sender"`
		}{rep, lines}); err != nil {
			return err
		}
		senderErr = senderStrict(o, lines)
	case o.Format == "json":
		if err := encodeJSON(stdout, rep); err != nil {
			return err
		}
	default:
		printCheck(stdout, o, rep)
		if o.DNS.Sender {
			fmt.Fprintln(stdout)
			senderErr = checkSender(ctx, o, tmpl, stdout)
		}
	}
	if senderErr != nil && rep.Invalid() == 0 {
		return senderErr
	}
	switch {
	case rep.Invalid() > 0:
		return &exitStatus{code: exitDataErr, hint: fmt.Sprintf("%d invalid %s will not be sent: fix the list or the template, then check again", rep.Invalid(), plural(rep.Invalid(), "row", "rows"))}
	case o.Strict && len(rep.Warnings) > 0:
		return &exitStatus{code: exitDataErr, hint: fmt.Sprintf("%d %s and --strict", len(rep.Warnings), plural(len(rep.Warnings), "warning", "warnings"))}
	}
	return nil
}

// encodeJSON writes v as one indented JSON document.
func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// printCheck writes the report for people: a summary line, then each group
// with its count and first rows.
func printCheck(w io.Writer, o *CheckOptions, r *campaign.CheckReport) {
	fmt.Fprintf(w, "check: %s with %s\n", o.List, o.Template)
	avg := 0
	if r.Ready > 0 {
		avg = r.Bytes / r.Ready
	}
	skipped := 0
	for _, g := range r.Skipped {
		skipped += g.Count
	}
	fmt.Fprintf(w, "rows: %d; ready to send %d (average %d bytes), invalid %d, not sent by design %d\n",
		r.Rows, r.Ready, avg, r.Invalid(), skipped)
	if o.DNS.summary != "" {
		fmt.Fprintln(w, o.DNS.summary)
	}
	section := func(title, unit string, gs []*campaign.Group) {
		if len(gs) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, g := range gs {
			one, many := unit, unit+"s"
			if g.Kind == campaign.WarnManyFrom {
				one, many = "address", "addresses"
			}
			fmt.Fprintf(w, "  %s: %d %s\n", g.Kind, g.Count, plural(g.Count, one, many))
			if same, detail := sameDetail(g); same && len(g.Examples) > 1 {
				// One cause for all: say it once, then where.
				var ls []string
				for _, e := range g.Examples {
					ls = append(ls, strconv.Itoa(e.Line))
				}
				more := ""
				if n := g.Count - len(g.Examples); n > 0 {
					more = fmt.Sprintf(" and %d more", n)
				}
				fmt.Fprintf(w, "    %s\n    lines %s%s\n", detail, strings.Join(ls, ", "), more)
				continue
			}
			for _, e := range g.Examples {
				detail := e.Detail
				if detail != "" {
					detail = "  " + detail
				}
				fmt.Fprintf(w, "    line %d  %s%s\n", e.Line, e.Email, detail)
			}
			if more := g.Count - len(g.Examples); more > 0 {
				fmt.Fprintf(w, "    ... and %d more\n", more)
			}
		}
	}
	section("errors (these rows will not be sent)", "row", r.Errors)
	section("not sent by design", "row", r.Skipped)
	section("warnings", "message", r.Warnings)
	verdict := "ok"
	switch {
	case r.Invalid() > 0:
		verdict = "invalid rows"
	case len(r.Warnings) > 0:
		verdict = fmt.Sprintf("ok with %d %s", len(r.Warnings), plural(len(r.Warnings), "warning", "warnings"))
	}
	fmt.Fprintf(w, "\nresult: %s\n", verdict)
}

func sameDetail(g *campaign.Group) (bool, string) {
	for _, e := range g.Examples {
		if e.Detail != g.Examples[0].Detail {
			return false, ""
		}
	}
	return len(g.Examples) > 0 && g.Examples[0].Detail != "", g.Examples[0].Detail
}
