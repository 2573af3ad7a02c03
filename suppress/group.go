package suppress

import (
	"errors"
	"sync"
)

// ErrClosed is an append to a Group that was closed.
var ErrClosed = errors.New("suppression writer closed")

// maxGroup bounds one commit: a burst is written in slices of this many
// lines, so one write stays a few hundred KB.
const maxGroup = 1024

// Group commits appends to a Writer in groups: every entry whose Append
// is waiting while a commit is under way goes into the next one, written
// under one lock in one write with one fsync, and each of those Appends
// returns once that fsync is done. A lone append is written at once (no
// timer holds it back); under load one fsync serves many, which is how a
// server answers hundreds of unsubscribes a second with each on disk
// before its answer. A Group is safe for concurrent use.
type Group struct {
	w    *Writer
	reqs chan groupReq
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

type groupReq struct {
	e   Entry
	err chan error
}

// NewGroup starts the goroutine that commits for w. Close stops it.
func NewGroup(w *Writer) *Group {
	g := &Group{w: w, reqs: make(chan groupReq), quit: make(chan struct{}), done: make(chan struct{})}
	go g.run()
	return g
}

// Append writes e with the next commit and returns once it is fsynced, or
// with the commit's error (then none of that commit's entries may be
// counted on). After Close it returns ErrClosed and writes nothing.
func (g *Group) Append(e Entry) error {
	r := groupReq{e: e, err: make(chan error, 1)}
	select {
	case g.reqs <- r:
	case <-g.quit:
		return ErrClosed
	}
	return <-r.err
}

// run takes the first waiting append, then every other one already
// waiting (reqs is unbuffered: a send that is ready is an Append that
// waits), and commits them together.
func (g *Group) run() {
	defer close(g.done)
	batch := make([]groupReq, 0, maxGroup)
	entries := make([]Entry, 0, maxGroup)
	for {
		select {
		case r := <-g.reqs:
			batch = append(batch[:0], r)
		case <-g.quit:
			return
		}
	gather:
		for len(batch) < maxGroup {
			select {
			case r := <-g.reqs:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		entries = entries[:0]
		for _, r := range batch {
			entries = append(entries, r.e)
		}
		err := g.w.AppendAll(entries)
		for _, r := range batch {
			r.err <- err
		}
	}
}

// Close stops taking appends and waits for the commit under way. It does
// not close the Writer.
func (g *Group) Close() {
	g.once.Do(func() { close(g.quit) })
	<-g.done
}
