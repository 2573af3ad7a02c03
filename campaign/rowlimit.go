package campaign

import (
	"fmt"
	"io"
)

// The caps on one row of a list. A field or a row over them makes the row
// invalid; the rest of the list goes on. A row over MaxRowBytes is never
// held whole: it is cut there and the rest of it is skipped.
const (
	MaxFieldBytes = 64 << 10 // one cell
	MaxRowBytes   = 1 << 20  // one row (record), all its cells and separators
)

// rowLimiter sits between the list file and encoding/csv, which would
// otherwise buffer a record of any length. It follows the CSV quoting
// (RFC 4180, as encoding/csv reads it without LazyQuotes) to know where
// each record ends; a record longer than max is cut: csv sees its first max
// bytes, a closing quote if one is open and a line end, then only the line
// ends of what is skipped, so line numbers stay right. The start line of
// each cut record is queued for the reader to mark the row.
type rowLimiter struct {
	r     io.Reader
	max   int
	in    []byte
	out   []byte
	err   error
	state int
	line  int // line of the next byte
	start int // line the current record starts on
	n     int // bytes of the current record so far
	drop  bool
	cuts  []int // start lines of cut records, in order
}

const (
	csvBetween  = iota // between records
	csvBetweenR        // a CR between records
	csvField           // at the start of a field
	csvUnquoted        // in an unquoted field
	csvQuoted          // in a quoted field
	csvQuote           // a quote inside a quoted field: closing, or the first of ""
)

func newRowLimiter(r io.Reader, max int) *rowLimiter {
	return &rowLimiter{r: r, max: max, in: make([]byte, 64<<10), line: 1}
}

func (l *rowLimiter) Read(p []byte) (int, error) {
	for len(l.out) == 0 {
		if l.err != nil {
			return 0, l.err
		}
		n, err := l.r.Read(l.in)
		l.err = err
		l.out = l.process(l.in[:n], l.out[:0])
	}
	n := copy(p, l.out)
	l.out = l.out[n:]
	return n, nil
}

// process appends to out what csv is to see of b.
func (l *rowLimiter) process(b, out []byte) []byte {
	seg := 0 // start of the run of b kept as it is
	for i, c := range b {
		prev := l.state
		ended := l.step(c)
		if c == '\n' {
			l.line++
		}
		if l.drop {
			if c == '\n' && !ended {
				out = append(out, '\n') // keeps the line count
			}
			if ended {
				l.drop = false
			}
			seg = i + 1
			continue
		}
		if ended || l.state == csvBetween || l.state == csvBetweenR {
			continue
		}
		if l.n++; l.n > l.max {
			out = append(out, b[seg:i]...)
			if prev == csvQuoted {
				out = append(out, '"') // close the field csv has begun
			}
			out = append(out, '\n')
			if c == '\n' {
				out = append(out, '\n')
			}
			l.cuts = append(l.cuts, l.start)
			l.drop = true
			seg = i + 1
		}
	}
	return append(out, b[seg:]...)
}

// step moves the CSV state by one byte and reports whether it ended a record.
func (l *rowLimiter) step(c byte) bool {
	switch l.state {
	case csvBetween, csvBetweenR:
		if c == '\n' {
			l.state = csvBetween
			return false
		}
		if c == '\r' && l.state == csvBetween {
			l.state = csvBetweenR
			return false
		}
		l.start, l.n = l.line, 0
		l.state = csvField
		if c == '\r' {
			l.state = csvUnquoted
			return false
		}
		return l.step(c)
	case csvField:
		switch c {
		case '"':
			l.state = csvQuoted
		case ',':
		case '\n':
			l.state = csvBetween
			return true
		default:
			l.state = csvUnquoted
		}
	case csvUnquoted:
		switch c {
		case ',':
			l.state = csvField
		case '\n':
			l.state = csvBetween
			return true
		}
	case csvQuoted:
		if c == '"' {
			l.state = csvQuote
		}
	case csvQuote:
		switch c {
		case '"':
			l.state = csvQuoted
		case ',':
			l.state = csvField
		case '\n':
			l.state = csvBetween
			return true
		default:
			l.state = csvUnquoted // csv reports the stray quote
		}
	}
	return false
}

// wasCut reports whether the record starting on line was cut.
func (l *rowLimiter) wasCut(line int) bool {
	for len(l.cuts) > 0 && l.cuts[0] < line {
		l.cuts = l.cuts[1:]
	}
	if len(l.cuts) > 0 && l.cuts[0] == line {
		l.cuts = l.cuts[1:]
		return true
	}
	return false
}

// sizeProblem says why a row is over the caps, or "".
func sizeProblem(columns []string, r row) string {
	if r.cut {
		return fmt.Sprintf("the row is longer than %s, the limit for one row of the list", sizeText(MaxRowBytes))
	}
	for i, v := range r.fields {
		if len(v) > MaxFieldBytes {
			name := ""
			if i < len(columns) {
				name = columns[i]
			}
			return fmt.Sprintf("column %q holds %d bytes, over %s, the limit for one field", name, len(v), sizeText(MaxFieldBytes))
		}
	}
	return ""
}

func sizeText(n int) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
