package campaign

import (
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/mailer-dev/mailer/address"
	"github.com/mailer-dev/mailer/internal/safetext"
)

// Report is what a results CSV says about a campaign. A recipient retried
// by a later run has several rows; the last one is its outcome, and the
// earlier ones count only towards attempts and time.
type Report struct {
	File  string   `json:"file"`  // the first file
	Files []string `json:"files"` // every file read, in order
	// Shards are the shards the rows were sent by ("K/N", from the
	// fingerprint column), sorted; empty when none was sharded.
	Shards     []string      `json:"shards"`
	Rows       int           `json:"rows"`       // rows in the file
	Recipients int           `json:"recipients"` // distinct recipients: one outcome each
	Superseded int           `json:"superseded"` // earlier rows replaced by a later run's
	Statuses   []StatusCount `json:"statuses"`   // in Statuses order, non-zero only
	// Sent is recipients a relay gave a verdict on: delivered, bounced,
	// deferred, blocked, unknown. The rates are fractions of it.
	Sent          int           `json:"sent"`
	DeliveryRate  float64       `json:"delivery_rate"`
	BounceRate    float64       `json:"bounce_rate"`
	DeferralRate  float64       `json:"deferral_rate"`
	BlockRate     float64       `json:"block_rate"`     // refused for the sender's reasons
	Codes         []CodeCount   `json:"codes"`          // SMTP reply codes, most frequent first
	EnhancedCodes []CodeCount   `json:"enhanced_codes"` // RFC 3463 codes, most frequent first
	Domains       []DomainCount `json:"domains"`        // most bounces and deferrals first
	Attempts      Attempts      `json:"attempts"`
	First         time.Time     `json:"first,omitzero"` // earliest time column
	Last          time.Time     `json:"last,omitzero"`
	Elapsed       float64       `json:"elapsed_seconds"` // Last - First
	// Late is what came back after the relays' verdicts, and the rates
	// receivers punish (see reportlate.go).
	Late *LateOutcomes `json:"late"`
}

// StatusCount is how many recipients ended with a status.
type StatusCount struct {
	Status Status  `json:"status"`
	Count  int     `json:"count"`
	Share  float64 `json:"share"` // of all recipients
}

// CodeCount is how often a reply code was the outcome, with one message
// that came with it.
type CodeCount struct {
	Code   string `json:"code"`
	Count  int    `json:"count"`
	Sample string `json:"sample"`
}

// DomainCount is the outcomes for one recipient domain.
type DomainCount struct {
	Domain     string `json:"domain"`
	Recipients int    `json:"recipients"` // sent to this domain
	Bounced    int    `json:"bounced"`
	Deferred   int    `json:"deferred"`
}

// Attempts are the tries the relays saw, over every row of the file.
type Attempts struct {
	Total   int     `json:"total"`
	Max     int     `json:"max"`
	Retried int     `json:"retried"` // rows that needed more than one try
	PerSent float64 `json:"per_sent"`
}

// ReportTop is how many codes and domains a Report keeps.
const ReportTop = 10

// BuildReport reads a results CSV. It reads the file twice: once to find
// each recipient's last row, once to count; memory grows by a 16-byte digest
// and a row number per recipient, like send's duplicate set.
func BuildReport(path string) (*Report, error) {
	return BuildReports([]string{path})
}

