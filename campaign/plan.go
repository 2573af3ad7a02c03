package campaign

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"unicode/utf8"

	"github.com/mailer-dev/mailer/address"
	"github.com/mailer-dev/mailer/internal/safetext"
	"github.com/mailer-dev/mailer/render"
	"github.com/mailer-dev/mailer/suppress"
)

// Problem says why a row will not be sent. It refines Status for the
// rows decided before sending, so check can group them.
type Problem string

// The problems a row can have before sending.
const (
	ProblemAddress    Problem = "invalid address"        // Invalid: the address cell is not one good address
	ProblemRender     Problem = "does not render"        // Invalid: the template fails for this row
	ProblemDuplicate  Problem = "duplicate"              // Suppressed: an earlier row has the same address
	ProblemSuppressed Problem = "on a suppression list"  // Suppressed: the address is in a Suppress file
	ProblemSize       Problem = "field or row too large" // Invalid: a field or the row is over MaxFieldBytes or MaxRowBytes
)

// Verdict is what the campaign decides about one row of the list before
// anything is sent. A dry run, Check and Select all see rows through
// verdicts made by the same code, so they never disagree about a row.
type Verdict struct {
	Line    int    // line of the list where the row starts
	Email   string // the address as it goes on the wire; the cell as written when invalid
	Status  Status // "" when the message is ready to send; else Invalid or Suppressed
	Problem Problem
	Reason  string // for Invalid and Suppressed rows, as recorded in the results CSV
	// SuppressedAs is the suppression file's reason for a row on a
	// suppression list ("" when the file gives none).
	SuppressedAs suppress.Reason
	// Recipient is the row as the template saw it (empty for rows rejected
	// before rendering).
	Recipient render.Recipient
	// Message is the rendered message when Status is "". Its Data is valid
	// only until the callback that receives the verdict returns.
	Message *render.Message

	warnings []warning // found by check's inspection
}

type warning struct{ kind, detail string }

// Record is the results row for a verdict decided before sending.
func (v *Verdict) record() *Record {
	code := v.Problem.code()
	if v.Status == Deferred {
		code = ReasonNotTried // the only deferral decided before sending
	}
	return &Record{Email: v.Email, Line: v.Line, Status: v.Status, Message: v.Reason, Reason: code}
}

// code is the results CSV's reason code for a row with problem p.
func (p Problem) code() ReasonCode {
	switch p {
	case ProblemAddress:
		return ReasonInvalidAddress
	case ProblemRender:
		return ReasonInvalidRender
	case ProblemDuplicate:
		return ReasonDuplicate
	case ProblemSuppressed:
		return ReasonSuppressed
	case ProblemSize:
		return ReasonTooLarge
	}
	return ""
}

// finished is what earlier runs of a campaign finished, from its results
// file: recipients with a final status, and the duplicate rows recorded.
// A duplicate row's "suppressed" says nothing about its address's first
// row, which may still be deferred, so it is kept apart, by line.
type finished struct {
	keys     *digestSet
	dupLines map[int32]bool
	// unknown holds recipients recorded unknown that this run sends again
	// (ResendUnknown): few, so a plain map.
	unknown map[digest]bool
}

// planner classifies rows as the list streams by: invalid addresses,
// suppressed and duplicate addresses, and rows already final in an earlier
// run. Its only state that grows with the list is the duplicate set.
type planner struct {
	supp *suppress.Set // suppressed addresses
	done *finished     // what an earlier run finished (resume); nil for none
	seen *digestSet    // first line of each address to be sent
	// domain, when set, rejects rows at domains that take no mail.
	domain DomainVerdict
	// shard keeps only the rows on it; the rest are skipped unrecorded.
	shard Shard
}

// skip says why classify let a row go without a verdict.
type skip int

const (
	keep      skip = iota // a verdict: send or record it
	skipDone              // final in an earlier run
	skipShard             // on another shard: never recorded here
)

// newPlanner makes a planner for a list of about rows rows (0 when not
// known: the duplicate set then grows as it goes).
func newPlanner(supp *suppress.Set, done *finished, rows int) *planner {
	return &planner{supp: supp, done: done, seen: newDigestSet(rows)}
}

