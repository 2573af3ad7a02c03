package track

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailer-dev/mailer/internal/appendonly"
)

// Event is one line of the events file (JSON lines). It holds no address;
// IP and UserAgent are filled only when the handler's LogIP is set.
type Event struct {
	Time      time.Time `json:"time"`
	Campaign  string    `json:"campaign"`
	Recipient string    `json:"rcpt"` // RecipientKey
	Kind      Kind      `json:"kind"`
	Link      int       `json:"link,omitempty"`
	Host      string    `json:"host,omitempty"` // the destination's host, for clicks
	Agent     Agent     `json:"agent"`
	IP        string    `json:"ip,omitempty"`
	UserAgent string    `json:"ua,omitempty"`
}

// Log appends events to a file: one JSON line per event, appended with
// O_APPEND under an exclusive flock (other processes writing the same file
// wait), and fsynced before Append returns. Appends that arrive while a
// write is under way are collected and committed together: one write and
// one fsync for all of them (group commit), so a burst of clicks costs a
// few fsyncs, not one each. Each commit first cuts a torn last line (an
// append cut short, by this process or another), so lines start whole. It
// is safe for concurrent use.
type Log struct {
	f      *os.File
	mu     sync.RWMutex // Append holds it shared while sending; Close exclusively
	closed bool
	reqs   chan *pending // closed by Close: the committer drains it and stops
	done   chan struct{}

	commits   atomic.Int64 // writes+fsyncs done, for tests
	testWrite func()       // called before each commit's write, in tests
}

type pending struct {
	line []byte
	err  chan error
}

// maxBatch bounds the events one commit takes.
const maxBatch = 512

// OpenLog opens (or creates, mode 0600) the events file for appending. A
// torn last line left by a crash is cut first, so new lines start whole.
func OpenLog(path string) (*Log, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := repairTail(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("events %s: %w", path, err)
	}
	l := &Log{f: f, reqs: make(chan *pending, maxBatch), done: make(chan struct{})}
	go l.commit()
	return l, nil
}

// repairTail cuts bytes after the last newline, under the lock.
func repairTail(f *os.File) error {
	if err := appendonly.Lock(f); err != nil {
		return err
	}
	defer appendonly.Unlock(f)
	return cutTail(f)
}

// cutTail cuts bytes after the last newline; the caller holds the lock.
func cutTail(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	keep, err := appendonly.CompleteSize(f)
	if err != nil || keep == st.Size() {
		return err
	}
	return f.Truncate(keep)
}

// Append writes e and returns once it is on disk (or the commit failed).
func (l *Log) Append(ctx context.Context, e Event) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	p := &pending{line: append(line, '\n'), err: make(chan error, 1)}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return errors.New("events log closed")
	}
	select {
	case l.reqs <- p:
		l.mu.RUnlock()
	case <-ctx.Done():
		l.mu.RUnlock()
		return ctx.Err()
	}
	// Once taken, the line is written whatever the caller does: wait for
	// the outcome so the answer is honest.
	return <-p.err
}

func (l *Log) commit() {
	defer close(l.done)
	var buf []byte
	batch := make([]*pending, 0, maxBatch)
	for {
		p, ok := <-l.reqs
		if !ok {
			return
		}
		batch = append(batch[:0], p)
	more:
		for len(batch) < maxBatch {
			select {
			case p, ok := <-l.reqs:
				if !ok {
					break more
				}
				batch = append(batch, p)
			default:
				break more
			}
		}
		buf = buf[:0]
		for _, p := range batch {
			buf = append(buf, p.line...)
		}
		err := l.write(buf)
		for _, p := range batch {
			p.err <- err
		}
	}
}

func (l *Log) write(b []byte) error {
	if l.testWrite != nil {
		l.testWrite()
	}
	l.commits.Add(1)
	if err := appendonly.Lock(l.f); err != nil {
		return err
	}
	defer appendonly.Unlock(l.f)
	// A torn line since the last commit (another process that died
	// mid-append, or our own write cut short by a full disk) would glue
	// onto ours and make the file unreadable from there on.
	if err := cutTail(l.f); err != nil {
		return fmt.Errorf("cut torn line: %w", err)
	}
	if _, err := l.f.Write(b); err != nil {
		return err
	}
	return l.f.Sync()
}

// Close commits what was appended, then closes the file; later Appends
// fail. It may be called more than once.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		<-l.done
		return nil
	}
	l.closed = true
	close(l.reqs)
	l.mu.Unlock()
	<-l.done
	return l.f.Close()
}

// Reader reads an events file back, one event at a time, without loading
// it whole. A last line without its newline (an append cut by a crash) is
// skipped and counted in Torn; a bad line before it is an error naming the
// line.
type Reader struct {
	r    *bufio.Reader
	line int
	// Torn is 1 when the file ended in a torn line.
	Torn int
}

// NewReader reads events from r.
func NewReader(r io.Reader) *Reader { return &Reader{r: bufio.NewReaderSize(r, 64<<10)} }

// Next returns the next event, or io.EOF after the last one.
func (r *Reader) Next() (Event, error) {
	for {
		b, err := r.r.ReadBytes('\n')
		if err == io.EOF {
			if len(bytes.TrimSpace(b)) > 0 {
				r.Torn = 1
			}
			return Event{}, io.EOF
		}
		if err != nil {
			return Event{}, err
		}
		r.line++
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var e Event
		if err := json.Unmarshal(b, &e); err != nil {
			return Event{}, fmt.Errorf("line %d: %v", r.line, err)
		}
		return e, nil
	}
}
