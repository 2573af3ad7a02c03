package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"regexp"

	"github.com/emersion/go-smtp"
	"github.com/mailer-dev/mailer/internal/testrelay"
	"github.com/spf13/cobra"
)

// SinkOptions are the settings of `mailer sink`.
type SinkOptions struct {
	Listen string
	Dir    string
	Reject string
	Defer  string
	// Replies script answers at a stage (testrelay.ParseReply), tried before
	// --reject and --defer.
	Replies []string
	// SMTPUTF8 offers the extension (RFC 6531), as most relays do now.
	SMTPUTF8 bool
	// AllowRemote lets Listen be an address other machines can reach. The
	// sink accepts any mail from anyone, so it listens on loopback only
	// unless asked.
	AllowRemote bool
	// Debug is the file the SMTP transcript is appended to.
	Debug string
}

func newSinkCmd(stdout io.Writer, u *ui, runF func(*SinkOptions) error) *cobra.Command {
	o := &SinkOptions{}
	cmd := &cobra.Command{
		Use:   "sink [--listen ADDR] [--dir DIR] [--reject REGEX] [--defer REGEX] [--reply SPEC]... [--debug FILE]",
		Short: "Run an SMTP relay on loopback that stores what it receives, for trying campaigns",
		Example: `  mailer sink --listen 127.0.0.1:2525 --dir out/ --reject '^bounce' --defer '@slow\.example$'
  mailer sink --reply 'MAIL:530 5.7.0 Authentication required' --reply 'RCPT:^bob@:552 5.2.2 Mailbox full'
  mailer send --list examples/contacts.csv --template examples/newsletter.tmpl --relay smtp+plain://127.0.0.1:2525`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return runSink(c.Context(), o, stdout, u)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", "127.0.0.1:2525", "address to listen on")
	f.StringVar(&o.Dir, "dir", "", "directory to store each accepted message in as an .eml file (default: keep none)")
	f.StringVar(&o.Reject, "reject", "", "answer 550 5.1.1 to recipients matching this `REGEX`")
	f.StringVar(&o.Defer, "defer", "", "answer 451 4.3.0 to recipients matching this `REGEX`")
	f.StringArrayVar(&o.Replies, "reply", nil, "answer `STAGE[:REGEX]:CODE [X.Y.Z] [TEXT]` at MAIL, RCPT or DATA (after the dot), to transactions whose sender (MAIL) or recipient matches REGEX (default all), e.g. 'DATA:554 5.7.1 Message rejected as spam'; repeatable, first match wins")
	f.BoolVar(&o.SMTPUTF8, "smtputf8", false, "offer SMTPUTF8, so addresses with a non-ASCII local part are accepted")
	f.BoolVar(&o.AllowRemote, "allow-remote", false, "allow a --listen address other machines can reach (the sink accepts any mail)")
	f.StringVar(&o.Debug, "debug", "", "append the SMTP transcript of every connection to `FILE` (AUTH and message bodies left out)")
	return cmd
}

func runSink(ctx context.Context, o *SinkOptions, stdout io.Writer, u *ui) error {
	if !o.AllowRemote {
		if err := loopbackOnly(o.Listen); err != nil {
			return &usageError{msg: fmt.Sprintf("--listen %s: %v", o.Listen, err)}
		}
	}
	var rules []*testrelay.Rule
	for _, spec := range o.Replies {
		r, err := testrelay.ParseReply(spec)
		if err != nil {
			return &usageError{msg: "--" + err.Error()}
		}
		rules = append(rules, r)
	}
	for _, r := range []struct {
		flag, expr string
		code       int
		enh        smtp.EnhancedCode
		text       string
	}{
		{"--reject", o.Reject, 550, smtp.EnhancedCode{5, 1, 1}, "User unknown (mailer sink --reject)"},
		{"--defer", o.Defer, 451, smtp.EnhancedCode{4, 3, 0}, "Try again later (mailer sink --defer)"},
	} {
		if r.expr == "" {
			continue
		}
		re, err := regexp.Compile(r.expr)
		if err != nil {
			return &usageError{msg: fmt.Sprintf("%s %q: %v", r.flag, r.expr, err)}
		}
		rules = append(rules, &testrelay.Rule{Stage: "RCPT", Match: re, Code: r.code, Enhanced: r.enh, Text: r.text})
	}
	debug, err := openTranscript(o.Debug, "--debug", "mailer sink")
	if err != nil {
		return err
	}
	if debug != nil {
		defer debug.Close() // after s.Close, so every connection's end is in it
	}
	s, err := testrelay.Listen(o.Listen, testrelay.Options{Dir: o.Dir, Rules: rules, SMTPUTF8: o.SMTPUTF8, Debug: writerOrNil(debug)})
	if err != nil {
		return &configError{fmt.Errorf("sink: %w", err)}
	}
	where := "keeping no copies"
	if o.Dir != "" {
		where = "storing messages in " + o.Dir
	}
	u.info(fmt.Sprintf("sink listening on %s, %s; Ctrl-C to stop", s.Addr(), where), "addr", s.Addr())
	<-ctx.Done()
	s.Close()
	fmt.Fprintf(stdout, "sink: %d messages accepted, %d recipients refused, %d connections\n", s.Accepted(), s.Refused(), s.Conns())
	return nil
}

// loopbackOnly accepts a listen address whose host is a loopback IP or
// localhost. An empty host, 0.0.0.0 or :: listen on every interface.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	what := host
	if host == "" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified() {
		what = "every interface"
	}
	return fmt.Errorf("the sink accepts any mail from anyone who can connect, so it listens on loopback only (127.0.0.1, ::1 or localhost), not on %s: pass --allow-remote to listen there anyway", what)
}
