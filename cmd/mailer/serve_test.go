package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailer-dev/mailer/render"
	"github.com/mailer-dev/mailer/suppress"
)

const (
	serveSecret = "serve-test-secret-0123456789"
	serveURL    = "https://acme.example/u/{{.Token}}?e={{.Address | urlquery}}"
)

// serveProc is `mailer serve` run as a user runs it, on 127.0.0.1:0.
type serveProc struct {
	cmd    *exec.Cmd
	base   string
	file   string
	stdout strings.Builder
	lines  chan string // stderr, line by line
	exited chan error
}

func startServe(t *testing.T, args ...string) *serveProc {
	t.Helper()
	p := &serveProc{file: filepath.Join(t.TempDir(), "unsubscribed.csv"), lines: make(chan string, 100000), exited: make(chan error, 1)}
	p.cmd = exec.Command(mailerBinary(t), append([]string{"serve", "--listen", "127.0.0.1:0", "--suppress", p.file,
		"--unsubscribe-url", serveURL, "--client-rate", "0"}, args...)...)
	p.cmd.Env = append(os.Environ(), unsubscribeSecretEnv+"="+serveSecret, trackingSecretEnv+"="+trackSecret)
	p.cmd.Stdout = &p.stdout
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	scanned := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(scanned)
	}()
	go func() { <-scanned; p.exited <- p.cmd.Wait(); close(p.lines) }()
	t.Cleanup(func() { p.cmd.Process.Kill() })
	addrRE := regexp.MustCompile(`listening on http://([0-9.:]+)`)
	timeout := time.After(20 * time.Second)
	for p.base == "" {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("serve ended: %v", <-p.exited)
			}
			if m := addrRE.FindStringSubmatch(l); m != nil {
				p.base = "http://" + m[1]
			}
		case <-timeout:
			t.Fatal("serve did not say where it listens")
		}
	}
	return p
}

func (p *serveProc) url(addr string) string {
	return p.base + "/u/" + render.UnsubscribeToken([]byte(serveSecret), addr) + "?e=" + url.QueryEscape(addr)
}

// TestServeSIGTERM runs the binary, has 30 clients POST one-click
// unsubscribes for distinct addresses, and sends SIGTERM while they do:
// serve exits 0, and every address that got a 200 is in the file, once.
// The access log (JSON) has a line per request and no token in it.
func TestServeSIGTERM(t *testing.T) {
	p := startServe(t, "--log-format", "json")
	var (
		mu   sync.Mutex
		oked []string
		wg   sync.WaitGroup
	)
	enough := make(chan struct{})
	var once sync.Once
	client := &http.Client{Timeout: 10 * time.Second}
	for c := 0; c < 30; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				addr := fmt.Sprintf("c%d-%d@example.com", c, i)
				resp, err := client.Post(p.url(addr), "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
				if err != nil {
					return // the server has stopped
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return
				}
				mu.Lock()
				oked = append(oked, addr)
				if len(oked) >= 200 {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		}()
	}
	select {
	case <-enough:
	case <-time.After(60 * time.Second):
		t.Fatal("200 unsubscribes took over a minute")
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var logs []string
	for l := range p.lines {
		logs = append(logs, l)
	}
	if err := <-p.exited; err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, strings.Join(logs[max(0, len(logs)-5):], "\n"))
	}
	wg.Wait()
	count := map[string]int{}
	err := suppress.Read(p.file, func(e suppress.Entry) error {
		count[e.Email]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range oked {
		if count[a] != 1 {
			t.Errorf("%s got a 200 and is in the file %d times", a, count[a])
		}
	}
	for a, n := range count {
		if n != 1 {
			t.Errorf("%s is in the file %d times", a, n)
		}
	}
	if !strings.Contains(p.stdout.String(), fmt.Sprintf("serve: %d unsubscribes recorded", len(count))) {
		t.Errorf("stdout %q, %d in the file", p.stdout.String(), len(count))
	}
	access := 0
	for _, l := range logs {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		if m["kind"] != "access" {
			continue
		}
		access++
		if strings.Contains(l, "@") || strings.Contains(l, "%40") || m["path"] != "/u/…" || m["status"] != float64(200) {
			t.Fatalf("access line %s", l)
		}
	}
	if access < len(oked) {
		t.Errorf("%d access lines for %d answered requests", access, len(oked))
	}
	t.Logf("%d unsubscribes answered before and during SIGTERM", len(oked))
}

// TestServeRefusesSettings: serve needs the URL, one file and the secret,
// and says which.
func TestServeRefusesSettings(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		env  string
		code int
		msg  string
	}{
		{[]string{"--suppress", "s.csv"}, serveSecret, exitUsage, "--unsubscribe-url"},
		{[]string{"--unsubscribe-url", serveURL}, serveSecret, exitUsage, "one --suppress"},
		{[]string{"--suppress", "s.csv", "--unsubscribe-url", serveURL}, "", exitConfig, unsubscribeSecretEnv},
		{[]string{"--suppress", "s.csv", "--unsubscribe-url", "https://acme.example/u?t={{.Token}}"}, serveSecret, exitConfig, "{{.Address}}"},
		{[]string{"--suppress", "s.csv", "--unsubscribe-url", serveURL, "--tls-cert", "c.pem"}, serveSecret, exitUsage, "--tls-key"},
		{[]string{"--suppress", filepath.Join(dir, "no", "s.csv"), "--unsubscribe-url", serveURL}, serveSecret, exitCantCreate, "no such file"},
	} {
		t.Setenv(unsubscribeSecretEnv, c.env)
		var out, errb strings.Builder
		if code := run(append([]string{"serve", "--listen", "127.0.0.1:0"}, c.args...), &out, &errb); code != c.code || !strings.Contains(errb.String(), c.msg) {
			t.Errorf("%v: exit %d, %s", c.args, code, errb.String())
		}
	}
}

