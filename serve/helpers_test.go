package serve

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailer-dev/mailer/render"
	"github.com/mailer-dev/mailer/suppress"
)

var testSecret = []byte("0123456789abcdef-test")

// testServer is a Server on 127.0.0.1:0 with a Group-committed suppression
// file, stopped in t.Cleanup.
type testServer struct {
	*Server
	base, file, tmpl string
	client           *http.Client
	mu               sync.Mutex
	log              []Access
}

func start(t *testing.T, tmpl string, tweak func(*Options)) *testServer {
	t.Helper()
	ts := &testServer{tmpl: tmpl, file: filepath.Join(t.TempDir(), "suppress.csv")}
	w, err := suppress.OpenWriter(ts.file)
	if err != nil {
		t.Fatal(err)
	}
	g := suppress.NewGroup(w)
	o := Options{URL: tmpl, Secret: testSecret, Suppress: g, ClientRate: -1,
		Log: func(a Access) { ts.mu.Lock(); ts.log = append(ts.log, a); ts.mu.Unlock() }}
	if tweak != nil {
		tweak(&o)
	}
	if ts.Server, err = New(o); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.base = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.Serve(ctx, ln, nil, 5*time.Second) }()
	ts.client = &http.Client{Timeout: 10 * time.Second}
	t.Cleanup(func() {
		// Connections the client dialled but never used would hold
		// Shutdown for 5s (net/http treats them as busy that long).
		ts.client.CloseIdleConnections()
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		g.Close()
		w.Close()
	})
	return ts
}

// url is the unsubscribe URL of addr as render makes it, on the test
// server.
func (ts *testServer) url(t *testing.T, addr string) string {
	return ts.urlWith(t, addr, render.UnsubscribeToken(testSecret, addr))
}

func (ts *testServer) urlWith(t *testing.T, addr, token string) string {
	t.Helper()
	s, err := render.UnsubscribeURLPattern(ts.tmpl, addr, token, "news")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(s[len("https://"):], "/")
	return ts.base + s[len("https://")+i:]
}

// post sends body to u and returns the status and the page.
func (ts *testServer) post(t *testing.T, u, contentType, body string) (int, string) {
	t.Helper()
	resp, err := ts.client.Post(u, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (ts *testServer) oneClick(t *testing.T, addr string) (int, string) {
	return ts.post(t, ts.url(t, addr), "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
}

func (ts *testServer) get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := ts.client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// entries reads the suppression file; none when it was never written.
func (ts *testServer) entries(t *testing.T) []suppress.Entry {
	t.Helper()
	var es []suppress.Entry
	err := suppress.Read(ts.file, func(e suppress.Entry) error { es = append(es, e); return nil })
	if err != nil {
		var fe *suppress.FormatError
		if errors.As(err, &fe) { // empty: nothing was ever appended
			if b, _ := os.ReadFile(ts.file); len(b) == 0 {
				return nil
			}
		}
		t.Fatal(err)
	}
	return es
}
