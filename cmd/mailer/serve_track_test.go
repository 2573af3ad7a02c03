package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailer-dev/mailer/track"
)

const trackSecret = "track-test-secret-0123456789"

// events reads an events file whole.
func readEvents(t *testing.T, path string) []track.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := track.NewReader(f)
	var es []track.Event
	for {
		e, err := r.Next()
		if err == io.EOF {
			return es
		}
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
}

var noRedirect = &http.Client{Timeout: 10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func clickToken(rcpt string, link int, dest string) string {
	return track.Sign([]byte(trackSecret), track.Token{Kind: track.Click, Campaign: "spring", Recipient: rcpt, Link: link, URL: dest})
}

// TestServeTracking runs the binary with --events under the path of
// --track-links: a click is a 302 to the destination and an open the GIF,
// each a line in the events file; a tampered token, a click token on the
// open route and a path outside the base are 404s and write nothing; the
// access log has no token; on SIGTERM serve says what it recorded.
func TestServeTracking(t *testing.T) {
	events := filepath.Join(t.TempDir(), "events.jsonl")
	p := startServe(t, "--events", events, "--track-links", "https://acme.example/t", "--track-rate", "0")
	dest := "https://shop.example/spring?utm=news"
	tok := clickToken("rcpt-key-1", 2, dest)
	req, _ := http.NewRequest("GET", p.base+"/t/c/"+tok, nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 || resp.Header.Get("Location") != dest {
		t.Fatalf("click: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	open := track.Sign([]byte(trackSecret), track.Token{Kind: track.Open, Campaign: "spring", Recipient: "rcpt-key-1"})
	resp, err = noRedirect.Get(p.base + "/t/o/" + open)
	if err != nil {
		t.Fatal(err)
	}
	gif, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/gif" || !bytes.HasPrefix(gif, []byte("GIF89a")) {
		t.Fatalf("open: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), gif)
	}
	// The destination changed, the tag kept: the signature no longer verifies.
	evil := clickToken("rcpt-key-1", 2, "https://shop.example/spring?utm=nexs")
	tampered := evil[:len(evil)-22] + tok[len(tok)-22:]
	other := track.Sign([]byte("another-secret-0123456789"), track.Token{Kind: track.Click, Campaign: "spring", Recipient: "r", Link: 1, URL: dest})
	for _, bad := range []string{"/t/c/" + tampered, "/t/c/" + other, "/t/o/" + tok, "/c/" + tok, "/t/c/", "/t/c/x"} {
		resp, err := noRedirect.Get(p.base + bad)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 || resp.Header.Get("Location") != "" {
			t.Errorf("%.40s: %d %q, want a 404", bad, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var logs []string
	for l := range p.lines {
		logs = append(logs, l)
	}
	if err := <-p.exited; err != nil {
		t.Fatalf("serve: %v", err)
	}
	es := readEvents(t, events)
	if len(es) != 2 {
		t.Fatalf("%d events, want the click and the open: %+v", len(es), es)
	}
	c, o := es[0], es[1]
	if c.Kind != track.Click || c.Campaign != "spring" || c.Recipient != "rcpt-key-1" || c.Link != 2 || c.Host != "shop.example" ||
		c.Agent != track.Browser || c.IP != "" || c.UserAgent != "" || time.Since(c.Time) > time.Minute {
		t.Errorf("click event %+v", c)
	}
	if o.Kind != track.Open || o.Agent != track.Bot {
		t.Errorf("open event %+v", o)
	}
	if !strings.Contains(p.stdout.String(), "serve: 1 clicks and 1 opens recorded in "+events) {
		t.Errorf("stdout %q", p.stdout.String())
	}
	access := 0
	for _, l := range logs {
		if strings.Contains(l, tok[:20]) || strings.Contains(l, open[:20]) {
			t.Errorf("the log has a token: %s", l)
		}
		if strings.Contains(l, "GET /t/c/… 302") || strings.Contains(l, "GET /t/o/… 200") {
			access++
		}
	}
	if access != 2 {
		t.Errorf("%d access lines for the click and the open:\n%s", access, strings.Join(logs, "\n"))
	}
}

// TestServeConcurrentClicks: 20 clients click until 300 redirects, then
// SIGTERM while they go on: serve exits 0 and every click that got its
// 302 is in the events file once, each line whole. With --log-ip the IP
// and the user agent are kept. Past --track-burst a click is still
// redirected, and counted as not recorded.
func TestServeConcurrentClicks(t *testing.T) {
	events := filepath.Join(t.TempDir(), "events.jsonl")
	p := startServe(t, "--events", events, "--track-links", "http://127.0.0.1/", "--log-ip", "--track-rate", "0")
	var (
		mu   sync.Mutex
		oked = map[int]bool{}
		wg   sync.WaitGroup
	)
	enough := make(chan struct{})
	var once sync.Once
	for c := 0; c < 20; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				link := c*100000 + i + 1
				req, _ := http.NewRequest("GET", p.base+"/c/"+clickToken("k", link, "https://shop.example/"), nil)
				req.Header.Set("User-Agent", "test-agent/1")
				resp, err := noRedirect.Do(req)
				if err != nil {
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 302 {
					return
				}
				mu.Lock()
				oked[link] = true
				if len(oked) >= 300 {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		}()
	}
	select {
	case <-enough:
	case <-time.After(60 * time.Second):
		t.Fatal("300 clicks took over a minute")
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	for range p.lines {
	}
	if err := <-p.exited; err != nil {
		t.Fatalf("serve: %v", err)
	}
	wg.Wait()
	b, _ := os.ReadFile(events)
	if len(b) == 0 || b[len(b)-1] != '\n' {
		t.Fatal("the events file does not end in a whole line")
	}
	count := map[int]int{}
	for _, e := range readEvents(t, events) {
		count[e.Link]++
		if e.IP != "127.0.0.1" || e.UserAgent != "test-agent/1" {
			t.Fatalf("--log-ip event %+v", e)
		}
	}
	for l := range oked {
		if count[l] != 1 {
			t.Errorf("click %d got a 302 and is in the file %d times", l, count[l])
		}
	}
	for l, n := range count {
		if n != 1 {
			t.Errorf("click %d is in the file %d times", l, n)
		}
	}
	if !strings.Contains(p.stdout.String(), fmt.Sprintf("serve: %d clicks and 0 opens recorded", len(count))) {
		t.Errorf("stdout %q, %d in the file", p.stdout.String(), len(count))
	}
	t.Logf("%d clicks answered before and during SIGTERM", len(oked))

	// Past the burst: redirected, not recorded. Behind a proxy, --log-ip
	// keeps the client's IP from --client-ip-header.
	events2 := filepath.Join(t.TempDir(), "events.jsonl")
	p = startServe(t, "--events", events2, "--track-links", "http://127.0.0.1/", "--track-rate", "0.001", "--track-burst", "2",
		"--log-ip", "--client-ip-header", "X-Forwarded-For")
	for i := 1; i <= 4; i++ {
		req, _ := http.NewRequest("GET", p.base+"/c/"+clickToken("k", i, "https://shop.example/"), nil)
		req.Header.Set("X-Forwarded-For", "198.51.100.7")
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 302 {
			t.Errorf("click %d past the burst: %d, want the redirect anyway", i, resp.StatusCode)
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	for range p.lines {
	}
	<-p.exited
	if es := readEvents(t, events2); len(es) != 2 || es[0].IP != "198.51.100.7" {
		t.Errorf("events %+v, want the burst of 2, from the proxied client", es)
	}
	if !strings.Contains(p.stdout.String(), "2 answered but not recorded (over --track-rate)") {
		t.Errorf("stdout %q", p.stdout.String())
	}
}

// TestServeTrackingSettings: --events needs the base and the secret, and
// a base without --events is refused (its links would be dead); the base
// comes from send's config file.
func TestServeTrackingSettings(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(unsubscribeSecretEnv, serveSecret)
	ev := filepath.Join(dir, "events.jsonl")
	base := []string{"serve", "--listen", "127.0.0.1:0", "--suppress", filepath.Join(dir, "s.csv"), "--unsubscribe-url", serveURL}
	for _, c := range []struct {
		args   []string
		secret string
		code   int
		msg    string
	}{
		{[]string{"--events", ev}, trackSecret, exitUsage, "--events needs the BASE"},
		{[]string{"--track-links", "https://acme.example/t"}, trackSecret, exitUsage, "give --events FILE"},
		{[]string{"--log-ip"}, trackSecret, exitUsage, "--log-ip needs --events"},
		{[]string{"--events", ev, "--track-links", "ftp://acme.example/t"}, trackSecret, exitUsage, "http"},
		{[]string{"--events", ev, "--track-links", "https://acme.example/t"}, "", exitConfig, "hint: set " + trackingSecretEnv},
		{[]string{"--events", filepath.Join(dir, "no", "e.jsonl"), "--track-links", "https://acme.example/t"}, trackSecret, exitCantCreate, "no such file"},
	} {
		t.Setenv(trackingSecretEnv, c.secret)
		var out, errb strings.Builder
		if code := run(append(base, c.args...), &out, &errb); code != c.code || !strings.Contains(errb.String(), c.msg) {
			t.Errorf("%v: exit %d, %s", c.args, code, errb.String())
		}
	}
	if _, err := os.Stat(ev); err == nil {
		t.Error("a refused serve created the events file")
	}
	cfg := filepath.Join(dir, "campaign.yaml")
	os.WriteFile(cfg, []byte("unsubscribe-url: '"+serveURL+"'\nsuppress: s.csv\ntrack-links: https://acme.example/t\ntrack-opens: true\n"), 0o644)
	var got *ServeOptions
	var out, errb strings.Builder
	code := runWith([]string{"serve", "--config", cfg, "--events", ev}, &out, &errb, runFuncs{serve: func(o *ServeOptions) error { got = o; return nil }})
	if code != 0 || got == nil || got.TrackLinks != "https://acme.example/t" || got.Events != ev {
		t.Errorf("from the config: exit %d %+v %s", code, got, errb.String())
	}
}
