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

	"github.com/mailer-dev/mailer/address"
	"github.com/mailer-dev/mailer/sender"
	"github.com/mailer-dev/mailer/suppress"
)

// Sender is what a campaign needs from the relay pool; *sender.Pool is one.
type Sender interface {
	// Probe checks that a relay can be reached; it is called once, before
	// the first message, and only if there is something to send.
	Probe(ctx context.Context) error
	// Send delivers one message and returns its final outcome. It calls
	// m.Begin as sender.Message documents: once, just before the message's
	// first byte goes to a relay, and never for a message it gives back
	// Canceled before that (the run journals the attempt there).
	Send(ctx context.Context, m *sender.Message) sender.Result
}

// Options describe one run.
type Options struct {
	ListOptions
	Results     string // path of the results CSV
	DryRun      bool   // render and check everything, send nothing
	Concurrency int    // messages in flight at once [1]
	Limit       int    // send at most this many messages (0: no limit)
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
	// Campaign, when set, names the campaign explicitly; it goes into the
	// fingerprint, so resuming under another name is refused. Empty: the
	// results file is the campaign, as before there was a name.
	Campaign string
	// Shard keeps only the rows on it (zero: all). It goes into the
	// fingerprint, so resuming with another shard is refused.
	Shard Shard
	Now   func() time.Time
	// Handed, when set, is told what earlier runs handed to relays, from
	// the results file: for each row, its relay, time and attempts. A row
	// of a message in flight when mailer died names no relay and counts 1;
	// daily quotas count from it.
	Handed func(relay string, at time.Time, attempts int)
	// Progress, when set, is called after every recorded outcome, from one
	// goroutine.
	Progress func(Progress)
	// Warn, when set, is told of what bulk receivers punish and a run can
	// see before sending (kind is one of check's Warn* kinds), once each.
	Warn func(kind, msg string)
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
	// OtherShards is rows left to the other shards: neither sent nor
	// recorded by this run.
	OtherShards int
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
	What    string // "list", "template", "campaign", "shard", or several joined by "and"
}

func (e *ChangedError) Error() string {
	return fmt.Sprintf("%s was started with another %s: resuming could mix two campaigns", e.Results, e.What)
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
	r := &run{o: o, s: s, start: time.Now()}
	defer r.closeFiles()
	if err := r.setup(); err != nil {
		return nil, err
	}
	r.ctx, r.cancel = context.WithCancelCause(ctx)
	defer r.cancel(nil)
	r.jobs = make(chan *Verdict, 2*o.Concurrency)
	r.outs = make(chan *Record, 2*o.Concurrency)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(r.jobs)
		if r.readErr = r.feed(); r.readErr != nil {
			r.cancel(r.readErr)
		}
	}()
	for i := 0; i < o.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.work()
		}()
	}
	go func() {
		wg.Wait()
		close(r.outs)
	}()
	return r.sum, r.record()
}

// run is one campaign run: the reader (feed) streams the list into jobs,
// workers render and send them, and the writer (record) is the only one
// that writes the results, the bounces and the progress.
type run struct {
	o     Options
	s     Sender
	start time.Time
	info  *ListInfo
	supp  *suppress.Set
	done  *finished
	// fingerprint names the list and template in every row.
	fingerprint string
	sum         *Summary

	jr      *journal // nil for a dry run
	rw      *resultsWriter
	bounces *suppress.Writer // nil without BouncesTo
	lock    *fileLock

	ctx     context.Context
	cancel  context.CancelCauseFunc
	jobs    chan *Verdict
	outs    chan *Record
	skipped atomic.Int64 // rows already final, counted by the reader
	others  atomic.Int64 // rows on other shards, counted by the reader

	readErr     error
	probeOnce   sync.Once
	probeErr    error
	journalOnce sync.Once
	journalErr  error
	downOnce    sync.Once
	downErr     error
	relaysDown  atomic.Bool // every relay is down: what is left is recorded not tried
	quotaOnce   sync.Once
	quotaErr    error       // the *sender.QuotaError that stopped the run
	quotaHit    atomic.Bool // every relay's daily quota is used: what is left is not recorded
	recorded    int         // by the writer
	writeErr    error       // the writer's
	closeRW     bool        // rw is open: record has not closed it
}

