package main

import (
	"strings"

	"github.com/mailer-dev/mailer/campaign"
	"github.com/mailer-dev/mailer/render"
	"github.com/mailer-dev/mailer/templates"
	"github.com/spf13/pflag"
)

// ListOptions choose the recipients and what they get: the list and its
// columns, the template and the suppression files. send, check and preview
// take the same flags into the same struct, so they see the same rows.
type ListOptions struct {
	List        string
	Template    string
	Suppress    []string
	EmailColumn string
	NameColumn  string
}

func (l *ListOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&l.List, "list", "", "recipient `CSV` with a header row (required)")
	f.StringVar(&l.Template, "template", "", "template `FILE`, or the name of a built-in template ("+strings.Join(templates.Names(), ", ")+") (required)")
	f.StringArrayVar(&l.Suppress, "suppress", nil, "suppression `CSV` with an email column: never sent to; repeatable")
	f.StringVar(&l.EmailColumn, "email-column", "email", "list column holding the address")
	f.StringVar(&l.NameColumn, "name-column", "", `list column holding the display name (default "name" when the list has it)`)
}

// required refuses a command line of cmd without a list or a template.
func (l *ListOptions) required(cmd string) error {
	if l.List == "" || l.Template == "" {
		return &usageError{msg: cmd + " needs --list and --template (see mailer " + cmd + " --help)"}
	}
	return nil
}

// prepare gives the options as campaign takes them, with the parsed template.
func (l *ListOptions) prepare(tmpl *render.Template) campaign.PrepareOptions {
	return campaign.PrepareOptions{ListOptions: l.campaign(tmpl)}
}

// campaignWith gives the list settings as campaign takes them, with a DNS
// verdict on recipient domains (nil for none).
func (l *ListOptions) campaignWith(tmpl *render.Template, dv campaign.DomainVerdict) campaign.ListOptions {
	lo := l.campaign(tmpl)
	lo.DomainVerdict = dv
	return lo
}

// campaign gives the list settings as campaign takes them.
func (l *ListOptions) campaign(tmpl *render.Template) campaign.ListOptions {
	return campaign.ListOptions{
		List: l.List, EmailColumn: l.EmailColumn, NameColumn: l.NameColumn,
		Template: tmpl, Suppress: l.Suppress,
	}
}