// classify decides what needs no rendering. A skip other than keep
// reports a row already final or on another shard; otherwise v either has
// a Status (rejected) or is ready to render, with v.Recipient filled.
func (p *planner) classify(lr *listReader, r row) (v *Verdict, why skip) {
	cell := ""
	if lr.emailAt < len(r.fields) {
		cell = r.fields[lr.emailAt]
	}
	tooLarge := sizeProblem(lr.columns, r)
	var addr address.Address
	var aerr error
	if r.cut || len(cell) > MaxFieldBytes {
		aerr = errors.New(tooLarge)
	} else {
		addr, aerr = address.Parse(cell)
	}
	if aerr != nil {
		// A record must stay on one line, and what is shown of a bad cell
		// (results, check, preview) must not act on a terminal. The key is
		// taken from the same text, so a resume finds it in the results.
		addr.Wire = clip(safetext.String(oneLine(cell)))
		addr.Key = address.Key(addr.Wire)
	}
	if !p.shard.Has(addr.Key) {
		// The same key as everything below, invalid cells included, so
		// each row is on exactly one shard and duplicates stay together.
		return nil, skipShard
	}
	d := digestOf(addr.Key)
	if p.done != nil {
		if _, ok := p.done.keys.get(d); ok {
			// Still the first row with this address: later ones are its
			// duplicates, whether or not this one is sent again.
			p.seen.put(d, int32(r.line))
			return nil, skipDone
		}
	}
	v = &Verdict{Line: r.line, Email: addr.Wire}
	supp, suppAs := p.supp.Match(d)
	switch first, dup := p.seen.get(d); {
	case tooLarge != "" && aerr != nil:
		v.Status, v.Problem, v.Reason = Invalid, ProblemSize, tooLarge
	case aerr != nil:
		v.Status, v.Problem, v.Reason = Invalid, ProblemAddress, "address "+aerr.Error()
	case supp != "":
		v.Status, v.Problem, v.Reason = Suppressed, ProblemSuppressed, "on suppression list "+supp
		if v.SuppressedAs = suppAs; v.SuppressedAs != "" {
			v.Reason += " (" + string(v.SuppressedAs) + ")"
		}
	case dup:
		v.Status, v.Problem, v.Reason = Suppressed, ProblemDuplicate, fmt.Sprintf("duplicate of line %d", first)
	}
	if v.Problem == ProblemDuplicate && p.done != nil && p.done.dupLines[int32(r.line)] {
		return nil, skipDone // recorded as a duplicate by an earlier run
	}
	if v.Status != "" {
		return v, keep
	}
	p.seen.put(d, int32(r.line))
	if tooLarge != "" {
		v.Status, v.Problem, v.Reason = Invalid, ProblemSize, tooLarge
		return v, keep
	}
	if p.domain != nil {
		if bad, reason := p.domain(address.Domain(addr.Wire)); bad {
			v.Status, v.Problem, v.Reason = Invalid, ProblemDomain, reason
			return v, keep
		}
	}
	v.Recipient = render.Recipient{Address: addr.Wire, Fields: make(map[string]string, len(lr.columns))}
	for i, c := range lr.columns {
		v.Recipient.Fields[c] = r.fields[i]
	}
	if lr.nameAt >= 0 {
		v.Recipient.Name = r.fields[lr.nameAt]
	}
	return v, keep
}

// renderVerdict renders a row that classify let through, into buf. A row
// the template fails on becomes Invalid.
func renderVerdict(t *render.Template, buf *bytes.Buffer, v *Verdict) {
	m, err := t.Render(buf, v.Recipient)
	if err != nil {
		v.Status, v.Problem, v.Reason = Invalid, ProblemRender, safetext.String(oneLine(err.Error()))
		return
	}
	v.Message = m
}

// ListOptions select the list, the template and the suppression files:
// what Run, Prepare and Select (send, check and preview) share.
type ListOptions struct {
	List        string // path of the recipient CSV
	EmailColumn string // ["email"]
	NameColumn  string // display-name column ["name" when the list has one]
	Template    *render.Template
	Suppress    []string // suppression CSVs, each with an email column
	// DomainVerdict, when set, makes rows at domains it rejects Invalid
	// (ProblemDomain) before they render: a DNS pre-pass decides it.
	DomainVerdict DomainVerdict
}

// PrepareOptions select the list, template and suppressions to prepare.
type PrepareOptions struct {
	ListOptions
	// Concurrency is how many rows render at once [1]. With 1, verdicts
	// arrive in list order.
	Concurrency int
}

// ErrStop, returned by a Prepare callback, ends Prepare early without error.
var ErrStop = errors.New("stop")

// Prepare streams the list and calls fn with the verdict on every row, as
// a dry run would decide it, rendering every row that would be sent.
// fn is never called by two goroutines at once; with Concurrency above 1
// the order of verdicts is not the list's. A bad list structure stops
// Prepare with a *DataError; an error from fn stops it with that error.
func Prepare(ctx context.Context, o PrepareOptions, fn func(*Verdict) error) error {
	return prepare(ctx, o, nil, fn)
}

// prepare is Prepare with work, which runs on each rendered verdict in the
// rendering goroutine, concurrently, before fn sees it (check inspects
// messages there, so that the serial part stays small).
func prepare(ctx context.Context, o PrepareOptions, work func(*Verdict), fn func(*Verdict) error) error {
	if o.EmailColumn == "" {
		o.EmailColumn = "email"
	}
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	supp, err := loadSuppressions(o.Suppress)
	if err != nil {
		return err
	}
	// A first pass checks the structure, as send does, and counts the rows
	// so the duplicate set is sized once instead of growing by doubling.
	info, err := ScanList(o.List, o.EmailColumn, o.NameColumn)
	if err != nil {
		return err
	}
	lr, err := openList(o.List, o.EmailColumn, o.NameColumn, nil)
	if err != nil {
		return err
	}
	defer lr.close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var mu sync.Mutex // one fn at a time
	deliver := func(v *Verdict) {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if err := fn(v); err != nil {
			cancel(err)
		}
	}
	jobs := make(chan *Verdict, 2*o.Concurrency)
	var wg sync.WaitGroup
	for i := 0; i < o.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for v := range jobs {
				if v.Status == "" {
					renderVerdict(o.Template, &buf, v)
					if work != nil && v.Message != nil {
						work(v)
					}
				}
				deliver(v)
			}
		}()
	}
	p := newPlanner(supp, nil, info.Rows)
	p.domain = o.DomainVerdict
	var readErr error
	for ctx.Err() == nil {
		r, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		v, _ := p.classify(lr, r)
		select { // rejected rows too, to keep the list order with one worker
		case jobs <- v:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	if readErr != nil {
		return readErr
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, ErrStop) {
		return err
	}
	return nil
}

// clip shortens an invalid address cell for the results: a cell can be
// as long as MaxRowBytes.
func clip(s string) string {
	const n = 256
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
