package campaign

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/gocarina/gocsv"
	"github.com/mailer-dev/mailer/internal/appendonly"
	"github.com/mailer-dev/mailer/internal/safetext"
	"github.com/mailer-dev/mailer/sender"
	"github.com/mailer-dev/mailer/suppress"
)

// Status is a recipient's outcome in the results CSV.
type Status string

// The statuses. Those a send can end in are sender's, so a result converts
// with Status(res.Status) and the two can never drift apart; suppressed and
// dry-run are decided here, before sending.
const (
	Delivered         = Status(sender.Delivered)
	Bounced           = Status(sender.Bounced)
	Deferred          = Status(sender.Deferred)
	Blocked           = Status(sender.Blocked)
	Unknown           = Status(sender.Unknown)
	Invalid           = Status(sender.Invalid)
	Suppressed Status = "suppressed"
	DryRun     Status = "dry-run"

	// Complained and Unsubscribed are late outcomes of a delivered
	// message, appended by the bounce reader (AppendLate): the recipient
	// marked it as spam, or asked to be taken off the list. Both are final.
	Complained   Status = "complained"
	Unsubscribed Status = "unsubscribed"
)

// Statuses lists every status in the order summaries show them.
var Statuses = []Status{Delivered, Bounced, Complained, Unsubscribed, Deferred, Blocked, Unknown, Invalid, Suppressed, DryRun}

// Final reports whether a recipient with this status is done: a re-run
// skips it. deferred and blocked are not final (try again; blocked once the
// sender's problem is fixed); unknown is final unless the user asks to
// resend it; dry-run rows never count.
func (s Status) Final() bool {
	switch s {
	case Delivered, Bounced, Unknown, Invalid, Suppressed, Complained, Unsubscribed:
		return true
	}
	return false
}

// timeLayout is the results CSV's time column: RFC 3339 in UTC with
// milliseconds, which per-second rate checks need; suppression files use
// the same.
const timeLayout = suppress.TimeLayout

// Record is one row of the results CSV.
type Record struct {
	Email        string   `csv:"email"`
	Status       Status   `csv:"status"`
	Code         BlankInt `csv:"code"`
	EnhancedCode string   `csv:"enhanced_code"`
	Message      string   `csv:"message"`
	Relay        string   `csv:"relay"`
	Attempts     BlankInt `csv:"attempts"`
	MessageID    string   `csv:"message_id"`
	Time         string   `csv:"time"`
	Line         int      `csv:"line"`
	// EnvelopeFrom is the MAIL FROM used: matches VERP bounces.
	EnvelopeFrom string `csv:"envelope_from"`
	// Fingerprint identifies the list and template the row was made with,
	// "list=<hex> template=<hex>", so a resumed run can tell they changed.
	Fingerprint string `csv:"fingerprint"`
	// Reason is why the row has its status, as a code that resume and
	// report act on (Message is the same for people). It is the last
	// column, so readers of the columns before it by position still work.
	Reason ReasonCode `csv:"reason"`

	// legacy is a row of a results file written before the reason column:
	// its reason must be read from its message.
	legacy bool
}

// ReasonCode is the machine-readable reason of a results row: resume and
// report decide by it, never by the message text.
type ReasonCode string

// The reason codes. A row decided by a relay's reply has none, unless it
// was resent (ReasonResentUnknown).
const (
	ReasonInvalidAddress  ReasonCode = "invalid-address"  // invalid: the address cell
	ReasonInvalidRender   ReasonCode = "invalid-render"   // invalid: the template fails for the row
	ReasonTooLarge        ReasonCode = "too-large"        // invalid: a field or the row over the caps
	ReasonInvalidEnvelope ReasonCode = "invalid-envelope" // invalid: no envelope sender can be made for it
	ReasonSuppressed      ReasonCode = "suppressed"       // suppressed: on a suppression list
	ReasonDuplicate       ReasonCode = "duplicate"        // suppressed: an earlier row has the address
	ReasonNotTried        ReasonCode = "not-tried"        // deferred: every relay was down
	ReasonInFlight        ReasonCode = "in-flight"        // unknown: mailer stopped while the relay had it
	ReasonResentUnknown   ReasonCode = "resent-unknown"   // any sent status: an earlier run recorded it unknown

	// Late outcomes, appended after the send by the bounce reader.
	ReasonLateBounce  ReasonCode = "late-bounce"       // bounced: a DSN said the address does not exist
	ReasonSoftLimit   ReasonCode = "soft-bounce-limit" // bounced: soft bounces reached the threshold
	ReasonComplaint   ReasonCode = "complaint"         // complained: a feedback report (RFC 5965)
	ReasonUnsubscribe ReasonCode = "unsubscribe"       // unsubscribed: a reply to the unsubscribe address
)

// Late reports whether the row is a late outcome (ReasonLateBounce and the
// others above), appended after the relay's verdict.
func (r *Record) Late() bool {
	switch r.Reason {
	case ReasonLateBounce, ReasonSoftLimit, ReasonComplaint, ReasonUnsubscribe:
		return !r.legacy
	}
	return false
}

