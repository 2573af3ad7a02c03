package campaign

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/gocarina/gocsv"
)

// Status is a recipient's outcome in the results CSV.
type Status string

// The statuses. delivered, bounced, deferred and unknown come from the
// relay (see sender); the rest are decided before sending.
const (
	Delivered  Status = "delivered"
	Bounced    Status = "bounced"
	Deferred   Status = "deferred"
	Unknown    Status = "unknown"
	Invalid    Status = "invalid"
	Suppressed Status = "suppressed"
	DryRun     Status = "dry-run"
)

// Statuses lists every status in the order summaries show them.
var Statuses = []Status{Delivered, Bounced, Deferred, Unknown, Invalid, Suppressed, DryRun}

// Final reports whether a recipient with this status is done: a re-run
// skips it. deferred is not final (try again); unknown is final unless the
// user asks to resend it; dry-run rows never count.
func (s Status) Final() bool {
	switch s {
	case Delivered, Bounced, Unknown, Invalid, Suppressed:
		return true
	}
	return false
}

// Record is one row of the results CSV.
type Record struct {
	Email        string `csv:"email"`
	Status       Status `csv:"status"`
	Code         Count  `csv:"code"`
	EnhancedCode string `csv:"enhanced_code"`
	Message      string `csv:"message"`
	Relay        string `csv:"relay"`
	Attempts     Count  `csv:"attempts"`
	MessageID    string `csv:"message_id"`
	Time         string `csv:"time"`
	Line         int    `csv:"line"`
}

// Count is a number in the results CSV that is left empty when zero (no
// SMTP code, no attempt), so a spreadsheet shows blanks rather than zeros.
type Count int

// MarshalCSV implements gocsv.TypeMarshaller.
func (c Count) MarshalCSV() (string, error) {
	if c == 0 {
		return "", nil
	}
	return strconv.Itoa(int(c)), nil
}

// UnmarshalCSV implements gocsv.TypeUnmarshaller.
func (c *Count) UnmarshalCSV(s string) error {
	if s == "" {
		*c = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	*c = Count(n)
	return err
}

// resultsWriter appends records to the results CSV, flushing each to the
// operating system as soon as it is written, so that a crash of mailer loses
// nothing already known.
type resultsWriter struct {
	path string
	f    *os.File
	bw   *bufio.Writer
	cw   *gocsv.SafeCSVWriter
	one  []*Record
}

// createResults opens path for appending, writing the header row when the
// file is new or empty.
func createResults(path string, truncate bool) (*resultsWriter, error) {
	flag := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if truncate {
		flag = os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return nil, &WriteError{Path: path, Err: err}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, &WriteError{Path: path, Err: err}
	}
	bw := bufio.NewWriterSize(f, 16<<10)
	w := &resultsWriter{path: path, f: f, bw: bw, cw: gocsv.NewSafeCSVWriter(csv.NewWriter(bw)), one: make([]*Record, 1)}
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

// WriteError is a results file that cannot be written: the run stops before
// sending anything it could not record.
type WriteError struct {
	Path string
	Err  error
}

func (e *WriteError) Error() string { return fmt.Sprintf("results %s: %v", e.Path, e.Err) }
func (e *WriteError) Unwrap() error { return e.Err }

func (w *resultsWriter) write(r *Record) error {
	r.Email = neutralise(r.Email)
	r.Message = neutralise(r.Message)
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
	return nil
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

// neutralise stops a spreadsheet from reading a cell as a formula (OWASP
// "CSV injection"): text from relays and lists must stay text.
func neutralise(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// unneutralise reverses neutralise when reading a results file back.
func unneutralise(s string) string {
	if len(s) > 1 && s[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(s[1])) {
		return s[1:]
	}
	return s
}

// readResults calls fn for every record of an existing results file, in
// order. A missing file is no error.
func readResults(path string, fn func(*Record) error) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("results %s: %w", path, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		return nil
	}
	var fnErr error
	err = gocsv.UnmarshalToCallbackWithError(f, func(r *Record) error {
		r.Email = unneutralise(r.Email)
		r.Message = unneutralise(r.Message)
		fnErr = fn(r)
		return fnErr
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return &DataError{File: path, Msg: "cannot read the results file back: " + err.Error()}
	}
	return nil
}

// timeLayout is RFC 3339 with milliseconds: what rate checks need to see a
// one-second window, and still what any RFC 3339 parser reads.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"
