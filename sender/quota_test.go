package sender

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mailer-dev/mailer/internal/testrelay"
)

func TestParseQuota(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
		bad  bool
	}{{"", 0, false}, {"500/day", 500, false}, {"2000/d", 2000, false}, {"10", 0, true}, {"0/day", 0, true}, {"5/h", 0, true}, {"x/day", 0, true}} {
		got, err := ParseQuota(c.in)
		if got != c.want || (err != nil) != c.bad {
			t.Errorf("ParseQuota(%q) = %d, %v", c.in, got, err)
		}
	}
	r, err := ParseRelay("smtp+plain://127.0.0.1:25?quota=300/day", false)
	if err != nil || r.Quota != 300 {
		t.Errorf("quota= parameter: %+v, %v", r, err)
	}
	if _, err := ParseRelay("smtp+plain://127.0.0.1:25?quota=300", false); err == nil {
		t.Error("quota=300 without /day accepted")
	}
}

// A relay takes no more than its quota a day, counting what earlier runs
// handed it today (and not yesterday's); with every relay at quota Send
// says so with the reset time, and after midnight in the quota's zone the
// relay takes mail again.
func TestDailyQuota(t *testing.T) {
	zone := time.FixedZone("X", -5*3600)
	var mu sync.Mutex
	now := time.Date(2026, 3, 10, 22, 0, 0, 0, zone)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a, b := startRelay(t, testrelay.Options{}), startRelay(t, testrelay.Options{})
	ra, rb := plainRelay(a), plainRelay(b)
	rb.Quota = 2 // its own, over the pool's
	o := fastOpts()
	o.Quota, o.QuotaZone, o.Now = 5, zone, clock
	p, err := New([]Relay{ra, rb}, o)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Handed(ra.Name, now.Add(-time.Hour), 2)     // today: counts
	p.Handed(ra.Name, now.Add(-23*time.Hour), 40) // yesterday: does not
	p.Handed("", now.Add(-time.Minute), 1)        // in flight at a crash: counts for both

	res := sendAll(context.Background(), p, 10, 4, rcpt)
	delivered := 0
	var qe *QuotaError
	for _, r := range res {
		switch {
		case r.Status == Delivered:
			delivered++
		case errors.As(r.Err, &qe):
			if r.Attempts != 0 {
				t.Errorf("a message refused for the quota counts %d attempts", r.Attempts)
			}
		default:
			t.Errorf("unexpected result %+v", r)
		}
	}
	if a.Accepted() != 2 || b.Accepted() != 1 || delivered != 3 {
		t.Fatalf("relays took %d and %d (delivered %d); quotas leave 5-2-1=2 and 2-1=1", a.Accepted(), b.Accepted(), delivered)
	}
	if want := time.Date(2026, 3, 11, 0, 0, 0, 0, zone); qe == nil || !qe.Reset.Equal(want) {
		t.Fatalf("quota error %v, want a reset at %v", qe, want)
	}

	mu.Lock()
	now = now.Add(2*time.Hour + time.Minute) // 00:01 the next day
	mu.Unlock()
	res = sendAll(context.Background(), p, 10, 4, rcpt)
	delivered = 0
	for _, r := range res {
		if r.Status == Delivered {
			delivered++
		}
	}
	if delivered != 7 {
		t.Errorf("a new day: %d delivered, want 5+2", delivered)
	}
}
