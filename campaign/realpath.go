package campaign

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/mailer-dev/mailer/internal/appendonly"
)

// RealPath is the absolute path of the file p names, with every symbolic
// link resolved, whether or not the file exists yet (a missing file's
// directory is resolved, a dangling link is followed to where it points).
// Two spellings of one results file (a symlink to it, a symlinked
// directory, "./r.csv" and "/abs/r.csv") give the same RealPath, so the
// campaign's identity and its journal follow the real file.
func RealPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return resolve(abs)
}

// resolve resolves the symbolic links in p, which may be relative (the
// result is then relative too).
func resolve(p string) (string, error) {
	for range 40 { // as many links as Linux follows
		r, err := filepath.EvalSymlinks(p)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		st, lerr := os.Lstat(p)
		if lerr != nil {
			// The file does not exist: its directory decides where it will be.
			dir, err := filepath.EvalSymlinks(filepath.Dir(p))
			if err != nil {
				return "", err
			}
			return filepath.Join(dir, filepath.Base(p)), nil
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			return "", err
		}
		target, err := os.Readlink(p) // a dangling link: where it will create the file
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = target
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", p)
}

// fileLock is an exclusive flock on the results file itself: its inode,
// whatever path names it, so that two runs given two hard links to one
// file cannot run at once (their journals, named after the paths, differ).
type fileLock struct{ f *os.File }

// lockResults creates the results file if it is missing and locks it. A
// file another process has locked is a *LockedError naming that process.
func lockResults(path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, &WriteError{Path: path, Err: err}
	}
	err = openLocked(f, path, func() string {
		pid := ""
		if real, err := resolve(path); err == nil {
			pid = lockHolder(real + ".journal")
		}
		if pid == "" {
			pid = flockHolder(f) // a hard link: the holder's journal has another name
		}
		return pid
	})
	if err != nil {
		return nil, err
	}
	return &fileLock{f: f}, nil
}

// openLocked takes f's lock for the run, or closes f and returns why not:
// a *LockedError naming the holder (holder is asked only then) or a
// *WriteError.
func openLocked(f *os.File, path string, holder func() string) error {
	switch held, err := appendonly.TryLock(f); {
	case err != nil:
		f.Close()
		return &WriteError{Path: path, Err: fmt.Errorf("lock: %w", err)}
	case !held:
		pid := holder()
		f.Close()
		return &LockedError{Path: path, PID: pid}
	}
	return nil
}

func (l *fileLock) close() error { return l.f.Close() }

// flockHolder finds the process holding a flock on f's inode in
// /proc/locks (Linux); "" when it cannot tell.
func flockHolder(f *os.File) string {
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	dev := uint64(sys.Dev)
	major := (dev>>8)&0xfff | (dev>>32)&^uint64(0xfff)
	minor := dev&0xff | (dev>>12)&^uint64(0xff)
	want := fmt.Sprintf("%02x:%02x:%d", major, minor, sys.Ino)
	pl, err := os.Open("/proc/locks")
	if err != nil {
		return ""
	}
	defer pl.Close()
	sc := bufio.NewScanner(pl)
	for sc.Scan() {
		// "1: FLOCK  ADVISORY  WRITE 13026 fe:00:9982730 0 EOF"; waiters have "->".
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] != "FLOCK" || fields[5] != want {
			continue
		}
		if _, err := strconv.Atoi(fields[4]); err == nil {
			return fields[4]
		}
	}
	return ""
}
