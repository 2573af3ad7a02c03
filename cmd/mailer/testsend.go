package main

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/mailer-dev/mailer/address"
	"github.com/mailer-dev/mailer/campaign"
	"github.com/mailer-dev/mailer/render"
	"github.com/mailer-dev/mailer/sender"
	"github.com/spf13/pflag"
)

// TestMessageOptions are send's settings for one test message: a real row of
// the list, rendered as for its recipient, sent to someone else.
type TestMessageOptions struct {
	To          string // --test-to: who gets the test message
	Row         int    // list line of the row (0: the first sendable row)
	Email       string // the row by its address instead
	SubjectAsIs bool   // no "[test] " before the Subject
}

func (t *TestMessageOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&t.To, "test-to", "", "send one test message to `ADDR` instead of the campaign: a real row rendered, Subject prefixed [test]; no results row, no effect on resume")
	f.IntVar(&t.Row, "row", 0, "with --test-to: the row at list line `N` (as check and preview number rows; default the first sendable row)")
	f.StringVar(&t.Email, "email", "", "with --test-to: the row with this `ADDRESS` instead of --row")
	f.BoolVar(&t.SubjectAsIs, "test-subject-as-is", false, "with --test-to: keep the Subject as the recipients will see it, without [test]")
}

// check refuses row choices without --test-to and a bad address.
func (t *TestMessageOptions) check() error {
	if t.To == "" {
		if t.Row != 0 || t.Email != "" || t.SubjectAsIs {
			return &usageError{msg: "--row, --email and --test-subject-as-is choose a test message: give --test-to ADDR too"}
		}
		return nil
	}
	if t.Row != 0 && t.Email != "" {
		return &usageError{msg: "--test-to takes --row N or --email ADDR, not both"}
	}
	if t.Row < 0 || t.Row == 1 {
		return &usageError{msg: fmt.Sprintf("--row %d: rows start at line 2 (line 1 is the header)", t.Row)}
	}
	a, err := address.Parse(t.To)
	if err != nil {
		return &usageError{msg: fmt.Sprintf("--test-to %q: %v", t.To, err)}
	}
	t.To = a.Wire
	return nil
}

// testSend renders the chosen row of the list with its own fields, but
// addressed to t.To (To header, envelope, the unsubscribe URL's address:
// a click on it in the test unsubscribes the tester, not the recipient),
// and sends it through s. It writes no results and no journal and takes no
// lock: the campaign does not know it happened.
func testSend(ctx context.Context, o *SendOptions, tmpl *render.Template, env campaign.Envelope, s campaign.Sender, stdout io.Writer) error {
	t := &o.Test
	sel := campaign.Selection{Limit: 1}
	if t.Row > 0 {
		sel.Lines = []int{t.Row}
	}
	if t.Email != "" {
		sel.Emails = []string{t.Email}
	}
	var chosen *campaign.Verdict
	_, err := campaign.Select(ctx, o.ListOptions.prepare(tmpl), sel, func(v *campaign.Verdict) error {
		chosen = v
		return campaign.ErrStop
	})
	if err != nil {
		return err
	}
	if chosen == nil {
		return &campaign.DataError{File: o.List, Msg: "no row would be sent: nothing to make a test message of"}
	}
	if chosen.Status != "" {
		return &campaign.DataError{File: o.List, Line: chosen.Line, Msg: fmt.Sprintf("%s is %s (%s): choose another row for the test", chosen.Email, chosen.Status, chosen.Reason)}
	}
	rcpt := chosen.Recipient
	rcpt.Address, rcpt.Name = t.To, "" // To: exactly ADDR
	var buf bytes.Buffer
	m, err := tmpl.Render(&buf, rcpt)
	if err != nil {
		return &campaign.DataError{File: o.List, Line: chosen.Line, Msg: "test message: " + err.Error()}
	}
	from := m.From
	switch {
	case env.VERP:
		if from, err = address.VERP(env.ReturnPath, t.To); err != nil {
			return &usageError{msg: "--verp: " + err.Error()}
		}
	case env.ReturnPath != "":
		from = env.ReturnPath
	}
	if err := s.Probe(ctx); err != nil {
		return err
	}
	res := s.Send(ctx, &sender.Message{From: from, To: t.To, Data: m.Data, UTF8: m.UTF8})
	fmt.Fprintf(stdout, "test send: line %d (%s) rendered for %s -> %s\n", chosen.Line, chosen.Email, t.To, res.Relay)
	fmt.Fprintf(stdout, "result: %s %s %s\n", res.Status, codeText(int(res.Code), res.Enhanced), res.Text)
	fmt.Fprintf(stdout, "no results written: %s and the campaign's resume are unchanged\n", o.Results)
	if ctx.Err() != nil {
		return &exitStatus{code: 130, hint: "interrupted"}
	}
	if res.Status != sender.Delivered {
		if res.Err != nil {
			return res.Err
		}
		return &exitStatus{code: exitTempFail, hint: "the relay did not accept the test message: see its reply above"}
	}
	return nil
}

func codeText(code int, enhanced string) string {
	if code == 0 {
		return ""
	}
	return fmt.Sprintf("%d %s", code, enhanced)
}
