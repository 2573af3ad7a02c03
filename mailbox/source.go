// Package mailbox reads raw messages from where bounces and complaints
// land: a Maildir, an mbox file, a directory of .eml files, one .eml file,
// standard input, or an IMAP mailbox, and marks each processed message so
// a later run does not read it again where the store allows that.
//
// It knows nothing of what the messages say (package feedback does) and
// depends on no other package of mailer. go-maildir and go-mbox cannot be
// had from the module proxy here, so Maildir and mbox are small code of
// their own; IMAP is github.com/emersion/go-imap/v2.
package mailbox

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Message is one raw message of a Source.
type Message struct {
	// ID names the message in its source, for messages to people: a file
	// path, "PATH:BYTE-OFFSET" in an mbox, "imap UID N" for IMAP.
	ID string
	// Raw is the message as stored (for mbox, with the "From " line removed
	// and ">From " unescaped).
	Raw []byte

	ref any // the source's own handle
}

// Source yields messages one at a time. Next returns io.EOF after the last
// one. Mark records that a message was processed (see each source for what
// that means); sources that cannot record it (mbox, .eml files, stdin)
// return nil, and the caller's report keys keep a re-run from counting a
// message twice. A Source is not safe for concurrent use.
type Source interface {
	Next(ctx context.Context) (*Message, error)
	Mark(ctx context.Context, m *Message) error
	Close() error
}

// Options tune Open.
type Options struct {
	// Stdin is read for the source "-"; nil means os.Stdin.
	Stdin io.Reader
	// MaxSize caps one message; 0 means DefaultMaxSize. A larger one is an
	// error naming it.
	MaxSize int64

	// IMAP: the password (never taken from the URL), an optional TLS
	// configuration (nil: the system roots, ServerName from the URL), the
	// folder to move processed messages to instead of flagging them
	// \Seen, and whether to delete them (\Deleted and EXPUNGE) instead.
	IMAPPassword string
	TLSConfig    *tls.Config
	MoveTo       string
	Delete       bool
}

// DefaultMaxSize is the largest message a Source returns when
// Options.MaxSize is 0.
const DefaultMaxSize = 32 << 20

// TooLargeError reports a message over Options.MaxSize.
type TooLargeError struct {
	ID    string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s: message larger than %d bytes", e.ID, e.Limit)
}

// Open opens spec as a Source: "-" (one message on stdin),
// "imaps://user@host[:port]/MAILBOX", a directory with cur/ and new/
// (Maildir), another directory (its *.eml files), a file starting with
// "From " (mbox), or any other file (one message).
func Open(ctx context.Context, spec string, opts Options) (Source, error) {
	if opts.MaxSize <= 0 {
		opts.MaxSize = DefaultMaxSize
	}
	switch {
	case spec == "-":
		in := opts.Stdin
		if in == nil {
			in = os.Stdin
		}
		return &single{id: "stdin", r: in, max: opts.MaxSize}, nil
	case strings.HasPrefix(strings.ToLower(spec), "imaps://"), strings.HasPrefix(strings.ToLower(spec), "imap://"):
		u, err := url.Parse(spec)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", redact(spec), err)
		}
		return OpenIMAP(ctx, u, opts)
	}
	fi, err := os.Stat(spec)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		if isDir(filepath.Join(spec, "new")) && isDir(filepath.Join(spec, "cur")) {
			return OpenMaildir(spec, opts.MaxSize)
		}
		return OpenDir(spec, opts.MaxSize)
	}
	f, err := os.Open(spec)
	if err != nil {
		return nil, err
	}
	head := make([]byte, 5)
	n, _ := io.ReadFull(f, head)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	if string(head[:n]) == "From " {
		return newMbox(spec, f, opts.MaxSize), nil
	}
	return &single{id: spec, r: f, c: f, max: opts.MaxSize}, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// redact drops a password someone put in a URL anyway.
func redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		u.User = url.User(u.User.Username())
		return u.String()
	}
	return s
}

func readAll(id string, r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	if int64(len(b)) > max {
		return nil, &TooLargeError{ID: id, Limit: max}
	}
	return b, nil
}

// single is one message: a .eml file or stdin. Mark does nothing.
type single struct {
	id   string
	r    io.Reader
	c    io.Closer
	max  int64
	done bool
}

func (s *single) Next(ctx context.Context) (*Message, error) {
	if s.done {
		return nil, io.EOF
	}
	s.done = true
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := readAll(s.id, s.r, s.max)
	if err != nil {
		return nil, err
	}
	return &Message{ID: s.id, Raw: b}, nil
}

func (s *single) Mark(context.Context, *Message) error { return nil }

func (s *single) Close() error {
	if s.c != nil {
		return s.c.Close()
	}
	return nil
}

// Dir reads the *.eml files of a directory in name order. Mark does
// nothing: the files are the user's.
type Dir struct {
	files []string
	max   int64
}

// OpenDir lists dir's *.eml files.
func OpenDir(dir string, max int64) (*Dir, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		return nil, err
	}
	if max <= 0 {
		max = DefaultMaxSize
	}
	return &Dir{files: files, max: max}, nil
}

func (d *Dir) Next(ctx context.Context) (*Message, error) {
	if len(d.files) == 0 {
		return nil, io.EOF
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := d.files[0]
	d.files = d.files[1:]
	b, err := readFile(p, d.max)
	if err != nil {
		return nil, err
	}
	return &Message{ID: p, Raw: b}, nil
}

func (d *Dir) Mark(context.Context, *Message) error { return nil }
func (d *Dir) Close() error                         { return nil }

func readFile(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(p, bufio.NewReader(f), max)
}

var errClosed = errors.New("mailbox: source closed")
