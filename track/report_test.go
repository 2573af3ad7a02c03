package track

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var t0 = time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestScannerRule(t *testing.T) {
	c := func(d time.Duration, link int) Event {
		return Event{Time: at(d), Kind: Click, Link: link, Agent: Browser}
	}
	s := time.Second
	for _, tc := range []struct {
		name   string
		clicks []Event
		links  int
		want   []string
	}{
		{"a person, a minute later", []Event{c(60*s, 1)}, 3, []string{""}},
		{"9.9s after delivery", []Event{c(9900*time.Millisecond, 1)}, 3, []string{ScanEarly}},
		{"exactly 10s is a person", []Event{c(10*s, 1)}, 3, []string{""}},
		{"before delivery (clock skew) is early", []Event{c(-s, 1)}, 3, []string{ScanEarly}},
		{"every link within 2s, an hour later", []Event{c(3600*s, 1), c(3601*s, 2), c(3601*s+500*time.Millisecond, 3)}, 3, []string{ScanAllLinks, ScanAllLinks, ScanAllLinks}},
		{"every link but over 2.5s: a person", []Event{c(3600*s, 1), c(3601*s, 2), c(3602*s+500*time.Millisecond, 3)}, 3, []string{"", "", ""}},
		{"two of three links fast: a person", []Event{c(3600*s, 1), c(3600*s, 2)}, 3, []string{"", ""}},
		{"unordered input", []Event{c(3601*s, 2), c(7200*s, 1), c(3600*s, 1)}, 2, []string{ScanAllLinks, "", ScanAllLinks}},
		{"one-link message: the burst rule is off", []Event{c(60*s, 1), c(60*s, 1)}, 1, []string{"", ""}},
		{"scanner agent", []Event{{Time: at(time.Hour), Kind: Click, Link: 1, Agent: Scanner}}, 3, []string{ScanAgent}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := DefaultScannerRule.Scan(t0, tc.clicks, tc.links)
			for i := range tc.want {
				if got[i] != tc.want[i] {
					t.Errorf("click %d: %q, want %q (all %q)", i, got[i], tc.want[i], got)
				}
			}
		})
	}
}

func TestSummarizeGolden(t *testing.T) {
	k := func(a string) string { return RecipientKey(secret, "c1", a) }
	deliveries := []Delivery{
		{k("ann@example.com"), "example.com", t0},
		{k("bob@example.com"), "example.com", t0},
		{k("cy@gmail.com"), "gmail.com", t0.Add(time.Minute)},
		{k("di@gmail.com"), "gmail.com", t0.Add(time.Minute)},
		{k("ed@corp.example"), "corp.example", t0},
	}
	ev := func(a string, d time.Duration, kind Kind, link int, agent Agent) Event {
		host := ""
		if kind == Click {
			host = []string{"", "acme.example", "shop.acme.example", "acme.example"}[link]
		}
		return Event{Time: t0.Add(d), Campaign: "c1", Recipient: k(a), Kind: kind, Link: link, Host: host, Agent: agent}
	}
	events := []Event{
		// ann: a person; two clicks on link 1, one on link 2.
		ev("ann@example.com", 30*time.Second, Open, 0, MailProxy),
		ev("ann@example.com", 5*time.Minute, Click, 1, Browser),
		ev("ann@example.com", 6*time.Minute, Click, 1, Browser),
		ev("ann@example.com", 2*time.Hour, Click, 2, Browser),
		// ed's company scanner clicks every link 3s after delivery, then ed himself, later.
		ev("ed@corp.example", 3*time.Second, Click, 1, Browser),
		ev("ed@corp.example", 3*time.Second, Click, 2, Browser),
		ev("ed@corp.example", 3*time.Second+time.Millisecond, Click, 3, Browser),
		ev("ed@corp.example", 3*24*time.Hour, Click, 3, Browser),
		// cy: only a scanner burst an hour later (every link within 2s).
		ev("cy@gmail.com", time.Hour, Click, 1, Browser),
		ev("cy@gmail.com", time.Hour+time.Second, Click, 2, Browser),
		ev("cy@gmail.com", time.Hour+1500*time.Millisecond, Click, 3, Browser),
		ev("cy@gmail.com", 2*time.Minute, Open, 0, MailProxy),
		// di: opens only (a person's browser and Gmail's proxy).
		ev("di@gmail.com", 10*time.Minute, Open, 0, MailProxy),
		ev("di@gmail.com", 11*time.Minute, Open, 0, Browser),
		// Not ours: another campaign, an unknown key.
		{Time: t0, Campaign: "c2", Recipient: k("ann@example.com"), Kind: Click, Link: 1, Agent: Browser},
		{Time: t0, Campaign: "c1", Recipient: "unknown", Kind: Click, Link: 1, Agent: Browser},
	}
	s := Summarize("c1", deliveries, events, DefaultScannerRule, 0)
	got, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "summary.golden.json")
	if *update {
		os.WriteFile(path, got, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./track -update creates it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("summary differs from %s:\n%s", path, got)
	}
	// The facts the golden file must show.
	if s.Clickers != 2 || s.ClickRate != 0.4 || s.ScannerClicks != 6 || s.ScannerOnly != 1 || s.Clicks != 4 || s.Openers != 3 || s.Unmatched != 1 || s.OtherCampaigns != 1 {
		t.Errorf("summary %+v", s)
	}
}

// TestTimeline: the step is the shortest that keeps the timeline within
// 48 steps, people and scanners are counted apart, and nothing is lost.
func TestTimeline(t *testing.T) {
	m := time.Minute
	step, tl := timeline([]time.Time{at(90 * time.Second), at(10 * m), at(10*m + 1)}, []time.Time{at(5 * time.Second)})
	if time.Duration(step) != m || len(tl) != 11 || tl[0].Scanner != 1 || tl[1].Clicks != 1 || tl[10].Clicks != 2 || !tl[0].Start.Equal(t0) {
		t.Errorf("10 minutes: step %v, %+v", step, tl)
	}
	step, tl = timeline([]time.Time{at(0), at(47 * time.Hour)}, nil)
	if step != time.Hour || len(tl) != 48 || tl[47].Clicks != 1 {
		t.Errorf("47 hours: step %v, %d steps", step, len(tl))
	}
	step, tl = timeline([]time.Time{at(0), at(100 * 24 * time.Hour)}, nil)
	n := 0
	for _, s := range tl {
		n += s.Clicks
	}
	if step != 7*24*time.Hour || len(tl) > 48 || n != 2 {
		t.Errorf("100 days: step %v, %d steps, %d clicks", step, len(tl), n)
	}
	if step, tl := timeline(nil, nil); step != 0 || tl != nil {
		t.Errorf("no clicks: %v %v", step, tl)
	}
}
