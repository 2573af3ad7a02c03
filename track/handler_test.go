package track

import (
	"bytes"
	"context"
	"image/gif"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readEvents(t *testing.T, path string) []Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Event
	r := NewReader(f)
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	if r.Torn != 0 {
		t.Errorf("torn line in %s", path)
	}
	return out
}

func TestHandler(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	l, err := OpenLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	now := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	h := &Handler{Secret: secret, Events: l, Now: func() time.Time { return now }}
	srv := httptest.NewServer(h) // listens on 127.0.0.1:0
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(p, ua string) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+p, nil)
		req.Header.Set("User-Agent", ua)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	key := RecipientKey(secret, "c1", "ann@example.com")
	click := Sign(secret, Token{Kind: Click, Campaign: "c1", Recipient: key, Link: 2, URL: "https://Acme.example/offer?x=1"})
	open := Sign(secret, Token{Kind: Open, Campaign: "c1", Recipient: key})

	// Bad tokens first: 404, and nothing written.
	forged := Sign([]byte("guessed secret"), Token{Kind: Click, URL: "https://evil.example/"})
	for _, p := range []string{"/c/" + forged, "/c/" + click[:len(click)-2], "/c/", "/o/" + click, "/c/" + open, "/x/" + click, "/c/" + click + "/more", "/"} {
		if resp := get(p, "Mozilla/5.0"); resp.StatusCode != http.StatusNotFound || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d %s, want 404", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if st, _ := os.Stat(path); st.Size() != 0 {
		t.Fatalf("bad tokens wrote %d bytes", st.Size())
	}

	resp := get("/c/"+click, "Mozilla/5.0 (Macintosh) Safari/605.1.15")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://Acme.example/offer?x=1" {
		t.Errorf("click: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if !strings.Contains(resp.Header.Get("Cache-Control"), "no-store") {
		t.Errorf("click Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	resp = get("/o/"+open, "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/gif" || !strings.Contains(resp.Header.Get("Cache-Control"), "no-cache") {
		t.Errorf("open: %d %v", resp.StatusCode, resp.Header)
	}
	if img, err := gif.Decode(bytes.NewReader(body)); err != nil || img.Bounds().Dx() != 1 || img.Bounds().Dy() != 1 {
		t.Errorf("open pixel: %v", err)
	}
	// HEAD: answered, not recorded. POST: refused.
	req, _ := http.NewRequest(http.MethodHead, srv.URL+"/c/"+click, nil)
	if r, err := client.Do(req); err != nil || r.StatusCode != http.StatusFound {
		t.Errorf("HEAD: %v %v", r, err)
	}
	if r, err := client.Post(srv.URL+"/c/"+click, "text/plain", nil); err != nil || r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %v %v", r, err)
	}

	got := readEvents(t, path)
	want := []Event{
		{Time: now, Campaign: "c1", Recipient: key, Kind: Click, Link: 2, Host: "acme.example", Agent: Browser},
		{Time: now, Campaign: "c1", Recipient: key, Kind: Open, Agent: MailProxy},
	}
	if len(got) != len(want) {
		t.Fatalf("events %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, []byte("127.0.0.1")) || bytes.Contains(raw, []byte("Safari")) || bytes.Contains(raw, []byte("ann@")) {
		t.Errorf("events hold an IP, a user agent or an address without LogIP:\n%s", raw)
	}

	// With LogIP the IP and the agent are kept.
	h.LogIP = true
	get("/c/"+click, "curl/8.5.0")
	got = readEvents(t, path)
	if e := got[len(got)-1]; e.IP != "127.0.0.1" || e.UserAgent != "curl/8.5.0" || e.Agent != Bot {
		t.Errorf("LogIP event %+v", e)
	}
}

func TestClassifyAgent(t *testing.T) {
	for ua, want := range map[string]Agent{
		"": Bot,
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15":               Browser,
		"Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)": MailProxy,
		"YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html":                  MailProxy,
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0":                   Scanner,
		"Barracuda Sentinel (EE)": Scanner,
		"curl/8.5.0":              Bot,
		"Googlebot/2.1":           Bot,
		"Outlook-iOS/709":         Other,
	} {
		if got := ClassifyAgent(ua); got != want {
			t.Errorf("%q: %s, want %s", ua, got, want)
		}
	}
}
