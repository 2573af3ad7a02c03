package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message"
)

// DefaultMaxAttachmentBytes caps the attachments of one message when
// Options.MaxAttachmentBytes is zero: most receivers refuse messages over
// 20-25 MB, and base64 adds a third.
const DefaultMaxAttachmentBytes = 10 << 20

// attachHeader is the template's pseudo-header that names attachments. It is
// never written into a message.
const attachHeader = "Attach"

// attachment is one file to attach, read and typed.
type attachment struct {
	name        string // file name as the recipient sees it
	contentType string
	data        []byte
}

// AttachError is an attachment that cannot be used: a path that leaves the
// template's directory, a missing file, too much data.
type AttachError struct {
	Path string
	Err  error
}

func (e *AttachError) Error() string { return fmt.Sprintf("attachment %q: %v", e.Path, e.Err) }
func (e *AttachError) Unwrap() error { return e.Err }

// ErrEscapes is a path that leads out of the template's directory tree.
var ErrEscapes = errors.New("leads out of the template's directory")

// splitAttach splits an Attach value or a list cell into paths.
func splitAttach(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// fsPath turns a path as a person writes it (relative to the template's
// directory, slashes or the OS separator) into an io/fs path, refusing any
// that could leave the tree. The file system should refuse escapes too (an
// os.Root refuses symlinks that leave it); this catches the obvious ones
// with a clear message.
func fsPath(p string) (string, error) {
	s := filepath.ToSlash(p)
	if path.IsAbs(s) || filepath.IsAbs(p) || filepath.VolumeName(p) != "" {
		return "", ErrEscapes
	}
	s = path.Clean(s)
	if s == ".." || strings.HasPrefix(s, "../") || !fs.ValidPath(s) {
		return "", ErrEscapes
	}
	return s, nil
}

// readAttachment reads p from fsys, refusing to take the message's
// attachments past limit bytes when used bytes are already taken.
func readAttachment(fsys fs.FS, p string, used, limit int64) (*attachment, error) {
	s, err := fsPath(p)
	if err != nil {
		return nil, &AttachError{p, err}
	}
	// Only regular files: a FIFO would block the read (its open, too,
	// unless the file system opens without blocking), a device may never
	// end, a directory has no content.
	if st, err := fs.Stat(fsys, s); err == nil && !st.Mode().IsRegular() {
		return nil, &AttachError{p, notRegular(st.Mode())}
	}
	f, err := fsys.Open(s)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "escapes") {
			err = ErrEscapes // os.Root: "path escapes from parent"
		} else if errors.Is(err, fs.ErrNotExist) {
			err = errors.New("no such file in the template's directory")
		}
		return nil, &AttachError{p, err}
	}
	defer f.Close()
	st, err := f.Stat() // the file opened: it may have been swapped since
	if err != nil {
		return nil, &AttachError{p, err}
	}
	if !st.Mode().IsRegular() {
		return nil, &AttachError{p, notRegular(st.Mode())}
	}
	data, err := io.ReadAll(io.LimitReader(f, limit-used+1))
	if err != nil {
		return nil, &AttachError{p, err}
	}
	if used+int64(len(data)) > limit {
		what := "larger than"
		if used > 0 {
			what = "with the other attachments, over"
		}
		return nil, &AttachError{p, fmt.Errorf("%s the %s limit for one message's attachments", what, sizeString(limit))}
	}
	return &attachment{name: path.Base(s), contentType: contentType(s, data), data: data}, nil
}

// notRegular says what a file that is not a regular file is.
func notRegular(m fs.FileMode) error {
	what := "not a regular file"
	switch {
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case m&fs.ModeDevice != 0, m&fs.ModeCharDevice != 0:
		what = "a device"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	}
	return fmt.Errorf("is %s, not a regular file", what)
}

// contentType is the type by the file's extension, else sniffed from its
// first bytes (the WHATWG algorithm of http.DetectContentType). Parameters
// other than a UTF-8 charset are dropped: they describe nothing we know.
func contentType(name string, data []byte) string {
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = http.DetectContentType(data)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "application/octet-stream"
	}
	if cs := strings.ToLower(params["charset"]); strings.HasPrefix(mt, "text/") && cs == "utf-8" && utf8.Valid(data) {
		return mt + "; charset=utf-8"
	}
	return mt
}

func sizeString(n int64) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0 && n%(1<<20) != 0:
		return fmt.Sprintf("%d MB", n/1_000_000)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// attachments reads what one row attaches: the template's static files
// (read once at Parse), then the rendered Attach header and the row's
// attach column. data gives the row as the templates see it; it is only
// called when a row-dependent Attach line or the column needs it.
func (t *Template) attachments(data func() map[string]string, capped func(io.Writer) io.Writer) ([]*attachment, error) {
	// Full slice expression: an append below copies, never writing into
	// the template's own array, which other goroutines read.
	list := t.staticAttach[:len(t.staticAttach):len(t.staticAttach)]
	var paths []string
	for _, tm := range t.attachTmpls {
		var sb strings.Builder
		if err := tm.Execute(capped(&sb), data()); err != nil {
			return nil, &RowError{attachHeader, execErr(err)}
		}
		paths = append(paths, splitAttach(sb.String())...)
	}
	if c := t.opts.AttachColumn; c != "" {
		paths = append(paths, splitAttach(data()[c])...)
	}
	if len(paths) == 0 {
		return list, nil
	}
	total := t.staticBytes
	for _, p := range paths {
		a, err := readAttachment(t.opts.Files, p, total, t.opts.MaxAttachmentBytes)
		if err != nil {
			return nil, &RowError{attachHeader, err}
		}
		total += int64(len(a.data))
		list = append(list, a)
	}
	return list, nil
}

// parseAttach prepares the Attach lines: static ones are read and checked
// now (a bad one makes the template unusable), the others per row.
func (t *Template) parseAttach(lines []header, vals []string) error {
	if (len(lines) > 0 || t.opts.AttachColumn != "") && t.opts.Files == nil {
		return &ParseError{File: t.name, Msg: "attachments need a directory to read them from (render.Options.Files)"}
	}
	for i, h := range lines {
		if !strings.Contains(vals[i], "{{") {
			for _, p := range splitAttach(vals[i]) {
				a, err := readAttachment(t.opts.Files, p, t.staticBytes, t.opts.MaxAttachmentBytes)
				if err != nil {
					return &ParseError{t.name, h.line, err.Error()}
				}
				t.staticBytes += int64(len(a.data))
				t.staticAttach = append(t.staticAttach, a)
			}
			continue
		}
		t.attachTmpls = append(t.attachTmpls, h.tmpl)
	}
	return nil
}

// writeAttachment writes one attachment part: base64, with the file name in
// Content-Disposition (RFC 2183; RFC 2231 encoding for non-ASCII names,
// which mime.FormatMediaType applies).
func writeAttachment(w *message.Writer, a *attachment) error {
	var h message.Header
	h.AddRaw([]byte("Content-Transfer-Encoding: base64\r\n"))
	h.AddRaw([]byte("Content-Disposition: " + mime.FormatMediaType("attachment", map[string]string{"filename": a.name}) + "\r\n"))
	h.AddRaw([]byte("Content-Type: " + a.contentType + "\r\n"))
	pw, err := w.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(pw, bytes.NewReader(a.data)); err != nil {
		return err
	}
	return pw.Close()
}
