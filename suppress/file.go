package suppress

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mailer-dev/mailer/internal/appendonly"
	"github.com/mailer-dev/mailer/internal/safetext"
)

// Columns is the header row a new suppression file gets. The first four
// are those of the hard-bounce files mailer wrote before (email,
// enhanced_code, message, time) under their new names, in the same places,
// so readers by position keep working; reason and source follow.
var Columns = []string{"email", "code", "diagnostic", "time", "reason", "source"}

// aliases are older names of columns, still read (and written, in a file
// whose header has them).
var aliases = map[string]string{"enhanced_code": "code", "message": "diagnostic"}

// TimeLayout is the time column: RFC 3339 in UTC with milliseconds, as in
// the results CSV.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// FormatError is a suppression file that cannot be read as one.
type FormatError struct {
	File string
	Line int // 0 when it is about the whole file
	Msg  string
}

func (e *FormatError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// columnIndex maps the known column names of header to their positions.
func columnIndex(header []string) map[string]int {
	at := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if a, ok := aliases[h]; ok {
			h = a
		}
		if _, dup := at[h]; !dup {
			at[h] = i
		}
	}
	return at
}

// Read calls fn with every entry of the file at path, in order. The file is
// a CSV with a header row that has an email column (a byte-order mark is
// skipped); other columns are optional. A last line without its newline
// is read when it is a whole CSV record (people and spreadsheets write files
// without a final newline); one that is not (an open quote: an append cut
// short by a crash) is not an entry yet, and Read passes over it.
func Read(path string, fn func(Entry) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	end, size, whole, err := lastLine(f)
	if err != nil {
		return err
	}
	if whole {
		end = size
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, end), 64<<10)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return &FormatError{File: path, Msg: "empty: a suppression list needs a header row with an email column"}
	}
	if err != nil {
		return csvErr(path, err)
	}
	at := columnIndex(header)
	if _, ok := at["email"]; !ok {
		return &FormatError{File: path, Line: 1, Msg: fmt.Sprintf("no \"email\" column (columns: %s)", strings.Join(header, ", "))}
	}
	get := func(rec []string, col string) string {
		if i, ok := at[col]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return csvErr(path, err)
		}
		// Writer guards cells against spreadsheet formulas ('-x@...); an
		// address that starts like one is still that address.
		e := Entry{Email: safetext.Uncell(get(rec, "email")), Code: get(rec, "code"), Diagnostic: safetext.Uncell(get(rec, "diagnostic")),
			Reason: Reason(get(rec, "reason")), Source: get(rec, "source")}
		if t := get(rec, "time"); t != "" {
			if e.Time, err = time.Parse(time.RFC3339, t); err != nil {
				line, _ := cr.FieldPos(0)
				return &FormatError{File: path, Line: line, Msg: fmt.Sprintf("time %q is not RFC 3339", t)}
			}
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

func csvErr(path string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &FormatError{File: path, Line: pe.StartLine, Msg: pe.Err.Error()}
	}
	return fmt.Errorf("%s: %w", path, err)
}

// lastLine returns appendonly.CompleteSize, the file's size, and whether what follows
// the last newline is one whole CSV record: a line written without its
// newline rather than a torn one.
func lastLine(f *os.File) (end, size int64, whole bool, err error) {
	if end, err = appendonly.CompleteSize(f); err != nil {
		return 0, 0, false, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, 0, false, err
	}
	size = st.Size()
	if size == end || size-end > 1<<20 {
		return end, size, false, nil
	}
	tail := make([]byte, size-end)
	if _, err := f.ReadAt(tail, end); err != nil {
		return 0, 0, false, err
	}
	cr := csv.NewReader(bytes.NewReader(tail))
	cr.FieldsPerRecord = -1
	if _, err := cr.Read(); err != nil {
		return end, size, false, nil
	}
	_, err = cr.Read()
	return end, size, err == io.EOF, nil
}
