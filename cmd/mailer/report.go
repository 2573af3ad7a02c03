package main

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mailer-dev/mailer/campaign"
	"github.com/mailer-dev/mailer/track"
	"github.com/spf13/cobra"
)

// ReportOptions are the settings of `mailer report`.
type ReportOptions struct {
	Results []string // files or glob patterns
	Format  string
	HTML    string

	Events          []string // events files of serve --events
	ScannerAfter    time.Duration
	ScannerAllLinks time.Duration
}

func newReportCmd(stdout io.Writer, runF func(*ReportOptions) error) *cobra.Command {
	o := &ReportOptions{}
	cmd := &cobra.Command{
		Use:   "report RESULTS.csv... [--format text|json] [--html FILE] [--events FILE]",
		Short: "Summarise results CSVs as one campaign: outcomes, rates, SMTP codes, domains, attempts, time",
		Example: `  mailer report results.csv
  mailer report results.csv --format json
  mailer report results.csv --html report.html
  mailer report 'results/shard-*.csv'     # the shards of one campaign, as one
  MAILER_TRACKING_SECRET=... mailer report results.csv --events events.jsonl   # clicks and opens`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			o.Results = args
			if runF != nil {
				return runF(o)
			}
			return runReport(o, stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Format, "format", "text", "output format on stdout: text or json")
	f.StringVar(&o.HTML, "html", "", "also write a self-contained HTML page with a chart to `FILE`")
	f.StringArrayVar(&o.Events, "events", nil, "join the click and open events of serve --events `FILE` (repeatable) to the delivered rows; needs "+trackingSecretEnv)
	f.DurationVar(&o.ScannerAfter, "scanner-after", track.DefaultScannerRule.AfterDelivery, "with --events: a click sooner than this after delivery is counted as a scanner's, apart from the rates")
	f.DurationVar(&o.ScannerAllLinks, "scanner-all-links", track.DefaultScannerRule.AllLinksWithin, "with --events: clicks on every link of a message within this span are a scanner's")
	return cmd
}

func runReport(o *ReportOptions, stdout io.Writer) error {
	if o.Format != "text" && o.Format != "json" {
		return &usageError{msg: fmt.Sprintf("--format %q: want text or json", o.Format)}
	}
	files, err := expandResultsArgs(o.Results)
	if err != nil {
		return err
	}
	rep, err := campaign.BuildReports(files)
	if err != nil {
		return err
	}
	var eng *engagement
	if len(o.Events) > 0 {
		rule := track.ScannerRule{AfterDelivery: o.ScannerAfter, AllLinksWithin: o.ScannerAllLinks}
		if eng, err = buildEngagement(files, o.Events, rule, os.Getenv); err != nil {
			return err
		}
	}
	if o.HTML != "" {
		var buf bytes.Buffer
		v := newReportView(rep)
		v.Engagement = newEngagementView(eng)
		if err := reportPage.Execute(&buf, v); err != nil {
			return err
		}
		if err := os.WriteFile(o.HTML, buf.Bytes(), 0o644); err != nil {
			return &campaign.WriteError{Path: o.HTML, Err: err}
		}
	}
	if o.Format == "json" {
		if eng != nil {
			return encodeJSON(stdout, struct {
				*campaign.Report
				Engagement *engagement `json:"engagement"`
			}{rep, eng})
		}
		return encodeJSON(stdout, rep)
	}
	printReport(stdout, rep)
	if eng != nil {
		printEngagement(stdout, eng)
	}
	return nil
}

// expandResultsArgs expands glob patterns among the report's arguments
// itself, so a quoted pattern works as an unquoted one (and a crontab or
// a Kubernetes args list, where no shell expands, works too). A file
// named twice is read once.
func expandResultsArgs(args []string) ([]string, error) {
	var files []string
	seen := map[string]bool{}
	for _, a := range args {
		names := []string{a}
		if strings.ContainsAny(a, "*?[") {
			if _, err := os.Stat(a); err != nil { // not a file with such a name
				m, err := filepath.Glob(a)
				if err != nil {
					return nil, &usageError{msg: fmt.Sprintf("results pattern %q: %v", a, err)}
				}
				if len(m) == 0 {
					return nil, fmt.Errorf("results: no file matches %q: %w", a, fs.ErrNotExist)
				}
				names = m
			}
		}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				files = append(files, n)
			}
		}
	}
	return files, nil
}

