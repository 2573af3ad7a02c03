package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"

	"github.com/emersion/go-message/mail"
	"github.com/mailer-dev/mailer/campaign"
	"github.com/spf13/cobra"
)

// PreviewOptions are the settings of `mailer preview`.
type PreviewOptions struct {
	List        string
	Template    string
	Suppress    []string
	EmailColumn string
	NameColumn  string
	Out         string
	Rows        []int
	Emails      []string
	Limit       int
	Config      string
	Deliver     DeliverOptions // unsubscribe, DKIM, attachments: the message as send makes it
}

func newPreviewCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &PreviewOptions{}
	cmd := &cobra.Command{
		Use:   "preview --list FILE --template FILE [--out DIR] [--row N | --email ADDR | --limit N]",
		Short: "Render chosen rows to .eml files and an index.html to review in a browser",
		Long: `preview renders chosen rows exactly as send would (the same code decides every row)
and writes each message to DIR as an .eml file, with an index.html that shows, per
message, the envelope, the headers, the text part and the HTML part as a recipient
would see it (in a sandboxed iframe; no script runs). Without --out it prints the
first chosen message to stdout.

Rows are chosen by --row (the line of the list the row starts on, as check and the
results CSV's line column number them; line 2 is the first recipient), by --email,
or else the first --limit rows that would be sent (default 10 with --out).`,
		Example: `  mailer preview --list examples/contacts.csv --template examples/newsletter.tmpl --out preview/
  mailer preview --list contacts.csv --template newsletter.tmpl --row 8
  mailer preview --list contacts.csv --template newsletter.tmpl --email ann.lee@example.com --out preview/`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if _, err := resolveSettings(c.Flags(), o.Config); err != nil {
				return err
			}
			return runPreview(c.Context(), o, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.List, "list", "", "recipient `CSV` with a header row (required)")
	f.StringVar(&o.Template, "template", "", "template `FILE` or built-in template name (required)")
	f.StringVar(&o.Out, "out", "", "write .eml files and index.html to `DIR` (default: print the first message to stdout)")
	f.IntSliceVar(&o.Rows, "row", nil, "the row starting at line `N` of the list; repeatable")
	f.StringArrayVar(&o.Emails, "email", nil, "the row with this `ADDR`ess; repeatable")
	f.IntVar(&o.Limit, "limit", 0, "the first N rows that would be sent (default 10 with --out, else 1)")
	f.StringArrayVar(&o.Suppress, "suppress", nil, "suppression `CSV` with an email column; repeatable")
	f.StringVar(&o.EmailColumn, "email-column", "email", "list column holding the address")
	f.StringVar(&o.NameColumn, "name-column", "", `list column holding the display name (default "name" when the list has it)`)
	f.StringVar(&o.Config, "config", "", "YAML config `FILE` (or MAILER_CONFIG), as for send; settings preview has no use for are ignored")
	o.Deliver.addFlags(f)
	return cmd
}

// previewed is one chosen row, parsed back for the index page.
type previewed struct {
	Line    int
	Email   string
	Status  string // "" when the message would be sent
	Reason  string
	File    string // the .eml, relative to the index
	From    string // envelope
	Headers [][2]string
	Text    string
	HTML    string
	Size    int
}