// setup reads the list and the suppressions, takes the lock, reads what an
// earlier run finished and opens the files the run writes.
func (r *run) setup() error {
	o := r.o
	info, err := ScanList(o.List, o.EmailColumn, o.NameColumn)
	if err != nil {
		return err
	}
	r.info = info
	r.fingerprint = fingerprint(info.Fingerprint, o.Template.Fingerprint(), o.Campaign, o.Shard)
	if o.Warn != nil && info.Rows > DefaultUnsubscribeRows && !o.Template.HasListUnsubscribe() {
		// As check warns: bulk receivers require one-click unsubscribe.
		o.Warn(WarnNoUnsubscribe, fmt.Sprintf("%d rows and no List-Unsubscribe header in the messages: Gmail and Yahoo require one-click unsubscribe (RFC 8058) from senders of bulk mail", info.Rows))
	}
	if r.supp, err = loadSuppressions(o.Suppress); err != nil {
		return err
	}
	r.sum = &Summary{Total: info.Rows, Counts: map[Status]int{}}
	// Recipients an earlier run finished: sized for the whole list when
	// there is an earlier run, like the duplicate set, else left small.
	doneRows := 0
	if st, err := os.Stat(o.Results); err == nil && st.Size() > 0 && !o.DryRun {
		doneRows = info.Rows
	}
	r.done = &finished{keys: newDigestSet(doneRows), dupLines: map[int32]bool{}, unknown: map[digest]bool{}}
	var recovered []attempt
	if o.DryRun {
		// The results file's lock too: a dry run rewrites its file, which
		// must not be that of a real run that has written only its header.
		if r.lock, err = lockResults(o.Results); err != nil {
			return err
		}
		if err := checkDryRunTarget(o.Results); err != nil {
			return err
		}
	} else {
		// First a lock on the results file itself, whatever path names it
		// (symbolic or hard links), so a second run stops before it writes
		// anything; then the journal's, named after the real file.
		if r.lock, err = lockResults(o.Results); err != nil {
			return err
		}
		if r.jr, err = openJournal(o.Results); err != nil {
			return err
		}
		if r.sum.Repaired, err = repairTornLine(o.Results); err != nil {
			return err
		}
		if recovered, err = loadState(o, r.jr, r.fingerprint, r.done); err != nil {
			return err
		}
	}
	if r.rw, err = createResults(o.Results, o.DryRun); err != nil {
		return err
	}
	r.closeRW = true
	if r.jr != nil {
		for _, a := range recovered {
			rec := r.stamp(&Record{Email: a.email, Line: a.line, MessageID: a.messageID, Status: Unknown, Reason: ReasonInFlight,
				Message: "mailer stopped while sending this message (crash or kill): the relay may have accepted it"})
			if o.Handed != nil {
				o.Handed("", r.o.Now(), 1)
			}
			if err := r.rw.write(rec); err != nil {
				return err
			}
			if !o.ResendUnknown {
				r.done.keys.put(digestOf(address.Key(a.email)), 1)
			} else {
				r.done.unknown[digestOf(address.Key(a.email))] = true
			}
		}
		r.sum.Recovered = len(recovered)
		size, err := r.rw.size()
		if err == nil {
			err = r.jr.start(size)
		}
		if err != nil {
			return err
		}
	}
	if o.BouncesTo != "" && !o.DryRun {
		if r.bounces, err = suppress.OpenWriter(o.BouncesTo); err != nil {
			return &WriteError{Path: o.BouncesTo, Err: err}
		}
	}
	return nil
}

// closeFiles closes what setup opened and record did not close.
func (r *run) closeFiles() {
	if r.closeRW {
		r.rw.close()
	}
	if r.bounces != nil {
		r.bounces.Close()
	}
	if r.jr != nil {
		r.jr.close()
	}
	if r.lock != nil {
		r.lock.close()
	}
}

// stamp gives a record the time and the fingerprint.
func (r *run) stamp(rec *Record) *Record {
	rec.Time = r.o.Now().UTC().Format(timeLayout)
	rec.Fingerprint = r.fingerprint
	return rec
}

// stopRelaysDown stops the run because every relay is down (err is the
// *sender.UnavailableError). Unless the run was already stopping for
// another reason, what is left is then recorded deferred, not tried, so
// the results speak of every recipient.
func (r *run) stopRelaysDown(err error) {
	r.downOnce.Do(func() {
		r.downErr = err
		if r.ctx.Err() == nil {
			r.relaysDown.Store(true)
		}
		r.cancel(err)
	})
}

// untried marks rec deferred for a recipient left when every relay was
// down.
func (r *run) untried(status *Status, reason *string) {
	*status, *reason = Deferred, oneLine("not tried: "+r.downErr.Error())
}

