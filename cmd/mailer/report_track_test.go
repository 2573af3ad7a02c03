package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mailer-dev/mailer/address"
	"github.com/mailer-dev/mailer/track"
)

// trackedEvents are the events of testdata/report/tracked.csv's campaign
// (spring): written by the test, compared with the checked-in file.
func trackedEvents(t *testing.T) []byte {
	t.Helper()
	key := func(a string) string { return track.RecipientKey([]byte(trackSecret), "spring", address.Key(a)) }
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	ev := func(camp, a string, d time.Duration, kind track.Kind, link int, host string, agent track.Agent) track.Event {
		k := key(a)
		if camp != "spring" {
			k = track.RecipientKey([]byte(trackSecret), camp, address.Key(a))
		}
		return track.Event{Time: t0.Add(d), Campaign: camp, Recipient: k, Kind: kind, Link: link, Host: host, Agent: agent}
	}
	es := []track.Event{
		ev("spring", "ann@example.com", time.Minute, track.Open, 0, "", track.MailProxy),
		ev("spring", "bob@example.org", 4*time.Second, track.Click, 1, "shop.example", track.Browser), // 3s after delivery: a scanner
		ev("spring", "ann@example.com", 5*time.Minute, track.Click, 1, "shop.example", track.Browser),
		ev("spring", "dee@gmail.com", 30*time.Minute, track.Open, 0, "", track.Browser),
		ev("spring", "ann@example.com", 2*time.Hour, track.Click, 2, "acme.example", track.Browser),
		ev("spring", "ann@example.com", 2*time.Hour+time.Minute, track.Click, 1, "shop.example", track.Browser),
		ev("spring", "cy@gmail.com", 23*time.Hour, track.Click, 1, "shop.example", track.Bot),
		ev("spring", "eve@example.net", 23*time.Hour, track.Click, 1, "shop.example", track.Browser), // bounced: unmatched
		ev("autumn", "ann@example.com", 23*time.Hour, track.Click, 1, "shop.example", track.Browser),
	}
	var b bytes.Buffer
	for _, e := range es {
		line, _ := json.Marshal(e)
		b.Write(append(line, '\n'))
	}
	return b.Bytes()
}

// TestReportEventsGolden: report --events joins the events to the
// delivered rows (the recipient key from the campaign in the fingerprint
// and the normalised address), in text and JSON; the scanner rule is
// stated and --scanner-after changes it.
func TestReportEventsGolden(t *testing.T) {
	golden(t, "report/events.jsonl", trackedEvents(t))
	t.Setenv(trackingSecretEnv, trackSecret)
	for _, c := range []struct{ name, format string }{{"text", "text"}, {"json", "json"}} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runMailer(t, "report", "testdata/report/tracked.csv", "--events", "testdata/report/events.jsonl", "--format", c.format)
			if code != 0 || errs != "" {
				t.Fatalf("exit %d: %s", code, errs)
			}
			golden(t, "report/tracked."+c.name+".golden", []byte(out))
		})
	}
	_, out, _ := runMailer(t, "report", "testdata/report/tracked.csv", "--events", "testdata/report/events.jsonl")
	for _, want := range []string{
		"clicks: 2 unique clickers of 4 delivered, click rate 50.0%; 4 clicks by people",
		"scanner-like: 1 clicks counted apart",
		"within 10s of delivery",
		"#1   shop.example                      3 clicks, 2 clickers, 1 scanner-like",
		"gmail.com                    1 clickers of 2 delivered, 50.0%",
		"time to first click: median 11h32m29s",
		"opens: 2 by 2 recipients, open rate 50.0%; includes opens by machines",
		"not joined: 1 events of a recipient not among the delivered rows, 1 of other campaigns",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	_, out, _ = runMailer(t, "report", "testdata/report/tracked.csv", "--events", "testdata/report/events.jsonl", "--scanner-after", "0s")
	if !strings.Contains(out, "clicks: 3 unique clickers of 4 delivered, click rate 75.0%") || !strings.Contains(out, "within 0s of delivery") {
		t.Errorf("--scanner-after 0s:\n%s", out)
	}
	// Without the report's own events: the output is as before.
	_, plain, _ := runMailer(t, "report", "testdata/report/tracked.csv")
	if strings.Contains(plain, "engagement") {
		t.Errorf("report without --events shows engagement:\n%s", plain)
	}
	// Another secret finds no recipient; none is an error with a hint.
	t.Setenv(trackingSecretEnv, "another-secret-0123456789")
	if _, out, _ = runMailer(t, "report", "testdata/report/tracked.csv", "--events", "testdata/report/events.jsonl"); !strings.Contains(out, "not joined: 8 events") {
		t.Errorf("wrong secret:\n%s", out)
	}
	t.Setenv(trackingSecretEnv, "")
	if code, _, errs := runMailer(t, "report", "testdata/report/tracked.csv", "--events", "testdata/report/events.jsonl"); code != exitConfig || !strings.Contains(errs, "hint: set "+trackingSecretEnv) {
		t.Errorf("no secret: exit %d, %s", code, errs)
	}
	t.Setenv(trackingSecretEnv, trackSecret)
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte("{\"kind\":\"click\"}\nnot json\n"), 0o644)
	if code, _, errs := runMailer(t, "report", "testdata/report/tracked.csv", "--events", bad); code == 0 || !strings.Contains(errs, "bad.jsonl: line 2") {
		t.Errorf("bad events file: exit %d, %s", code, errs)
	}
}

