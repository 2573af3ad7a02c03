// Package tail finds where the last whole line of an append-only file
// ends, so that a line a crash left half-written can be cut or skipped.
// campaign (results files) and suppress (suppression files) share it; it
// must not import anything of mailer.
package tail

import (
	"bytes"
	"os"
)

// CompleteSize is the length of f up to and including its last newline:
// what follows it is a line written without its newline, or a torn one.
func CompleteSize(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	end := st.Size()
	if end == 0 {
		return 0, nil
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], end-1); err != nil {
		return 0, err
	}
	if last[0] == '\n' {
		return end, nil
	}
	const chunk = 64 << 10
	for end > 0 {
		start := max(end-chunk, 0)
		buf := make([]byte, end-start)
		if _, err := f.ReadAt(buf, start); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}
