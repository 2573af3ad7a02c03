package render

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"io/fs"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-msgauth/dkim"
)

var testSecret = []byte("test-secret")

const testUnsubURL = "https://acme.example/unsubscribe?a={{.Address | urlquery}}&t={{.Token}}"

func testUnsub() *Unsubscribe {
	return &Unsubscribe{URL: testUnsubURL, Mailto: "unsubscribe@acme.example", Secret: testSecret}
}

// pngHead is the start of a PNG file: enough for content sniffing.
var pngHead = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")

func testFiles() fstest.MapFS {
	return fstest.MapFS{
		"terms.pdf":            {Data: []byte("%PDF-1.4\n% terms and conditions\n%%EOF\n")},
		"logo":                 {Data: pngHead},
		"invoices/2026-11.pdf": {Data: []byte("%PDF-1.4\n% invoice 2026-11\n%%EOF\n")},
		"notes/readme.md":      {Data: []byte("# Notes\n")},
	}
}

func loadKey(t testing.TB, file string) crypto.Signer {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseDKIMKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// dkimTXT is the DNS TXT record that publishes k's public key (RFC 6376
// section 3.6.1; RFC 8463 for Ed25519).
func dkimTXT(t *testing.T, k crypto.Signer) string {
	t.Helper()
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	}
	t.Fatalf("key type %T", k)
	return ""
}

