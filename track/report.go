package track

import (
	"fmt"
	"sort"
	"time"
)

// Delivery is one delivered message of the campaign, from the results:
// the caller computes Recipient with RecipientKey from the row's address,
// with the same secret and campaign as the tokens, and passes the
// address's domain.
type Delivery struct {
	Recipient string
	Domain    string
	Delivered time.Time
}

// ScannerRule says which clicks look like a security scanner rather than a
// person: they are counted apart and left out of the rates.
type ScannerRule struct {
	// AfterDelivery: a click this soon after delivery [10s].
	AfterDelivery time.Duration
	// AllLinksWithin: clicks on every link of the message (every distinct
	// link seen in the campaign's clicks, at least 2) within this span [2s].
	AllLinksWithin time.Duration
}

// DefaultScannerRule is the rule the report applies unless told otherwise.
var DefaultScannerRule = ScannerRule{AfterDelivery: 10 * time.Second, AllLinksWithin: 2 * time.Second}

func (r ScannerRule) String() string {
	return fmt.Sprintf("a click is counted as a scanner's when it comes within %s of delivery, "+
		"or is part of clicks on every link of the message within %s, or its user agent is a known security scanner", r.AfterDelivery, r.AllLinksWithin)
}

// Reasons a click is a scanner's (Scan's result); "" is a person's.
const (
	ScanEarly    = "within-delivery"
	ScanAllLinks = "all-links"
	ScanAgent    = "scanner-agent"
)

// Scan classifies one recipient's clicks (any order): the reason each is
// a scanner's, or "". links is how many links the message has.
func (r ScannerRule) Scan(delivered time.Time, clicks []Event, links int) []string {
	why := make([]string, len(clicks))
	for i, c := range clicks {
		switch {
		case c.Agent == Scanner:
			why[i] = ScanAgent
		case !delivered.IsZero() && c.Time.Sub(delivered) < r.AfterDelivery:
			why[i] = ScanEarly
		}
	}
	if links < 2 {
		return why
	}
	order := make([]int, len(clicks))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return clicks[order[a]].Time.Before(clicks[order[b]].Time) })
	for a := range order {
		distinct := map[int]bool{}
		b := a
		for ; b < len(order) && clicks[order[b]].Time.Sub(clicks[order[a]].Time) <= r.AllLinksWithin; b++ {
			distinct[clicks[order[b]].Link] = true
		}
		if len(distinct) >= links {
			for _, k := range order[a:b] {
				if why[k] == "" {
					why[k] = ScanAllLinks
				}
			}
		}
	}
	return why
}

// Summary is the engagement of one campaign. Rates are of delivered
// messages and count people (unique recipients), not clicks.
type Summary struct {
	Rule      string `json:"scanner_rule"`
	Delivered int    `json:"delivered"`

	Clicks        int     `json:"clicks"`          // by people: scanners left out
	Clickers      int     `json:"unique_clickers"` // recipients with a counted click
	ClickRate     float64 `json:"click_rate"`      // Clickers / Delivered
	ScannerClicks int     `json:"scanner_clicks"`  // counted apart
	ScannerOnly   int     `json:"scanner_only_recipients"`

	Links   []LinkStat   `json:"links"`
	Domains []DomainStat `json:"domains"`

	// FirstClick is the time from delivery to each clicker's first
	// counted click: median and buckets.
	FirstClickMedian  Duration      `json:"first_click_median"`
	FirstClickBuckets []BucketStat  `json:"first_click"`
	OpensNote         string        `json:"opens_note"`
	Opens             int           `json:"opens"`
	Openers           int           `json:"unique_openers"`
	OpenRate          float64       `json:"open_rate"`
	OpensByAgent      map[Agent]int `json:"opens_by_agent"`
	ClicksByAgent     map[Agent]int `json:"clicks_by_agent"`
	Unmatched         int           `json:"unmatched_events"` // recipient not among the deliveries
	OtherCampaigns    int           `json:"other_campaign_events"`

	// Timeline is the clicks over time, in steps of TimelineStep from the
	// step the first click falls in (at most maxSteps steps).
	TimelineStep Duration   `json:"timeline_step"`
	Timeline     []TimeStat `json:"timeline"`
}

// TimeStat is the clicks of one step of the timeline.
type TimeStat struct {
	Start   time.Time `json:"start"`
	Clicks  int       `json:"clicks"` // by people
	Scanner int       `json:"scanner_clicks"`
}

// timelineSteps are the steps a timeline may use, the shortest that keeps
// it within maxSteps.
var timelineSteps = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

const maxSteps = 48

// timeline puts the clicks' times (people's and scanners') in steps.
func timeline(people, scanners []time.Time) (time.Duration, []TimeStat) {
	var first, last time.Time
	for _, ts := range [][]time.Time{people, scanners} {
		for _, t := range ts {
			if first.IsZero() || t.Before(first) {
				first = t
			}
			if t.After(last) {
				last = t
			}
		}
	}
	if first.IsZero() {
		return 0, nil
	}
	step := timelineSteps[len(timelineSteps)-1]
	for _, d := range timelineSteps {
		if last.Truncate(d).Sub(first.Truncate(d))/d < maxSteps {
			step = d
			break
		}
	}
	start := first.Truncate(step)
	n := min(int(last.Truncate(step).Sub(start)/step)+1, maxSteps)
	out := make([]TimeStat, n)
	for i := range out {
		out[i].Start = start.Add(time.Duration(i) * step)
	}
	at := func(t time.Time) int { return min(int(t.Sub(start)/step), n-1) }
	for _, t := range people {
		out[at(t)].Clicks++
	}
	for _, t := range scanners {
		out[at(t)].Scanner++
	}
	return step, out
}

