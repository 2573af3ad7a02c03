package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/mailer-dev/mailer/address"
	"github.com/mailer-dev/mailer/campaign"
	"github.com/mailer-dev/mailer/internal/safetext"
	"github.com/mailer-dev/mailer/track"
)

// engagement is the report's part from the events files of `mailer serve
// --events`: the clicks and opens of the delivered recipients.
type engagement struct {
	Events     []string `json:"events_files"`
	EventsRead int      `json:"events_read"`
	TornLines  int      `json:"torn_lines"`
	*track.Summary
}

// campaignMark stands for every campaign of the results in the events
// given to track.Summarize: the recipient keys differ per campaign, so
// the rows of several (shards without --campaign) join as one.
const campaignMark = "\x00results"

// buildEngagement joins the events to the delivered rows of files. The
// recipient key is the one send put in the tokens: the campaign is the
// --campaign its fingerprint records, else the name send derives from
// the results path (campaignID), with the secret of trackingSecretEnv.
func buildEngagement(files, eventFiles []string, rule track.ScannerRule, getenv func(string) string) (*engagement, error) {
	secret := getenv(trackingSecretEnv)
	if len(secret) < 16 {
		return nil, &configError{&trackingSecretError{fmt.Sprintf("report --events needs the secret send made the tracked links with (at least 16 characters) in %s", trackingSecretEnv)}}
	}
	rows, err := campaign.Deliveries(files)
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	derived := map[string]string{} // results file -> campaignID
	ds := make([]track.Delivery, 0, len(rows))
	for _, r := range rows {
		id := r.Campaign
		if id == "" {
			if derived[r.File] == "" {
				derived[r.File] = campaignID(r.File)
			}
			id = derived[r.File]
		}
		ids[id] = true
		ds = append(ds, track.Delivery{Recipient: track.RecipientKey([]byte(secret), id, address.Key(r.Email)),
			Domain: safetext.String(address.Domain(r.Email)), Delivered: r.Time})
	}
	g := &engagement{Events: eventFiles}
	var events []track.Event
	for _, path := range eventFiles {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--events: %w", err)
		}
		rd := track.NewReader(f)
		for {
			e, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				return nil, &campaign.DataError{File: path, Msg: err.Error()}
			}
			g.EventsRead++
			if ids[e.Campaign] {
				e.Campaign = campaignMark
			}
			e.Host = safetext.String(e.Host)
			events = append(events, e)
		}
		g.TornLines += rd.Torn
		f.Close()
	}
	g.Summary = track.Summarize(campaignMark, ds, events, rule, 0)
	return g, nil
}

// printEngagement is the text report's engagement part.
func printEngagement(w io.Writer, g *engagement) {
	s := g.Summary
	fmt.Fprintf(w, "\nengagement (%s: %d events", strings.Join(g.Events, ", "), g.EventsRead)
	if g.TornLines > 0 {
		fmt.Fprintf(w, ", %d torn last line skipped", g.TornLines)
	}
	fmt.Fprintln(w, "):")
	fmt.Fprintf(w, "  clicks: %d unique clickers of %d delivered, click rate %s; %d clicks by people\n", s.Clickers, s.Delivered, pct(s.ClickRate), s.Clicks)
	fmt.Fprintf(w, "  scanner-like: %d clicks counted apart, left out of the rates (%d recipients with only such clicks)\n", s.ScannerClicks, s.ScannerOnly)
	fmt.Fprintf(w, "    rule: %s\n", s.Rule)
	if len(s.Links) > 0 {
		fmt.Fprintf(w, "  clicks per link:\n")
		for _, l := range s.Links {
			fmt.Fprintf(w, "    #%-3d %-28s %6d clicks, %d clickers, %d scanner-like\n", l.Link, l.Host, l.Clicks, l.Clickers, l.Scanner)
		}
	}
	if len(s.Domains) > 0 {
		fmt.Fprintf(w, "  per recipient domain:\n")
		for i, d := range s.Domains {
			if i == campaign.ReportTop {
				fmt.Fprintf(w, "    (%d more domains in --format json)\n", len(s.Domains)-i)
				break
			}
			fmt.Fprintf(w, "    %-28s %d clickers of %d delivered, %s\n", d.Domain, d.Clickers, d.Delivered, pct(d.ClickRate))
		}
	}
	if s.Clickers > 0 {
		var parts []string
		for _, b := range s.FirstClickBuckets {
			parts = append(parts, fmt.Sprintf("within %s %d", b.UpTo, b.Clickers))
		}
		parts[len(parts)-1] = strings.Replace(parts[len(parts)-1], "within later", "later", 1)
		fmt.Fprintf(w, "  time to first click: median %s; %s\n", roundDuration(time.Duration(s.FirstClickMedian)), strings.Join(parts, ", "))
	}
	if len(s.ClicksByAgent) > 0 {
		fmt.Fprintf(w, "  clicks by user-agent class: %s\n", agentCounts(s.ClicksByAgent))
	}
	fmt.Fprintf(w, "  opens: %d by %d recipients, open rate %s; %s\n", s.Opens, s.Openers, pct(s.OpenRate), s.OpensNote)
	if len(s.OpensByAgent) > 0 {
		fmt.Fprintf(w, "    by user-agent class: %s\n", agentCounts(s.OpensByAgent))
	}
	if s.Unmatched+s.OtherCampaigns > 0 {
		fmt.Fprintf(w, "  not joined: %d events of a recipient not among the delivered rows, %d of other campaigns (a results file moved since send? its campaign name comes from its path unless send had --campaign)\n", s.Unmatched, s.OtherCampaigns)
	}
}