// verifyDKIM checks data's signatures against k with no DNS: the lookup
// answers for selector._domainkey.acme.example only.
func verifyDKIM(t *testing.T, data []byte, k crypto.Signer) []*dkim.Verification {
	t.Helper()
	txt := dkimTXT(t, k)
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(data), &dkim.VerifyOptions{
		LookupTXT: func(domain string) ([]string, error) {
			if domain != "mail2026._domainkey.acme.example" {
				return nil, errors.New("no such record: " + domain)
			}
			return []string{txt}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// maskDKIM hides what changes with the clock in a signature: t= (go-msgauth
// stamps time.Now) and so b=. bh= and h= stay in the golden files; the
// signature itself is checked by verifying it.
func maskDKIM(data []byte) []byte {
	if !bytes.HasPrefix(data, []byte("DKIM-Signature:")) {
		return data
	}
	end := dkimFieldEnd.FindIndex(data)
	field := string(data[:end[0]])
	field = dkimTime.ReplaceAllString(field, "${1}t=TIME")
	field = dkimSig.ReplaceAllString(field, "${1}b=SIGNATURE")
	return append([]byte(field), data[end[0]:]...)
}

var (
	dkimFieldEnd = regexp.MustCompile(`\r\n[^ \t]`)
	dkimTime     = regexp.MustCompile(`([;\s])t=\d+`)
	dkimSig      = regexp.MustCompile(`([;\s])b=[A-Za-z0-9+/=\r\n \t]*`)
)

func checkGolden(t *testing.T, golden string, data []byte) {
	t.Helper()
	path := filepath.Join("testdata", golden)
	got := maskDKIM(data)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./render -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("rendered message differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func parseWith(t *testing.T, file string, o Options) *Template {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	o.Now, o.MessageID = fixedOpts.Now, fixedOpts.MessageID
	tm, err := Parse(file, src, o)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestGoldenDeliverability(t *testing.T) {
	rsaKey, edKey := loadKey(t, "dkim-rsa.pem"), loadKey(t, "dkim-ed25519.pem")
	cases := []struct {
		tmpl, golden string
		opts         Options
		rcpt         Recipient
		key          crypto.Signer // verify with it when set
		utf8         bool
	}{
		{"unsubscribe.tmpl", "unsubscribe.eml", Options{Unsubscribe: testUnsub()},
			Recipient{Address: "Bob@Example.com", Name: "Bob", Fields: map[string]string{"first_name": "Bob"}}, nil, false},
		{"attach.tmpl", "attach.eml", Options{Files: testFiles(), AttachColumn: "extra"},
			Recipient{Address: "ann@example.com", Fields: map[string]string{"first_name": "Ann", "invoice": "2026-11.pdf", "extra": "logo"}}, nil, false},
		{"dkim.tmpl", "dkim-rsa.eml", Options{DKIM: &DKIM{Domain: "acme.example", Selector: "mail2026", Signer: rsaKey}},
			Recipient{Address: "ann@example.com", Fields: map[string]string{"first_name": "Ann"}}, rsaKey, false},
		{"dkim.tmpl", "dkim-ed25519.eml", Options{DKIM: &DKIM{Domain: "acme.example", Selector: "mail2026", Signer: edKey}},
			Recipient{Address: "ann@example.com", Fields: map[string]string{"first_name": "Ann"}}, edKey, false},
		{"plain.tmpl", "smtputf8.eml", Options{},
			Recipient{Address: "josé@xn--bcher-kva.example", Name: "José Núñez", Fields: map[string]string{"first_name": "José"}}, nil, true},
		{"all.tmpl", "all.eml", Options{Unsubscribe: testUnsub(), Files: testFiles(), DKIM: &DKIM{Domain: "acme.example", Selector: "mail2026", Signer: edKey}},
			Recipient{Address: "josé@xn--bcher-kva.example", Name: "José Núñez", Fields: map[string]string{"first_name": "José"}}, edKey, true},
	}
	for _, c := range cases {
		t.Run(c.golden, func(t *testing.T) {
			tm := parseWith(t, c.tmpl, c.opts)
			var buf bytes.Buffer
			m, err := tm.Render(&buf, c.rcpt)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, c.golden, m.Data)
			checkWellFormed(t, m.Data)
			if m.UTF8 != c.utf8 {
				t.Errorf("UTF8 = %v, want %v", m.UTF8, c.utf8)
			}
			if c.key != nil {
				vs := verifyDKIM(t, m.Data, c.key)
				if len(vs) != 1 || vs[0].Err != nil {
					t.Fatalf("DKIM verification: %+v", vs)
				}
			}
		})
	}
}

func TestUnsubscribeToken(t *testing.T) {
	// The documented format, computed independently of the code under test.
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write([]byte("bob@example.com"))
	want := base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	for _, a := range []string{"bob@example.com", "Bob@Example.COM", " bob@example.com "} {
		if got := UnsubscribeToken([]byte("s3cret"), a); got != want {
			t.Errorf("UnsubscribeToken(%q) = %q, want %q", a, got, want)
		}
	}
	if len(want) != 43 {
		t.Errorf("token is %d characters, want 43", len(want))
	}
	if UnsubscribeToken([]byte("other"), "bob@example.com") == want {
		t.Error("token does not depend on the secret")
	}
}

func TestUnsubscribeHeaders(t *testing.T) {
	tm := parseWith(t, "unsubscribe.tmpl", Options{Unsubscribe: testUnsub()})
	var buf bytes.Buffer
	m, err := tm.Render(&buf, Recipient{Address: "Bob+news@Example.com", Fields: map[string]string{"first_name": "Bob"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := gomail.CreateReader(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	tok := UnsubscribeToken(testSecret, "bob+news@example.com")
	wantURL := "https://acme.example/unsubscribe?a=bob%2Bnews%40example.com&t=" + tok
	if got := r.Header.Get("List-Unsubscribe"); got != "<"+wantURL+">, <mailto:unsubscribe@acme.example?subject=unsubscribe>" {
		t.Errorf("List-Unsubscribe = %q", got)
	}
	if got := r.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", got)
	}
	// The same URL in both bodies: raw in text, &-escaped in the HTML href.
	var text, html string
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p.Body)
		ct, _, _ := p.Header.(*gomail.InlineHeader).ContentType()
		if ct == "text/plain" {
			text = string(b)
		} else {
			html = string(b)
		}
	}
	if !strings.Contains(text, wantURL) {
		t.Errorf("text part lacks %s:\n%s", wantURL, text)
	}
	if !strings.Contains(html, `href="`+strings.ReplaceAll(wantURL, "&", "&amp;")+`"`) {
		t.Errorf("html part lacks the escaped URL:\n%s", html)
	}
}

func TestUnsubscribeErrors(t *testing.T) {
	body := "From: a@acme.example\nSubject: s\n\n{{unsubscribe_url}}\n"
	cases := []struct {
		name, src string
		u         *Unsubscribe
		want      string
	}{
		{"not https", body, &Unsubscribe{URL: "http://acme.example/u?t={{.Token}}", Secret: testSecret}, "must be https://"},
		{"no token", body, &Unsubscribe{URL: "https://acme.example/u?a={{.Address}}", Secret: testSecret}, "does not carry {{.Token}}"},
		{"no secret", body, &Unsubscribe{URL: testUnsubURL}, "no secret"},
		{"bad template", body, &Unsubscribe{URL: "https://x/{{.Token", Secret: testSecret}, "unsubscribe URL"},
		{"bad mailto", body, &Unsubscribe{URL: testUnsubURL, Mailto: "not an address", Secret: testSecret}, "mailto"},
		{"func without config", body, nil, "no unsubscribe URL is configured"},
		{"header by hand", "From: a@acme.example\nList-Unsubscribe: <https://x>\n\nb\n", testUnsub(), "List-Unsubscribe: is set by mailer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("t.tmpl", []byte(c.src), Options{MessageID: fixedOpts.MessageID, Unsubscribe: c.u})
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want a ParseError containing %q", err, c.want)
			}
		})
	}
	// Without unsubscribe configured, a template may write its own header.
	if _, err := Parse("t.tmpl", []byte("From: a@acme.example\nList-Unsubscribe: <mailto:u@acme.example>\n\nb\n"), fixedOpts); err != nil {
		t.Error(err)
	}
	// A row value that breaks the URL makes that row invalid.
	o := fixedOpts
	o.Unsubscribe = &Unsubscribe{URL: "https://acme.example/u/{{.Fields.list}}?t={{.Token}}", Secret: testSecret}
	tm, err := Parse("t.tmpl", []byte(body), o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, err = tm.Render(&buf, Recipient{Address: "a@example.com", Fields: map[string]string{"list": "a b"}})
	var re *RowError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "contains a space") {
		t.Errorf("got %v, want a RowError about the space", err)
	}
	_, err = tm.Render(&buf, Recipient{Address: "a@example.com", Fields: map[string]string{}})
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "no column named list") {
		t.Errorf("got %v, want a RowError about the missing column", err)
	}
}

func TestDKIM(t *testing.T) {
	for _, file := range []string{"dkim-rsa.pem", "dkim-ed25519.pem"} {
		t.Run(file, func(t *testing.T) {
			k := loadKey(t, file)
			tm := parseWith(t, "all.tmpl", Options{Unsubscribe: testUnsub(), Files: testFiles(), DKIM: &DKIM{Domain: "acme.example", Selector: "mail2026", Signer: k}})
			var buf bytes.Buffer
			m, err := tm.Render(&buf, Recipient{Address: "ann@example.com", Name: "Ann", Fields: map[string]string{"first_name": "Ann"}})
			if err != nil {
				t.Fatal(err)
			}
			vs := verifyDKIM(t, m.Data, k)
			if len(vs) != 1 || vs[0].Err != nil {
				t.Fatalf("verification: %+v", vs[0])
			}
			if vs[0].Domain != "acme.example" {
				t.Errorf("d=%s", vs[0].Domain)
			}
			signed := map[string]bool{}
			for _, h := range vs[0].HeaderKeys {
				signed[strings.ToLower(h)] = true
			}
			for _, h := range []string{"from", "to", "subject", "date", "message-id", "mime-version", "content-type", "list-unsubscribe", "list-unsubscribe-post", "reply-to"} {
				if !signed[h] {
					t.Errorf("%s is not signed (h=%v)", h, vs[0].HeaderKeys)
				}
			}
			// A changed List-Unsubscribe (a forger's redirect) breaks it.
			bad := bytes.Replace(m.Data, []byte("<https://acme.example/"), []byte("<https://evil.example/"), 1)
			if vs := verifyDKIM(t, bad, k); vs[0].Err == nil {
				t.Error("a changed List-Unsubscribe still verifies")
			}
			// So does a changed body.
			bad = bytes.Replace(m.Data, []byte("Hi Ann"), []byte("Hi Eve"), 1)
			if vs := verifyDKIM(t, bad, k); vs[0].Err == nil {
				t.Error("a changed body still verifies")
			}
		})
	}
	if _, err := ParseDKIMKey([]byte("not a key")); err == nil {
		t.Error("garbage parsed as a key")
	}
	_, err := Parse("t.tmpl", []byte("From: a@acme.example\n\nb\n"), Options{MessageID: fixedOpts.MessageID, DKIM: &DKIM{Domain: "acme.example"}})
	if err == nil || !strings.Contains(err.Error(), "selector") {
		t.Errorf("incomplete DKIM options: %v", err)
	}
}

// rootFS makes a template directory with a file outside it and symlinks
// that try to reach it, and returns the directory as an os.Root FS, as the
// command gives it to render.
func rootFS(t *testing.T) fs.FS {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "tmpl")
	for _, d := range []string{dir, filepath.Join(dir, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string, data []byte) {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(base, "secret.txt"), []byte("outside"))
	write(filepath.Join(dir, "terms.pdf"), []byte("%PDF-1.4\n%%EOF\n"))
	write(filepath.Join(dir, "sub", "big.bin"), bytes.Repeat([]byte{0}, 2048))
	if err := os.Symlink(filepath.Join(base, "secret.txt"), filepath.Join(dir, "link.txt")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	if err := os.Symlink("../../secret.txt", filepath.Join(dir, "sub", "rel.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("terms.pdf", filepath.Join(dir, "inside.pdf")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root.FS()
}

func TestAttachPaths(t *testing.T) {
	files := rootFS(t)
	src := "From: a@acme.example\nSubject: s\n\nbody\n"
	o := fixedOpts
	o.Files, o.AttachColumn, o.MaxAttachmentBytes = files, "files", 1024
	tm, err := Parse("t.tmpl", []byte(src), o)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ cell, want string }{
		{"terms.pdf", ""},
		{"inside.pdf", ""}, // a symlink that stays inside is fine
		{"./sub/../terms.pdf", ""},
		{"../secret.txt", "leads out of the template's directory"},
		{"sub/../../secret.txt", "leads out of the template's directory"},
		{"/etc/passwd", "leads out of the template's directory"},
		{"link.txt", "leads out of the template's directory"},
		{"sub/rel.txt", "leads out of the template's directory"},
		{"missing.pdf", "no such file"},
		{"sub", "is a directory"},
		{"sub/big.bin", "larger than the 1 KiB limit"},
		{strings.Repeat("terms.pdf,", 70), "with the other attachments, over the 1 KiB limit"},
		{"terms.pdf, ../secret.txt", "leads out"},
	}
	for _, c := range cases {
		t.Run(c.cell, func(t *testing.T) {
			var buf bytes.Buffer
			m, err := tm.Render(&buf, Recipient{Address: "r@example.com", Fields: map[string]string{"files": c.cell}})
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(m.Data, []byte("Content-Type: application/pdf")) {
					t.Errorf("no PDF part:\n%s", m.Data)
				}
				return
			}
			var re *RowError
			if !errors.As(err, &re) || re.Part != "Attach" || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want a RowError for Attach containing %q", err, c.want)
			}
			if strings.Contains(buf.String(), "outside") {
				t.Error("the outside file reached the message")
			}
		})
	}
	// The same paths written in the template are found at Parse.
	for _, p := range []string{"../secret.txt", "link.txt", "/etc/passwd", "missing.pdf"} {
		_, err := Parse("t.tmpl", []byte("From: a@acme.example\nAttach: "+p+"\n\nbody\n"), o)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Line != 2 {
			t.Errorf("Attach: %s: got %v, want a ParseError on line 2", p, err)
		}
	}
	// No file source: attachments cannot work.
	if _, err := Parse("t.tmpl", []byte("From: a@acme.example\nAttach: x.pdf\n\nbody\n"), fixedOpts); err == nil {
		t.Error("Attach without Options.Files parsed")
	}
}

func TestAttachContentType(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"a.pdf", []byte("%PDF-1.4"), "application/pdf"},
		{"logo", pngHead, "image/png"},
		{"notes", []byte("plain words\n"), "text/plain; charset=utf-8"},
		{"blob", []byte{0, 1, 2, 3}, "application/octet-stream"},
	}
	for _, c := range cases {
		if got := contentType(c.name, c.data); got != c.want {
			t.Errorf("contentType(%s) = %q, want %q", c.name, got, c.want)
		}
	}
}

