package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mailer-dev/mailer/bounces"
	"github.com/mailer-dev/mailer/mailbox"
	"github.com/spf13/cobra"
)

// imapPasswordEnv holds the IMAP password (never the URL).
const imapPasswordEnv = "MAILER_IMAP_PASSWORD"

// BouncesOptions are the settings of `mailer bounces`.
type BouncesOptions struct {
	Sources           []string
	Suppress          string
	Results           []string
	ReturnPath        string
	VERP              bool
	UnsubscribeMailto string
	SoftLimit         int
	SoftWindow        string
	LockWait          time.Duration
	MoveTo            string
	Delete            bool
	IMAPPasswordFile  string
	Format            string
	Config            string

	stdin     io.Reader   // tests: "-"
	tlsConfig *tls.Config // tests: the IMAP server's roots
}

func newBouncesCmd(stdout io.Writer, u *ui, runF func(*BouncesOptions) error) *cobra.Command {
	o := &BouncesOptions{}
	cmd := &cobra.Command{
		Use:   "bounces SOURCE... --suppress FILE [--results FILE]...",
		Short: "Read late bounces, complaints and unsubscribe replies into the suppression list",
		Long: `bounces reads what came back after a campaign from each SOURCE (a Maildir, an mbox
file, a directory of .eml files, one .eml file, - for one message on stdin, or
imaps://user@host[:993]/MAILBOX with the password in ` + imapPasswordEnv + ` or
--imap-password-file), matches each report to a recipient (VERP return path, then the
original Message-ID in the --results files, then the report's recipient address) and
appends to --suppress: hard bounces, complaints and unsubscribes at once, soft bounces
counted and suppressed at --soft-limit within --soft-window, policy refusals (5.7.x)
never. With --results each matched recipient also gets its late outcome appended to
that campaign's results. A re-run over the same messages adds nothing.`,
		Example: `  mailer bounces ~/Maildir/.bounces --suppress suppress.csv --results results.csv
  mailer bounces bounces.mbox --suppress suppress.csv --config campaign.yaml
  mailer bounces - --suppress /var/lib/mailer/suppress.csv   # from an alias: "|mailer bounces - ..."
  MAILER_IMAP_PASSWORD=... mailer bounces imaps://bounces@mail.acme.example/INBOX --suppress suppress.csv --move-to Processed`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			o.Sources = args
			if _, err := resolveSettings(c, u, o.Config); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return runBounces(c.Context(), o, stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Suppress, "suppress", "", "suppression `FILE` to append to (required)")
	f.StringArrayVar(&o.Results, "results", nil, "a campaign's results `FILE`: matched recipients get their late outcome appended (repeatable)")
	f.StringVar(&o.ReturnPath, "return-path", "", "the return path `ADDRESS` send used, to decode VERP addresses (as send's --return-path)")
	f.BoolVar(&o.VERP, "verp", false, "send used --verp (read from the same --config); VERP addresses are decoded with --return-path")
	f.StringVar(&o.UnsubscribeMailto, "unsubscribe-mailto", "", "`ADDRESS` of the List-Unsubscribe mailto: messages to it are unsubscribe requests (as send's)")
	f.IntVar(&o.SoftLimit, "soft-limit", bounces.DefaultSoftLimit, "soft bounces of one address that suppress it, within --soft-window (at least 2)")
	f.StringVar(&o.SoftWindow, "soft-window", "30d", "`DURATION` soft bounces are counted over (30d, 72h)")
	f.DurationVar(&o.LockWait, "lock-wait", 30*time.Second, "how long to wait for a send that holds a results file, then exit 75")
	f.StringVar(&o.MoveTo, "move-to", "", "IMAP: move processed messages to `FOLDER` instead of flagging them \\Seen")
	f.BoolVar(&o.Delete, "delete", false, "IMAP: delete processed messages")
	f.StringVar(&o.IMAPPasswordFile, "imap-password-file", "", "`FILE` (mode 600) holding the IMAP password, instead of "+imapPasswordEnv)
	f.StringVar(&o.Format, "format", "text", "summary on stdout as text or json")
	f.StringVar(&o.Config, "config", "", "YAML config `FILE` (or MAILER_CONFIG), the one send uses: return-path, verp, unsubscribe-mailto, suppress, results")
	return cmd
}

// parseWindow reads a duration that may be given in days ("30d").
func parseWindow(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("want a positive number of days or a Go duration")
		}
		return time.Duration(d) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("want a positive number of days (30d) or a Go duration (72h)")
	}
	return d, nil
}

