package campaign

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailer-dev/mailer/render"
	"github.com/mailer-dev/mailer/sender"
)

// Sender is what a campaign needs from the relay pool; *sender.Pool is one.
type Sender interface {
	// Probe checks that a relay can be reached; it is called once, before
	// the first message, and only if there is something to send.
	Probe(ctx context.Context) error
	// Send delivers one message and returns its final outcome.
	Send(ctx context.Context, m *sender.Message) sender.Result
}

// Options describe one run.
type Options struct {
	List        string // path of the recipient CSV
	EmailColumn string // ["email"]
	NameColumn  string // display-name column ["name" when the list has one]
	Template    *render.Template
	Results     string   // path of the results CSV
	Suppress    []string // suppression CSVs, each with an email column
	DryRun      bool     // render and check everything, send nothing
	Concurrency int      // messages in flight at once [1]
	Limit       int      // send at most this many messages (0: no limit)
	// ResendUnknown sends again to recipients recorded unknown (the relay
	// may have accepted them: they may get the message twice).
	ResendUnknown bool
	// AllowChanged resumes although the list or template changed since the
	// results file was started.
	AllowChanged bool
	// BouncesTo, when set, is a CSV that hard bounces (5.1.x: no such
	// mailbox) are appended to, ready to be a --suppress file next time.
	BouncesTo string
	Envelope  Envelope // envelope sender: From, a return path, or VERP
	Now       func() time.Time
	// Progress, when set, is called after every recorded outcome, from one
	// goroutine.
	Progress func(Progress)
	// Warn, when set, is told of what bulk receivers punish and a run can
	// see before sending (kind is one of check's Warn* kinds), once each.
	Warn func(kind, msg string)
	// DomainVerdict, when set, records rows at domains it rejects invalid
	// before sending (a DNS pre-pass decides it).
	DomainVerdict DomainVerdict
}

// Progress is how far a run has got.
type Progress struct {
	Total   int // rows in the list
	Done    int // rows finished: recorded in this run or skipped as final
	Skipped int // rows already final in the results file
	Elapsed time.Duration
}

// Summary is what a run did.
type Summary struct {
	Total   int            // rows in the list
	Skipped int            // rows already final from an earlier run
	Counts  map[Status]int // outcomes recorded by this run
	Elapsed time.Duration
	// Left is rows neither recorded nor skipped: stopped by --limit or an
	// interruption. A re-run takes them up.
	Left int
	// Recovered is how many recipients a run that died left in flight; they
	// were recorded unknown at the start of this run.
	Recovered int
	// Repaired is how many bytes of a torn last line were cut from the
	// results file.
	Repaired int64
	// Unrecorded are outcomes known but not written because the results
	// file failed; the caller must show them to the user.
	Unrecorded []Record
}

// Sent is the number of messages that reached a relay's verdict.
func (s *Summary) Sent() int {
	return s.Counts[Delivered] + s.Counts[Bounced] + s.Counts[Deferred] + s.Counts[Blocked] + s.Counts[Unknown]
}

// ChangedError is a results file started with another list or template.
type ChangedError struct {
	Results string
	What    string // "list", "template" or "list and template"
}

func (e *ChangedError) Error() string {
	return fmt.Sprintf("%s was started with another %s: resuming could mix two campaigns (pass --allow-changed to resume anyway, or use a new --results file for a new campaign)", e.Results, e.What)
}

// ResentUnknown starts the message of a row written for a recipient sent
// again with ResendUnknown: an earlier run recorded it unknown, so the relay
// may have delivered it then and this is a second copy.
const ResentUnknown = "resent after unknown (may be a duplicate): "

// syncEvery is the group-commit interval: results and journal are fsynced
// this often while they change.
const syncEvery = 50 * time.Millisecond

