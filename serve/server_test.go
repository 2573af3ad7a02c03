package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailer-dev/mailer/render"
	"github.com/mailer-dev/mailer/suppress"
)

// TestOneClick: for two URL shapes, the RFC 8058 POST (form-urlencoded
// and multipart) unsubscribes at once with a 200; repeating it answers 200
// and writes nothing more.
func TestOneClick(t *testing.T) {
	for _, tmpl := range shapes[:2] {
		t.Run(tmpl, func(t *testing.T) {
			ts := start(t, tmpl, nil)
			if code, body := ts.oneClick(t, "bob@example.com"); code != 200 || !strings.Contains(body, "unsubscribed") {
				t.Fatalf("one-click: %d %s", code, body)
			}
			var mb bytes.Buffer
			mw := multipart.NewWriter(&mb)
			mw.WriteField("List-Unsubscribe", "One-Click")
			mw.Close()
			if code, _ := ts.post(t, ts.url(t, "carol@example.com"), mw.FormDataContentType(), mb.String()); code != 200 {
				t.Fatalf("multipart one-click: %d", code)
			}
			for i := 0; i < 3; i++ {
				if code, _ := ts.oneClick(t, "bob@example.com"); code != 200 {
					t.Fatalf("repeat: %d", code)
				}
			}
			es := ts.entries(t)
			if len(es) != 2 {
				t.Fatalf("entries %+v", es)
			}
			for _, e := range es {
				if e.Reason != suppress.Unsubscribe || e.Source != "one-click" || e.Time.IsZero() {
					t.Errorf("entry %+v", e)
				}
			}
			if es[0].Email != "bob@example.com" || es[1].Email != "carol@example.com" {
				t.Errorf("entries %+v", es)
			}
		})
	}
}

