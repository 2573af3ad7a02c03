package render

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzRenderHeader: whatever a row holds, the header block either renders
// with every line CRLF-terminated and nothing injected, or the row fails.
func FuzzRenderHeader(f *testing.F) {
	f.Add("Ann", "Hello")
	f.Add("x\r\nBcc: v@example.com", "s")
	f.Add("Zoë", "Grüße – ваш")
	f.Add("\"quoted\" <a@b>", strings.Repeat("long ", 60))
	tm, err := Parse("t.tmpl", []byte("From: {{.name}} <news@acme.example>\nSubject: {{.subject}}\nX-Campaign: {{.subject}}\n\nbody {{.name}}\n"), fixedOpts)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name, subject string) {
		var buf bytes.Buffer
		m, err := tm.Render(&buf, Recipient{Address: "r@example.com", Name: name, Fields: map[string]string{"name": name, "subject": subject}})
		if err != nil {
			return
		}
		head, _, ok := bytes.Cut(m.Data, []byte("\r\n\r\n"))
		if !ok {
			t.Fatalf("no header/body separator:\n%q", m.Data)
		}
		for _, line := range bytes.Split(head, []byte("\r\n")) {
			if bytes.ContainsAny(line, "\r\n") {
				t.Errorf("bare CR or LF in header line %q", line)
			}
			if len(line) > 0 && line[0] != ' ' && line[0] != '\t' && !bytes.Contains(line, []byte(":")) {
				t.Errorf("header line without a name: %q", line)
			}
			if bytes.HasPrefix(bytes.ToLower(line), []byte("bcc:")) {
				t.Errorf("injected header: %q", line)
			}
		}
	})
}
