// Package appendonly holds what the writers of mailer's append-only files
// (results, suppression and events files) share: the exclusive lock an
// append takes, and where the last whole line ends, so that a line a crash
// left half-written can be cut or skipped. It must not import anything of
// mailer.
package appendonly

import (
	"bytes"
	"errors"
	"os"
	"syscall"
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

// Lock takes an exclusive flock on f, waiting for other holders and
// retrying when a signal interrupts the wait.
func Lock(f *os.File) error { return flock(f, syscall.LOCK_EX) }

// TryLock takes an exclusive flock on f if no one holds it; held is
// false when another process does.
func TryLock(f *os.File) (held bool, err error) {
	err = flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

// Unlock releases the flock Lock took.
func Unlock(f *os.File) error { return flock(f, syscall.LOCK_UN) }

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
