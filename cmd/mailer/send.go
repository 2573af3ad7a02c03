package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"text/template"
	"time"

	"github.com/mailer-dev/mailer/campaign"
	"github.com/mailer-dev/mailer/render"
	"github.com/mailer-dev/mailer/sender"
	"github.com/spf13/cobra"
)

// SendOptions are the settings of `mailer send`.
type SendOptions struct {
	ListOptions
	Relays         []string
	Results        string
	DryRun         bool
	Rate           string
	Burst          int
	Concurrency    int
	MaxAttempts    int
	Limit          int
	Quiet          bool
	AllowPlaintext bool
	HelloName      string
	DomainLimits   []string
	Config         string
	PrintConfig    bool
	ResendUnknown  bool
	AllowChanged   bool
	BouncesTo      string
	DebugSMTP      string // file the SMTP transcript is appended to
	LogFormat      string
	Deliver        DeliverOptions // unsubscribe, DKIM, attachments, envelope sender
	DNS            DNSOptions     // --dns (dns.go)
	Campaign       string         // explicit campaign name (default: from the results path)
	Shard          string         // K/N: this process sends shard K of N
	Quota          string         // N/day for every relay without quota= of its own
	QuotaTZ        string         // time zone of the quotas' midnight (default: TZ, else local)
	Test           TestMessageOptions

	settings *settings // where each setting came from; passwords
}

// maxConcurrency bounds --concurrency. Each connection is a socket, a file
// descriptor and two goroutines; relays cap connections per client far
// lower (Postfix's smtpd_client_connection_count_limit is 50), so more
// than this is a typo (an extra 0) that would only open sockets the relay
// refuses, and could run out of file descriptors.
const maxConcurrency = 1000

func newSendCmd(stdout io.Writer, u *ui, runF func(*SendOptions) error) *cobra.Command {
	o := &SendOptions{}
	cmd := &cobra.Command{
		Use:   "send --list FILE --template FILE [--relay URL]...",
		Short: "Send the campaign: one message per row of the list",
		Example: `  mailer send --list examples/contacts.csv --template examples/newsletter.tmpl --dry-run
  mailer send --list contacts.csv --template newsletter.tmpl \
      --relay smtp+plain://127.0.0.1:2525 --results results.csv --concurrency 8 --rate 200/s`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			st, err := resolveSettings(c, u, o.Config)
			if err != nil {
				return err
			}
			o.settings = st
			o.LogFormat, _ = c.Flags().GetString("log-format")
			if runF != nil {
				return runF(o)
			}
			if o.PrintConfig {
				return printConfig(stdout, c, o)
			}
			return runSend(c.Context(), o, stdout, u)
		},
	}
	f := cmd.Flags()
	o.ListOptions.addFlags(f)
	f.StringArrayVar(&o.Relays, "relay", nil, "relay `URL`: smtp://[user@]host[:587] (STARTTLS), smtps://[user@]host[:465], smtp+plain://host[:25] (loopback); repeatable")
	f.StringVar(&o.Results, "results", "", "results `CSV`, appended to and used to resume (default results.csv; results.dry-run.csv with --dry-run)")
	f.BoolVar(&o.DryRun, "dry-run", false, "render and check every row, write the results, send nothing")
	f.StringVar(&o.Rate, "rate", "", "global rate limit: N/s, N/m or N/h (default unlimited)")
	f.IntVar(&o.Burst, "burst", 1, "messages the rate limit lets through at once")
	f.IntVar(&o.Concurrency, "concurrency", 4, fmt.Sprintf("SMTP connections in total (at most %d)", maxConcurrency))
	f.IntVar(&o.MaxAttempts, "max-attempts", 3, "tries per message for temporary failures (4xx, network)")
	f.IntVar(&o.Limit, "limit", 0, "send at most N messages this run (0: all)")
	f.BoolVar(&o.Quiet, "quiet", false, "no progress output")
	f.BoolVar(&o.AllowPlaintext, "allow-plaintext", false, "allow smtp+plain:// to a relay that is not on loopback")
	f.StringVar(&o.HelloName, "hello-name", "", "name to send in EHLO (default: this host's fully-qualified name, else the template's From domain)")
	f.StringArrayVar(&o.DomainLimits, "domain-limit", nil, "per-recipient-domain cap `DOMAIN=CONNS[,RATE]`, e.g. gmail.com=5,20/s; repeatable")
	f.StringVar(&o.Config, "config", "", "YAML config `FILE` (or MAILER_CONFIG): settings by flag name, plus relays")
	f.BoolVar(&o.PrintConfig, "print-config", false, "print every setting with where it came from (flag, env, config, default) and exit")
	f.BoolVar(&o.ResendUnknown, "resend-unknown", false, "send again to recipients recorded unknown (they may get the message twice)")
	f.BoolVar(&o.AllowChanged, "allow-changed", false, "resume although the list or template changed since the results file was started")
	f.StringVar(&o.BouncesTo, "bounces-to", "", "append hard bounces (5.1.x) to this `CSV`, usable as a --suppress file")
	f.StringVar(&o.DebugSMTP, "debug-smtp", "", "append the SMTP transcript of every connection to `FILE` (AUTH and message bodies left out)")
	f.StringVar(&o.Campaign, "campaign", "", "campaign `ID` for Message-IDs, the unsubscribe URL's .Campaign and the results fingerprint (default: derived from the results path); give it when several shards or machines run one campaign")
	f.StringVar(&o.Shard, "shard", "", "send only shard `K/N` of the list (0 <= K < N), by a stable hash of the address; --rate, --burst, --concurrency and --domain-limit are then the totals of all N shards")
	f.StringVar(&o.Quota, "quota", "", "daily quota `N/day` of every relay without quota= in its URL: at most N messages handed to it since midnight, counted from the results file across runs; when every relay's is used the run stops with exit 75")
	f.StringVar(&o.QuotaTZ, "quota-tz", "", "time `ZONE` whose midnight starts a quota's day, e.g. America/Los_Angeles (default: TZ, else local time)")
	o.Test.addFlags(f)
	o.Deliver.addFlags(f)
	o.DNS.addFlags(f, false)
	return cmd
}