func runBounces(ctx context.Context, o *BouncesOptions, stdout io.Writer) error {
	if o.Suppress == "" {
		return &usageError{msg: "bounces needs --suppress FILE: the suppression list to append to"}
	}
	if o.Format != "text" && o.Format != "json" {
		return &usageError{msg: fmt.Sprintf("--format %q: want text or json", o.Format)}
	}
	if o.SoftLimit < 2 {
		return &usageError{msg: fmt.Sprintf("--soft-limit %d: at least 2 (one soft bounce is what a full mailbox or a busy server gives once)", o.SoftLimit)}
	}
	window, err := parseWindow(o.SoftWindow)
	if err != nil {
		return &usageError{msg: "--soft-window " + o.SoftWindow + ": " + err.Error()}
	}
	if o.MoveTo != "" && o.Delete {
		return &usageError{msg: "--move-to and --delete: choose one"}
	}
	stdinUsed := 0
	for _, s := range o.Sources {
		if s == "-" {
			stdinUsed++
		}
	}
	if stdinUsed > 1 {
		return &usageError{msg: "- (stdin) given more than once"}
	}
	mopts := mailbox.Options{Stdin: o.stdin, TLSConfig: o.tlsConfig, MoveTo: o.MoveTo, Delete: o.Delete}
	for _, s := range o.Sources {
		if isIMAP(s) {
			if mopts.IMAPPassword, err = imapPassword(o); err != nil {
				return &configError{err}
			}
			break
		}
	}
	returnPath := o.ReturnPath
	p, err := bounces.Open(ctx, bounces.Options{Suppress: o.Suppress, Results: o.Results, ReturnPath: returnPath,
		UnsubscribeMailto: o.UnsubscribeMailto, SoftLimit: o.SoftLimit, SoftWindow: window, LockWait: o.LockWait})
	if err != nil {
		return err
	}
	var runErr error
	for _, spec := range o.Sources {
		src, err := mailbox.Open(ctx, spec, mopts)
		if err != nil {
			runErr = fmt.Errorf("source %s: %w", spec, err)
			break
		}
		err = p.Drain(ctx, src)
		if cerr := src.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			runErr = fmt.Errorf("source %s: %w", spec, err)
			break
		}
	}
	if err := p.Close(); runErr == nil {
		runErr = err
	}
	sum := p.Summary()
	if o.Format == "json" {
		if err := encodeJSON(stdout, sum); err != nil && runErr == nil {
			runErr = err
		}
	} else {
		printBounces(stdout, sum)
	}
	return runErr
}

func isIMAP(s string) bool {
	s = strings.ToLower(s)
	return strings.HasPrefix(s, "imaps://") || strings.HasPrefix(s, "imap://")
}

// imapPassword is the IMAP password: the password file, else the variable.
func imapPassword(o *BouncesOptions) (string, error) {
	if o.IMAPPasswordFile != "" {
		return readSecret(o.IMAPPasswordFile)
	}
	if v := os.Getenv(imapPasswordEnv); v != "" {
		return v, nil
	}
	return "", fmt.Errorf("an imaps:// source needs its password in %s or --imap-password-file (imap-password-file in the config); never in the URL", imapPasswordEnv)
}

// printBounces writes the summary for people.
func printBounces(w io.Writer, s *bounces.Summary) {
	fmt.Fprintf(w, "bounces: read %d %s\n", s.Read, plural(s.Read, "message", "messages"))
	kinds := make([]string, 0, len(s.Kinds))
	total := 0
	for k, n := range s.Kinds {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "recognised: %d%s\n", total, list(kinds))
	fmt.Fprintf(w, "not recognised: %d (left alone); auto-replies: %d\n", s.NotRecognised, s.AutoReplies)
	by := make([]string, 0, len(s.By))
	for k, n := range s.By {
		by = append(by, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(by)
	fmt.Fprintf(w, "matched: %d%s; not matched: %d; already applied: %d\n", s.Matched, list(by), s.NotMatched, s.AlreadyApplied)
	supp := make([]string, 0, len(s.Suppressed))
	n := 0
	for r, c := range s.Suppressed {
		supp = append(supp, fmt.Sprintf("%s %d", r, c))
		n += c
	}
	sort.Strings(supp)
	fmt.Fprintf(w, "suppressed: %d%s; soft bounces counted: %d\n", n, list(supp), s.SoftCounted)
	fmt.Fprintf(w, "policy refusals (the sender's problem, nobody suppressed): %d; nothing to do: %d\n", s.Policy, s.NoAction)
	fmt.Fprintf(w, "results rows appended: %d; messages marked: %d\n", s.ResultsRows, s.Marked)
	items := func(title string, its []bounces.Item, total int) {
		if len(its) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, it := range its {
			fmt.Fprintf(w, "  %s", it.Message)
			for _, v := range []string{it.Kind, it.Address, it.Code, it.Why} {
				if v != "" {
					fmt.Fprintf(w, "  %s", v)
				}
			}
			fmt.Fprintln(w)
		}
		if total > len(its) {
			fmt.Fprintf(w, "  ... and %d more\n", total-len(its))
		}
	}
	items("not matched", s.Unmatched, s.NotMatched)
	items("policy refusals: fix the sending (SPF, DKIM, DMARC, reputation, content), do not drop the recipients", s.PolicyItems, s.Policy)
	items("not recognised", s.Unrecognised, s.NotRecognised+s.AutoReplies)
}

func list(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return " (" + strings.Join(items, ", ") + ")"
}