// sourcesLine says which files and shards a report is made of.
func sourcesLine(r *campaign.Report) string {
	s := r.File
	if len(r.Files) > 1 {
		s = fmt.Sprintf("%d files (%s)", len(r.Files), strings.Join(r.Files, ", "))
	}
	if len(r.Shards) > 0 {
		word := "shards"
		if len(r.Shards) == 1 {
			word = "shard"
		}
		s += fmt.Sprintf("; %d %s: %s", len(r.Shards), word, strings.Join(r.Shards, " "))
		if miss := missingShards(r.Shards); len(miss) > 0 {
			s += " (missing " + strings.Join(miss, " ") + ")"
		}
	}
	return s
}

// missingShards are the shards K/N of a campaign split N ways that no
// file had rows of.
func missingShards(have []string) []string {
	var miss []string
	got := map[string]bool{}
	n := 0
	for _, h := range have {
		got[h] = true
		if sh, err := campaign.ParseShard(h); err == nil {
			n = max(n, sh.N)
		}
	}
	for k := 0; k < n && n <= 1000; k++ {
		if sh := (campaign.Shard{K: k, N: n}).String(); !got[sh] {
			miss = append(miss, sh)
		}
	}
	return miss
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

func printReport(w io.Writer, r *campaign.Report) {
	fmt.Fprintf(w, "report: %s\n", sourcesLine(r))
	rows := ""
	if r.Superseded > 0 {
		rows = fmt.Sprintf(" (%d rows; %d superseded by a later run)", r.Rows, r.Superseded)
	}
	fmt.Fprintf(w, "recipients: %d%s\n", r.Recipients, rows)
	for _, s := range r.Statuses {
		fmt.Fprintf(w, "  %-11s %8d  %6s\n", s.Status, s.Count, pct(s.Share))
	}
	if r.Sent > 0 {
		block := ""
		if r.BlockRate > 0 {
			block = ", block rate " + pct(r.BlockRate)
		}
		fmt.Fprintf(w, "sent: %d; delivery rate %s, bounce rate %s, deferral rate %s%s\n", r.Sent, pct(r.DeliveryRate), pct(r.BounceRate), pct(r.DeferralRate), block)
	} else {
		fmt.Fprintf(w, "sent: none\n")
	}
	printLate(w, r)
	codes := func(title string, cs []campaign.CodeCount) {
		if len(cs) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, c := range cs {
			fmt.Fprintf(w, "  %-6s %8d  %s\n", c.Code, c.Count, c.Sample)
		}
	}
	codes("SMTP codes", r.Codes)
	codes("enhanced codes", r.EnhancedCodes)
	if len(r.Domains) > 0 {
		fmt.Fprintf(w, "\ndomains with the most bounces and deferrals:\n")
		for _, d := range r.Domains {
			fmt.Fprintf(w, "  %-24s bounced %d, deferred %d of %d sent\n", d.Domain, d.Bounced, d.Deferred, d.Recipients)
		}
	}
	fmt.Fprintln(w)
	if a := r.Attempts; a.Total > 0 {
		fmt.Fprintf(w, "attempts: %d, %.2f per message sent, at most %d; %d needed more than one\n", a.Total, a.PerSent, a.Max, a.Retried)
	}
	if !r.First.IsZero() {
		el := time.Duration(r.Elapsed * float64(time.Second))
		fmt.Fprintf(w, "time: %s to %s, %s\n", r.First.Format(time.RFC3339), r.Last.Format(time.RFC3339), el)
	}
}

// reportView is the report laid out for the page: bars already measured.
type reportView struct {
	*campaign.Report
	Bars    []bar
	Height  int
	Elapsed string
	Rates   [][2]string
	Sources string // files and shards

	Engagement *engagementView // nil without --events
}

type bar struct {
	Status       campaign.Status
	Count        int
	Share        string
	Y, W, TextY  int
	Color, Label string
}

var statusColors = map[campaign.Status]string{
	campaign.Delivered: "#2e7d32", campaign.Bounced: "#c62828", campaign.Deferred: "#ef6c00", campaign.Blocked: "#ad1457",
	campaign.Unknown: "#6a1b9a", campaign.Invalid: "#757575", campaign.Suppressed: "#9e9e9e", campaign.DryRun: "#1565c0",
}

func newReportView(r *campaign.Report) reportView {
	v := reportView{Report: r, Sources: sourcesLine(r), Elapsed: time.Duration(r.Elapsed * float64(time.Second)).String()}
	most := 1
	for _, s := range r.Statuses {
		most = max(most, s.Count)
	}
	const barH, gap, width = 28, 10, 520
	for i, s := range r.Statuses {
		c := statusColors[s.Status]
		if c == "" {
			c = "#455a64"
		}
		y := i * (barH + gap)
		v.Bars = append(v.Bars, bar{
			Status: s.Status, Count: s.Count, Share: pct(s.Share), Color: c,
			Y: y, TextY: y + barH/2 + 5, W: max(2, s.Count*width/most),
		})
	}
	v.Height = max(1, len(r.Statuses))*(barH+gap) - gap
	if r.Sent > 0 {
		v.Rates = [][2]string{{"delivery rate", pct(r.DeliveryRate)}, {"bounce rate", pct(r.BounceRate)}, {"deferral rate", pct(r.DeferralRate)}}
		if r.BlockRate > 0 {
			v.Rates = append(v.Rates, [2]string{"block rate", pct(r.BlockRate)})
		}
	}
	return v
}

// reportPage is self-contained: inline CSS and an inline SVG chart, no
// script, no external asset, so it can be mailed or archived as one file.
var reportPage = template.Must(template.New("report").Funcs(template.FuncMap{
	"time":  func(t time.Time) string { return t.Format(time.RFC3339) },
	"lower": strings.ToLower,
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>mailer report: {{.Sources}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 60em; }
table { border-collapse: collapse; margin: .5em 0 1.5em; }
th, td { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.rates span { display: inline-block; margin-right: 2em; font-size: 1.2em; }
.rates b { display: block; font-size: 1.6em; }
</style></head>
<body>
<h1>Campaign report</h1>
<p id="sources">{{.Sources}}: {{.Recipients}} recipients{{if .Superseded}} ({{.Rows}} rows, {{.Superseded}} superseded by a later run){{end}}{{if not .First.IsZero}}, {{time .First}} to {{time .Last}} ({{.Elapsed}}){{end}}.</p>
{{if .Rates}}<p class="rates">{{range .Rates}}<span><b>{{index . 1}}</b>{{index . 0}}</span>{{end}}</p>{{end}}
<h2>Outcomes</h2>
<svg id="outcomes" role="img" aria-label="outcomes by status" xmlns="http://www.w3.org/2000/svg" width="760" height="{{.Height}}" viewBox="0 0 760 {{.Height}}">
{{range .Bars}}<g class="bar" data-status="{{.Status}}" data-count="{{.Count}}">
<text x="0" y="{{.TextY}}" font-size="14" fill="#222">{{.Status}}</text>
<rect x="100" y="{{.Y}}" width="{{.W}}" height="28" fill="{{.Color}}" rx="3"><title>{{.Status}}: {{.Count}}</title></rect>
<text x="{{.W}}" dx="110" y="{{.TextY}}" font-size="14" fill="#222">{{.Count}} ({{.Share}})</text>
</g>
{{end}}</svg>
{{with .Engagement}}<h2>Engagement</h2>
<p class="rates" id="clicks"><span><b>{{.ClickRate}}</b>click rate: {{.Clickers}} unique clickers of {{.Delivered}} delivered</span><span><b>{{.Summary.Clicks}}</b>clicks by people</span>{{if .FirstClick}}<span><b>{{.FirstClick}}</b>median time to first click</span>{{end}}</p>
<p id="scanner">{{.ScannerClicks}} scanner-like clicks (grey) are counted apart and left out of the rates; {{.Rule}}.</p>
{{if .Links}}<h3>Clicks per link</h3>
<svg id="link-clicks" role="img" aria-label="clicks per link" xmlns="http://www.w3.org/2000/svg" width="860" height="{{.LinksHeight}}" viewBox="0 0 860 {{.LinksHeight}}">
{{range .Links}}<g class="link" data-link="{{.Link}}" data-clicks="{{.Clicks}}" data-scanner="{{.Scanner}}">
<text x="0" y="{{.TextY}}" font-size="13" fill="#222">#{{.Link}} {{.Host}}</text>
<rect class="people" x="260" y="{{.Y}}" width="{{.W}}" height="22" fill="#1565c0"><title>link {{.Link}}: {{.Clicks}} clicks by {{.Clickers}} people</title></rect>
<rect class="scanner" x="{{.X2}}" y="{{.Y}}" width="{{.SW}}" height="22" fill="#bdbdbd"><title>link {{.Link}}: {{.Scanner}} scanner-like clicks</title></rect>
<text x="{{.TX}}" y="{{.TextY}}" font-size="13" fill="#222">{{.Clicks}}{{if .Scanner}} (+{{.Scanner}} scanner-like){{end}}</text>
</g>
{{end}}</svg>{{end}}
{{if .Steps}}<h3>Clicks over time</h3>
<svg id="click-timeline" role="img" aria-label="clicks over time, {{.Step}} steps" xmlns="http://www.w3.org/2000/svg" width="{{.ChartW}}" height="184" viewBox="0 0 {{.ChartW}} 184">
{{range .Steps}}<g class="step" data-start="{{.Start}}" data-clicks="{{.Clicks}}" data-scanner="{{.Scanner}}">
<rect class="scanner" x="{{.X}}" y="{{.SY}}" width="{{$.Engagement.StepW}}" height="{{.SH}}" fill="#bdbdbd"><title>{{.Start}}: {{.Scanner}} scanner-like</title></rect>
<rect class="people" x="{{.X}}" y="{{.Y}}" width="{{$.Engagement.StepW}}" height="{{.H}}" fill="#1565c0"><title>{{.Start}}: {{.Clicks}} clicks</title></rect>
</g>
{{end}}<line x1="0" y1="160" x2="{{.ChartW}}" y2="160" stroke="#555"/>
<text x="0" y="178" font-size="12" fill="#222">{{.From}}</text>
<text x="{{.ChartW}}" y="178" font-size="12" fill="#222" text-anchor="end">{{.To}}</text>
</svg>
<p>One bar per {{.Step}} (UTC); blue: clicks by people, grey: scanner-like.</p>{{end}}
{{if .Domains}}<table id="click-domains"><tr><th>recipient domain</th><th>delivered</th><th>unique clickers</th><th>click rate</th></tr>
{{range .Domains}}<tr><td>{{.Domain}}</td><td class="n">{{.Delivered}}</td><td class="n">{{.Clickers}}</td><td class="n">{{.Rate}}</td></tr>
{{end}}</table>{{end}}
<p id="opens">Opens: {{.Opens}} by {{.Openers}} recipients ({{.OpenRate}}), {{.OpensNote}}.</p>
{{if or .Unmatched .OtherCampaigns}}<p id="unmatched">Not joined: {{.Unmatched}} events of a recipient not among the delivered rows, {{.OtherCampaigns}} of other campaigns.</p>{{end}}
{{end}}
{{if .Codes}}<h2>SMTP codes</h2>
<table id="codes"><tr><th>code</th><th>count</th><th>sample message</th></tr>
{{range .Codes}}<tr><td>{{.Code}}</td><td class="n">{{.Count}}</td><td>{{.Sample}}</td></tr>
{{end}}</table>{{end}}
{{if .EnhancedCodes}}<h2>Enhanced status codes</h2>
<table id="enhanced"><tr><th>code</th><th>count</th><th>sample message</th></tr>
{{range .EnhancedCodes}}<tr><td>{{.Code}}</td><td class="n">{{.Count}}</td><td>{{.Sample}}</td></tr>
{{end}}</table>{{end}}
{{if .Domains}}<h2>Domains with the most bounces and deferrals</h2>
<table id="domains"><tr><th>domain</th><th>bounced</th><th>deferred</th><th>sent</th></tr>
{{range .Domains}}<tr><td>{{.Domain}}</td><td class="n">{{.Bounced}}</td><td class="n">{{.Deferred}}</td><td class="n">{{.Recipients}}</td></tr>
{{end}}</table>{{end}}
{{if .Attempts.Total}}<h2>Attempts</h2>
<p>{{.Attempts.Total}} attempts, {{printf "%.2f" .Attempts.PerSent}} per message sent, at most {{.Attempts.Max}}; {{.Attempts.Retried}} needed more than one.</p>{{end}}
</body></html>
`))

// printLate shows what came back after the relays' verdicts (mailer
// bounces) and the rates receivers judge a sender by, with a warning line
// for each threshold passed (campaign.ComplaintRateWarn and the others).
func printLate(w io.Writer, r *campaign.Report) {
	l := r.Late
	if l == nil || r.Sent == 0 {
		return
	}
	if l.Bounces+l.SoftLimit+l.Complaints+l.Unsubscribes > 0 {
		fmt.Fprintf(w, "late: %d bounced, %d soft-bounce limit, %d complained, %d unsubscribed (after the relays' verdicts)\n", l.Bounces, l.SoftLimit, l.Complaints, l.Unsubscribes)
	}
	fmt.Fprintf(w, "hard bounce rate %s (%d), complaint rate %.2f%% (%d)\n", pct(l.HardBounceRate), l.HardBounces, 100*l.ComplaintRate, l.Complaints)
	for _, warn := range l.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
}
