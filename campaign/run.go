package campaign

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
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
	Now         func() time.Time
	// Progress, when set, is called after every recorded outcome, from one
	// goroutine.
	Progress func(Progress)
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
	// Unrecorded are outcomes known but not written because the results
	// file failed; the caller must show them to the user.
	Unrecorded []Record
}

// Sent is the number of messages that reached a relay's verdict.
func (s *Summary) Sent() int {
	return s.Counts[Delivered] + s.Counts[Bounced] + s.Counts[Deferred] + s.Counts[Unknown]
}

type job struct {
	line   int
	addr   address
	name   string
	fields map[string]string
}

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
	supp, err := loadSuppressions(o.Suppress)
	if err != nil {
		return nil, err
	}
	done := map[digest]struct{}{}
	if o.DryRun {
		if err := checkDryRunTarget(o.Results); err != nil {
			return nil, err
		}
	} else {
		err := readResults(o.Results, func(r *Record) error {
			if r.Status.Final() {
				done[digestOf(keyOf(r.Email))] = struct{}{}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	rw, err := createResults(o.Results, o.DryRun)
	if err != nil {
		return nil, err
	}

	sum := &Summary{Total: info.Rows, Counts: map[Status]int{}}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan job, 2*o.Concurrency)
	outs := make(chan *Record, 2*o.Concurrency)
	stamp := func(r *Record) *Record {
		r.Time = o.Now().UTC().Format(timeLayout)
		return r
	}

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
	var probeErr, downErr error
	for i := 0; i < o.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for j := range jobs {
				rec := &Record{Email: j.addr.wire, Line: j.line}
				m, err := o.Template.Render(&buf, render.Recipient{Address: j.addr.wire, Name: j.name, Fields: j.fields})
				if err != nil {
					rec.Status, rec.Message = Invalid, err.Error()
					outs <- stamp(rec)
					continue
				}
				rec.MessageID = m.MessageID
				if o.DryRun {
					rec.Status, rec.Message = DryRun, fmt.Sprintf("would send %d bytes", len(m.Data))
					outs <- stamp(rec)
					continue
				}
				probeOnce.Do(func() {
					if probeErr = s.Probe(ctx); probeErr != nil {
						cancel(probeErr)
					}
				})
				if probeErr != nil || ctx.Err() != nil {
					continue // not tried: a re-run takes it up
				}
				res := s.Send(ctx, &sender.Message{From: m.From, To: j.addr.wire, Data: m.Data})
				if res.Status == sender.Canceled {
					continue
				}
				rec.Status = Status(res.Status)
				rec.Code, rec.EnhancedCode, rec.Message = Count(res.Code), res.Enhanced, res.Text
				rec.Relay, rec.Attempts = res.Relay, Count(res.Attempts)
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

	var writeErr error
	for rec := range outs {
		if writeErr == nil {
			if writeErr = rw.write(rec); writeErr != nil {
				cancel(writeErr) // never send what cannot be recorded
			}
		}
		if writeErr != nil {
			sum.Unrecorded = append(sum.Unrecorded, *rec)
			continue
		}
		sum.Counts[rec.Status]++
		if o.Progress != nil {
			recorded := 0
			for _, n := range sum.Counts {
				recorded += n
			}
			sk := int(skipped.Load())
			o.Progress(Progress{Total: info.Rows, Done: recorded + sk, Skipped: sk, Elapsed: time.Since(start)})
		}
	}
	if err := rw.close(); err != nil && writeErr == nil {
		writeErr = err
	}
	sum.Skipped = int(skipped.Load())
	sum.Elapsed = time.Since(start)
	recorded := 0
	for _, n := range sum.Counts {
		recorded += n
	}
	sum.Left = info.Rows - recorded - sum.Skipped
	switch {
	case writeErr != nil:
		return sum, writeErr
	case readErr != nil:
		return sum, readErr
	case probeErr != nil:
		return sum, probeErr
	case downErr != nil:
		return sum, downErr
	}
	return sum, nil
}

// feed streams the list: invalid, suppressed and duplicate rows go straight
// to outs; rows already final are skipped; the rest become jobs.
func feed(ctx context.Context, o Options, rows int, supp map[digest]string, done map[digest]struct{}, skipped *atomic.Int64, jobs chan<- job, outs chan<- *Record, stamp func(*Record) *Record) error {
	lr, err := openList(o.List, o.EmailColumn, o.NameColumn, nil)
	if err != nil {
		return err
	}
	defer lr.close()
	seen := newDigestSet(rows) // first line of each address: memory grows only by this
	queued := 0
	for {
		if ctx.Err() != nil {
			return nil
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
		cell := r.fields[lr.emailAt]
		addr, aerr := parseAddress(cell)
		if aerr != nil {
			addr.key = keyOf(cell)
			addr.wire = cell
		}
		d := digestOf(addr.key)
		if _, ok := done[d]; ok {
			skipped.Add(1)
			continue
		}
		rec := &Record{Email: addr.wire, Line: r.line}
		switch first, dup := seen.get(d); {
		case aerr != nil:
			rec.Status, rec.Message = Invalid, "address "+aerr.Error()
		case supp[d] != "":
			rec.Status, rec.Message = Suppressed, "on suppression list "+supp[d]
		case dup:
			rec.Status, rec.Message = Suppressed, fmt.Sprintf("duplicate of line %d", first)
		}
		if rec.Status != "" {
			select {
			case outs <- stamp(rec):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		seen.put(d, int32(r.line))
		j := job{line: r.line, addr: addr, fields: make(map[string]string, len(lr.columns))}
		for i, c := range lr.columns {
			j.fields[c] = r.fields[i]
		}
		if lr.nameAt >= 0 {
			j.name = r.fields[lr.nameAt]
		}
		select {
		case jobs <- j:
			queued++
		case <-ctx.Done():
			return nil
		}
	}
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