// feed streams the list: invalid, suppressed and duplicate rows go straight
// to outs; rows already final are skipped; the rest become jobs. Rows are
// classified by the planner that Prepare uses too.
func (r *run) feed() error {
	o := r.o
	lr, err := openList(o.List, o.EmailColumn, o.NameColumn, nil)
	if err != nil {
		return err
	}
	defer lr.close()
	p := newPlanner(r.supp, r.done, r.info.Rows) // memory grows only by its duplicate set
	p.domain = r.o.DomainVerdict
	p.shard = o.Shard
	queued := 0
	for {
		if r.ctx.Err() != nil && !r.relaysDown.Load() || r.quotaHit.Load() {
			return nil
		}
		if o.Limit > 0 && queued >= o.Limit {
			return nil
		}
		row, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err // the list changed since ScanList
		}
		v, why := p.classify(lr, row)
		switch why {
		case skipDone:
			r.skipped.Add(1)
			continue
		case skipShard:
			r.others.Add(1)
			continue
		}
		if v.Status == "" && r.relaysDown.Load() {
			r.untried(&v.Status, &v.Reason)
		}
		if v.Status == "" {
			select {
			case r.jobs <- v:
				queued++
				continue
			case <-r.ctx.Done():
				if !r.relaysDown.Load() {
					return nil
				}
				r.untried(&v.Status, &v.Reason)
			}
		}
		if v.Status == Deferred {
			queued++ // meant to be sent: counts toward --limit
		}
		// The writer reads outs until it is closed, after this goroutine
		// ends: the send cannot block for good.
		r.outs <- r.stamp(v.record())
	}
}

// work renders and sends jobs until the reader closes them.
func (r *run) work() {
	var buf bytes.Buffer
	for j := range r.jobs {
		renderVerdict(r.o.Template, &buf, j) // the path check and preview share
		if j.Status != "" {
			r.outs <- r.stamp(j.record())
			continue
		}
		if rec := r.send(j); rec != nil {
			r.outs <- rec
		}
	}
}

// send sends one rendered job and returns its record, or nil when nothing
// is to be recorded (not tried: a re-run takes it up).
func (r *run) send(j *Verdict) *Record {
	m := j.Message
	rec := &Record{Email: j.Email, Line: j.Line, MessageID: m.MessageID}
	var err error
	if rec.EnvelopeFrom, err = r.o.Envelope.from(m.From, j.Email); err != nil {
		rec.Status, rec.Message, rec.Reason = Invalid, "envelope sender: "+err.Error(), ReasonInvalidEnvelope
		return r.stamp(rec)
	}
	if r.o.DryRun {
		rec.Status, rec.Message = DryRun, fmt.Sprintf("would send %d bytes", len(m.Data))
		return r.stamp(rec)
	}
	r.probeOnce.Do(func() {
		if r.probeErr = r.s.Probe(r.ctx); r.probeErr != nil {
			// Not relays down: before the first message nothing is
			// recorded for the rows left.
			r.cancel(errors.New("probe: " + r.probeErr.Error()))
		}
	})
	if r.probeErr != nil {
		return nil // no relay at all: nothing is recorded, exit 69
	}
	if r.ctx.Err() != nil {
		return r.notTried(rec)
	}
	// The attempt is on disk before the relay sees the first byte of the
	// message, and not while Send waits (rate, connections, quota): a
	// crash records unknown only what may have reached a relay. Begin is
	// called from whichever goroutine writes, before Send returns.
	begun := false
	var jerr error
	msg := &sender.Message{From: rec.EnvelopeFrom, To: j.Email, Data: m.Data, UTF8: m.UTF8, Begin: func() error {
		if jerr = r.jr.attempt(rec.Email, rec.Line, rec.MessageID); jerr != nil {
			return jerr
		}
		begun = true
		return nil
	}}
	res := r.s.Send(r.ctx, msg)
	if jerr != nil {
		r.journalFailed(jerr)
		return nil
	}
	// withdraw takes back the attempt of a message the pool gave back
	// without an outcome, if it got as far as one.
	withdraw := func() {
		if !begun {
			return
		}
		if err := r.jr.withdraw(rec.Email); err != nil {
			r.journalFailed(err)
		}
	}
	if qe := (*sender.QuotaError)(nil); errors.As(res.Err, &qe) {
		// Every relay's daily quota is used: the run stops taking rows,
		// and what is left is not recorded (a run after the reset sends
		// it), unless an earlier try of this message left an outcome.
		r.quotaOnce.Do(func() { r.quotaErr = qe; r.quotaHit.Store(true) })
		if res.Attempts == 0 {
			withdraw()
			return nil
		}
	}
	if res.Status == sender.Canceled {
		withdraw()
		return r.notTried(rec)
	}
	rec.Status = Status(res.Status)
	rec.Code, rec.EnhancedCode, rec.Message = BlankInt(res.Code), res.Enhanced, res.Text
	rec.Relay, rec.Attempts = res.Relay, BlankInt(res.Attempts)
	if r.done.unknown[digestOf(address.Key(rec.Email))] {
		rec.Message, rec.Reason = ResentUnknown+rec.Message, ReasonResentUnknown
	}
	r.stamp(rec)
	if !res.Time.IsZero() {
		rec.Time = res.Time.UTC().Format(timeLayout) // when it went to the relay
	}
	if ue := (*sender.UnavailableError)(nil); errors.As(res.Err, &ue) {
		// Every relay is down: stop; what is left is taken up by a re-run.
		r.stopRelaysDown(res.Err)
	}
	return rec
}

