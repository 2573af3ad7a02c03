package render

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
)

var update = flag.Bool("update", false, "rewrite golden .eml files")

var fixedOpts = Options{
	Now:       func() time.Time { return time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC) },
	MessageID: func(rcpt string) string { return "fixed." + strings.ReplaceAll(rcpt, "@", "=") },
}

func mustParse(t *testing.T, file string) *Template {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	tm, err := Parse(file, src, fixedOpts)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestGolden(t *testing.T) {
	cases := []struct {
		tmpl, golden string
		rcpt         Recipient
	}{
		{"plain.tmpl", "plain.eml", Recipient{Address: "ann@example.com", Fields: map[string]string{"first_name": ""}}},
		{"multipart.tmpl", "multipart.eml", Recipient{Address: "bob@example.com", Name: "Bob Smith", Fields: map[string]string{"first_name": "Bob"}}},
		{"nonascii.tmpl", "nonascii.eml", Recipient{Address: "zoe@xn--bcher-kva.example", Name: "Zoë Ångström", Fields: map[string]string{"first_name": "Zoë"}}},
	}
	for _, c := range cases {
		t.Run(c.golden, func(t *testing.T) {
			tm := mustParse(t, c.tmpl)
			var buf bytes.Buffer
			m, err := tm.Render(&buf, c.rcpt)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", c.golden)
			if *update {
				if err := os.WriteFile(path, m.Data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./render -update to create it)", err)
			}
			if !bytes.Equal(m.Data, want) {
				t.Errorf("rendered message differs from %s:\n--- got\n%s\n--- want\n%s", path, m.Data, want)
			}
			checkWellFormed(t, m.Data)
		})
	}
}

// checkWellFormed parses the message back and checks the RFC 5322 basics.
func checkWellFormed(t *testing.T, data []byte) {
	t.Helper()
	head, body, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	for i, line := range bytes.Split(data, []byte("\r\n")) {
		// RFC 5322 2.1.1: 998 octets at most; the body's transfer encoding
		// keeps it within 78 (an RFC 2047 word after a header name may not).
		limit := 998
		if i >= bytes.Count(head, []byte("\r\n"))+2 {
			limit = 78
		}
		if len(line) > limit {
			t.Errorf("line %d is %d octets long: %q", i+1, len(line), line)
		}
		if bytes.ContainsAny(line, "\r\n") {
			t.Errorf("line %d has a bare CR or LF: %q", i+1, line)
		}
	}
	_ = body
	r, err := mail.CreateReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("go-message cannot read the message back: %v", err)
	}
	for _, k := range []string{"Date", "Message-Id", "Mime-Version", "From", "To"} {
		if r.Header.Get(k) == "" {
			t.Errorf("header %s missing", k)
		}
	}
}

