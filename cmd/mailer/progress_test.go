package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mailer-dev/mailer/campaign"
)

// Not a terminal: a plain status line at intervals, with rate and ETA.
func TestProgressPlainLine(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(newUI(&buf), false)
	if p.bar != nil || !p.plain {
		t.Fatal("a bytes.Buffer is no terminal: want the plain status line")
	}
	p.update(campaign.Progress{Total: 100, Done: 10})
	if buf.Len() != 0 {
		t.Errorf("printed before the interval: %q", buf.String())
	}
	p.last = time.Now().Add(-2 * statusEvery) // the interval has passed
	p.update(campaign.Progress{Total: 100, Done: 50})
	line := buf.String()
	if !strings.HasPrefix(line, "mailer: 50/100 recipients done (50%), ") || !strings.Contains(line, "msgs/s, eta ") {
		t.Errorf("status line %q", line)
	}
}

func TestProgressJSONAndQuiet(t *testing.T) {
	var buf bytes.Buffer
	u := newUI(&buf)
	if err := u.setFormat("json"); err != nil {
		t.Fatal(err)
	}
	p := newProgress(u, false)
	p.last = time.Now().Add(-2 * statusEvery)
	p.update(campaign.Progress{Total: 4, Done: 2})
	var ev map[string]any
	if err := json.Unmarshal(buf.Bytes(), &ev); err != nil {
		t.Fatalf("not one JSON object: %q: %v", buf.String(), err)
	}
	if ev["kind"] != "progress" || ev["done"] != float64(2) || ev["total"] != float64(4) {
		t.Errorf("event %v", ev)
	}
	buf.Reset()
	q := newProgress(u, true)
	q.last = time.Now().Add(-2 * statusEvery)
	q.update(campaign.Progress{Total: 4, Done: 3})
	q.finish()
	if buf.Len() != 0 {
		t.Errorf("--quiet printed %q", buf.String())
	}
}