// notTried is the record of a job the run stopped before sending: deferred
// when every relay is down, else none (a re-run takes it up).
func (r *run) notTried(rec *Record) *Record {
	if !r.relaysDown.Load() {
		return nil
	}
	r.untried(&rec.Status, &rec.Message)
	rec.Reason = ReasonNotTried
	return r.stamp(rec)
}

func (r *run) journalFailed(err error) {
	r.journalOnce.Do(func() { r.journalErr = err; r.cancel(err) })
}

// record is the writer: it writes every outcome to the results (and hard
// bounces to BouncesTo), fsyncs them in groups, and returns the run's error
// once the workers are done.
func (r *run) record() error {
	// Group commit: fsync what changed every syncEvery.
	ticker := time.NewTicker(syncEvery)
	defer ticker.Stop()
loop:
	for {
		select {
		case <-ticker.C:
			r.syncAll()
		case rec, ok := <-r.outs:
			if !ok {
				break loop
			}
			r.write(rec)
		}
	}
	r.closeRW = false
	if err := r.rw.close(); err != nil && r.writeErr == nil {
		r.writeErr = err
	}
	if r.jr != nil && r.writeErr == nil && r.journalErr == nil {
		// Every attempt of this run has its outcome on disk.
		if err := r.jr.finish(); err != nil {
			r.writeErr = err
		}
	}
	sum := r.sum
	sum.Skipped = int(r.skipped.Load())
	sum.OtherShards = int(r.others.Load())
	sum.Elapsed = time.Since(r.start)
	sum.Left = r.info.Rows - r.recorded - sum.Skipped - sum.OtherShards
	switch {
	case r.writeErr != nil:
		return r.writeErr
	case r.journalErr != nil:
		return r.journalErr
	case r.readErr != nil:
		return r.readErr
	case r.probeErr != nil && errors.Is(r.probeErr, context.Canceled):
		return nil // interrupted while connecting: the caller sees its ctx
	case r.probeErr != nil:
		return r.probeErr
	case r.downErr != nil:
		return r.downErr
	case r.quotaErr != nil:
		return r.quotaErr
	}
	return nil
}

// write records one outcome.
func (r *run) write(rec *Record) {
	var bounce *suppress.Entry
	if reason, ok := suppress.ForBounce(rec.EnhancedCode); ok && r.bounces != nil && rec.Status == Bounced {
		// Taken before write makes the record's text safe for a
		// spreadsheet: the suppression writer does that itself.
		bounce = &suppress.Entry{Email: rec.Email, Code: rec.EnhancedCode, Diagnostic: rec.Message, Time: r.o.Now(), Reason: reason, Source: "send"}
	}
	if r.writeErr == nil {
		if r.writeErr = r.rw.write(rec); r.writeErr != nil {
			r.cancel(r.writeErr) // never send what cannot be recorded
		}
	}
	if r.writeErr != nil {
		r.sum.Unrecorded = append(r.sum.Unrecorded, *rec)
		return
	}
	if bounce != nil {
		if err := r.bounces.Append(*bounce); err != nil {
			r.writeErr = &WriteError{Path: r.bounces.Path(), Err: err}
			r.cancel(r.writeErr)
		}
	}
	r.sum.Counts[rec.Status]++
	r.recorded++
	if r.o.Progress != nil {
		// Rows on other shards count as done: they are no work of this run.
		sk := int(r.skipped.Load())
		r.o.Progress(Progress{Total: r.info.Rows, Done: r.recorded + sk + int(r.others.Load()), Skipped: sk, Elapsed: time.Since(r.start)})
	}
}

