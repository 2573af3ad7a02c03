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
	"sync"

	"github.com/mailer-dev/mailer/internal/appendonly"
	"github.com/mailer-dev/mailer/internal/safetext"
)

// Writer appends entries to one suppression file. Several processes (send,
// the bounce reader, the unsubscribe server) may append to the same file at
// once: each Append takes an exclusive flock on the file for the time of
// one write, so lines never interleave, and returns only once the line is
// fsynced. A Writer is safe for concurrent use.
type Writer struct {
	// mu keeps this process's goroutines apart: flock belongs to the open
	// file, which they share, so it does not.
	mu   sync.Mutex
	path string
	f    *os.File
	// cols are the file's columns, read from its header on the first
	// Append (Columns for a new file): an older file keeps its own; at
	// is columnIndex(cols).
	cols []string
	at   map[string]int
}

// OpenWriter opens (creating if need be) the suppression file at path for
// appending. The header row is written by the first Append into an empty
// file, under the lock, so two processes creating the file at once write
// it once.
func OpenWriter(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &Writer{path: path, f: f}, nil
}

// Path is the file the writer appends to.
func (w *Writer) Path() string { return w.path }

// Append writes e as one line and fsyncs the file. A last line without its
// newline is ended first if it is a whole record, else (a torn line left by
// a process that died while appending) cut, so the new line starts on a
// line of its own.
func (w *Writer) Append(e Entry) (err error) { return w.AppendAll([]Entry{e}) }

// AppendAll writes es in one write under one lock, with one fsync, and
// returns once they are on disk (or with the error, when none of them may
// be counted on). No entries writes nothing.
func (w *Writer) AppendAll(es []Entry) (err error) {
	if len(es) == 0 {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := appendonly.Lock(w.f); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer func() {
		if uerr := appendonly.Unlock(w.f); uerr != nil && err == nil {
			err = fmt.Errorf("unlock: %w", uerr)
		}
	}()
	end, size, whole, err := lastLine(w.f)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	switch {
	case whole:
		// A last line a person wrote without its newline: ended, not cut.
		buf.WriteByte('\n')
		end = size
	case size != end:
		if err := w.f.Truncate(end); err != nil {
			return fmt.Errorf("cut torn line: %w", err)
		}
	}
	cw := csv.NewWriter(&buf)
	if end == 0 {
		w.cols, w.at = Columns, columnIndex(Columns)
		cw.Write(Columns)
	} else if w.cols == nil {
		if w.cols, err = readHeader(w.f); err != nil {
			return err
		}
		w.at = columnIndex(w.cols)
	}
	for _, e := range es {
		cw.Write(w.row(e))
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	// One write of the whole lines: O_APPEND puts it at the end, and the
	// lock keeps other writers of this package out meanwhile.
	if _, err := writeFile(w.f, buf.Bytes()); err != nil {
		// A write cut short (a full disk) leaves part of a line, which
		// may read as a whole record with a broken time: take it back.
		if terr := w.f.Truncate(end); terr != nil {
			return errors.Join(err, fmt.Errorf("cut short write: %w", terr))
		}
		return err
	}
	return syncFile(w.f)
}

// syncFile is (*os.File).Sync, writeFile (*os.File).Write; tests count
// and fail them.
var (
	syncFile  = (*os.File).Sync
	writeFile = (*os.File).Write
)

// row is e in the file's columns. Each value is one line of safe text
// (control characters escaped) that a spreadsheet will not run.
func (w *Writer) row(e Entry) []string {
	row := make([]string, len(w.cols))
	set := func(col, v string) {
		if i, ok := w.at[col]; ok {
			row[i] = safetext.Cell(safetext.String(v))
		}
	}
	set("email", e.Email)
	set("code", e.Code)
	set("diagnostic", e.Diagnostic)
	if !e.Time.IsZero() {
		set("time", e.Time.UTC().Format(TimeLayout))
	}
	set("reason", string(e.Reason))
	set("source", e.Source)
	return row
}

// readHeader reads the header row of f.
func readHeader(f *os.File) ([]string, error) {
	br := bufio.NewReader(io.NewSectionReader(f, 0, 1<<20))
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	h, err := csv.NewReader(br).Read()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if _, ok := columnIndex(h)["email"]; !ok {
		return nil, fmt.Errorf("header %q has no email column", strings.Join(h, ","))
	}
	return h, nil
}

// Close closes the file. Every Append already fsynced its line.
func (w *Writer) Close() error { return w.f.Close() }

// flock is syscall.Flock, retried when a signal interrupts the wait.
