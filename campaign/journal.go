package campaign

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
)

// The journal is the results file's companion (RESULTS.journal). It does
// two jobs:
//
//   - Lock: a run holds an exclusive flock on it, so two runs of the same
//     campaign (overlapping cron jobs) can never send at once.
//   - Attempts: just before the first byte of a message goes to a relay
//     (sender.Message.Begin, not while the pool still holds it back for the
//     rate or a connection) its recipient is appended ("+"), and if the
//     pool gives it back untried it is withdrawn ("-").
//     The outcome goes to the results file afterwards. A recipient with an
//     attempt but no outcome was in flight when mailer died: the relay may
//     have accepted it, so the next run records it as unknown instead of
//     silently sending it again.
//
// Its first record holds the results file's size when the run started, so
// only outcomes written by that same run answer its attempts. A run that
// ends normally empties it.
type journal struct {
	path string
	f    *os.File
	mu   sync.Mutex
	bw   *bufio.Writer
	cw   *csv.Writer
	prev []attempt // attempts without an outcome left by a run that died
	base int64     // results size when the dead run started
}

type attempt struct {
	email     string
	line      int
	messageID string
}

// LockedError is a campaign that another mailer process is running.
type LockedError struct {
	Path string
	PID  string
}

func (e *LockedError) Error() string {
	who := "another mailer process"
	if e.PID != "" {
		who += " (pid " + e.PID + ")"
	}
	return fmt.Sprintf("%s is running this campaign (lock %s); two runs at once could send twice", who, e.Path)
}

const journalMagic = "mailer-journal"

// openJournal locks the journal of results and reads what a dead run left.
// The journal is named after the real file (symbolic links resolved), so
// that a run given a symlink to the results file meets the same lock.
func openJournal(results string) (*journal, error) {
	real, err := resolve(results)
	if err != nil {
		return nil, &WriteError{Path: results, Err: err}
	}
	path := real + ".journal"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, &WriteError{Path: path, Err: err}
	}
	if err := openLocked(f, path, func() string { return lockHolder(path) }); err != nil {
		return nil, err
	}
	j := &journal{path: path, f: f}
	if err := j.load(); err != nil {
		j.close()
		return nil, err
	}
	return j, nil
}

// lockHolder reads the pid the holder wrote into the journal's first record.
func lockHolder(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	rec, err := csv.NewReader(f).Read()
	if err != nil || len(rec) < 4 || rec[0] != journalMagic {
		return ""
	}
	return rec[3]
}

// load reads the attempts left without a withdrawal. A torn last record
// (the process died mid-write) is ignored: its send had not started, as
// the record is written in full before the message's first byte.
func (j *journal) load() error {
	cr := csv.NewReader(bufio.NewReader(j.f))
	cr.FieldsPerRecord = -1
	open := map[string]int{} // email -> index in prev
	first := true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			break // torn tail
		}
		if first {
			first = false
			if len(rec) < 3 || rec[0] != journalMagic {
				return &DataError{File: j.path, Line: 1, Msg: "not a mailer journal; move it away if it is yours"}
			}
			j.base, _ = strconv.ParseInt(rec[2], 10, 64)
			continue
		}
		if len(rec) < 4 {
			continue
		}
		switch rec[0] {
		case "+":
			line, _ := strconv.Atoi(rec[2])
			open[rec[1]] = len(j.prev)
			j.prev = append(j.prev, attempt{email: rec[1], line: line, messageID: rec[3]})
		case "-":
			if i, ok := open[rec[1]]; ok {
				j.prev[i].email = "" // withdrawn
				delete(open, rec[1])
			}
		}
	}
	live := j.prev[:0]
	for _, a := range j.prev {
		if a.email != "" {
			live = append(live, a)
		}
	}
	j.prev = live
	return nil
}

// start empties the journal and records where this run's outcomes begin.
func (j *journal) start(resultsSize int64) error {
	if err := j.f.Truncate(0); err != nil {
		return &WriteError{Path: j.path, Err: err}
	}
	if _, err := j.f.Seek(0, io.SeekStart); err != nil {
		return &WriteError{Path: j.path, Err: err}
	}
	j.bw = bufio.NewWriter(j.f)
	j.cw = csv.NewWriter(j.bw)
	return j.write([]string{journalMagic, "1", strconv.FormatInt(resultsSize, 10), strconv.Itoa(os.Getpid())})
}

func (j *journal) write(rec []string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.cw.Write(rec)
	j.cw.Flush()
	if err := j.cw.Error(); err != nil {
		return &WriteError{Path: j.path, Err: err}
	}
	if err := j.bw.Flush(); err != nil {
		return &WriteError{Path: j.path, Err: err}
	}
	return nil
}

// attempt records, before its first byte is written, that a message is
// about to go out.
func (j *journal) attempt(email string, line int, messageID string) error {
	return j.write([]string{"+", email, strconv.Itoa(line), messageID})
}

// withdraw records that an attempted message was never handed to a relay.
func (j *journal) withdraw(email string) error {
	return j.write([]string{"-", email, "", ""})
}

func (j *journal) sync() error { return j.f.Sync() }

// finish empties the journal: every attempt of this run has its outcome.
func (j *journal) finish() error {
	if err := j.f.Truncate(0); err != nil {
		return &WriteError{Path: j.path, Err: err}
	}
	return j.f.Sync()
}

// close releases the lock. The file stays: deleting a lock file lets a
// waiting process lock the old inode while a new one locks a new file.
func (j *journal) close() error { return j.f.Close() }