// TestReportEventsPageInBrowser opens the HTML report with --events in
// headless Chromium: a bar per link (people and scanner-like apart, sized
// by count), a column per step of the timeline, the opens labelled, and
// nothing loaded from outside.
func TestReportEventsPageInBrowser(t *testing.T) {
	chromium(t)
	t.Setenv(trackingSecretEnv, trackSecret)
	page := filepath.Join(t.TempDir(), "report.html")
	if code, _, errs := runMailer(t, "report", "testdata/report/tracked.csv", "--events", "testdata/report/events.jsonl", "--html", page); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	src, _ := os.ReadFile(page)
	if m := regexp.MustCompile(`(?i)(src|href)="(https?:)?//|<script`).Find(src); m != nil {
		t.Errorf("the page refers to an external asset or has a script: %s", m)
	}
	dom := browse(t, page, "--dump-dom")
	links := regexp.MustCompile(`<g class="link" data-link="(\d+)" data-clicks="(\d+)" data-scanner="(\d+)">\s*<text[^>]*>#\d+ ([a-z.]+)</text>\s*<rect class="people" x="260" y="\d+" width="(\d+)"[^>]*>.*?</rect>\s*<rect class="scanner" x="\d+" y="\d+" width="(\d+)"`).FindAllStringSubmatch(dom, -1)
	var got []string
	for _, l := range links {
		got = append(got, strings.Join(l[1:], " "))
	}
	// Link 1: 3 clicks and 1 scanner-like, the largest (380 wide in all);
	// link 2: 1 click.
	if want := []string{"1 3 1 shop.example 285 95", "2 1 0 acme.example 95 0"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("link bars %q, want %q", got, want)
	}
	steps := regexp.MustCompile(`<g class="step" data-start="([0-9T:Z-]+)" data-clicks="(\d+)" data-scanner="(\d+)">`).FindAllStringSubmatch(dom, -1)
	people, scanner := 0, 0
	for _, s := range steps {
		people += atoi(s[2])
		scanner += atoi(s[3])
	}
	if len(steps) != 24 || people != 4 || scanner != 1 || steps[0][1] != "2026-11-26T10:00:00Z" || steps[0][3] != "1" {
		t.Errorf("timeline: %d steps, %d clicks, %d scanner-like; first %v", len(steps), people, scanner, steps[0])
	}
	for _, want := range []string{`<svg id="link-clicks"`, `<svg id="click-timeline"`, "One bar per 1h0m0s", "50.0%", "includes opens by machines",
		"within 10s of delivery", "<td>gmail.com</td>", "Not joined: 1 events", `<svg id="outcomes"`} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	png := filepath.Join(t.TempDir(), "report.png")
	browse(t, page, "--window-size=1000,1600", "--screenshot="+png)
	if st, err := os.Stat(png); err != nil || st.Size() < 10_000 {
		t.Errorf("screenshot: %v", err)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
