package mailbox

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
)

// Mbox streams the messages of an mbox file (mboxo or mboxrd: each starts
// with a "From " line at the start of a line after a blank line or at the
// start of the file; ">From ", ">>From " ... are
// unescaped by one '>', which is exact for mboxrd and right for the
// ">From " lines mboxo writes). One message is in memory at a time. Mark
// does nothing: an mbox is read-only here, since rewriting it safely would
// need the mail system's locking; the caller remembers processed messages
// by their report keys.
type Mbox struct {
	path string
	f    *os.File
	br   *bufio.Reader
	off  int64 // offset of the next line
	max  int64
}

func newMbox(path string, f *os.File, max int64) *Mbox {
	mb := &Mbox{path: path, f: f, br: bufio.NewReaderSize(f, 64<<10), max: max}
	return mb
}

// OpenMbox opens the mbox file path.
func OpenMbox(path string, max int64) (*Mbox, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if max <= 0 {
		max = DefaultMaxSize
	}
	return newMbox(path, f, max), nil
}

func (mb *Mbox) readLine() ([]byte, error) {
	line, err := mb.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		buf := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			line, err = mb.br.ReadSlice('\n')
			buf = append(buf, line...)
		}
		line = buf
	}
	mb.off += int64(len(line))
	if len(line) > 0 && err == io.EOF {
		err = nil
	}
	return line, err
}

func (mb *Mbox) Next(ctx context.Context) (*Message, error) {
	if mb.f == nil {
		return nil, errClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Find the "From " line that starts the message.
	start := mb.off
	for {
		line, err := mb.readLine()
		if err == io.EOF {
			return nil, io.EOF
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", mb.path, err)
		}
		if bytes.HasPrefix(line, []byte("From ")) {
			break
		}
		start = mb.off
	}
	id := fmt.Sprintf("%s:%d", mb.path, start)
	var buf bytes.Buffer
	// A "From " line ends the message only after a blank line (or right
	// after the separator): one inside a body that its writer did not
	// escape as ">From " stays part of it.
	blank := true
	for {
		peek, _ := mb.br.Peek(5)
		if blank && string(peek) == "From " {
			break
		}
		line, err := mb.readLine()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", mb.path, err)
		}
		blank = len(bytes.TrimRight(line, "\r\n")) == 0
		if i := quotedFrom(line); i > 0 {
			line = line[1:]
		}
		buf.Write(line)
		if int64(buf.Len()) > mb.max {
			// Skip the rest of the message so that Next can go on.
			for {
				peek, _ := mb.br.Peek(5)
				if blank && string(peek) == "From " {
					break
				}
				line, err := mb.readLine()
				if err != nil {
					break
				}
				blank = len(bytes.TrimRight(line, "\r\n")) == 0
			}
			return nil, &TooLargeError{ID: id, Limit: mb.max}
		}
	}
	b := buf.Bytes()
	// The blank line before the next "From " belongs to the mbox format.
	if bytes.HasSuffix(b, []byte("\r\n\r\n")) {
		b = b[:len(b)-2]
	} else if bytes.HasSuffix(b, []byte("\n\n")) {
		b = b[:len(b)-1]
	}
	return &Message{ID: id, Raw: b}, nil
}

// quotedFrom returns the number of '>' before "From " that starts line, 0
// if it is not a quoted From line.
func quotedFrom(line []byte) int {
	i := 0
	for i < len(line) && line[i] == '>' {
		i++
	}
	if i > 0 && bytes.HasPrefix(line[i:], []byte("From ")) {
		return i
	}
	return 0
}

func (mb *Mbox) Mark(context.Context, *Message) error { return nil }

func (mb *Mbox) Close() error {
	if mb.f == nil {
		return nil
	}
	err := mb.f.Close()
	mb.f = nil
	return err
}
