package bounces

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mailer-dev/mailer/address"
	"github.com/mailer-dev/mailer/campaign"
	"github.com/mailer-dev/mailer/feedback"
	"github.com/mailer-dev/mailer/mailbox"
	"github.com/mailer-dev/mailer/suppress"
)

// Defaults of the soft-bounce rule: see the README ("Soft bounces").
const (
	DefaultSoftLimit  = 3
	DefaultSoftWindow = 30 * 24 * time.Hour
)

// Options tune a Processor.
type Options struct {
	// Suppress is the suppression file appended to (and read at start for
	// the reports already applied and the soft counts).
	Suppress string
	// Results are campaigns' results files: matched recipients get a late
	// outcome row, and with any given a report must match one of their
	// recipients (an unsubscribe request is honoured anyway).
	Results []string
	// ReturnPath is the return path send used with VERP; "" decodes no
	// VERP address (the results' envelope_from still matches).
	ReturnPath string
	// UnsubscribeMailto is the List-Unsubscribe mailto address.
	UnsubscribeMailto string
	// SoftLimit soft bounces within SoftWindow suppress an address.
	SoftLimit  int
	SoftWindow time.Duration
	// LockWait is how long to wait for a send that holds a campaign.
	LockWait time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// SourceName is the source column of the rows a Processor writes for the
// report with key k: what lets a re-run recognise them.
func SourceName(k string) string { return "bounces:" + k }

// Batches: Drain commits (results fsynced, suppression rows written with
// one fsync) and then marks the messages read so far once BatchSize
// messages are waiting or BatchWait has passed since the first of them.
// One fsync a message cost ~190 µs each: 100,000 DSNs took 100 s.
const (
	BatchSize = 256
	BatchWait = 100 * time.Millisecond
)

// Processor applies reports. It is not safe for concurrent use.
type Processor struct {
	o      Options
	ledger *suppress.Ledger
	sw     entryWriter
	index  *campaign.Recipients
	late   map[string]*campaign.LateWriter
	sum    *Summary
	// pending are the suppression rows of the batch under way, written by
	// commit; the ledger already holds them, so that a report read twice in
	// one batch is applied once.
	pending []suppress.Entry
}

// entryWriter is where a Processor's suppression rows go: a
// *suppress.Writer (tests fail it).
type entryWriter interface {
	AppendAll([]suppress.Entry) error
	Path() string
	Close() error
}

var openWriter = func(path string) (entryWriter, error) { return suppress.OpenWriter(path) }

// Open reads the suppression file and the results files and takes the
// campaigns' locks (a *campaign.LockedError when a send holds one past
// LockWait). A missing suppression file is created by the first write.
func Open(ctx context.Context, o Options) (*Processor, error) {
	if o.SoftLimit <= 0 {
		o.SoftLimit = DefaultSoftLimit
	}
	if o.SoftWindow <= 0 {
		o.SoftWindow = DefaultSoftWindow
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	p := &Processor{o: o, late: map[string]*campaign.LateWriter{}, sum: newSummary()}
	var err error
	if p.ledger, err = suppress.ReadLedger(o.Suppress); err != nil {
		return nil, err
	}
	if len(o.Results) > 0 {
		if p.index, err = campaign.IndexRecipients(o.Results...); err != nil {
			return nil, err
		}
		for _, r := range o.Results {
			if _, dup := p.late[r]; dup {
				continue
			}
			w, err := campaign.OpenLate(ctx, r, o.LockWait)
			if err != nil {
				p.Close()
				return nil, err
			}
			p.late[r] = w
		}
	}
	// The suppression file is opened by the first row written: a run that
	// suppresses nobody leaves no empty file (which is not a suppression list).
	return p, nil
}

// Close commits what is pending (see Drain), syncs and closes the results
// files and the suppression file and releases the campaigns' locks.
func (p *Processor) Close() error {
	var errs []error
	if p.late != nil {
		errs = append(errs, p.commit())
	}
	for _, w := range p.late {
		errs = append(errs, w.Close())
	}
	p.late = nil
	if p.sw != nil {
		errs = append(errs, p.sw.Close())
		p.sw = nil
	}
	return errors.Join(errs...)
}

// Summary is what the processor has done so far.
func (p *Processor) Summary() *Summary { return p.sum }

// Drain processes every message of src and marks those it is done with:
// recognised messages whose every report entry was matched (applied,
// already applied, or nothing to do). Messages not recognised, and those
// with an entry that matched nobody, are left as they are for a person
// or a later run with more results files.
//
// Messages are taken in batches (BatchSize, BatchWait). At the end of a
// batch, in this order: the late results rows are fsynced, the batch's
// suppression rows are appended in one write with one fsync, and only then
// are the batch's messages marked (Maildir rename, IMAP \Seen or move). A
// message is never marked before what it caused is on disk: when a write
// fails, or the process dies before the marks, nothing of the batch is
// marked, and the next run reads those messages again and skips by their
// report keys whatever did reach the suppression file. The results go
// first because the suppression file is what a re-run skips by: a crash
// between the two can repeat a late results row (the same last outcome for
// report), never lose one.
func (p *Processor) Drain(ctx context.Context, src mailbox.Source) error {
	var (
		batch []*mailbox.Message
		first time.Time
	)
	flush := func() error {
		if err := p.commit(); err != nil {
			return err
		}
		for _, m := range batch {
			if err := src.Mark(ctx, m); err != nil {
				return err
			}
			p.sum.Marked++
		}
		batch = batch[:0]
		return nil
	}
	for {
		m, err := src.Next(ctx)
		if err == io.EOF {
			return flush()
		}
		if err != nil {
			// What was read before the error is still committed and marked.
			return errors.Join(err, flush())
		}
		done, err := p.Message(m.ID, m.Raw)
		if err != nil {
			return err
		}
		if done {
			m.Raw = nil // the batch keeps the handle, not the message
			if len(batch) == 0 {
				first = time.Now()
			}
			batch = append(batch, m)
		}
		if len(batch) >= BatchSize || len(batch) > 0 && time.Since(first) >= BatchWait {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

// commit makes the batch under way durable: the results rows first, then
// the suppression rows in one write and one fsync (see Drain for why in
// this order). After an error nothing of the batch may be counted on.
func (p *Processor) commit() error {
	for _, w := range p.late {
		if err := w.Sync(); err != nil {
			return err
		}
	}
	if len(p.pending) == 0 {
		return nil
	}
	if p.sw == nil {
		sw, err := openWriter(p.o.Suppress)
		if err != nil {
			return fmt.Errorf("suppression file: %w", err)
		}
		p.sw = sw
	}
	err := p.sw.AppendAll(p.pending)
	// Written or not, never again: after a failed fsync the lines may be in
	// the file all the same, and a second try would write them twice.
	p.pending = p.pending[:0]
	if err != nil {
		return fmt.Errorf("suppression file %s: %w", p.sw.Path(), err)
	}
	return nil
}

// target is the campaign recipient a report entry is about.
type target struct {
	email string
	how   string // verp, message-id, final-recipient, address
	rcpt  *campaign.Recipient
}

// Message applies one raw message (id names it in messages). done is true
// when the message needs no more attention. An error is a write that
// failed: the run must stop.
func (p *Processor) Message(id string, raw []byte) (done bool, err error) {
	s := p.sum
	s.Read++
	rep, err := feedback.Parse(bytes.NewReader(raw), feedback.Options{UnsubscribeMailto: p.o.UnsubscribeMailto})
	if err != nil {
		s.NotRecognised++
		s.note(&s.Unrecognised, Item{Message: id, Why: err.Error()})
		return false, nil
	}
	if !rep.Kind.Recognised() {
		if rep.Kind == feedback.KindAutoReply {
			s.AutoReplies++
		} else {
			s.NotRecognised++
		}
		s.note(&s.Unrecognised, Item{Message: id, Kind: string(rep.Kind), Why: rep.Why})
		return false, nil
	}
	s.Kinds[rep.Kind]++
	msgTarget, ok := p.matchMessage(rep)
	done = true
	for _, rc := range rep.Recipients {
		t, matched := msgTarget, ok
		if !ok || len(rep.Recipients) > 1 && address.Key(rc.Address) != address.Key(t.email) {
			t, matched = p.matchAddress(rc.Address, rep.Kind == feedback.KindUnsubscribe)
		}
		if !matched {
			s.NotMatched++
			s.note(&s.Unmatched, Item{Message: id, Kind: string(rep.Kind), Address: rc.Address, Code: rc.Status, Why: "no campaign recipient found"})
			done = false
			continue
		}
		s.Matched++
		s.By[t.how]++
		if err := p.apply(id, rep, rc, t); err != nil {
			return false, err
		}
	}
	if len(rep.Recipients) == 0 {
		s.NotMatched++
		s.note(&s.Unmatched, Item{Message: id, Kind: string(rep.Kind), Why: "the report names no recipient"})
		done = false
	}
	return done, nil
}

// matchMessage finds the recipient of the message a report is about, by
// VERP then by Message-ID.
func (p *Processor) matchMessage(rep *feedback.Report) (target, bool) {
	cands := append(append([]string{}, rep.Envelope...), rep.Original.ReturnPath, rep.Original.MailFrom)
	for _, c := range cands {
		if c == "" {
			continue
		}
		if r, ok := p.index.ByEnvelope(c); ok {
			return target{email: r.Email, how: "verp", rcpt: &r}, true
		}
		if p.o.ReturnPath == "" {
			continue
		}
		if a, ok := address.DecodeVERP(p.o.ReturnPath, c); ok {
			if p.index == nil {
				return target{email: a, how: "verp"}, true
			}
			if r, ok := p.index.ByAddress(a); ok {
				return target{email: r.Email, how: "verp", rcpt: &r}, true
			}
		}
	}
	if r, ok := p.index.ByMessageID(rep.Original.MessageID); ok {
		return target{email: r.Email, how: "message-id", rcpt: &r}, true
	}
	return target{}, false
}

// matchAddress finds a recipient by the address a report entry names.
// Without results files the address itself is the target; with them it
// must be one of their recipients, except for an unsubscribe request,
// which is honoured whoever sends it.
func (p *Processor) matchAddress(a string, unsubscribe bool) (target, bool) {
	if a == "" {
		return target{}, false
	}
	if p.index == nil {
		return target{email: a, how: "address"}, true
	}
	if r, ok := p.index.ByAddress(a); ok {
		return target{email: r.Email, how: "address", rcpt: &r}, true
	}
	if unsubscribe {
		return target{email: a, how: "address"}, true
	}
	return target{}, false
}

// apply writes what one matched entry calls for.
func (p *Processor) apply(id string, rep *feedback.Report, rc feedback.Recipient, t target) (err error) {
	s := p.sum
	now := p.o.Now().UTC()
	key := address.Key(t.email)
	source := SourceName(rep.Key)
	if p.ledger.Has(source, key) {
		s.AlreadyApplied++
		return nil
	}
	var (
		reason suppress.Reason
		status campaign.Status
		code   campaign.ReasonCode
		diag   = rc.Diagnostic
	)
	switch rc.Class {
	case feedback.Hard:
		reason, status, code = suppress.HardBounce, campaign.Bounced, campaign.ReasonLateBounce
	case feedback.Soft:
		if p.ledger.SoftCounted(rep.Original.MessageID, key) {
			// Another delay warning (or the final failure) about a message
			// already counted: one trouble, one count.
			s.NoAction++
			return nil
		}
		reason = suppress.SoftBounce
		if p.ledger.SoftSince(key, now.Add(-p.o.SoftWindow))+1 >= p.o.SoftLimit {
			reason, status, code = suppress.SoftBounceLimit, campaign.Bounced, campaign.ReasonSoftLimit
			diag = fmt.Sprintf("soft bounce %d within %s: %s", p.o.SoftLimit, days(p.o.SoftWindow), rc.Diagnostic)
		} else {
			// The row keeps the message it is about, for SoftCounted.
			source = suppress.SoftSource(source, rep.Original.MessageID)
		}
	case feedback.Complaint:
		reason, status, code = suppress.Complaint, campaign.Complained, campaign.ReasonComplaint
		diag = "feedback report (" + strings.TrimSpace(rep.FeedbackType+" from "+rep.ReportingMTA) + ")"
	case feedback.Unsubscribe:
		reason, status, code = suppress.Unsubscribe, campaign.Unsubscribed, campaign.ReasonUnsubscribe
		diag = "unsubscribe request by mail: " + rep.Subject
	case feedback.Policy:
		s.Policy++
		s.note(&s.PolicyItems, Item{Message: id, Kind: string(rep.Kind), Address: t.email, Code: rc.Status, Why: rc.Diagnostic})
		return nil
	default:
		s.NoAction++
		return nil
	}
	if status != "" && t.rcpt != nil {
		w := p.late[t.rcpt.File]
		msg := "late " + string(rep.Kind)
		if rep.ReportingMTA != "" {
			msg += " from " + rep.ReportingMTA
		}
		if diag != "" {
			msg += ": " + diag
		}
		rec := &campaign.Record{Email: t.rcpt.Email, Status: status, Code: campaign.BlankInt(rc.Code), EnhancedCode: rc.Status,
			Message: msg, MessageID: t.rcpt.MessageID, EnvelopeFrom: t.rcpt.EnvelopeFrom, Line: t.rcpt.Line, Reason: code,
			Time: now.Format(suppress.TimeLayout)}
		if err := w.Append(rec); err != nil {
			return err
		}
		s.ResultsRows++
	}
	// Written with the batch (commit): the ledger has it at once, so the
	// soft count and a second copy of the report in this batch see it.
	p.pending = append(p.pending, suppress.Entry{Email: t.email, Code: rc.Status, Diagnostic: diag, Time: now, Reason: reason, Source: source})
	p.ledger.Add(source, key, reason, now)
	if reason == suppress.SoftBounce {
		s.SoftCounted++
	} else {
		s.Suppressed[reason]++
	}
	return nil
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