// Run runs the campaign. Bad input (list structure, suppression files,
// results file) stops it before anything is sent. A cancelled ctx stops it
// taking new recipients; messages in flight finish and are recorded.
func Run(ctx context.Context, o Options, s Sender) (*Summary, error) {
	if o.EmailColumn == "" {
		o.EmailColumn = "email"
	}
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	start := time.Now()
	info, err := ScanList(o.List, o.EmailColumn, o.NameColumn)
	if err != nil {
		return nil, err
	}
	fingerprint := "list=" + info.Fingerprint[:16] + " template=" + o.Template.Fingerprint()[:16]
	if o.Warn != nil && info.Rows > DefaultUnsubscribeRows && !o.Template.HasListUnsubscribe() {
		// As check warns: bulk receivers require one-click unsubscribe.
		o.Warn(WarnNoUnsubscribe, fmt.Sprintf("%d rows and no List-Unsubscribe header in the messages: Gmail and Yahoo require one-click unsubscribe (RFC 8058) from senders of bulk mail", info.Rows))
	}
	supp, err := loadSuppressions(o.Suppress)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Total: info.Rows, Counts: map[Status]int{}}
	stamp := func(r *Record) *Record {
		r.Time = o.Now().UTC().Format(timeLayout)
		r.Fingerprint = fingerprint
		return r
	}

	var jr *journal
	// Recipients an earlier run finished: sized for the whole list when
	// there is an earlier run, like the duplicate set, else left small.
	doneRows := 0
	if st, err := os.Stat(o.Results); err == nil && st.Size() > 0 && !o.DryRun {
		doneRows = info.Rows
	}
	done := &finished{keys: newDigestSet(doneRows), dupLines: map[int32]bool{}, unknown: map[digest]bool{}}
	var recovered []attempt
	if o.DryRun {
		if err := checkDryRunTarget(o.Results); err != nil {
			return nil, err
		}
	} else {
		// First a lock on the results file itself, whatever path names it
		// (symbolic or hard links), so a second run stops before it writes
		// anything; then the journal's, named after the real file.
		fl, err := lockResults(o.Results)
		if err != nil {
			return nil, err
		}
		defer fl.close()
		if jr, err = openJournal(o.Results); err != nil {
			return nil, err
		}
		defer jr.close()
		if sum.Repaired, err = repairTornLine(o.Results); err != nil {
			return nil, err
		}
		if recovered, err = loadState(o, jr, fingerprint, done); err != nil {
			return nil, err
		}
	}
	rw, err := createResults(o.Results, o.DryRun)
	if err != nil {
		return nil, err
	}
	if jr != nil {
		for _, a := range recovered {
			rec := stamp(&Record{Email: a.email, Line: a.line, MessageID: a.messageID, Status: Unknown,
				Message: "mailer stopped while sending this message (crash or kill): the relay may have accepted it"})
			if err := rw.write(rec); err != nil {
				rw.close()
				return nil, err
			}
			if !o.ResendUnknown {
				done.keys.put(digestOf(keyOf(a.email)), 1)
			} else {
				done.unknown[digestOf(keyOf(a.email))] = true
			}
		}
		sum.Recovered = len(recovered)
		size, err := rw.size()
		if err == nil {
			err = jr.start(size)
		}
		if err != nil {
			rw.close()
			return nil, err
		}
	}
	var bounces *bounceWriter
	if o.BouncesTo != "" && !o.DryRun {
		if bounces, err = openBounces(o.BouncesTo); err != nil {
			rw.close()
			return nil, err
		}
		defer bounces.close()
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan *Verdict, 2*o.Concurrency)
	outs := make(chan *Record, 2*o.Concurrency)

	var readErr error
	var skipped atomic.Int64 // rows already final, counted by the reader
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // reader: decides everything that needs no rendering
		defer wg.Done()
		defer close(jobs)
		readErr = feed(ctx, o, info.Rows, supp, done, &skipped, jobs, outs, stamp)
		if readErr != nil {
			cancel(readErr)
		}
	}()
	var probeOnce, downOnce sync.Once
	var probeErr, journalErr, downErr error
	var journalOnce sync.Once
	journalFailed := func(err error) {
		journalOnce.Do(func() { journalErr = err; cancel(err) })
	}
	for i := 0; i < o.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for j := range jobs {
				renderVerdict(o.Template, &buf, j) // the path check and preview share
				if j.Status != "" {
					outs <- stamp(j.record())
					continue
				}
				m := j.Message
				rec := &Record{Email: j.Email, Line: j.Line, MessageID: m.MessageID}
				var err error
				if rec.EnvelopeFrom, err = o.Envelope.from(m.From, j.Email); err != nil {
					rec.Status, rec.Message = Invalid, "envelope sender: "+err.Error()
					outs <- stamp(rec)
					continue
				}
				if o.DryRun {
					rec.Status, rec.Message = DryRun, fmt.Sprintf("would send %d bytes", len(m.Data))
					outs <- stamp(rec)
					continue
				}
				probeOnce.Do(func() {
					if probeErr = s.Probe(ctx); probeErr != nil {
						// Not the relays-down cause: before the first message
						// nothing is recorded for the rows left.
						cancel(errors.New("probe: " + probeErr.Error()))
					}
				})
				if probeErr != nil {
					continue // no relay at all: nothing is recorded, exit 69
				}
				if ctx.Err() != nil {
					if relaysDown(ctx) {
						rec.Status, rec.Message = Deferred, untried(ctx)
						outs <- stamp(rec)
					}
					continue // not tried: a re-run takes it up
				}
				// The attempt is on disk before the relay sees the message.
				if err := jr.attempt(rec.Email, rec.Line, rec.MessageID); err != nil {
					journalFailed(err)
					continue
				}
				res := s.Send(ctx, &sender.Message{From: rec.EnvelopeFrom, To: j.Email, Data: m.Data, UTF8: m.UTF8})
				if res.Status == sender.Canceled {
					if err := jr.withdraw(rec.Email); err != nil {
						journalFailed(err)
					}
					if relaysDown(ctx) {
						rec.Status, rec.Message = Deferred, untried(ctx)
						outs <- stamp(rec)
					}
					continue
				}
				rec.Status = Status(res.Status)
				rec.Code, rec.EnhancedCode, rec.Message = Count(res.Code), res.Enhanced, res.Text
				rec.Relay, rec.Attempts = res.Relay, Count(res.Attempts)
				if done.unknown[digestOf(keyOf(rec.Email))] {
					rec.Message = ResentUnknown + rec.Message
				}
				stamp(rec)
				if !res.Time.IsZero() {
					rec.Time = res.Time.UTC().Format(timeLayout) // when it went to the relay
				}
				outs <- rec
				if ue := (*sender.UnavailableError)(nil); errors.As(res.Err, &ue) {
					// Every relay is down: stop; what is left is taken up by a re-run.
					downOnce.Do(func() { downErr = res.Err; cancel(downErr) })
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(outs)
	}()

	// Group commit: fsync what changed every syncEvery.
	ticker := time.NewTicker(syncEvery)
	defer ticker.Stop()
	var writeErr error
	syncAll := func() {
		if writeErr != nil {
			return
		}
		if err := rw.sync(); err != nil {
			writeErr = err
			cancel(err)
		}
		if jr != nil {
			if err := jr.sync(); err != nil {
				writeErr = &WriteError{Path: jr.path, Err: err}
				cancel(writeErr)
			}
		}
	}
	recorded := 0
loop:
	for {
		var rec *Record
		select {
		case <-ticker.C:
			syncAll()
			continue
		case r, ok := <-outs:
			if !ok {
				break loop
			}
			rec = r
		}
		if writeErr == nil {
			if writeErr = rw.write(rec); writeErr != nil {
				cancel(writeErr) // never send what cannot be recorded
			}
		}
		if writeErr != nil {
			sum.Unrecorded = append(sum.Unrecorded, *rec)
			continue
		}
		if bounces != nil && rec.Status == Bounced && strings.HasPrefix(rec.EnhancedCode, "5.1.") {
			if err := bounces.add(rec, o.Now()); err != nil {
				writeErr = err
				cancel(err)
			}
		}
		sum.Counts[rec.Status]++
		recorded++
		if o.Progress != nil {
			sk := int(skipped.Load())
			o.Progress(Progress{Total: info.Rows, Done: recorded + sk, Skipped: sk, Elapsed: time.Since(start)})
		}
	}
	if err := rw.close(); err != nil && writeErr == nil {
		writeErr = err
	}
	if jr != nil && writeErr == nil && journalErr == nil {
		// Every attempt of this run has its outcome on disk.
		if err := jr.finish(); err != nil {
			writeErr = err
		}
	}
	sum.Skipped = int(skipped.Load())
	sum.Elapsed = time.Since(start)
	sum.Left = info.Rows - recorded - sum.Skipped
	switch {
	case writeErr != nil:
		return sum, writeErr
	case journalErr != nil:
		return sum, journalErr
	case readErr != nil:
		return sum, readErr
	case probeErr != nil && errors.Is(probeErr, context.Canceled):
		return sum, nil // interrupted while connecting: the caller sees its ctx
	case probeErr != nil:
		return sum, probeErr
	case downErr != nil:
		return sum, downErr
	}
	return sum, nil
}