func runSend(ctx context.Context, o *SendOptions, stdout io.Writer, u *ui) error {
	if err := o.required("send"); err != nil {
		return err
	}
	if err := o.Test.check(); err != nil {
		return err
	}
	if o.Test.To != "" && o.DryRun {
		return &usageError{msg: "--test-to sends one message: it cannot be a --dry-run (mailer preview renders without sending)"}
	}
	if o.Test.To != "" && !o.Test.SubjectAsIs {
		o.Deliver.subjectPrefix = "[test] "
	}
	if len(o.Relays) == 0 && !o.DryRun {
		return &usageError{msg: "send needs --relay URL, or --dry-run to send nothing"}
	}
	if o.Concurrency < 1 || o.MaxAttempts < 1 || o.Burst < 1 || o.Limit < 0 {
		return &usageError{msg: "--concurrency, --max-attempts and --burst must be at least 1, --limit at least 0"}
	}
	if o.Concurrency > maxConcurrency {
		return &usageError{msg: fmt.Sprintf("--concurrency %d: at most %d connections (relays accept far fewer from one client; Postfix's default is 50)", o.Concurrency, maxConcurrency)}
	}
	if o.Results == "" {
		o.Results = "results.csv"
		if o.DryRun {
			o.Results = "results.dry-run.csv"
		}
	}
	if err := checkCampaignName(o.Campaign); err != nil {
		return err
	}
	shard, err := campaign.ParseShard(o.Shard)
	if err != nil {
		return &usageError{msg: "--" + err.Error()}
	}
	part := shareOf(shard)
	results, err := expandResultsPath(o.Results, time.Now())
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	o.Results = results
	if dir := filepath.Dir(o.Results); dir != "." && o.Test.To == "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return &campaign.WriteError{Path: o.Results, Err: err}
		}
	}
	rate, err := sender.ParseRate(o.Rate)
	if err != nil {
		return &usageError{msg: "--" + err.Error()}
	}
	var relays []sender.Relay
	for _, raw := range o.Relays {
		r, err := sender.ParseRelay(raw, o.AllowPlaintext)
		if err != nil {
			return &configError{err}
		}
		if r.Username != "" {
			if r.Password, err = o.settings.password(raw); err != nil {
				return &configError{fmt.Errorf("relay %s has a user but no password: %w", r.Name, err)}
			}
		}
		relays = append(relays, r)
	}
	envelope, err := o.Deliver.envelope()
	if err != nil {
		return err
	}
	tmpl, err := loadTemplateWith(o.Template, o.campaignID(), &o.Deliver)
	if err != nil {
		return err
	}

	quota, err := sender.ParseQuota(o.Quota)
	if err != nil {
		return &usageError{msg: "--" + err.Error()}
	}
	zone := time.Local
	if o.QuotaTZ != "" {
		if zone, err = time.LoadLocation(o.QuotaTZ); err != nil {
			return &usageError{msg: fmt.Sprintf("--quota-tz %q: %v", o.QuotaTZ, err)}
		}
	}

	var pool *sender.Pool
	var s campaign.Sender = dryRunSender{}
	if !o.DryRun {
		hello := o.HelloName
		if hello == "" {
			hello, _ = defaultHelloName(tmpl)
		}
		domains := map[string]sender.DomainLimit{}
		for _, spec := range o.DomainLimits {
			d, dl, err := sender.ParseDomainLimit(spec)
			if err != nil {
				return &configError{err}
			}
			domains[d] = part.domain(dl)
		}
		debugSMTP, err := openTranscript(o.DebugSMTP, "--debug-smtp", "mailer send")
		if err != nil {
			return err
		}
		if debugSMTP != nil {
			defer debugSMTP.Close() // after pool.Close, so the QUITs are in it
		}
		pool, err = sender.New(relays, sender.Options{
			Rate: part.rate(rate), Burst: part.count(o.Burst), MaxConns: perRelay(part.count(o.Concurrency), len(relays)),
			MaxAttempts: o.MaxAttempts, HelloName: hello, Domains: domains,
			Debug: writerOrNil(debugSMTP), Quota: part.count(quota), QuotaZone: zone,
		})
		if err != nil {
			return &configError{err}
		}
		defer pool.Close()
		s = pool
	}
	if o.Test.To != "" {
		return testSend(ctx, o, tmpl, envelope, s, stdout)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// Most of what stays live on a long list is the duplicate table (25
		// bytes a row). A soft limit makes the collector work harder only
		// near it, so a 1,000,000-row run stays under 64 MB while short
		// lists keep the default pacing (GOGC=50 for all cost ~10% msgs/s).
		debug.SetMemoryLimit(48 << 20)
	}
	dnsRep, err := o.DNS.recipients(ctx, o.List, o.EmailColumn, o.NameColumn)
	if err != nil {
		return err
	}
	warnDNS(u, &o.DNS, dnsRep)
	var handed func(string, time.Time, int)
	if pool != nil {
		handed = pool.Handed
	}
	prog := newProgress(u, o.Quiet)
	sum, err := campaign.Run(ctx, campaign.Options{
		Handed:      handed,
		ListOptions: o.ListOptions.campaignWith(tmpl, verdict(dnsRep)),
		Results:     o.Results,
		DryRun:      o.DryRun,
		// LaneDepth messages per connection keep a pipelining relay's
		// connections busy: the next message's commands ride with a body.
		Concurrency:   part.count(o.Concurrency) * sender.LaneDepth,
		Campaign:      o.Campaign,
		Shard:         shard,
		Limit:         o.Limit,
		ResendUnknown: o.ResendUnknown,
		AllowChanged:  o.AllowChanged,
		BouncesTo:     o.BouncesTo,
		Envelope:      envelope,
		Progress:      prog.update,
		Warn: func(kind, msg string) {
			if kind == campaign.WarnNoUnsubscribe {
				msg += " (give --unsubscribe-url; mailer check lists every warning)"
			}
			u.warn(msg, "kind", "warning", "warning", kind)
		},
	}, s)
	prog.finish()
	if sum != nil {
		if sum.Repaired > 0 {
			u.info(fmt.Sprintf("repaired %s: cut a torn last line of %d bytes left by a crash", o.Results, sum.Repaired))
		}
		if sum.Recovered > 0 {
			u.info(fmt.Sprintf("%d recipients were in flight when an earlier run died: recorded unknown (--resend-unknown sends them again)", sum.Recovered))
		}
		printSummary(stdout, o, sum)
		logSummary(u, o, sum)
		for _, r := range sum.Unrecorded {
			u.errorf(fmt.Sprintf("not recorded in %s: %s %s %d %s", o.Results, r.Email, r.Status, r.Code, r.Message),
				"email", r.Email, "status", string(r.Status), "code", int(r.Code))
		}
	}
	if pool != nil && err == nil {
		// The other relays took its work, so nothing else says so.
		for _, re := range pool.Refused() {
			u.warn(re.Error()+": the other relays took its messages; fix it before the next campaign",
				"kind", "relay-refused", "relay", re.Relay)
		}
	}
	if qe := (*sender.QuotaError)(nil); errors.As(err, &qe) {
		return &exitStatus{code: exitTempFail, hint: qe.Error() + ": run the same command again after that to send the rest"}
	}
	if err != nil {
		return err
	}
	switch {
	case ctx.Err() != nil:
		return &exitStatus{code: 130, hint: "interrupted: run the same command again to resume where it stopped"}
	case sum.Counts[campaign.Deferred]+sum.Counts[campaign.Blocked]+sum.Counts[campaign.Unknown] > 0 && !o.DryRun:
		return &exitStatus{code: exitTempFail, hint: leftHint(sum.Counts)}
	}
	return nil
}