// isDuplicate reports whether r records a duplicate row of the list. Rows
// of a results file from before the reason column say so only in their text.
func (r *Record) isDuplicate() bool {
	if r.legacy {
		return r.Status == Suppressed && strings.HasPrefix(r.Message, "duplicate of line ")
	}
	return r.Reason == ReasonDuplicate
}

// isResent reports whether r records a send to a recipient an earlier run
// recorded unknown (ResendUnknown).
func (r *Record) isResent() bool {
	if r.legacy {
		return strings.HasPrefix(r.Message, ResentUnknown)
	}
	return r.Reason == ReasonResentUnknown
}

// BlankInt is a number in the results CSV that is left empty when zero (no
// SMTP code, no attempt), so a spreadsheet shows blanks rather than zeros.
type BlankInt int

// MarshalCSV implements gocsv.TypeMarshaller.
func (c BlankInt) MarshalCSV() (string, error) {
	if c == 0 {
		return "", nil
	}
	return strconv.Itoa(int(c)), nil
}

// UnmarshalCSV implements gocsv.TypeUnmarshaller.
func (c *BlankInt) UnmarshalCSV(s string) error {
	if s == "" {
		*c = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	*c = BlankInt(n)
	return err
}

// resultsWriter appends records to the results CSV, flushing each to the
// operating system as soon as it is written, so that a crash of mailer loses
// nothing already known.
type resultsWriter struct {
	path  string
	f     resultsFile
	bw    *bufio.Writer
	cw    gocsv.CSVWriter
	one   []*Record
	dirty atomic.Bool // written since the last sync
}

// resultsFile is the part of *os.File the writer uses; tests substitute a
// file that fails like a full disk.
type resultsFile interface {
	io.Writer
	Sync() error
	Close() error
	Stat() (os.FileInfo, error)
}

// openResultsFile opens the results file; a variable so tests can make
// writes fail.
var openResultsFile = func(path string, flag int, perm os.FileMode) (resultsFile, error) {
	return os.OpenFile(path, flag, perm)
}

// createResults opens path for appending, writing the header row when the
// file is new or empty.
func createResults(path string, truncate bool) (*resultsWriter, error) {
	flag := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if truncate {
		flag = os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	}
	f, err := openResultsFile(path, flag, 0o644)
	if err != nil {
		return nil, &WriteError{Path: path, Err: err}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, &WriteError{Path: path, Err: err}
	}
	legacy := false
	if st.Size() > 0 && !truncate {
		if legacy, err = checkHeader(path); err != nil {
			f.Close()
			return nil, err
		}
	}
	bw := bufio.NewWriterSize(f, 16<<10)
	var cw gocsv.CSVWriter = gocsv.NewSafeCSVWriter(csv.NewWriter(bw))
	if legacy {
		cw = withoutReason{cw}
	}
	w := &resultsWriter{path: path, f: f, bw: bw, cw: cw, one: make([]*Record, 1)}
	if st.Size() == 0 {
		if err := gocsv.MarshalCSV([]*Record{}, w.cw); err != nil {
			f.Close()
			return nil, &WriteError{Path: path, Err: err}
		}
		if err := w.flush(); err != nil {
			f.Close()
			return nil, err
		}
	}
	return w, nil
}

// resultsHeader is the header row this version writes.
func resultsHeader() string {
	var b strings.Builder
	cw := gocsv.NewSafeCSVWriter(csv.NewWriter(&b))
	gocsv.MarshalCSV([]*Record{}, cw)
	cw.Flush()
	return b.String()
}

// legacyHeader is the header of results files written before the reason
// column: resuming one appends rows without it, so they line up.
func legacyHeader() string {
	return strings.TrimSuffix(resultsHeader(), ",reason\n") + "\n"
}

// withoutReason writes rows without their last column, reason, for a
// results file with the legacy header.
type withoutReason struct{ gocsv.CSVWriter }

func (w withoutReason) Write(row []string) error { return w.CSVWriter.Write(row[:len(row)-1]) }

// checkHeader refuses to append to a results file whose columns differ
// (another tool's CSV, or one from a mailer that wrote other columns):
// appended rows would not line up with its header. legacy is a file from
// before the reason column, which is resumed in its own columns.
func checkHeader(path string) (legacy bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, &WriteError{Path: path, Err: err}
	}
	defer f.Close()
	got, _ := bufio.NewReader(f).ReadString('\n')
	if got == legacyHeader() {
		return true, nil
	}
	if want := resultsHeader(); got != want {
		return false, &ResultsFileError{DataError{File: path, Line: 1, Msg: fmt.Sprintf("columns %q differ from the %q mailer writes: is this a results file of this version?",
			strings.TrimSpace(got), strings.TrimSpace(want))}}
	}
	return false, nil
}