// loadState reads the results file into done (recipients with a final
// status), checks the fingerprint, and returns the attempts a dead run
// left without an outcome.
func loadState(o Options, jr *journal, fingerprint string, done *finished) ([]attempt, error) {
	type row struct {
		email string
		line  int
	}
	answered := map[row]bool{} // outcomes of sends by the journal's run
	last := ""
	err := scanResults(o.Results, jr.base, func(r *Record, after bool) error {
		switch {
		case r.Status == Suppressed && strings.HasPrefix(r.Message, "duplicate of line "):
			done.dupLines[int32(r.Line)] = true
		case r.Status.Final() && (r.Status != Unknown || !o.ResendUnknown):
			done.keys.put(digestOf(keyOf(r.Email)), 1)
		case r.Status == Unknown: // and resent: its new row says so
			done.unknown[digestOf(keyOf(r.Email))] = true
		}
		// Only what a send produced answers an attempt, and only for the
		// same row: a duplicate's row never does.
		if after && r.Status != Suppressed && r.Status != DryRun {
			answered[row{r.Email, r.Line}] = true
		}
		if r.Fingerprint != "" {
			last = r.Fingerprint
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if last != "" && last != fingerprint && !o.AllowChanged {
		oldL, oldT, _ := strings.Cut(last, " ")
		newL, newT, _ := strings.Cut(fingerprint, " ")
		var what []string
		if oldL != newL {
			what = append(what, "list")
		}
		if oldT != newT {
			what = append(what, "template")
		}
		return nil, &ChangedError{Results: o.Results, What: strings.Join(what, " and ")}
	}
	var lost []attempt
	for _, a := range jr.prev {
		if !answered[row{a.email, a.line}] {
			lost = append(lost, a)
		}
	}
	return lost, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// feed streams the list: invalid, suppressed and duplicate rows go straight
// to outs; rows already final are skipped; the rest become jobs. Rows are
// classified by the planner that Prepare uses too.
func feed(ctx context.Context, o Options, rows int, supp map[digest]string, done *finished, skipped *atomic.Int64, jobs chan<- *Verdict, outs chan<- *Record, stamp func(*Record) *Record) error {
	lr, err := openList(o.List, o.EmailColumn, o.NameColumn, nil)
	if err != nil {
		return err
	}
	defer lr.close()
	p := newPlanner(supp, done, rows) // memory grows only by its duplicate set
	p.domain = o.DomainVerdict
	queued := 0
	for {
		if ctx.Err() != nil {
			if !relaysDown(ctx) {
				return nil
			}
			// Every relay is down: the rest of the list is recorded deferred
			// (a re-run sends it), so the results speak of every recipient.
		}
		if o.Limit > 0 && queued >= o.Limit {
			return nil
		}
		r, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err // the list changed since ScanList
		}
		v, skip := p.classify(lr, r)
		if skip {
			skipped.Add(1)
			continue
		}
		if v.Status == "" && relaysDown(ctx) {
			v.Status, v.Reason = Deferred, untried(ctx)
		}
		if v.Status == "" {
			select {
			case jobs <- v:
				queued++
				continue
			case <-ctx.Done():
				if !relaysDown(ctx) {
					return nil
				}
				v.Status, v.Reason = Deferred, untried(ctx)
			}
		}
		if v.Status == Deferred {
			queued++ // meant to be sent: counts toward --limit
		}
		// The writer reads outs until it is closed, after this goroutine
		// ends: the send cannot block for good.
		outs <- stamp(v.record())
	}
}

// relaysDown reports whether ctx was cancelled because every relay is down.
func relaysDown(ctx context.Context) bool {
	var ue *sender.UnavailableError
	return ctx.Err() != nil && errors.As(context.Cause(ctx), &ue)
}

// untried is the reason recorded for a recipient left when every relay was down.
func untried(ctx context.Context) string {
	return oneLine("not tried: " + context.Cause(ctx).Error())
}

// loadSuppressions reads suppression CSVs (each with an email column) into
// one set, remembering which file each address came from.
func loadSuppressions(paths []string) (map[digest]string, error) {
	set := map[digest]string{}
	for _, p := range paths {
		lr, err := openList(p, "email", "", nil)
		if err != nil {
			return nil, suppressErr(p, err)
		}
		for {
			r, err := lr.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				lr.close()
				return nil, err
			}
			set[digestOf(keyOf(r.fields[lr.emailAt]))] = p
		}
		lr.close()
	}
	return set, nil
}

func suppressErr(path string, err error) error {
	var de *DataError
	if errors.As(err, &de) {
		de.Msg = "suppression list: " + de.Msg
		return de
	}
	return fmt.Errorf("suppression list: %w", err)
}

// checkDryRunTarget refuses to let a dry run overwrite a results file that
// records real sends: that file is the campaign's memory of who got mail.
func checkDryRunTarget(path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return readResults(path, func(r *Record) error {
		switch r.Status {
		case DryRun, Invalid, Suppressed:
			return nil
		}
		return &DataError{File: path, Msg: "holds the results of a real send; a dry run will not overwrite it (give --results another file)"}
	})
}