// leftHint tells the user what a re-run will do with what is left: it
// sends deferred and blocked recipients again, but not unknown ones.
func leftHint(counts map[campaign.Status]int) string {
	var parts []string
	if n := counts[campaign.Deferred]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d deferred: run the same command again later to retry them", n))
	}
	if n := counts[campaign.Blocked]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d blocked: the relay refused the sender or the content (see the message column); fix that and run the same command again", n))
	}
	if n := counts[campaign.Unknown]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d unknown: the relay may have accepted them, so a plain re-run will not send them again; add --resend-unknown if duplicates are acceptable", n))
	}
	return strings.Join(parts, "; ")
}

// expandResultsPath fills a date pattern in the results path, such as
// results/news-{{date "2006-01"}}.csv, so one crontab line starts a new
// campaign each month while retries within the month resume it.
func expandResultsPath(p string, now time.Time) (string, error) {
	if !strings.Contains(p, "{{") {
		return p, nil
	}
	t, err := template.New("results").Option("missingkey=error").Funcs(template.FuncMap{
		"date": func(layout string) string { return now.Format(layout) },
	}).Parse(p)
	if err != nil {
		return "", fmt.Errorf("--results %q: %v", p, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, nil); err != nil {
		return "", fmt.Errorf("--results %q: %v", p, err)
	}
	return b.String(), nil
}

// printConfig shows every send setting and where its value came from. A
// default that is worked out at run time (the EHLO name) is shown worked out.
func printConfig(w io.Writer, c *cobra.Command, o *SendOptions) error {
	for _, name := range flagNames(c.Flags()) {
		if name == "print-config" {
			continue
		}
		f := c.Flags().Lookup(name)
		v, src := f.Value.String(), o.settings.source[name]
		if name == "hello-name" && v == "" {
			var t *render.Template
			if o.Template != "" {
				t, _ = loadTemplateWith(o.Template, "print-config", nil)
			}
			var why string
			v, why = defaultHelloName(t)
			src += ": " + why
		}
		fmt.Fprintf(w, "%s: %s  # %s%s\n", name, v, src, shareNote(o, name))
	}
	return nil
}

// logSummary repeats the summary as one JSON event for log collectors.
func logSummary(u *ui, o *SendOptions, s *campaign.Summary) {
	if !u.isJSON() {
		return
	}
	attrs := []any{"kind", "summary", "list", o.List, "results", o.Results, "total", s.Total,
		"skipped", s.Skipped, "left", s.Left, "elapsed_s", s.Elapsed.Seconds()}
	for _, st := range campaign.Statuses {
		attrs = append(attrs, string(st), s.Counts[st])
	}
	u.info("summary", attrs...)
}

// perRelay splits the total connection budget across relays.
func perRelay(total, relays int) int {
	if relays == 0 {
		return total
	}
	n := total / relays
	if n < 1 {
		n = 1
	}
	return n
}

// campaignID is --campaign, else the name derived from the results path.
func (o *SendOptions) campaignID() string {
	if o.Campaign != "" {
		return o.Campaign
	}
	return campaignID(o.Results)
}

// campaignID names the campaign for Message-IDs when --campaign is not
// given: the results file is the campaign's identity (resuming it is continuing the campaign), so retries
// of a recipient keep their Message-ID. It is the real file that counts:
// a symlink to it, or another spelling of its path, is the same campaign.
func campaignID(results string) string {
	abs, err := campaign.RealPath(results)
	if err != nil {
		if abs, err = filepath.Abs(results); err != nil {
			abs = results
		}
	}
	sum := sha256.Sum256([]byte(abs))
	return hex.EncodeToString(sum[:8])
}

// dryRunSender stands in for the pool in a dry run; campaign never calls it.
type dryRunSender struct{}

func (dryRunSender) Probe(context.Context) error { return errors.New("dry run: no relay") }
func (dryRunSender) Send(context.Context, *sender.Message) sender.Result {
	return sender.Result{Status: sender.Canceled}
}

func printSummary(w io.Writer, o *SendOptions, s *campaign.Summary) {
	mode := "sent"
	if o.DryRun {
		mode = "dry run"
	}
	shard := ""
	if o.Shard != "" {
		shard = " (shard " + o.Shard + ")"
	}
	fmt.Fprintf(w, "%s: %s -> %s%s\n", mode, o.List, o.Results, shard)
	var parts []string
	for _, st := range campaign.Statuses {
		if n := s.Counts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", st, n))
		}
	}
	if s.Skipped > 0 {
		parts = append(parts, fmt.Sprintf("already done %d", s.Skipped))
	}
	if s.Left > 0 {
		parts = append(parts, fmt.Sprintf("not yet processed %d", s.Left))
	}
	if s.OtherShards > 0 {
		parts = append(parts, fmt.Sprintf("on other shards %d", s.OtherShards))
	}
	if len(parts) == 0 {
		parts = append(parts, "nothing to do: every recipient already has a final result")
	}
	fmt.Fprintf(w, "recipients: %d in list; %s\n", s.Total, strings.Join(parts, ", "))
	secs := s.Elapsed.Seconds()
	n := s.Sent()
	if o.DryRun {
		n = s.Counts[campaign.DryRun]
	}
	rate := 0.0
	if secs > 0 {
		rate = float64(n) / secs
	}
	fmt.Fprintf(w, "elapsed: %.2fs, %d messages, %.1f msgs/s\n", secs, n, rate)
}

// openTranscript opens the file of an SMTP transcript for appending, only
// its owner may read it (it holds addresses), and starts it with a line
// that tells this run from earlier ones. An empty path opens nothing.
func openTranscript(path, flag, what string) (*os.File, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, &configError{fmt.Errorf("%s: %w", flag, err)}
	}
	if _, err := fmt.Fprintf(f, "# %s, %s: > client to server, < server to client, * notes\n", what, time.Now().Format(time.RFC3339)); err != nil {
		f.Close()
		return nil, &configError{fmt.Errorf("%s: %w", flag, err)}
	}
	return f, nil
}

// writerOrNil keeps a nil *os.File from becoming a non-nil io.Writer.
func writerOrNil(f *os.File) io.Writer {
	if f == nil {
		return nil
	}
	return f
}