// syncAll fsyncs the results and the journal if they changed.
func (r *run) syncAll() {
	if r.writeErr != nil {
		return
	}
	if err := r.rw.sync(); err != nil {
		r.writeErr = err
		r.cancel(err)
	}
	if r.jr != nil {
		if err := r.jr.sync(); err != nil {
			r.writeErr = &WriteError{Path: r.jr.path, Err: err}
			r.cancel(r.writeErr)
		}
	}
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
	// unknownDone are recipients recorded unknown, final unless a later
	// resend of theirs (ResendUnknown) was deferred or blocked: that row is
	// their outcome, and a plain re-run retries it like any other.
	unknownDone := map[digest]bool{}
	last := ""
	err := scanResults(o.Results, jr.base, func(r *Record, after bool) error {
		switch {
		case r.isDuplicate():
			done.dupLines[int32(r.Line)] = true
		case r.Status == Unknown && o.ResendUnknown: // resent: its new row says so
			done.unknown[digestOf(address.Key(r.Email))] = true
		case r.Status == Unknown:
			unknownDone[digestOf(address.Key(r.Email))] = true
		case r.Status.Final():
			done.keys.put(digestOf(address.Key(r.Email)), 1)
		case r.isResent():
			delete(unknownDone, digestOf(address.Key(r.Email)))
		}
		// Only what a send produced answers an attempt, and only for the
		// same row: a duplicate's row never does.
		if after && r.Status != Suppressed && r.Status != DryRun {
			answered[row{r.Email, r.Line}] = true
		}
		if r.Fingerprint != "" {
			last = r.Fingerprint
		}
		if o.Handed != nil {
			handed(r, o.Handed)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for d := range unknownDone {
		done.keys.put(d, 1)
	}
	if last != "" && last != fingerprint && !o.AllowChanged {
		return nil, &ChangedError{Results: o.Results, What: changed(last, fingerprint)}
	}
	var lost []attempt
	for _, a := range jr.prev {
		if !answered[row{a.email, a.line}] {
			lost = append(lost, a)
		}
	}
	return lost, nil
}

// fingerprint is the fingerprint column: the list and the template, then
// the campaign name and the shard when given (a file from before they
// existed, resumed without them, has the same fingerprint as before).
func fingerprint(list, template, campaign string, shard Shard) string {
	f := "list=" + list[:16] + " template=" + template[:16]
	if campaign != "" {
		f += " campaign=" + campaign
	}
	if shard.N > 0 {
		f += " shard=" + shard.String()
	}
	return f
}

// fingerprintField is the value of name in a fingerprint ("" if absent).
func fingerprintField(fp, name string) string {
	for _, f := range strings.Fields(fp) {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			return v
		}
	}
	return ""
}

// changed names what differs between two fingerprints.
func changed(old, new string) string {
	var what []string
	for _, name := range []string{"list", "template", "campaign", "shard"} {
		if fingerprintField(old, name) != fingerprintField(new, name) {
			what = append(what, name)
		}
	}
	if len(what) == 0 {
		what = append(what, "fingerprint")
	}
	return strings.Join(what, " and ")
}

// handed tells fn what the row r says was handed to a relay.
func handed(r *Record, fn func(string, time.Time, int)) {
	n, relay := int(r.Attempts), r.Relay
	if r.Reason == ReasonInFlight {
		n, relay = 1, ""
	}
	if n <= 0 || r.Time == "" {
		return
	}
	if t, err := time.Parse(time.RFC3339, r.Time); err == nil {
		fn(relay, t, n)
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// loadSuppressions reads the suppression files into one set.
func loadSuppressions(paths []string) (*suppress.Set, error) {
	set, err := suppress.Load(paths...)
	var fe *suppress.FormatError
	switch {
	case errors.As(err, &fe):
		return nil, &DataError{File: fe.File, Line: fe.Line, Msg: "suppression list: " + fe.Msg}
	case err != nil:
		return nil, fmt.Errorf("suppression list: %w", err)
	}
	return set, nil
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
		return &ResultsFileError{DataError{File: path, Msg: "holds the results of a real send; a dry run will not overwrite it"}}
	})
}
