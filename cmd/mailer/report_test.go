package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestReportGolden(t *testing.T) {
	for _, c := range []struct{ name, format string }{{"text", "text"}, {"json", "json"}} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runMailer(t, "report", "testdata/report/results.csv", "--format", c.format)
			if code != 0 || errs != "" {
				t.Fatalf("exit %d: %s", code, errs)
			}
			golden(t, "report/results."+c.name+".golden", []byte(out))
		})
	}
	code, _, errs := runMailer(t, "report", "testdata/report/none.csv")
	if code != 66 || !strings.Contains(errs, "none.csv: no such file") {
		t.Errorf("missing file: exit %d, %s", code, errs)
	}
	code, _, errs = runMailer(t, "report")
	if code != 64 {
		t.Errorf("no file: exit %d, %s", code, errs)
	}
}

// TestReportPageInBrowser opens the HTML report in headless Chromium: the
// chart has one bar per status, sized by count, and the tables show the
// codes and domains; the page loads nothing from outside.
func TestReportPageInBrowser(t *testing.T) {
	chromium(t)
	page := filepath.Join(t.TempDir(), "report.html")
	if code, _, errs := runMailer(t, "report", "testdata/report/results.csv", "--html", page); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	src, _ := os.ReadFile(page)
	if m := regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).Find(src); m != nil {
		t.Errorf("the page refers to an external asset: %s", m)
	}
	dom := browse(t, page, "--dump-dom")
	bars := regexp.MustCompile(`<g class="bar" data-status="([a-z-]+)" data-count="(\d+)">\s*<text[^>]*>[a-z-]+</text>\s*<rect x="100" y="\d+" width="(\d+)"`).FindAllStringSubmatch(dom, -1)
	got := map[string]string{}
	widths := map[string]string{}
	for _, b := range bars {
		got[b[1]], widths[b[1]] = b[2], b[3]
	}
	want := map[string]string{"delivered": "3", "bounced": "3", "deferred": "1", "unknown": "1", "invalid": "1", "suppressed": "1"}
	for s, n := range want {
		if got[s] != n {
			t.Errorf("chart: %s bar shows %q, want %s (bars: %v)", s, got[s], n, got)
		}
	}
	if widths["delivered"] != "520" || widths["deferred"] != "173" {
		t.Errorf("bar widths %v: the largest should be 520, a third of it 173", widths)
	}
	for _, want := range []string{`<svg id="outcomes"`, "37.5%", "<td>5.1.1</td>", "<td>slow.example</td>", "RCPT: User unknown", "=HYPERLINK(spam)"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	png := filepath.Join(t.TempDir(), "report.png")
	browse(t, page, "--window-size=1000,1100", "--screenshot="+png)
	if st, err := os.Stat(png); err != nil || st.Size() < 10_000 {
		t.Errorf("screenshot: %v", err)
	}
}