func runPreview(ctx context.Context, o *PreviewOptions, stdout, stderr io.Writer) error {
	if o.List == "" || o.Template == "" {
		return &usageError{msg: "preview needs --list and --template (see mailer preview --help)"}
	}
	if o.Limit < 0 {
		return &usageError{msg: "--limit must be at least 1"}
	}
	if o.Limit > 0 && len(o.Rows)+len(o.Emails) > 0 {
		return &usageError{msg: "--limit chooses the first rows; it does not go with --row or --email"}
	}
	if o.Limit == 0 {
		o.Limit = 1
		if o.Out != "" {
			o.Limit = 10
		}
	}
	tmpl, err := loadTemplateWith(o.Template, campaignID("results.csv"), &o.Deliver)
	if err != nil {
		return err
	}
	if o.Out != "" {
		if err := os.MkdirAll(o.Out, 0o755); err != nil {
			return &campaign.WriteError{Path: o.Out, Err: err}
		}
	}
	var shown []*previewed
	invalid := 0
	passed, err := campaign.Select(ctx, campaign.PrepareOptions{
		ListOptions: campaign.ListOptions{List: o.List, EmailColumn: o.EmailColumn, NameColumn: o.NameColumn, Template: tmpl, Suppress: o.Suppress},
	}, campaign.Selection{Lines: o.Rows, Emails: o.Emails, Limit: o.Limit}, func(v *campaign.Verdict) error {
		p := &previewed{Line: v.Line, Email: v.Email, Status: string(v.Status), Reason: v.Reason}
		if v.Status == campaign.Invalid {
			invalid++
		}
		if v.Message != nil {
			if o.Out == "" {
				if len(shown) == 0 {
					if _, err := stdout.Write(v.Message.Data); err != nil {
						return err
					}
				}
				shown = append(shown, p)
				return nil
			}
			p.File = fmt.Sprintf("%06d-%s.eml", v.Line, fileSafe(v.Email))
			if err := os.WriteFile(filepath.Join(o.Out, p.File), v.Message.Data, 0o644); err != nil {
				return &campaign.WriteError{Path: filepath.Join(o.Out, p.File), Err: err}
			}
			if err := parseForPreview(p, v.Message.From, v.Message.Data); err != nil {
				return fmt.Errorf("line %d: reading the rendered message back: %w", v.Line, err)
			}
		}
		if o.Out == "" {
			fmt.Fprintf(stderr, "mailer: line %d %s: %s: %s\n", v.Line, v.Email, v.Status, v.Reason)
		}
		shown = append(shown, p)
		return nil
	})
	var nf *campaign.NotFoundError
	if errors.As(err, &nf) {
		return &usageError{msg: err.Error()}
	}
	if err != nil {
		return err
	}
	if o.Out == "" {
		if n := len(shown); n > 1 {
			fmt.Fprintf(stderr, "mailer: hint: %d rows chosen, the first shown; give --out DIR to see them all\n", n)
		}
	} else {
		idx := filepath.Join(o.Out, "index.html")
		var buf bytes.Buffer
		if err := previewPage.Execute(&buf, map[string]any{"List": o.List, "Template": o.Template, "Messages": shown, "Passed": passed}); err != nil {
			return err
		}
		if err := os.WriteFile(idx, buf.Bytes(), 0o644); err != nil {
			return &campaign.WriteError{Path: idx, Err: err}
		}
		fmt.Fprintf(stdout, "preview: %d %s in %s; open %s\n", len(shown), plural(len(shown), "message", "messages"), o.Out, idx)
	}
	if passed > 0 {
		fmt.Fprintf(stderr, "mailer: passed over %d %s that will not be sent (see mailer check)\n", passed, plural(passed, "row", "rows"))
	}
	if len(shown) == 0 {
		return &exitStatus{code: exitDataErr, hint: "no row of the list would be sent (see mailer check)"}
	}
	if invalid > 0 {
		return &exitStatus{code: exitDataErr, hint: fmt.Sprintf("%d chosen %s will not be sent: %s", invalid, plural(invalid, "row", "rows"), "see mailer check")}
	}
	return nil
}

// fileSafe keeps an address readable in a file name.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '@', r == '.', r == '-', r == '_', r == '+':
			return r
		}
		return '_'
	}, s)
}