// BuildReports reads several results CSVs as one campaign, such as the
// files of its shards: as if their rows were one file, in the order given.
func BuildReports(paths []string) (*Report, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("results: no file")
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("results: %w", err)
		}
	}
	var path string // the file being read, for errors
	readAll := func(fn func(*Record) error) error {
		for _, path = range paths {
			if err := readResults(path, fn); err != nil {
				return err
			}
		}
		return nil
	}
	last := map[digest]int32{}
	shards := map[string]bool{}
	n := int32(0)
	err := readAll(func(r *Record) error {
		n++
		last[outcomeKey(r)] = n
		if sh := fingerprintField(r.Fingerprint, "shard"); sh != "" {
			shards[safetext.String(sh)] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep := &Report{File: paths[0], Files: paths, Rows: int(n), Recipients: len(last), Shards: []string{}}
	for sh := range shards {
		rep.Shards = append(rep.Shards, sh)
	}
	sort.Strings(rep.Shards)
	rep.Superseded = rep.Rows - rep.Recipients
	counts := map[Status]int{}
	codes, enhanced := map[string]*CodeCount{}, map[string]*CodeCount{}
	domains := map[string]*DomainCount{}
	late := &lateTally{}
	i, fileStart := int32(0), int32(0)
	prev := ""
	err = readAll(func(r *Record) error {
		i++
		if path != prev {
			prev, fileStart = path, i-1
		}
		if a := int(r.Attempts); a > 0 {
			rep.Attempts.Total += a
			rep.Attempts.Max = max(rep.Attempts.Max, a)
			if a > 1 {
				rep.Attempts.Retried++
			}
		}
		if r.Time != "" {
			t, err := time.Parse(time.RFC3339, r.Time)
			if err != nil {
				return &DataError{File: path, Line: int(i-fileStart) + 1, Msg: fmt.Sprintf("time %q is not RFC 3339", r.Time)}
			}
			if rep.First.IsZero() || t.Before(rep.First) {
				rep.First = t
			}
			if t.After(rep.Last) {
				rep.Last = t
			}
		}
		if last[outcomeKey(r)] != i {
			return nil // a later run has this recipient's outcome
		}
		counts[r.Status]++
		late.add(r)
		sent := false
		switch r.Status {
		case Delivered, Bounced, Deferred, Blocked, Unknown, Complained, Unsubscribed:
			sent = true
			rep.Sent++
		}
		if r.Code != 0 {
			tally(codes, fmt.Sprint(int(r.Code)), r.Message)
		}
		if r.EnhancedCode != "" {
			tally(enhanced, r.EnhancedCode, r.Message)
		}
		if sent {
			d := safetext.String(address.Domain(r.Email))
			dc := domains[d]
			if dc == nil {
				dc = &DomainCount{Domain: d}
				domains[d] = dc
			}
			dc.Recipients++
			switch r.Status {
			case Bounced:
				dc.Bounced++
			case Deferred:
				dc.Deferred++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, s := range Statuses {
		if c := counts[s]; c > 0 {
			rep.Statuses = append(rep.Statuses, StatusCount{Status: s, Count: c, Share: ratio(c, rep.Recipients)})
		}
	}
	for s, c := range counts { // statuses this version does not know
		if !knownStatus(s) {
			rep.Statuses = append(rep.Statuses, StatusCount{Status: Status(safetext.String(string(s))), Count: c, Share: ratio(c, rep.Recipients)})
		}
	}
	// A complaint or an unsubscribe came from a delivered message.
	rep.DeliveryRate = ratio(counts[Delivered]+counts[Complained]+counts[Unsubscribed], rep.Sent)
	rep.BounceRate = ratio(counts[Bounced], rep.Sent)
	rep.DeferralRate = ratio(counts[Deferred], rep.Sent)
	rep.BlockRate = ratio(counts[Blocked], rep.Sent)
	rep.Attempts.PerSent = ratio(rep.Attempts.Total, rep.Sent)
	rep.Late = late.finish(rep.Sent)
	rep.Codes, rep.EnhancedCodes = topCodes(codes), topCodes(enhanced)
	for _, d := range domains {
		if d.Bounced+d.Deferred > 0 {
			rep.Domains = append(rep.Domains, *d)
		}
	}
	sort.Slice(rep.Domains, func(i, j int) bool {
		a, b := rep.Domains[i], rep.Domains[j]
		if a.Bounced+a.Deferred != b.Bounced+b.Deferred {
			return a.Bounced+a.Deferred > b.Bounced+b.Deferred
		}
		return a.Domain < b.Domain
	})
	if len(rep.Domains) > ReportTop {
		rep.Domains = rep.Domains[:ReportTop]
	}
	if !rep.First.IsZero() {
		rep.Elapsed = rep.Last.Sub(rep.First).Seconds()
	}
	return rep, nil
}

// Count is the number of recipients with status s.
func (r *Report) Count(s Status) int {
	for _, c := range r.Statuses {
		if c.Status == s {
			return c.Count
		}
	}
	return 0
}

func knownStatus(s Status) bool {
	for _, k := range Statuses {
		if k == s {
			return true
		}
	}
	return false
}

func tally(m map[string]*CodeCount, code, msg string) {
	c := m[code]
	if c == nil {
		// Text from a results file is shown to people: an old file (or one
		// edited by hand) may hold what a relay sent raw.
		c = &CodeCount{Code: safetext.String(code), Sample: safetext.String(msg)}
		m[code] = c
	}
	c.Count++
}

func topCodes(m map[string]*CodeCount) []CodeCount {
	out := make([]CodeCount, 0, len(m))
	for _, c := range m {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Code < out[j].Code
	})
	if len(out) > ReportTop {
		out = out[:ReportTop]
	}
	return out
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// outcomeKey is whose outcome a row records: the recipient, so that a later
// run's row replaces an earlier one (a deferred recipient delivered on a
// retry). A duplicate row of the list is a row of its own: it never
// replaces the outcome of the address it duplicates.
func outcomeKey(r *Record) digest {
	k := address.Key(r.Email)
	if r.isDuplicate() {
		k += fmt.Sprintf("\x00line %d", r.Line)
	}
	return digestOf(k)
}
