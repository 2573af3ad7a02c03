package suppress

import (
	"errors"
	"os"
	"strings"
	"time"
)

// Ledger is what a suppression file remembers for the bounce reader
// between runs: which (source, address) pairs it already wrote, so a
// report read twice adds nothing, and the soft bounces of each address
// with their times, so soft counts persist across runs (one DSN a run is
// the normal case when bounces arrive through a pipe). It keeps 16-byte
// digests, not strings: a million rows stay small.
type Ledger struct {
	written    map[[16]byte]struct{}
	soft       map[[16]byte][]time.Time
	suppressed map[[16]byte]Reason
	// softAbout holds (original Message-ID, address) pairs that a soft
	// bounce already counted: a second delay warning about the same
	// message (Exim repeats them, Postfix sends "delayed" then "failed")
	// is the same trouble, not another one.
	softAbout map[[16]byte]struct{}
}

// aboutSep joins a soft-bounce row's source and the Message-ID of the
// message it is about: "bounces:mid:X about <id>".
const aboutSep = " about "

// SoftSource is the source written for a soft bounce of the message with
// the Message-ID about ("" when the report does not say): it keeps the
// pair in the file, so ReadLedger can count each message once.
func SoftSource(source, about string) string {
	if about == "" {
		return source
	}
	return source + aboutSep + about
}

// ReadLedger reads the suppression file at path into a Ledger; a missing
// file is an empty one. Rows without a source say nothing of who wrote
// them and only count as suppressions (Suppressed).
func ReadLedger(path string) (*Ledger, error) {
	l := &Ledger{written: map[[16]byte]struct{}{}, soft: map[[16]byte][]time.Time{}, suppressed: map[[16]byte]Reason{}, softAbout: map[[16]byte]struct{}{}}
	reasons := map[Reason]Reason{}
	err := Read(path, func(e Entry) error {
		k := e.Key()
		if e.Source != "" {
			l.written[written(e.Source, k)] = struct{}{}
		}
		if e.Reason == SoftBounce {
			if _, about, ok := strings.Cut(e.Source, aboutSep); ok {
				l.softAbout[digest(about+"\x00"+k)] = struct{}{}
			}
			l.AddSoft(k, e.Time)
			return nil
		}
		r, ok := reasons[e.Reason]
		if !ok {
			r = Reason(string([]byte(e.Reason)))
			reasons[r] = r
		}
		l.suppressed[digest(k)] = r
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

func written(source, key string) [16]byte { return digest(source + "\x00" + key) }

// Has reports whether a row with this source for the address with key k
// (address.Key) is in the file.
func (l *Ledger) Has(source, k string) bool {
	_, ok := l.written[written(source, k)]
	return ok
}

// Add records that a row with this source for the address with key k was
// written (after a successful Writer.Append), with its reason.
func (l *Ledger) Add(source, k string, r Reason, t time.Time) {
	l.written[written(source, k)] = struct{}{}
	if r == SoftBounce {
		if _, about, ok := strings.Cut(source, aboutSep); ok {
			l.softAbout[digest(about+"\x00"+k)] = struct{}{}
		}
		l.AddSoft(k, t)
	} else {
		l.suppressed[digest(k)] = r
	}
}

// SoftCounted reports whether a soft bounce of the message with the
// Message-ID about was already counted for the address with key k.
func (l *Ledger) SoftCounted(about, k string) bool {
	if about == "" {
		return false
	}
	_, ok := l.softAbout[digest(about+"\x00"+k)]
	return ok
}

// AddSoft records a soft bounce of the address with key k at time t.
func (l *Ledger) AddSoft(k string, t time.Time) {
	d := digest(k)
	l.soft[d] = append(l.soft[d], t)
}

// SoftSince is how many soft bounces of the address with key k happened at
// or after since. A row without a time counts: the file does not say it is
// old.
func (l *Ledger) SoftSince(k string, since time.Time) int {
	n := 0
	for _, t := range l.soft[digest(k)] {
		if t.IsZero() || !t.Before(since) {
			n++
		}
	}
	return n
}

// Suppressed is the reason of the last suppressing row for the address
// with key k, and whether there is one.
func (l *Ledger) Suppressed(k string) (Reason, bool) {
	r, ok := l.suppressed[digest(k)]
	return r, ok
}
