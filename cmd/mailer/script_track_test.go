package main

import (
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// trackedLinkRE is a tracked link in a decoded message: BASE/c/<token>.
var trackedLinkRE = regexp.MustCompile(`https?://[^\s"'<>]+/c/[A-Za-z0-9_-]{20,}`)

// click FILE ADDR [N] decodes the message FILE (quoted-printable, soft
// line breaks joined) and GETs its Nth tracked link (from 1; default 1)
// from the server at ADDR (host:port: the link's path, as a proxy in front
// of serve would pass it), with a browser's User-Agent and without
// following the redirect. It prints "STATUS LOCATION".
func cmdClick(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: click FILE ADDR [N]")
	}
	n := 1
	if len(args) == 3 {
		fmt.Sscan(args[2], &n)
	}
	b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(ts.ReadFile(args[0]))))
	ts.Check(err)
	links := trackedLinkRE.FindAllString(string(b), -1)
	if n < 1 || n > len(links) {
		ts.Fatalf("%s has %d tracked links, not a link %d", args[0], len(links), n)
	}
	u, err := url.Parse(links[n-1])
	ts.Check(err)
	req, err := http.NewRequest("GET", "http://"+args[1]+u.EscapedPath(), nil)
	ts.Check(err)
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; testscript) Firefox/140.0")
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	ts.Check(err)
	resp.Body.Close()
	fmt.Fprintf(ts.Stdout(), "%d %s\n", resp.StatusCode, resp.Header.Get("Location"))
}