// TestGetShowsPage: a GET shows the address and a form that POSTs, and
// writes nothing (scanners fetch links); the form's POST unsubscribes
// (source web); a GET after it says so.
func TestGetShowsPage(t *testing.T) {
	ts := start(t, shapes[1], nil)
	u := ts.url(t, "o'neil@example.com")
	resp, body := ts.get(t, u)
	if resp.StatusCode != 200 {
		t.Fatalf("GET: %d %s", resp.StatusCode, body)
	}
	for _, want := range []string{`<html lang="en">`, `<form method="post"`, `<button type="submit"`, `name="confirm" value="1"`, "o&#39;neil@example.com"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script") || strings.Contains(body, "src=") || strings.Contains(body, "href=") {
		t.Errorf("page loads or runs something:\n%s", body)
	}
	if len(ts.entries(t)) != 0 {
		t.Fatal("a GET wrote a suppression")
	}
	// The CSP allows the page's one style block by its hash and nothing else.
	csp := resp.Header.Get("Content-Security-Policy")
	m := regexp.MustCompile(`(?s)<style>(.*)</style>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no style")
	}
	sum := sha256.Sum256([]byte(m[1]))
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") {
		t.Errorf("CSP %q does not allow exactly the style block", csp)
	}
	for h, want := range map[string]string{"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q", h, got)
		}
	}
	if code, body := ts.post(t, u, "application/x-www-form-urlencoded", "confirm=1"); code != 200 || !strings.Contains(body, "You are unsubscribed") {
		t.Fatalf("confirm: %d %s", code, body)
	}
	if es := ts.entries(t); len(es) != 1 || es[0].Source != "web" || es[0].Email != "o'neil@example.com" {
		t.Fatalf("entries %+v", es)
	}
	if _, body := ts.get(t, u); !strings.Contains(body, "You are unsubscribed") {
		t.Errorf("GET after: %s", body)
	}
}

// TestRefusals: a missing or malformed token is 400, a forged one 403, a
// POST that is not an unsubscribe 400, a large body 413, another path
// 404; none writes anything.
func TestRefusals(t *testing.T) {
	ts := start(t, shapes[0], nil)
	good := ts.url(t, "bob@example.com")
	form := "application/x-www-form-urlencoded"
	oneClick := "List-Unsubscribe=One-Click"
	for _, c := range []struct {
		name, url, body string
		want            int
	}{
		{"no token", strings.Split(good, "&t=")[0], oneClick, 400},
		{"empty token", strings.Split(good, "&t=")[0] + "&t=", oneClick, 400},
		{"no address", ts.base + "/unsubscribe?t=" + render.UnsubscribeToken(testSecret, "bob@example.com"), oneClick, 400},
		{"short token", good[:len(good)-1], oneClick, 400},
		{"not base64url", good[:len(good)-1] + "*", oneClick, 400},
		{"another address's token", ts.urlWith(t, "bob@example.com", render.UnsubscribeToken(testSecret, "eve@example.com")), oneClick, 403},
		{"another secret", ts.urlWith(t, "bob@example.com", render.UnsubscribeToken([]byte("guessed-secret-000"), "bob@example.com")), oneClick, 403},
		{"wrong body", good, "List-Unsubscribe=Yes", 400},
		{"empty body", good, "", 400},
		{"large body", good, oneClick + "&x=" + strings.Repeat("a", 8<<10), 413},
		{"other path", ts.base + "/unsubscribe/x", oneClick, 404},
	} {
		code, _ := ts.post(t, c.url, form, c.body)
		if code != c.want {
			t.Errorf("%s: %d, want %d", c.name, code, c.want)
		}
	}
	if resp, _ := ts.get(t, ts.urlWith(t, "bob@example.com", render.UnsubscribeToken(testSecret, "eve@example.com"))); resp.StatusCode != 403 {
		t.Errorf("forged GET: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPut, good, strings.NewReader(oneClick))
	if resp, err := ts.client.Do(req); err != nil || resp.StatusCode != 405 {
		t.Errorf("PUT: %v %v", resp, err)
	}
	// A large body without a length (chunked) is cut off by the reader.
	pr := &slowBody{n: 64 << 10}
	// (The server may close the connection before the client has sent
	// it all: the client then sees the close rather than the 413.)
	if resp, err := ts.client.Post(good, form, pr); err == nil && resp.StatusCode != 413 {
		t.Errorf("chunked large body: %d", resp.StatusCode)
	}
	if es := ts.entries(t); len(es) != 0 {
		t.Errorf("refused requests wrote %+v", es)
	}
}

// slowBody is n bytes of a one-click body's padding, with no length known.
type slowBody struct{ n int }

func (b *slowBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	k := min(len(p), b.n)
	for i := range p[:k] {
		p[i] = 'a'
	}
	b.n -= k
	return k, nil
}

// TestRateLimit: good requests are never limited; a client past its burst
// of refused ones (forged tokens) gets 429 with Retry-After, for good
// tokens too, while another client does not.
func TestRateLimit(t *testing.T) {
	ts := start(t, shapes[0], func(o *Options) {
		o.ClientRate, o.ClientBurst, o.ClientIPHeader = 0.01, 3, "X-Forwarded-For"
	})
	u := ts.url(t, "bob@example.com")
	forged := strings.Replace(u, "t=", "t=AAAA", 1)
	do := func(u, ip string) *http.Response {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.9, "+ip)
		resp, err := ts.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i := 0; i < 10; i++ {
		if r := do(u, "198.51.100.1"); r.StatusCode != 200 {
			t.Fatalf("good request %d: %d, want never limited", i, r.StatusCode)
		}
	}
	for i := 0; i < 3; i++ {
		if r := do(forged, "198.51.100.1"); r.StatusCode/100 != 4 || r.StatusCode == 429 {
			t.Fatalf("forged request %d: %d", i, r.StatusCode)
		}
	}
	if r := do(forged, "198.51.100.1"); r.StatusCode != 429 || r.Header.Get("Retry-After") == "" {
		t.Errorf("past the burst of refusals: %d", r.StatusCode)
	}
	if r := do(u, "198.51.100.1"); r.StatusCode != 429 {
		t.Errorf("a good token from a client past its refusals: %d, want 429", r.StatusCode)
	}
	if r := do(u, "198.51.100.2"); r.StatusCode != 200 {
		t.Errorf("another client: %d", r.StatusCode)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if a := ts.log[len(ts.log)-1]; a.Remote != "198.51.100.2" {
		t.Errorf("logged client %q", a.Remote)
	}
}

// TestLimiterBounded: a flood of client IPs keeps the map at its bound.
func TestLimiterBounded(t *testing.T) {
	l := newLimiter(10, 5, 100)
	now := time.Now()
	for i := 0; i < 20000; i++ {
		l.allow(fmt.Sprintf("10.0.%d.%d", i/256, i%256), now)
		if l.len() > 100 {
			t.Fatalf("%d clients kept", l.len())
		}
	}
	// A client in the middle of its burst keeps it while idle ones go.
	l = newLimiter(10, 5, 4)
	for i := 0; i < 5; i++ {
		l.allow("busy", now)
	}
	for i := 0; i < 3; i++ {
		l.allow(fmt.Sprint("idle", i), now.Add(-time.Hour))
	}
	l.clients["busy"].seen = now
	l.allow("new", now)
	if l.allow("busy", now) {
		t.Error("the busy client's bucket was reset")
	}
}

// TestConcurrentPosts: 20 clients POST for one address and 300 more for
// as many addresses, at once: every answer is 200, each address is in the
// file once.
func TestConcurrentPosts(t *testing.T) {
	ts := start(t, shapes[0], nil)
	var wg sync.WaitGroup
	codes := make(chan int, 400)
	for i := 0; i < 320; i++ {
		addr := fmt.Sprintf("u%d@example.com", i)
		if i < 20 {
			addr = "Same@Example.com"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _ := ts.oneClick(t, addr)
			codes <- code
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Fatalf("status %d", c)
		}
	}
	seen := map[string]int{}
	for _, e := range ts.entries(t) {
		seen[e.Key()]++
	}
	if len(seen) != 301 {
		t.Errorf("%d addresses in the file, want 301", len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s %d times", k, n)
		}
	}
}

// TestKnownNotAppended: an address on the file at the start answers 200
// and is not written again.
func TestKnownNotAppended(t *testing.T) {
	ts := start(t, shapes[0], nil)
	w, _ := suppress.OpenWriter(ts.file)
	w.Append(suppress.Entry{Email: "old@example.com", Reason: suppress.HardBounce})
	w.Close()
	set, err := suppress.Load(ts.file)
	if err != nil {
		t.Fatal(err)
	}
	ts.Server.o.Known = set
	if code, _ := ts.oneClick(t, "OLD@example.com"); code != 200 {
		t.Fatal(code)
	}
	if es := ts.entries(t); len(es) != 1 {
		t.Errorf("entries %+v", es)
	}
}

// TestAccessLogHasNoToken: every request is logged with its status, and no
// logged path holds a token, an address or a query.
func TestAccessLogHasNoToken(t *testing.T) {
	for _, tmpl := range shapes[:2] {
		ts := start(t, tmpl, nil)
		ts.Handle("/c/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(302) }))
		ts.oneClick(t, "bob@example.com")
		ts.get(t, ts.url(t, "bob@example.com"))
		ts.get(t, ts.urlWith(t, "bob@example.com", "short"))
		ts.get(t, ts.base+"/c/"+render.UnsubscribeToken(testSecret, "x@example.com"))
		ts.get(t, ts.base+"/elsewhere/"+render.UnsubscribeToken(testSecret, "x@example.com")+"?t=1")
		ts.mu.Lock()
		if len(ts.log) != 5 {
			t.Fatalf("%d log lines for 5 requests", len(ts.log))
		}
		for _, a := range ts.log {
			if strings.ContainsAny(a.Path, "?@") || strings.Contains(a.Path, "bob") || len(a.Path) > 40 || a.Status == 0 {
				t.Errorf("%s: logged %+v", tmpl, a)
			}
		}
		if ts.log[0].Method != "POST" || ts.log[0].Status != 200 || ts.log[3].Path != "/c/…" {
			t.Errorf("log %+v", ts.log)
		}
		ts.mu.Unlock()
	}
}

// blocking is an Appender that holds every append until released.
type blocking struct {
	started chan struct{}
	release chan struct{}
	mu      sync.Mutex
	got     []suppress.Entry
}

func (b *blocking) Append(e suppress.Entry) error {
	b.started <- struct{}{}
	<-b.release
	b.mu.Lock()
	b.got = append(b.got, e)
	b.mu.Unlock()
	return nil
}

// TestServeFinishesInFlight: when the context ends during a POST whose
// append is under way, Serve stops taking connections but waits for it;
// the client gets its 200 after the append.
func TestServeFinishesInFlight(t *testing.T) {
	b := &blocking{started: make(chan struct{}, 1), release: make(chan struct{})}
	s, err := New(Options{URL: shapes[0], Secret: testSecret, Suppress: b, ClientRate: -1})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, nil, 10*time.Second) }()
	ts := &testServer{tmpl: shapes[0], base: "http://" + ln.Addr().String(), client: &http.Client{Timeout: 10 * time.Second}}
	codes := make(chan int, 1)
	go func() { code, _ := ts.oneClick(t, "bob@example.com"); codes <- code }()
	<-b.started
	cancel()
	// New connections are refused once the listener is closed.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting after the context ended")
		}
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned with a request in flight: %v", err)
	default:
	}
	close(b.release)
	if code := <-codes; code != 200 {
		t.Errorf("in-flight request: %d", code)
	}
	if err := <-served; err != nil {
		t.Error(err)
	}
	if len(b.got) != 1 {
		t.Errorf("appended %+v", b.got)
	}
}

// TestHandleLimit: a HandleLimit mount has buckets of its own: its
// requests do not use up the unsubscribe URL's, and past its own burst
// they go to the over handler instead of a 429.
func TestHandleLimit(t *testing.T) {
	ts := start(t, shapes[0], func(o *Options) { o.ClientRate, o.ClientBurst = 0.01, 2 })
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(302) })
	over := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) })
	if err := ts.HandleLimit("/t/c/", h, over, 0.01, 3); err != nil {
		t.Fatal(err)
	}
	if err := ts.HandleLimit("/t/o/", h, nil, -1, 0); err != nil {
		t.Fatal(err)
	}
	noRedirect := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	status := func(u string) int {
		resp, err := noRedirect.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	var got []int
	for i := 0; i < 5; i++ {
		got = append(got, status(ts.base+"/t/c/tok"))
	}
	if fmt.Sprint(got) != "[302 302 302 299 299]" {
		t.Errorf("mounted route: %v, want 3 answered, then the over handler", got)
	}
	for i := 0; i < 20; i++ {
		if c := status(ts.base + "/t/o/tok"); c != 302 {
			t.Fatalf("unlimited route: request %d got %d", i, c)
		}
	}
	u := strings.Replace(ts.url(t, "bob@example.com"), "t=", "t=AAAA", 1) // forged
	got = got[:0]
	for i := 0; i < 3; i++ {
		got = append(got, status(u))
	}
	if fmt.Sprint(got) != "[403 403 429]" && fmt.Sprint(got) != "[400 400 429]" {
		t.Errorf("unsubscribe URL after the mounted requests: %v, want its own burst of 2 refusals", got)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if p := ts.log[0].Path; p != "/t/c/…" {
		t.Errorf("logged %q", p)
	}
}