// TestEveryFeature renders a message with all of them and reads it back with
// both go-message and net/mail.
func TestEveryFeature(t *testing.T) {
	k := loadKey(t, "dkim-ed25519.pem")
	tm := parseWith(t, "all.tmpl", Options{Unsubscribe: testUnsub(), Files: testFiles(), AttachColumn: "extra",
		DKIM: &DKIM{Domain: "acme.example", Selector: "mail2026", Signer: k}})
	var buf bytes.Buffer
	m, err := tm.Render(&buf, Recipient{Address: "josé@xn--bcher-kva.example", Name: "José Núñez",
		Fields: map[string]string{"first_name": "José", "extra": "invoices/2026-11.pdf"}})
	if err != nil {
		t.Fatal(err)
	}

	nm, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatalf("net/mail: %v", err)
	}
	to, err := nm.Header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Address != "josé@xn--bcher-kva.example" || to[0].Name != "José Núñez" {
		t.Errorf("net/mail To: %v, %v", to, err)
	}
	if nm.Header.Get("DKIM-Signature") == "" || nm.Header.Get("List-Unsubscribe-Post") == "" {
		t.Error("net/mail: DKIM-Signature or List-Unsubscribe-Post missing")
	}
	if !strings.HasPrefix(nm.Header.Get("Content-Type"), "multipart/mixed;") {
		t.Errorf("Content-Type %q", nm.Header.Get("Content-Type"))
	}

	r, err := gomail.CreateReader(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	var inline []string
	attached := map[string]string{}
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p.Body)
		switch h := p.Header.(type) {
		case *gomail.InlineHeader:
			ct, _, _ := h.ContentType()
			inline = append(inline, ct)
		case *gomail.AttachmentHeader:
			name, _ := h.Filename()
			ct, _, _ := h.ContentType()
			attached[name] = ct
			if want := testFiles()[attachPath(name)].Data; !bytes.Equal(b, want) {
				t.Errorf("%s: content differs", name)
			}
		}
	}
	if strings.Join(inline, ",") != "text/plain,text/html" {
		t.Errorf("inline parts %v", inline)
	}
	want := map[string]string{"terms.pdf": "application/pdf", "logo": "image/png", "2026-11.pdf": "application/pdf"}
	if len(attached) != len(want) {
		t.Errorf("attachments %v, want %v", attached, want)
	}
	for n, ct := range want {
		if attached[n] != ct {
			t.Errorf("attachment %s: type %q, want %q", n, attached[n], ct)
		}
	}
	if vs := verifyDKIM(t, m.Data, k); vs[0].Err != nil {
		t.Errorf("DKIM: %v", vs[0].Err)
	}
	if !m.UTF8 {
		t.Error("a non-ASCII local part must ask for SMTPUTF8")
	}
}

