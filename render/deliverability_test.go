package render

import (
	"bytes"
	"crypto"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	gomail "github.com/emersion/go-message/mail"
)

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