// LinkStat is the clicks on one link position.
type LinkStat struct {
	Link     int    `json:"link"`
	Host     string `json:"host"`
	Clicks   int    `json:"clicks"`
	Clickers int    `json:"unique_clickers"`
	Scanner  int    `json:"scanner_clicks"`
}

// DomainStat is the clicks of one recipient domain.
type DomainStat struct {
	Domain    string  `json:"domain"`
	Delivered int     `json:"delivered"`
	Clickers  int     `json:"unique_clickers"`
	ClickRate float64 `json:"click_rate"`
}

// BucketStat counts first clicks up to a time after delivery.
type BucketStat struct {
	UpTo     string `json:"up_to"`
	Clickers int    `json:"clickers"`
}

// Duration marshals as a Go duration string.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// OpensNote labels every open count: image loads are mostly machines.
const OpensNote = "includes opens by machines (mail privacy protection and image proxies load every image)"

var buckets = []struct {
	label string
	d     time.Duration
}{{"1m", time.Minute}, {"1h", time.Hour}, {"1d", 24 * time.Hour}, {"later", 1<<63 - 1}}

// Summarize joins the events of campaign to its deliveries. links is the
// number of link positions a message has (0: the highest link index among
// the clicks), for the all-links rule.
func Summarize(campaign string, deliveries []Delivery, events []Event, rule ScannerRule, links int) *Summary {
	s := &Summary{Rule: rule.String(), Delivered: len(deliveries), OpensNote: OpensNote,
		OpensByAgent: map[Agent]int{}, ClicksByAgent: map[Agent]int{}}
	byKey := map[string]*Delivery{}
	domains := map[string]*DomainStat{}
	for i := range deliveries {
		d := &deliveries[i]
		byKey[d.Recipient] = d
		ds := domains[d.Domain]
		if ds == nil {
			ds = &DomainStat{Domain: d.Domain}
			domains[d.Domain] = ds
		}
		ds.Delivered++
	}
	clicks := map[string][]Event{}
	openers := map[string]bool{}
	for _, e := range events {
		if e.Campaign != campaign {
			s.OtherCampaigns++
			continue
		}
		if byKey[e.Recipient] == nil {
			s.Unmatched++
			continue
		}
		switch e.Kind {
		case Open:
			s.Opens++
			s.OpensByAgent[e.Agent]++
			openers[e.Recipient] = true
		case Click:
			clicks[e.Recipient] = append(clicks[e.Recipient], e)
		}
	}
	if links <= 0 { // positions are 1..n: the highest one seen
		for _, cs := range clicks {
			for _, c := range cs {
				links = max(links, c.Link)
			}
		}
	}
	s.Openers = len(openers)
	linkStats := map[int]*LinkStat{}
	linkClickers := map[int]map[string]bool{}
	var firsts []time.Duration
	var peopleAt, scannersAt []time.Time
	keys := make([]string, 0, len(clicks))
	for k := range clicks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cs, d := clicks[k], byKey[k]
		why := rule.Scan(d.Delivered, cs, links)
		var first time.Time
		for i, c := range cs {
			ls := linkStats[c.Link]
			if ls == nil {
				ls = &LinkStat{Link: c.Link, Host: c.Host}
				linkStats[c.Link], linkClickers[c.Link] = ls, map[string]bool{}
			}
			if why[i] != "" {
				s.ScannerClicks++
				ls.Scanner++
				scannersAt = append(scannersAt, c.Time)
				continue
			}
			s.Clicks++
			peopleAt = append(peopleAt, c.Time)
			s.ClicksByAgent[c.Agent]++
			ls.Clicks++
			linkClickers[c.Link][k] = true
			if first.IsZero() || c.Time.Before(first) {
				first = c.Time
			}
		}
		if first.IsZero() {
			s.ScannerOnly++
			continue
		}
		s.Clickers++
		domains[d.Domain].Clickers++
		if !d.Delivered.IsZero() {
			firsts = append(firsts, first.Sub(d.Delivered))
		}
	}
	for l, ls := range linkStats {
		ls.Clickers = len(linkClickers[l])
		s.Links = append(s.Links, *ls)
	}
	sort.Slice(s.Links, func(a, b int) bool { return s.Links[a].Link < s.Links[b].Link })
	for _, ds := range domains {
		ds.ClickRate = rate(ds.Clickers, ds.Delivered)
		s.Domains = append(s.Domains, *ds)
	}
	sort.Slice(s.Domains, func(a, b int) bool {
		if s.Domains[a].Delivered != s.Domains[b].Delivered {
			return s.Domains[a].Delivered > s.Domains[b].Delivered
		}
		return s.Domains[a].Domain < s.Domains[b].Domain
	})
	s.ClickRate = rate(s.Clickers, s.Delivered)
	step, tl := timeline(peopleAt, scannersAt)
	s.TimelineStep, s.Timeline = Duration(step), tl
	s.OpenRate = rate(s.Openers, s.Delivered)
	sort.Slice(firsts, func(a, b int) bool { return firsts[a] < firsts[b] })
	if n := len(firsts); n > 0 {
		s.FirstClickMedian = Duration(firsts[n/2])
		if n%2 == 0 {
			s.FirstClickMedian = Duration((firsts[n/2-1] + firsts[n/2]) / 2)
		}
	}
	i := 0
	for _, b := range buckets {
		n := 0
		for i < len(firsts) && firsts[i] <= b.d {
			i++
			n++
		}
		s.FirstClickBuckets = append(s.FirstClickBuckets, BucketStat{UpTo: b.label, Clickers: n})
	}
	return s
}

func rate(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}