func attachPath(name string) string {
	if name == "2026-11.pdf" {
		return "invoices/" + name
	}
	return name
}

func TestUTF8OnlyWhenNeeded(t *testing.T) {
	tm := mustParse(t, "nonascii.tmpl")
	var buf bytes.Buffer
	// Non-ASCII display names and subject: RFC 2047, no SMTPUTF8 needed.
	m, err := tm.Render(&buf, Recipient{Address: "zoe@xn--bcher-kva.example", Name: "Zoë", Fields: map[string]string{"first_name": "Zoë"}})
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := bytes.Cut(m.Data, []byte("\r\n\r\n"))
	if m.UTF8 || !isASCII(string(head)) {
		t.Errorf("UTF8=%v; header must be ASCII:\n%s", m.UTF8, head)
	}
	m, err = tm.Render(&buf, Recipient{Address: "zoë@example.com", Fields: map[string]string{"first_name": "Zoë"}})
	if err != nil {
		t.Fatal(err)
	}
	if !m.UTF8 || !bytes.Contains(m.Data, []byte("To: <zoë@example.com>\r\n")) {
		t.Errorf("UTF8=%v; want the raw UTF-8 address in To:\n%s", m.UTF8, m.Data)
	}
}

// BenchmarkRenderDeliverability: the cost per message of each feature.
func BenchmarkRenderDeliverability(b *testing.B) {
	rsaKey, edKey := loadKey(b, "dkim-rsa.pem"), loadKey(b, "dkim-ed25519.pem")
	for _, c := range []struct {
		name string
		o    Options
	}{
		{"plain", Options{}},
		{"unsubscribe", Options{Unsubscribe: testUnsub()}},
		{"attach", Options{Files: testFiles(), AttachColumn: "extra"}},
		{"dkim-rsa2048", Options{DKIM: &DKIM{Domain: "acme.example", Selector: "s", Signer: rsaKey}}},
		{"dkim-ed25519", Options{DKIM: &DKIM{Domain: "acme.example", Selector: "s", Signer: edKey}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			src := "From: a@acme.example\nSubject: hi {{.first_name}}\n\n{{define \"text\"}}Hi {{.first_name}}{{end}}{{define \"html\"}}<p>Hi {{.first_name}}</p>{{end}}"
			c.o.MessageID, c.o.Now = fixedOpts.MessageID, fixedOpts.Now
			tm, err := Parse("b.tmpl", []byte(src), c.o)
			if err != nil {
				b.Fatal(err)
			}
			r := Recipient{Address: "ann@example.com", Fields: map[string]string{"first_name": "Ann", "extra": "logo"}}
			var buf bytes.Buffer
			for b.Loop() {
				if _, err := tm.Render(&buf, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzFSPath: whatever a list cell holds, a path fsPath accepts stays in
// the tree (the os.Root underneath is the second line of defence).
func FuzzFSPath(f *testing.F) {
	for _, s := range []string{"a.pdf", "../x", "a/../../x", "/etc/passwd", `..\x`, "a//b", "./a", "C:x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		s, err := fsPath(p)
		if err != nil {
			return
		}
		if !fs.ValidPath(s) || s == ".." || strings.HasPrefix(s, "../") || strings.HasPrefix(s, "/") {
			t.Fatalf("fsPath(%q) = %q escapes", p, s)
		}
		for _, el := range strings.Split(s, "/") {
			if el == ".." {
				t.Fatalf("fsPath(%q) = %q has a .. element", p, s)
			}
		}
	})
}