// TestServeConfig: the URL template and the file come from send's config
// file (paths relative to it), and the options parse as given.
func TestServeConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "campaign.yaml")
	os.WriteFile(cfg, []byte("list: contacts.csv\nrelay: smtp+plain://127.0.0.1:2525\nunsubscribe-url: '"+serveURL+"'\nsuppress: unsubscribed.csv\nlisten: 127.0.0.1:9999\n"), 0o644)
	var got *ServeOptions
	var out, errb strings.Builder
	code := runWith([]string{"serve", "--config", cfg, "--client-rate", "5"}, &out, &errb, runFuncs{serve: func(o *ServeOptions) error { got = o; return nil }})
	if code != 0 || got == nil {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got.UnsubscribeURL != serveURL || len(got.Suppress) != 1 || got.Suppress[0] != filepath.Join(dir, "unsubscribed.csv") ||
		got.Listen != "127.0.0.1:9999" || got.ClientRate != 5 {
		t.Errorf("options %+v", got)
	}
	// send reads the same file: serve's own settings do not trouble it.
	code = runWith([]string{"send", "--config", cfg, "--template", "announcement"}, &out, &errb, runFuncs{send: func(*SendOptions) error { return nil }})
	if code != 0 {
		t.Errorf("send with serve's settings in the config: exit %d: %s", code, errb.String())
	}
}

// TestServePagesInBrowser loads the unsubscribe page and, after a POST,
// the confirmation in headless Chromium: they render with the strict CSP
// (no violation reported), show the address, and the first has a form
// that POSTs with a button.
func TestServePagesInBrowser(t *testing.T) {
	bin := chromium(t)
	p := startServe(t)
	addr := "dana@example.com"
	dom := func(u string) (string, string) {
		cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
			"--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr", "--v=0",
			"--user-data-dir="+t.TempDir(), "--dump-dom", u)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium: %v\n%s", err, stderr.String())
		}
		return stdout.String(), stderr.String()
	}
	page, log := dom(p.url(addr))
	for _, want := range []string{`<html lang="en">`, `<form method="post"`, `<button type="submit"`, addr} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(log, "Content Security Policy") {
		t.Errorf("CSP violation:\n%s", log)
	}
	if b, _ := os.ReadFile(p.file); len(b) != 0 {
		t.Fatalf("the browser's GET wrote %q", b)
	}
	resp, err := http.Post(p.url(addr), "application/x-www-form-urlencoded", strings.NewReader("confirm=1"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST: %v %v", resp, err)
	}
	resp.Body.Close()
	page, log = dom(p.url(addr))
	if !strings.Contains(page, "You are unsubscribed") || !strings.Contains(page, addr) || strings.Contains(log, "Content Security Policy") {
		t.Errorf("confirmation:\n%s\n%s", page, log)
	}
}