func TestNonASCIIHeadersDecode(t *testing.T) {
	tm := mustParse(t, "nonascii.tmpl")
	var buf bytes.Buffer
	m, err := tm.Render(&buf, Recipient{Address: "zoe@example.com", Name: "Zoë Ångström", Fields: map[string]string{"first_name": "Zoë"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := mail.CreateReader(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	subj, err := r.Header.Subject()
	if err != nil || subj != "Grüße, Zoë – ваш дайджест" {
		t.Errorf("Subject decodes to %q, %v", subj, err)
	}
	to, err := r.Header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != "Zoë Ångström" {
		t.Errorf("To decodes to %v, %v", to, err)
	}
	from, err := r.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != "cafe@xn--bcher-kva.example" {
		t.Errorf("From decodes to %v, %v", from, err)
	}
	if m.MessageID != "fixed.zoe=example.com@xn--bcher-kva.example" {
		t.Errorf("Message-ID %q is not on the From domain", m.MessageID)
	}
}

func TestRowErrors(t *testing.T) {
	cases := []struct {
		name, src string
		fields    map[string]string
		want      string
	}{
		{"missing field in subject", "From: a@b.example\nSubject: Hi {{.first_name}}\n\nbody\n", map[string]string{}, `Subject: the list has no column named first_name`},
		{"missing field in body", "From: a@b.example\nSubject: Hi\n\nHello {{.nickname}}\n", map[string]string{}, `text: the list has no column named nickname`},
		{"missing field in html", "From: a@b.example\nSubject: Hi\n\n{{define \"html\"}}<p>{{.x}}</p>{{end}}", map[string]string{}, `html: the list has no column named x`},
		{"header injection LF", "From: a@b.example\nSubject: Hi {{.s}}\n\nbody\n", map[string]string{"s": "x\nBcc: victim@example.com"}, "Subject: value contains a line break"},
		{"header injection CR", "From: a@b.example\nSubject: Hi {{.s}}\n\nbody\n", map[string]string{"s": "x\rBcc: victim@example.com"}, "Subject: value contains a line break"},
		{"injection in From", "From: {{.f}}\nSubject: Hi\n\nbody\n", map[string]string{"f": "a@b.example\r\nBcc: v@example.com"}, "From: value contains a line break (header injection refused) (template line 1)"},
		{"two From addresses", "Subject: Hi\nFrom: {{.f}}\n\nbody\n", map[string]string{"f": "a@b.example, victim@example.com"}, `From: "a@b.example, victim@example.com" is 2 addresses; a message has one From address (template line 2)`},
		{"From group", "From: {{.f}}\nSubject: Hi\n\nbody\n", map[string]string{"f": "undisclosed:;"}, `From: "undisclosed:;" holds no address (template line 1)`},
		{"empty From", "From: {{.f}}\nSubject: Hi\n\nbody\n", map[string]string{"f": ""}, "From: renders empty"},
		{"bad From", "From: {{.f}}\nSubject: Hi\n\nbody\n", map[string]string{"f": "not an address"}, "From: \"not an address\""},
		{"bad date", "From: a@b.example\nSubject: {{date \"Jan 2\" .d}}\n\nbody\n", map[string]string{"d": "soon"}, `is not a date`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tm, err := Parse("t.tmpl", []byte(c.src), fixedOpts)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			_, err = tm.Render(&buf, Recipient{Address: "r@example.com", Fields: c.fields})
			var re *RowError
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a *RowError", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			if strings.Contains(buf.String(), "victim") {
				t.Errorf("injected header reached the output: %q", buf.String())
			}
		})
	}
}

// TestDisplayNameLineBreak: a name column with a line break is refused
// like a header value, whatever net/mail would make of it.
func TestDisplayNameLineBreak(t *testing.T) {
	tm, err := Parse("t.tmpl", []byte("From: a@b.example\nSubject: Hi\n\nbody\n"), fixedOpts)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Ann\r\nBcc: victim@example.com", "Ann\nLee", "Ann\rLee"} {
		var buf bytes.Buffer
		_, err := tm.Render(&buf, Recipient{Address: "r@example.com", Name: name})
		var re *RowError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "To: the display name contains a line break") {
			t.Errorf("name %q: got %v, want a RowError about the line break", name, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"no blank line", "From: a@b.example\nSubject: x", "t.tmpl:2: no blank line"},
		{"no From", "Subject: x\n\nbody", "t.tmpl: no From: header"},
		{"To by hand", "From: a@b.example\nTo: x@y.example\n\nbody", "t.tmpl:2: To: is built from the list"},
		{"not a header", "From: a@b.example\nthis is not a header\n\nbody", `t.tmpl:2: "this is not a header" is not a header line`},
		{"twice", "From: a@b.example\nFrom: c@d.example\n\nbody", "t.tmpl:2: From: appears twice"},
		{"bad header template", "From: a@b.example\nSubject: {{.x\n\nbody", "t.tmpl:2: Subject:"},
		{"bad body template", "From: a@b.example\n\nline one\n{{if}}\n", "t.tmpl: body: line 4:"},
		{"text outside blocks", "From: a@b.example\n\nstray\n{{define \"text\"}}x{{end}}", "text outside"},
		{"static From, two addresses", "Subject: x\nFrom: News <a@b.example>, c@d.example\n\nbody", `t.tmpl:2: From: "News <a@b.example>, c@d.example" is 2 addresses; a message has one From address`},
		{"static From group", "From: undisclosed:;\n\nbody", `t.tmpl:1: From: "undisclosed:;" holds no address`},
		{"static From empty", "Subject: x\nFrom:\n\nbody", `t.tmpl:2: From: renders empty`},
		{"static From bad", "From: not an address\n\nbody", `t.tmpl:1: From: "not an address"`},
		{"no body", "From: a@b.example\nSubject: x\n", "t.tmpl:2: the header block is not followed by a body"},
		{"blank body", "From: a@b.example\nSubject: x\n\n  \n\n", "t.tmpl:3: the header block is not followed by a body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("t.tmpl", []byte(c.src), fixedOpts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestHTMLEscaping(t *testing.T) {
	tm, err := Parse("t.tmpl", []byte("From: a@b.example\nSubject: s\n\n{{define \"text\"}}{{.n}}{{end}}{{define \"html\"}}<p>{{.n}}</p>{{end}}"), fixedOpts)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m, err := tm.Render(&buf, Recipient{Address: "r@example.com", Fields: map[string]string{"n": "<script>x</script>"}})
	if err != nil {
		t.Fatal(err)
	}
	s := string(m.Data)
	if !strings.Contains(s, "&lt;script&gt;") {
		t.Errorf("html part not escaped:\n%s", s)
	}
	if !strings.Contains(s, "\r\n\r\n<script>x</script>") {
		t.Errorf("text part should carry the value as is:\n%s", s)
	}
}

func TestFuncs(t *testing.T) {
	tm, err := Parse("t.tmpl", []byte(`From: a@b.example
Subject: {{.n | title}} {{.n | upper}} {{truncate 5 .long}} {{date "2 Jan 2006" .d}} {{date "2006" now}}

x`), fixedOpts)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m, err := tm.Render(&buf, Recipient{Address: "r@example.com", Fields: map[string]string{"n": "jean-luc picard", "long": "abcdefghij", "d": "2026-03-04"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := mail.CreateReader(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := r.Header.Subject()
	if want := "Jean-Luc Picard JEAN-LUC PICARD abcd… 4 Mar 2026 2026"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
}

func TestFromDomain(t *testing.T) {
	for _, c := range []struct{ from, want string }{
		{"Acme News <news@acme.example>", "acme.example"},
		{"news@Bücher.example", "xn--bcher-kva.example"},
		{`{{index . "from_name" | default "News"}} <{{index . "from_email" | default "news@example.com"}}>`, "example.com"},
		{"{{.from_email}}", ""}, // needs a column
		{"Acme <news@{{.domain}}>", ""},
	} {
		tm, err := Parse("t.tmpl", []byte("From: "+c.from+"\nSubject: s\n\nbody\n"), fixedOpts)
		if err != nil {
			t.Fatalf("%q: %v", c.from, err)
		}
		if got := tm.FromDomain(); got != c.want {
			t.Errorf("FromDomain of %q = %q, want %q", c.from, got, c.want)
		}
	}
}
