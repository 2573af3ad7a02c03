package campaign

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// DataError is bad input data: the list, a suppression file or an old
// results file. It names the file and, when it can, the line.
type DataError struct {
	File string
	Line int
	Msg  string
}

func (e *DataError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// MissingColumnError is a list whose header has no column of the name
// given for the addresses. It is a *DataError too (errors.As finds both).
type MissingColumnError struct {
	File    string
	Column  string   // the column asked for
	Columns []string // the columns the header has
}

func (e *MissingColumnError) Error() string { return e.data().Error() }

// Unwrap gives the *DataError it also is.
func (e *MissingColumnError) Unwrap() error { return e.data() }

func (e *MissingColumnError) data() *DataError {
	return &DataError{File: e.File, Line: 1, Msg: fmt.Sprintf("no %q column (columns: %s)", e.Column, strings.Join(e.Columns, ", "))}
}

// ListInfo is what a pass over the list found.
type ListInfo struct {
	Columns []string
	Rows    int
	// Fingerprint is a SHA-256 of the file's bytes, in hex.
	Fingerprint string
}

// row is one data row of the list.
type row struct {
	line   int
	fields []string
	cut    bool // longer than MaxRowBytes: fields holds what fits
}

// listReader streams a CSV list: header first, then rows with their line
// numbers. Memory does not grow with the number of rows.
type listReader struct {
	file    string
	f       *os.File
	lim     *rowLimiter
	cr      *csv.Reader
	columns []string
	emailAt int
	nameAt  int // -1 when the list has no name column
}

// openList opens path and reads its header. emailCol names the address
// column; nameCol the display-name column ("" to use "name" when present).
func openList(path, emailCol, nameCol string, sum io.Writer) (*listReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	var r io.Reader = f
	if sum != nil {
		r = io.TeeReader(f, sum)
	}
	br := bufio.NewReaderSize(r, 256<<10)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		br.Discard(3) // UTF-8 byte-order mark, as spreadsheets write
	}
	lim := newRowLimiter(br, MaxRowBytes)
	cr := csv.NewReader(lim)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1 // counted by next, which knows a cut row
	lr := &listReader{file: path, f: f, lim: lim, cr: cr, nameAt: -1}
	hdr, err := cr.Read()
	if err == io.EOF {
		f.Close()
		return nil, &DataError{File: path, Msg: "the list is empty: it needs a header row naming the columns"}
	}
	if err != nil {
		f.Close()
		return nil, lr.csvErr(err)
	}
	if lim.wasCut(1) {
		f.Close()
		return nil, &DataError{File: path, Line: 1, Msg: fmt.Sprintf("the header row is longer than %s", sizeText(MaxRowBytes))}
	}
	lr.columns = make([]string, len(hdr))
	lr.emailAt = -1
	seen := map[string]bool{}
	for i, h := range hdr {
		if !utf8.ValidString(h) {
			f.Close()
			return nil, &DataError{File: path, Line: 1, Msg: "header is not valid UTF-8"}
		}
		h = strings.TrimSpace(h)
		if seen[h] {
			f.Close()
			return nil, &DataError{File: path, Line: 1, Msg: fmt.Sprintf("column %q appears twice", h)}
		}
		seen[h] = true
		lr.columns[i] = h
		if strings.EqualFold(h, emailCol) {
			lr.emailAt = i
		}
		if nameCol != "" && strings.EqualFold(h, nameCol) || nameCol == "" && strings.EqualFold(h, "name") {
			lr.nameAt = i
		}
	}
	if lr.emailAt < 0 {
		f.Close()
		return nil, &MissingColumnError{File: path, Column: emailCol, Columns: lr.columns}
	}
	if nameCol != "" && lr.nameAt < 0 {
		f.Close()
		return nil, &DataError{File: path, Line: 1, Msg: fmt.Sprintf("no %q column for display names", nameCol)}
	}
	return lr, nil
}

// next returns the next row; io.EOF at the end. The fields slice is reused
// by the following call.
func (lr *listReader) next() (row, error) {
	rec, err := lr.cr.Read()
	if err != nil {
		if err == io.EOF {
			return row{}, err
		}
		return row{}, lr.csvErr(err)
	}
	line, _ := lr.cr.FieldPos(0)
	if lr.lim.wasCut(line) {
		// Only what fits was read; its fields may be short of the header's
		// and end inside a character. The row is invalid, the list goes on.
		return row{line: line, fields: rec, cut: true}, nil
	}
	if len(rec) != len(lr.columns) {
		return row{}, &DataError{File: lr.file, Line: line, Msg: fmt.Sprintf("wrong number of fields (the header has %d)", len(lr.columns))}
	}
	for i, v := range rec {
		if !utf8.ValidString(v) {
			return row{}, &DataError{File: lr.file, Line: line, Msg: fmt.Sprintf("column %q is not valid UTF-8 (save the list as UTF-8)", lr.columns[i])}
		}
	}
	return row{line: line, fields: rec}, nil
}

func (lr *listReader) csvErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		msg := pe.Err.Error()
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			msg = fmt.Sprintf("wrong number of fields (the header has %d)", len(lr.columns))
		}
		return &DataError{File: lr.file, Line: pe.StartLine, Msg: msg}
	}
	return fmt.Errorf("%s: %w", lr.file, err)
}

func (lr *listReader) close() error { return lr.f.Close() }

// ScanList reads the whole list once, checking its structure (header,
// address column, field counts, UTF-8) so that a bad line stops the run
// before anything is sent. It also counts rows and fingerprints the file.
func ScanList(path, emailCol, nameCol string) (*ListInfo, error) {
	h := sha256.New()
	lr, err := openList(path, emailCol, nameCol, h)
	if err != nil {
		return nil, err
	}
	defer lr.close()
	info := &ListInfo{Columns: lr.columns}
	for {
		_, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		info.Rows++
	}
	info.Fingerprint = fmt.Sprintf("%x", h.Sum(nil))
	return info, nil
}
