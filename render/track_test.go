package render

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"testing"

	gomail "github.com/emersion/go-message/mail"
	"github.com/mailer-dev/mailer/track"
)

const trackTmpl = `From: Acme News <news@acme.example>
Subject: News {{notrack "https://acme.example/s"}}

{{define "text"}}Hi {{.first_name}}, read https://acme.example/a
Private: {{notrack "https://acme.example/private"}}
Unsubscribe: {{unsubscribe_url}}
{{end}}
{{define "html"}}<p>Hi {{.first_name}}, read <a href="https://acme.example/a">this</a>
and <a href="https://acme.example/a">again</a>, <a href="{{notrack "https://acme.example/private?x=1&y=2"}}">private</a>,
<a href="/rel">rel</a> <a href="mailto:help@acme.example">help</a>.</p>
<p><a href="{{unsubscribe_url}}">Unsubscribe</a></p>
</body>
{{end}}
`

func trackOpts(column string) Options {
	o := fixedOpts
	o.Unsubscribe = testUnsub()
	o.Tracking = &Tracking{Base: "https://t.acme.example", Secret: []byte("tracking-secret-0123"), Campaign: "c1",
		TextLinks: true, Opens: true, Column: column}
	return o
}

// partBodies decodes the text and HTML parts of a message.
func partBodies(t *testing.T, data []byte) (text, html string) {
	t.Helper()
	mr, err := gomail.CreateReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p.Body)
		ct, _, _ := p.Header.(*gomail.InlineHeader).ContentType()
		switch ct {
		case "text/plain":
			text = string(b)
		case "text/html":
			html = string(b)
		}
	}
	return text, html
}

var trackedURL = regexp.MustCompile(`https://t\.acme\.example/([co])/([A-Za-z0-9_-]+)`)

func TestTracking(t *testing.T) {
	secret := []byte("tracking-secret-0123")
	tm, err := Parse("t.tmpl", []byte(trackTmpl), trackOpts("consent"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	r := Recipient{Address: "ann@example.com", Fields: map[string]string{"first_name": "Ann", "consent": " Yes"}}
	m, err := tm.Render(&buf, r)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(m.Data, []byte("notrack")) || bytes.Contains(m.Data, []byte("%5B")) {
		t.Errorf("a notrack mark reached the message:\n%s", m.Data)
	}
	if !bytes.Contains(m.Data, []byte("Subject: News https://acme.example/s\r\n")) {
		t.Error("notrack in a header is not the plain URL")
	}
	text, html := partBodies(t, m.Data)
	key := track.RecipientKey(secret, "c1", "ann@example.com")
	readable := func(s string) string {
		return trackedURL.ReplaceAllStringFunc(s, func(u string) string {
			sub := trackedURL.FindStringSubmatch(u)
			tok, err := track.Verify(secret, sub[2])
			if err != nil || tok.Recipient != key || tok.Campaign != "c1" {
				t.Errorf("%s: %+v %v", u, tok, err)
			}
			if tok.Kind == track.Open {
				return "OPEN"
			}
			return "{" + string(rune('0'+tok.Link)) + " " + tok.URL + "}"
		})
	}
	unsub := strings.ReplaceAll(testUnsubURL, "{{.Address | urlquery}}", "ann%40example.com")
	unsub = strings.ReplaceAll(unsub, "{{.Token}}", UnsubscribeToken(testSecret, "ann@example.com"))
	wantHTML := `<p>Hi Ann, read <a href="{1 https://acme.example/a}">this</a>
and <a href="{2 https://acme.example/a}">again</a>, <a href="https://acme.example/private?x=1&amp;y=2">private</a>,
<a href="/rel">rel</a> <a href="mailto:help@acme.example">help</a>.</p>
<p><a href="` + strings.ReplaceAll(unsub, "&", "&amp;") + `">Unsubscribe</a></p>
<img src="OPEN" width="1" height="1" alt="" style="display:none"></body>
`
	if got := strings.ReplaceAll(readable(html), "\r\n", "\n"); got != wantHTML {
		t.Errorf("html:\n%s\nwant:\n%s", got, wantHTML)
	}
	wantText := "Hi Ann, read {3 https://acme.example/a}\nPrivate: https://acme.example/private\nUnsubscribe: " + unsub + "\n"
	if got := strings.ReplaceAll(readable(text), "\r\n", "\n"); got != wantText {
		t.Errorf("text:\n%s\nwant:\n%s", got, wantText)
	}

	// No consent (or no column): untracked, and still no mark.
	for _, v := range []string{"no", "", "maybe"} {
		r.Fields["consent"] = v
		m, err := tm.Render(&buf, r)
		if err != nil {
			t.Fatal(err)
		}
		if trackedURL.Match(m.Data) || bytes.Contains(m.Data, []byte("notrack")) {
			t.Errorf("consent %q: tracked or marked:\n%s", v, m.Data)
		}
	}
	delete(r.Fields, "consent")
	if m, _ := tm.Render(&buf, r); trackedURL.Match(m.Data) {
		t.Error("a row without the consent column is tracked")
	}
}

// TestNotrackWithoutTracking: the same template with tracking off renders
// the plain URLs, no marks.
func TestNotrackWithoutTracking(t *testing.T) {
	o := fixedOpts
	o.Unsubscribe = testUnsub()
	tm, err := Parse("t.tmpl", []byte(trackTmpl), o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m, err := tm.Render(&buf, Recipient{Address: "ann@example.com", Fields: map[string]string{"first_name": "Ann"}})
	if err != nil {
		t.Fatal(err)
	}
	text, html := partBodies(t, m.Data)
	if bytes.Contains(m.Data, []byte("notrack")) || trackedURL.Match(m.Data) ||
		!strings.Contains(html, `href="https://acme.example/private?x=1&amp;y=2"`) || !strings.Contains(text, "Private: https://acme.example/private\r\n") {
		t.Errorf("tracking off:\n%s", m.Data)
	}
}

func TestTrackingDKIM(t *testing.T) {
	k := loadKey(t, "dkim-ed25519.pem")
	o := trackOpts("")
	o.DKIM = &DKIM{Domain: "acme.example", Selector: "mail2026", Signer: k}
	tm, err := Parse("t.tmpl", []byte(trackTmpl), o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m, err := tm.Render(&buf, Recipient{Address: "ann@example.com", Fields: map[string]string{"first_name": "Ann"}})
	if err != nil {
		t.Fatal(err)
	}
	if !trackedURL.Match(m.Data) {
		t.Fatal("not tracked")
	}
	if vs := verifyDKIM(t, m.Data, k); len(vs) != 1 || vs[0].Err != nil {
		t.Fatalf("a tracked message does not verify: %+v", vs)
	}
}

func TestTrackingOptionsChecked(t *testing.T) {
	for _, tr := range []*Tracking{{Base: "https://t.acme.example"}, {Base: "t.acme.example", Secret: []byte("s")}} {
		o := fixedOpts
		o.Tracking = tr
		if _, err := Parse("t.tmpl", []byte("From: a@acme.example\n\nhi\n"), o); err == nil {
			t.Errorf("%+v accepted", tr)
		}
	}
}
