package sender

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// QuotaError is returned, in Result.Err, when every relay has used its
// daily quota: nothing was handed to a relay for the message. The next
// day (Reset) a run can send again.
type QuotaError struct {
	Reset time.Time // the earliest midnight a relay's quota starts afresh
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("daily quota used on every relay; it resets at %s", e.Reset.Format("2006-01-02 15:04 MST"))
}

// ParseQuota reads a daily quota, "N/day" (or "N/d"). "" and "0" are none.
func ParseQuota(s string) (int, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	num, unit, _ := strings.Cut(strings.TrimSpace(s), "/")
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n < 1 || (unit != "day" && unit != "d") {
		return 0, fmt.Errorf("quota %q: want N/day with N at least 1", s)
	}
	return n, nil
}

// quota counts the messages handed to one relay since midnight in the
// quota's time zone. Every attempt counts, as the relay's provider counts
// what it was handed, whatever it then said.
type quota struct {
	limit int
	loc   *time.Location
	now   func() time.Time

	mu   sync.Mutex
	day  time.Time // midnight starting the day counted
	used int
}

func newQuota(limit int, loc *time.Location, now func() time.Time) *quota {
	if limit <= 0 {
		return nil
	}
	return &quota{limit: limit, loc: loc, now: now}
}

// midnight is the start of t's day in the quota's zone, and the next.
func (q *quota) midnight(t time.Time) (start, next time.Time) {
	y, m, d := t.In(q.loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, q.loc), time.Date(y, m, d+1, 0, 0, 0, 0, q.loc)
}

// roll starts a new count when the day changed; under mu.
func (q *quota) roll(now time.Time) (next time.Time) {
	start, next := q.midnight(now)
	if !start.Equal(q.day) {
		q.day, q.used = start, 0
	}
	return next
}

// full reports whether the relay's quota for today is used, and when it
// resets.
func (q *quota) full() (bool, time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	next := q.roll(q.now())
	return q.used >= q.limit, next
}

// take counts one message handed to the relay now.
func (q *quota) take() {
	q.mu.Lock()
	q.roll(q.now())
	q.used++
	q.mu.Unlock()
}

// add counts n messages handed at t (by an earlier run) if t is today.
func (q *quota) add(t time.Time, n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.roll(q.now())
	if start, _ := q.midnight(t); start.Equal(q.day) {
		q.used += n
	}
}

// Handed tells the pool that n messages were handed to the relay named
// relay at t, by an earlier run, so that its daily quota counts them. An
// empty name counts against every relay: a message the record does not
// tie to one relay (it was in flight when mailer died) may have gone to
// any. Rows from before today do not count.
func (p *Pool) Handed(relay string, t time.Time, n int) {
	for _, r := range p.relays {
		if r.quota != nil && (relay == "" || relay == r.cfg.Name) {
			r.quota.add(t, n)
		}
	}
}