// ResultsFileError is a results file this run must not append to: one
// that records a real send given to a dry run, or one whose columns are not
// the ones mailer writes. Another results file will do. It is a *DataError
// too (errors.As finds both).
type ResultsFileError struct{ DataError }

// Unwrap gives the *DataError it also is.
func (e *ResultsFileError) Unwrap() error { return &e.DataError }

// WriteError is a results file that cannot be written: the run stops before
// sending anything it could not record.
type WriteError struct {
	Path string
	Err  error
}

func (e *WriteError) Error() string { return fmt.Sprintf("results %s: %v", e.Path, e.Err) }
func (e *WriteError) Unwrap() error { return e.Err }

func (w *resultsWriter) write(r *Record) error {
	r.Email = safetext.Cell(safetext.String(r.Email))
	r.Message = safetext.Cell(safetext.String(r.Message))
	r.EnhancedCode = safetext.String(r.EnhancedCode)
	r.Relay = safetext.String(r.Relay)
	r.EnvelopeFrom = safetext.String(r.EnvelopeFrom)
	w.one[0] = r
	if err := gocsv.MarshalCSVWithoutHeaders(w.one, w.cw); err != nil {
		return &WriteError{Path: w.path, Err: err}
	}
	return w.flush()
}

func (w *resultsWriter) flush() error {
	w.cw.Flush()
	if err := w.cw.Error(); err != nil {
		return &WriteError{Path: w.path, Err: err}
	}
	if err := w.bw.Flush(); err != nil {
		return &WriteError{Path: w.path, Err: err}
	}
	w.dirty.Store(true)
	return nil
}

// sync makes what was written durable; the run calls it every syncEvery
// (group commit), so an operating-system crash loses at most that window.
func (w *resultsWriter) sync() error {
	if !w.dirty.Swap(false) {
		return nil
	}
	if err := w.f.Sync(); err != nil {
		return &WriteError{Path: w.path, Err: err}
	}
	return nil
}

// size is the file's length with everything written so far.
func (w *resultsWriter) size() (int64, error) {
	st, err := w.f.Stat()
	if err != nil {
		return 0, &WriteError{Path: w.path, Err: err}
	}
	return st.Size(), nil
}

func (w *resultsWriter) close() error {
	ferr := w.flush()
	serr := w.f.Sync()
	cerr := w.f.Close()
	if err := errors.Join(ferr, serr, cerr); err != nil {
		return &WriteError{Path: w.path, Err: err}
	}
	return nil
}

// readResults calls fn for every record of an existing results file, in
// order. A missing file is no error.
func readResults(path string, fn func(*Record) error) error {
	return scanResults(path, -1, func(r *Record, _ bool) error { return fn(r) })
}

// scanResults is readResults that also tells fn whether each record lies
// at or after byte offset base (the start of a run, from the journal).
func scanResults(path string, base int64, fn func(r *Record, afterBase bool) error) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("results %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("results %s: %w", path, err)
	}
	size := st.Size()
	if size == 0 {
		return nil
	}
	if base < 0 || base > size {
		base = size
	}
	header, err := bufio.NewReader(io.NewSectionReader(f, 0, size)).ReadString('\n')
	if err != nil {
		return &DataError{File: path, Line: 1, Msg: "no header row; is this a mailer results file?"}
	}
	legacy := !hasColumn(header, "reason")
	if base < int64(len(header)) {
		base = int64(len(header))
	}
	parts := []struct {
		r     io.Reader
		after bool
	}{
		{io.NewSectionReader(f, 0, base), false},
		{io.MultiReader(strings.NewReader(header), io.NewSectionReader(f, base, size-base)), true},
	}
	for _, p := range parts {
		var fnErr error
		err := gocsv.UnmarshalToCallbackWithError(p.r, func(r *Record) error {
			r.legacy = legacy
			r.Email = safetext.Uncell(r.Email)
			r.Message = safetext.Uncell(r.Message)
			fnErr = fn(r, p.after)
			return fnErr
		})
		if fnErr != nil {
			return fnErr
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return &DataError{File: path, Msg: "cannot read the results file back: " + err.Error()}
		}
	}
	return nil
}

// hasColumn reports whether the CSV header line names column.
func hasColumn(header, column string) bool {
	cols, err := csv.NewReader(strings.NewReader(header)).Read()
	return err == nil && slices.Contains(cols, column)
}

// repairTornLine cuts a last line that a crash left half-written (no
// final newline) and returns how many bytes it dropped. The recipient of
// that line is still in the journal, so it is not lost.
func repairTornLine(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, &WriteError{Path: path, Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return 0, err
	}
	keep, err := appendonly.CompleteSize(f)
	if err != nil {
		return 0, &WriteError{Path: path, Err: err}
	}
	if keep == st.Size() {
		return 0, nil
	}
	if err := f.Truncate(keep); err != nil {
		return 0, &WriteError{Path: path, Err: err}
	}
	return st.Size() - keep, f.Sync()
}
