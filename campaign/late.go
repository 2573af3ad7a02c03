package campaign

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// LateWriter appends late outcomes (a DSN that came hours after the
// relay's 250, a complaint, an unsubscribe) to a campaign's results file,
// so the recipient's last row is what finally happened to the message.
// It holds the same locks a send holds, the results file's flock and its
// journal's, for as long as it is open: a send cannot start meanwhile, and
// it never appends while a send does.
type LateWriter struct {
	path string
	lock *fileLock
	jr   *journal
	rw   *resultsWriter
	now  func() time.Time
}

// lockPoll is how often OpenLate tries again for a lock a send holds.
var lockPoll = 100 * time.Millisecond

// lateRetry, when set (by tests), is called before each wait for the lock.
var lateRetry func()

// OpenLate opens the results file at path for late outcomes. The file must
// exist (a campaign that never ran has nobody to be late about) and be a
// results file of this version or the one before. When a send holds the
// campaign's lock, OpenLate tries again until wait has passed, then returns
// the *LockedError naming the send; wait 0 tries once. A torn last line
// left by a send that died is cut first, as the next send would.
func OpenLate(ctx context.Context, path string, wait time.Duration) (*LateWriter, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	deadline := time.Now().Add(wait)
	for {
		w, err := tryLate(path)
		var le *LockedError
		if !errors.As(err, &le) || !time.Now().Before(deadline) {
			return w, err
		}
		if lateRetry != nil {
			lateRetry()
		}
		t := time.NewTimer(min(lockPoll, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

func tryLate(path string) (*LateWriter, error) {
	w := &LateWriter{path: path, now: time.Now}
	var err error
	if w.lock, err = lockResults(path); err != nil {
		return nil, err
	}
	if w.jr, err = openJournal(path); err != nil {
		w.lock.close()
		return nil, err
	}
	if _, err = repairTornLine(path); err == nil {
		w.rw, err = createResults(path, false)
	}
	if err != nil {
		w.jr.close()
		w.lock.close()
		return nil, err
	}
	return w, nil
}

// Path is the results file.
func (w *LateWriter) Path() string { return w.path }

// Append writes r as one row (its time stamped now when empty) and hands
// it to the operating system; Close makes the rows durable. r should be a
// late outcome: Bounced with ReasonLateBounce or ReasonSoftLimit,
// Complained with ReasonComplaint, Unsubscribed with ReasonUnsubscribe.
func (w *LateWriter) Append(r *Record) error {
	if r.Time == "" {
		r.Time = w.now().UTC().Format(timeLayout)
	}
	return w.rw.write(r)
}

// Sync makes the rows appended so far durable (fsync). bounces calls it
// before it writes the suppression rows those late outcomes go with.
func (w *LateWriter) Sync() error { return w.rw.sync() }

// Close syncs and closes the results file, then releases the locks.
func (w *LateWriter) Close() error {
	err := w.rw.close()
	w.jr.close()
	w.lock.close()
	return err
}