func agentCounts(m map[track.Agent]int) string {
	var parts []string
	for a, n := range m {
		parts = append(parts, fmt.Sprintf("%s %d", a, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// engagementView is the engagement laid out for the HTML page: the bars of
// the two charts already measured.
type engagementView struct {
	*engagement
	ClickRate, OpenRate string
	FirstClick          string
	Links               []linkBar
	LinksHeight         int
	Steps               []stepBar
	StepW, ChartW       int
	From, To, Step      string
	Domains             []domainRow
}

type linkBar struct {
	Link, Clicks, Scanner, Clickers int
	Host                            string
	Y, TextY, W, SW, X2, TX         int
}

type stepBar struct {
	Start                 string
	Clicks, Scanner       int
	X, Y, H, SY, SH, Tall int
}

type domainRow struct {
	Domain              string
	Delivered, Clickers int
	Rate                string
}

const (
	linkBarH, linkGap, linkLabelW, linkWidth = 22, 8, 260, 380
	stepHeight, chartW                       = 160, 720
)

func newEngagementView(g *engagement) *engagementView {
	if g == nil {
		return nil
	}
	s := g.Summary
	v := &engagementView{engagement: g, ClickRate: pct(s.ClickRate), OpenRate: pct(s.OpenRate), ChartW: chartW}
	if s.Clickers > 0 {
		v.FirstClick = roundDuration(time.Duration(s.FirstClickMedian)).String()
	}
	most := 1
	for _, l := range s.Links {
		most = max(most, l.Clicks+l.Scanner)
	}
	for i, l := range s.Links {
		y := i * (linkBarH + linkGap)
		w, sw := l.Clicks*linkWidth/most, l.Scanner*linkWidth/most
		if l.Clicks > 0 {
			w = max(w, 2)
		}
		if l.Scanner > 0 {
			sw = max(sw, 2)
		}
		v.Links = append(v.Links, linkBar{Link: l.Link, Host: l.Host, Clicks: l.Clicks, Scanner: l.Scanner, Clickers: l.Clickers,
			Y: y, TextY: y + linkBarH/2 + 5, W: w, SW: sw, X2: linkLabelW + w, TX: linkLabelW + w + sw + 8})
	}
	v.LinksHeight = max(1, len(v.Links))*(linkBarH+linkGap) - linkGap
	if n := len(s.Timeline); n > 0 {
		v.StepW = max(4, chartW/n)
		tall := 1
		for _, st := range s.Timeline {
			tall = max(tall, st.Clicks+st.Scanner)
		}
		for i, st := range s.Timeline {
			h, sh := st.Clicks*stepHeight/tall, st.Scanner*stepHeight/tall
			v.Steps = append(v.Steps, stepBar{Start: st.Start.UTC().Format(time.RFC3339), Clicks: st.Clicks, Scanner: st.Scanner,
				X: i * v.StepW, Y: stepHeight - h, H: h, SY: stepHeight - h - sh, SH: sh, Tall: tall})
		}
		v.ChartW = n * v.StepW
		v.From = s.Timeline[0].Start.UTC().Format(time.RFC3339)
		v.To = s.Timeline[n-1].Start.Add(time.Duration(s.TimelineStep)).UTC().Format(time.RFC3339)
		v.Step = time.Duration(s.TimelineStep).String()
	}
	for i, d := range s.Domains {
		if i == campaign.ReportTop {
			break
		}
		v.Domains = append(v.Domains, domainRow{Domain: d.Domain, Delivered: d.Delivered, Clickers: d.Clickers, Rate: pct(d.ClickRate)})
	}
	return v
}

// roundDuration drops the digits no reader needs: seconds from 10s up,
// milliseconds below.
func roundDuration(d time.Duration) time.Duration {
	if d >= 10*time.Second {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}
