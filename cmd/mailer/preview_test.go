package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"
)

// TestPreviewWritesParsableMessages: every .eml preview writes is a message
// go-message reads back, with the right recipient and both parts, and the
// index lists each of them.
func TestPreviewWritesParsableMessages(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runMailer(t, "preview", "--list", "../../examples/contacts.csv", "--template", "../../examples/newsletter.tmpl", "--out", out, "--limit", "20")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "preview: 11 messages in") || !strings.Contains(stderr, "passed over 2 rows that will not be sent") {
		t.Errorf("stdout %q stderr %q", stdout, stderr)
	}
	emls, _ := filepath.Glob(filepath.Join(out, "*.eml"))
	if len(emls) != 11 {
		t.Fatalf("%d .eml files, want 11 (the rows send would send)", len(emls))
	}
	index, err := os.ReadFile(filepath.Join(out, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range emls {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		mr, err := mail.CreateReader(f)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		to, err := mr.Header.AddressList("To")
		if err != nil || len(to) != 1 || !strings.Contains(string(index), `data-email="`+to[0].Address+`"`) {
			t.Errorf("%s: To %v (%v)", p, to, err)
		}
		var types []string
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			ct, _, _ := part.Header.(*mail.InlineHeader).ContentType()
			body, _ := io.ReadAll(part.Body)
			if !strings.Contains(string(body), "Here is what happened at Acme") {
				t.Errorf("%s: %s part does not read back: %q", p, ct, body)
			}
			types = append(types, ct)
		}
		f.Close()
		if strings.Join(types, ",") != "text/plain,text/html" {
			t.Errorf("%s: parts %v", p, types)
		}
		if !strings.Contains(string(index), `href="`+filepath.Base(p)+`"`) {
			t.Errorf("index.html does not link %s", filepath.Base(p))
		}
	}
	if n := strings.Count(string(index), `<section class="msg`); n != 11 {
		t.Errorf("index.html has %d message sections, want 11", n)
	}
}

func TestPreviewChoosesRows(t *testing.T) {
	list, tmpl := "../../examples/contacts.csv", "../../examples/newsletter.tmpl"
	// One row to stdout, by line.
	code, stdout, _ := runMailer(t, "preview", "--list", list, "--template", tmpl, "--row", "6")
	if code != 0 || !regexp.MustCompile(`(?m)^To: [^\r]*\r\n?[^\r]*<dmitri@example.com>\r$`).MatchString(stdout) {
		t.Errorf("--row 6: exit %d, stdout:\n%s", code, stdout)
	}
	// By address, normalised like duplicates are: the first row is sent, the
	// duplicate is shown as such.
	out := t.TempDir()
	code, _, stderr := runMailer(t, "preview", "--list", list, "--template", tmpl, "--email", "ANN.LEE@example.com", "--out", out)
	index, _ := os.ReadFile(filepath.Join(out, "index.html"))
	if code != 0 || !strings.Contains(string(index), `id="line-2"`) || !strings.Contains(string(index), "duplicate of line 2") {
		t.Errorf("--email: exit %d %s\n%s", code, stderr, index)
	}
	// An invalid row: its reason, exit 65.
	code, _, stderr = runMailer(t, "preview", "--list", list, "--template", tmpl, "--row", "8")
	if code != 65 || !strings.Contains(stderr, "line 8 frank at example.com: invalid: address") {
		t.Errorf("--row 8: exit %d, stderr %s", code, stderr)
	}
	// A row the list does not have: usage, 64.
	code, _, stderr = runMailer(t, "preview", "--list", list, "--template", tmpl, "--row", "99", "--email", "nobody@example.com")
	if code != 64 || !strings.Contains(stderr, "has no row at line 99, nobody@example.com") {
		t.Errorf("--row 99: exit %d, stderr %s", code, stderr)
	}
}

// chromium returns the path of a headless Chromium, or skips the test.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed (apt-get install -y chromium; .ci/run installs it): skipping the browser test")
	return ""
}

// browse loads a local page in headless Chromium and returns the DOM after
// it has run, or writes a screenshot when png is set.
func browse(t *testing.T, page string, args ...string) string {
	t.Helper()
	bin := chromium(t)
	abs, _ := filepath.Abs(page)
	cmd := exec.Command(bin, append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir()}, append(args, "file://"+abs)...)...)
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return stdout.String()
}

// TestPreviewInBrowser opens the preview page in headless Chromium: every
// chosen message shows, with its headers, its text part, and its HTML part
// in a sandboxed iframe; a script in the template does not run.
func TestPreviewInBrowser(t *testing.T) {
	chromium(t)
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "t.tmpl")
	os.WriteFile(tmpl, []byte(`From: Acme <news@acme.example>
Subject: Hello {{.first_name}}

{{define "text"}}Plain hello {{.first_name}}{{end}}
{{define "html"}}<p id="greeting">Hello <b>{{.first_name}}</b></p><script>parent.document.title = "script ran"; document.title = "script ran"</script>{{end}}
`), 0o644)
	out := filepath.Join(dir, "out")
	if code, _, stderr := runMailer(t, "preview", "--list", "../../examples/contacts.csv", "--template", tmpl, "--out", out, "--limit", "20"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	dom := browse(t, filepath.Join(out, "index.html"), "--dump-dom")
	for _, who := range []string{"ann.lee@example.com", "bob.smith@example.org", "chloé.durand@example.net", "chloe.durand@example.net", "dmitri@example.com", "eve@example.org",
		"grace@example.com", "heidi@example.org", "ivan@example.net", "judy@example.com", "kim@example.org"} {
		if !strings.Contains(dom, `data-email="`+who+`"`) {
			t.Errorf("the page does not show %s", who)
		}
	}
	for _, want := range []string{"<title>mailer preview:", "Plain hello Дмитрий", "Hello Дмитрий", "<th>Message-ID</th>", "<th>MAIL FROM</th>"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if n := strings.Count(dom, `<iframe sandbox=""`); n != 11 {
		t.Errorf("%d sandboxed iframes, want 11", n)
	}
	if strings.Contains(dom, "<title>script ran") {
		t.Error("a script in the HTML part ran")
	}
	png := filepath.Join(dir, "preview.png")
	browse(t, filepath.Join(out, "index.html"), "--window-size=1200,1400", "--screenshot="+png)
	if st, err := os.Stat(png); err != nil || st.Size() < 10_000 {
		t.Errorf("screenshot: %v", err)
	}
	if os.Getenv("MAILER_KEEP_SCREENSHOTS") != "" {
		b, _ := os.ReadFile(png)
		os.WriteFile(os.Getenv("MAILER_KEEP_SCREENSHOTS")+"/preview.png", b, 0o644)
	}
}