// parseForPreview reads a rendered message back with go-message, as a mail
// client would: headers decoded (RFC 2047), parts decoded from their
// transfer encoding.
func parseForPreview(p *previewed, from string, data []byte) error {
	p.From, p.Size = from, len(data)
	mr, err := mail.CreateReader(bytes.NewReader(data))
	if err != nil {
		return err
	}
	defer mr.Close()
	fields := mr.Header.Fields()
	dec := new(mime.WordDecoder)
	for fields.Next() {
		v, err := dec.DecodeHeader(fields.Value())
		if err != nil {
			v = fields.Value()
		}
		k := fields.Key()
		if raw, err := fields.Raw(); err == nil {
			k, _, _ = strings.Cut(string(raw), ":") // as written: Message-ID, not Message-Id
		}
		p.Headers = append(p.Headers, [2]string{k, v})
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		b, err := io.ReadAll(part.Body)
		if err != nil {
			return err
		}
		switch ct {
		case "text/plain":
			p.Text = string(b)
		case "text/html":
			p.HTML = string(b)
		}
	}
}

// previewPage is the review page. Each HTML part is shown in an iframe with
// an empty sandbox (no script, no forms, no top navigation) through srcdoc,
// and the page's own Content-Security-Policy, which srcdoc frames inherit,
// forbids script anywhere.
var previewPage = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data: https: http:">
<title>mailer preview: {{.Template}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
.msg { border: 1px solid #ccc; border-radius: 6px; padding: 1em; margin: 0 0 2em; }
.msg h2 { font-size: 1.1em; margin: 0 0 .5em; }
table.hdr { border-collapse: collapse; font-size: .9em; margin-bottom: 1em; }
table.hdr th { text-align: right; padding: 1px 8px 1px 0; color: #555; vertical-align: top; white-space: nowrap; }
table.hdr td { padding: 1px 0; word-break: break-all; }
.parts { display: flex; gap: 1em; flex-wrap: wrap; }
.part { flex: 1 1 30em; min-width: 20em; }
.part h3 { font-size: .9em; color: #555; margin: 0 0 .3em; }
pre.text { white-space: pre-wrap; background: #f7f7f7; padding: .8em; margin: 0; font-size: .9em; }
iframe { width: 100%; height: 28em; border: 1px solid #ddd; background: #fff; }
.rejected { background: #fff3f3; border-color: #e99; }
nav li { margin: .1em 0; }
</style></head>
<body>
<h1>Preview: {{.Template}} &times; {{.List}}</h1>
<p>{{len .Messages}} chosen rows, rendered as send would render them.{{if .Passed}} {{.Passed}} rows passed over will not be sent (see <code>mailer check</code>).{{end}}</p>
<nav><ol>{{range .Messages}}<li><a href="#line-{{.Line}}">line {{.Line}}: {{.Email}}</a>{{if .Status}} ({{.Status}}){{end}}</li>{{end}}</ol></nav>
{{range .Messages}}
<section class="msg{{if not .File}} rejected{{end}}" id="line-{{.Line}}" data-line="{{.Line}}" data-email="{{.Email}}">
<h2>line {{.Line}}: {{.Email}}</h2>
{{if .File}}
<table class="hdr envelope">
<tr><th>MAIL FROM</th><td>&lt;{{.From}}&gt;</td></tr>
<tr><th>RCPT TO</th><td>&lt;{{.Email}}&gt;</td></tr>
<tr><th>size</th><td>{{.Size}} bytes</td></tr>
<tr><th>file</th><td><a href="{{.File}}">{{.File}}</a></td></tr>
</table>
<table class="hdr headers">{{range .Headers}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>
<div class="parts">
{{if .Text}}<div class="part"><h3>text/plain</h3><pre class="text">{{.Text}}</pre></div>{{end}}
{{if .HTML}}<div class="part"><h3>text/html</h3><iframe sandbox="" title="HTML part for {{.Email}}" srcdoc="{{.HTML}}"></iframe></div>{{end}}
</div>
{{else}}
<p class="reason"><b>{{.Status}}</b>: {{.Reason}}</p>
{{end}}
</section>
{{end}}
</body></html>
`))
