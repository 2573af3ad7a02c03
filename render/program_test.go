package render

import (
	"bytes"
	"errors"
	htmltemplate "html/template"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/emersion/go-message/mail"
)

// programRows are rows the oracle tests render: plain, empty, every
// character html/template escapes, non-ASCII, invalid UTF-8, URLs.
var programRows = []map[string]string{
	{"a": "Ann", "b": "", "u": "https://acme.example/p?x=1&y=2"},
	{"a": "", "b": "x", "u": "javascript:alert(1)"},
	{"a": "<b>\"O'Neil\" & +co</b>\x00", "b": "Zoë Ångström", "u": "mailto:a@b.example"},
	{"a": "\xff\xfe bad utf-8 \u2028", "b": "100% 50%4 %zz %2F", "u": "/relative path/ü?q=ä#frag"},
	{"a": "a", "b": "b"}, // no u: a missing column
	{"a": " \t ", "b": "  ", "u": " "},
}

// textPrograms are text templates a program must compile and render as
// text/template does.
var textPrograms = []string{
	"",
	"plain text only\n",
	"Hi {{.a}},\n{{.b}}{{.a}}\n",
	"{{- .a -}}  {{.b}}",
	"{{if .b}}b={{.b}}{{else}}no b{{end}} {{if .a}}A{{else if .b}}B{{else}}none{{end}}",
	"{{if .a}}{{if .b}}both{{end}}{{end}}",
	"Line for {{.u}}\n",
	`{{index . "a" | default "there"}} {{index . "nope" | default "x"}}|{{index . "nope"}}|{{default "d" .b}}`,
	`{{.a | upper}} {{.b | lower | title}} {{.b | trim | default "blank"}} {{if index . "nope"}}y{{else}}n{{end}}`,
	`{{now | date "January 2006"}} {{date "2006-01-02" now}} {{now | date "Jan" | upper}}`,
}

func TestProgramMatchesTemplate(t *testing.T) {
	for _, src := range textPrograms {
		tm := template.Must(template.New("t").Funcs(funcs(fixedOpts.Now)).Option("missingkey=error").Parse(src))
		p := compile(tm.Tree)
		if p == nil {
			t.Errorf("%q: did not compile", src)
			continue
		}
		for _, row := range programRows {
			checkProgram(t, src, p, row, func() (string, error) {
				var b strings.Builder
				err := tm.Execute(&b, row)
				return b.String(), err
			})
		}
	}
}

// htmlContexts put a column where a campaign's HTML does: element text, a
// quoted attribute, a link, a query parameter, an RCDATA element.
var htmlContexts = []string{
	`<p>Hi {{.a}}, {{.b}}</p>`,
	`<img alt="{{.a}}" title='{{.b}}'>`,
	`<a href="{{.u}}">x</a> <a href='{{.a}}'>y</a>`,
	`<a href="https://acme.example/?n={{.a}}&m={{.b}}">z</a>`,
	`<title>{{.a}}</title><textarea>{{.b}}</textarea>`,
	`{{if .b}}<p class="{{.b}}">{{.a}}</p>{{else}}<a href="{{.u}}">{{.a}}</a>{{end}}`,
	`<!-- dropped comment -->{{.a}}`,
	`<p>{{now | date "Jan 2 <2006>"}}</p>`,
	`<p title="{{index . "a" | default "x"}}">{{.b | upper}}</p><a href="{{index . "nope" | default "https://d.example/"}}">`,
}

func TestProgramMatchesHTMLTemplate(t *testing.T) {
	for _, src := range htmlContexts {
		ht := htmltemplate.Must(htmltemplate.New("h").Funcs(htmltemplate.FuncMap(funcs(fixedOpts.Now))).Option("missingkey=error").Parse(src))
		p := compileHTML(ht, 1<<20)
		if p == nil {
			t.Errorf("%q: did not compile", src)
			continue
		}
		for _, row := range programRows {
			checkProgram(t, src, p, row, func() (string, error) {
				var b strings.Builder
				err := ht.Execute(&b, row)
				return b.String(), err
			})
		}
	}
}

// TestProgramFallsBack: what a program cannot do is left to the template
// packages, not done differently.
func TestProgramFallsBack(t *testing.T) {
	for _, src := range []string{
		"{{.a | replace \"x\" \"y\"}}", "{{default .b .a}}", "{{range split \",\" .a}}{{.}}{{end}}",
		"{{with .a}}{{.}}{{end}}", "{{$x := .a}}{{$x}}", "{{template \"t\" .}}", "{{.}}", "{{.a.b}}",
		"{{if eq .a \"x\"}}y{{end}}", "{{printf \"%s\" .a}}", "{{index . .a}}", "{{.a | truncate 3}}",
		"{{if .a | upper}}y{{end}}", "{{now}}", "{{.a | date \"2006\"}}", "{{now | date .a}}", "{{default \"x\" (index . \"a\")}}",
	} {
		fm := funcs(fixedOpts.Now)
		fm["replace"] = strings.ReplaceAll
		tm := template.Must(template.New("t").Funcs(fm).Parse(src))
		if compile(tm.Tree) != nil {
			t.Errorf("%q compiled", src)
		}
	}
	for _, src := range []string{
		`<script>var a = {{.a}};</script>`, `<style>p { color: {{.a}} }</style>`, `<p {{.a}}="x">`, `<img alt={{.a}}>`,
	} {
		ht := htmltemplate.Must(htmltemplate.New("h").Parse(src))
		if compileHTML(ht, 1<<20) != nil {
			t.Errorf("%q compiled", src)
		}
	}
}

// TestProgramBudget: a program stops where capWriter stops a template.
func TestProgramBudget(t *testing.T) {
	src := "Hi {{.a}}, {{.b}}!"
	tm := template.Must(template.New("t").Option("missingkey=error").Parse(src))
	p := compile(tm.Tree)
	row := map[string]string{"a": "Ann", "b": "Bob"}
	for limit := int64(0); limit < 16; limit++ {
		var b strings.Builder
		want := tm.Execute(capWriter{&b, &budget{left: limit, limit: limit}}, row)
		env := &progEnv{fields: row, now: fixedOpts.Now}
		got, err := p.exec(nil, env, slots(nil, assignSlots(p)), &budget{left: limit, limit: limit})
		if (err == nil) != (want == nil) || string(got) != b.String() {
			t.Errorf("limit %d: program %q, %v; template %q, %v", limit, got, err, b.String(), want)
		}
	}
}

func checkProgram(t *testing.T, src string, p *program, row map[string]string, oracle func() (string, error)) {
	t.Helper()
	want, werr := oracle()
	env := &progEnv{fields: row, now: fixedOpts.Now}
	got, err := p.exec(nil, env, slots(nil, assignSlots(p)), &budget{left: 1 << 20, limit: 1 << 20})
	if werr != nil || err != nil {
		if werr == nil || err == nil || execErr(werr).Error() != execErr(err).Error() {
			t.Errorf("%q with %q: program error %v, template error %v", src, row, err, werr)
		}
		return
	}
	if string(got) != want {
		t.Errorf("%q with %q:\nprogram  %q\ntemplate %q", src, row, got, want)
	}
}

// FuzzProgramHTML: for any column value, in every context a program
// handles, the bytes are html/template's.
func FuzzProgramHTML(f *testing.F) {
	for _, r := range programRows {
		f.Add(r["a"], r["u"])
	}
	var progs []*program
	var tmpls []*htmltemplate.Template
	for _, src := range htmlContexts {
		ht := htmltemplate.Must(htmltemplate.New("h").Funcs(htmltemplate.FuncMap(funcs(fixedOpts.Now))).Option("missingkey=error").Parse(src))
		progs, tmpls = append(progs, compileHTML(ht, 1<<20)), append(tmpls, ht)
	}
	f.Fuzz(func(t *testing.T, a, u string) {
		row := map[string]string{"a": a, "b": a + u, "u": u}
		for i, p := range progs {
			checkProgram(t, htmlContexts[i], p, row, func() (string, error) {
				var b strings.Builder
				err := tmpls[i].Execute(&b, row)
				return b.String(), err
			})
		}
	})
}

// contentBodies exercise both transfer encodings and their edges.
var contentBodies = [][]byte{
	nil, {}, []byte("Hi Ann,\n\nplain ASCII.\n"), []byte("no final newline"),
	[]byte(strings.Repeat("x", 76) + "\n" + strings.Repeat("y", 77) + "\n"),
	[]byte("Grüße\r\nCRLF and a lone \r CR\n"), []byte("tab\t \n trailing space \n\x00nul\n"),
	[]byte(strings.Repeat("long line with words ", 20)), []byte("=3D already\n.dot\n"),
}

func TestAppendContentMatches(t *testing.T) {
	for _, text := range contentBodies {
		for _, html := range contentBodies {
			if text == nil && html == nil {
				continue
			}
			checkContent(t, text, html)
		}
	}
}

func FuzzAppendContent(f *testing.F) {
	for _, b := range contentBodies[1:] {
		f.Add(b, []byte("<p>x</p>\n"), true, true)
		f.Add(b, b, true, false)
	}
	f.Fuzz(func(t *testing.T, text, html []byte, hasText, hasHTML bool) {
		if !hasText && !hasHTML {
			return
		}
		if !hasText {
			text = nil
		} else if text == nil {
			text = []byte{}
		}
		if !hasHTML {
			html = nil
		} else if html == nil {
			html = []byte{}
		}
		checkContent(t, text, html)
	})
}

// checkContent compares appendContent with go-message's writer chain, and
// the budget each leaves.
func checkContent(t *testing.T, text, html []byte) {
	t.Helper()
	const id = "fixed.ann=example.com@acme.example"
	var want, got bytes.Buffer
	if err := writeContent(&want, nil, id, text, html); err != nil {
		t.Fatal(err)
	}
	if err := appendContent(&got, &budget{left: 1 << 30, limit: 1 << 30}, id, text, html); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("text %q html %q:\ngot  %q\nwant %q", text, html, got.Bytes(), want.Bytes())
	}
	// One byte short of the whole fails; the whole fits.
	n := int64(want.Len())
	var b bytes.Buffer
	if err := appendContent(&b, &budget{left: n - 1, limit: n}, id, text, html); !errors.As(err, new(*TooLargeError)) {
		t.Errorf("budget %d for %d bytes: %v", n-1, n, err)
	}
	b.Reset()
	if err := appendContent(&b, &budget{left: n, limit: n}, id, text, html); err != nil {
		t.Errorf("budget %d for %d bytes: %v", n, n, err)
	}
}

// TestRenderSameWithoutPrograms renders the test, built-in and example
// templates for a set of rows twice, with programs and with the template
// packages alone (the path before programs): the same bytes, or the same
// error, for every row.
func TestRenderSameWithoutPrograms(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.tmpl")
	more, _ := filepath.Glob("../templates/*.tmpl")
	examples, _ := filepath.Glob("../examples/*.tmpl")
	files = append(append(files, more...), examples...)
	srcs := map[string]string{
		"ifs":   "From: {{.from}}\nSubject: {{if .first_name}}Hi {{.first_name}}{{else}}Hello{{end}}\nX-Plan: {{.plan | upper}}\n\n{{define \"text\"}}{{.body}}{{end}}{{define \"html\"}}<a href=\"{{.url}}\">{{.body}}</a> <a href=\"{{unsubscribe_url}}\">u</a>{{end}}",
		"funcs": "From: a@acme.example\nSubject: {{.first_name | printf \"%q\"}}\n\n{{range split \",\" .plan}}{{.}};{{end}}\n{{.body}}\n",
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		srcs[f] = string(b)
	}
	rows := []Recipient{
		{Address: "ann@example.com", Name: "Ann", Fields: map[string]string{"first_name": "Ann", "body": "news", "from": "News <n@acme.example>", "plan": "pro", "url": "https://x.example/?a=1", "invoice": "2026-11.pdf", "extra": "logo"}},
		{Address: "zoe@xn--bcher-kva.example", Name: "Zoë", Fields: map[string]string{"first_name": "Zoë <&>", "body": "Grüße\n" + strings.Repeat("long ", 30), "from": "Zoë <z@bücher.example>", "plan": "", "url": "javascript:x", "invoice": "2026-11.pdf", "extra": ""}},
		{Address: "bob@example.com", Fields: map[string]string{"first_name": ""}},
		{Address: "c@example.com", Fields: map[string]string{"first_name": "x", "body": "a", "from": "bad address", "plan": "p", "url": "u", "invoice": "none.pdf", "extra": ""}},
		{Address: "d@example.com"},
	}
	fsys := testFiles()
	fsys["plans.pdf"] = fsys["terms.pdf"]
	opts := fixedOpts
	opts.Unsubscribe, opts.Files, opts.AttachColumn = testUnsub(), fsys, "extra"
	parsed, compiled, rendered := 0, 0, 0
	for name, src := range srcs {
		tm, err := Parse(name, []byte(src), opts)
		if err != nil {
			o := fixedOpts
			o.Files = fsys
			if tm, err = Parse(name, []byte(src), o); err != nil {
				t.Logf("%s: %v", name, err)
				continue
			}
		}
		parsed++
		if tm.textProg != nil || tm.htmlProg != nil {
			compiled++
		}
		slow := *tm
		slow.textProg, slow.htmlProg = nil, nil
		slow.headers = append([]header(nil), tm.headers...)
		for i := range slow.headers {
			slow.headers[i].prog, slow.headers[i].static = nil, nil
		}
		for _, r := range rows {
			var b1, b2 bytes.Buffer
			m1, err1 := tm.Render(&b1, r)
			m2, err2 := slow.Render(&b2, r)
			if (err1 == nil) != (err2 == nil) || err1 != nil && err1.Error() != err2.Error() {
				t.Errorf("%s, %s: error %v with programs, %v without", name, r.Address, err1, err2)
				continue
			}
			if err1 == nil {
				rendered++
			}
			if err1 == nil && (!bytes.Equal(m1.Data, m2.Data) || m1.From != m2.From || m1.UTF8 != m2.UTF8 || m1.MessageID != m2.MessageID) {
				t.Errorf("%s, %s: differs:\n--- with programs\n%s\n--- without\n%s", name, r.Address, m1.Data, m2.Data)
			}
		}
	}
	t.Logf("%d templates, %d with a body program, %d messages", parsed, compiled, rendered)
	if parsed < 10 || compiled < 8 || rendered < 25 {
		t.Errorf("%d templates parsed, %d compiled, %d messages: the test checks too little", parsed, compiled, rendered)
	}
}

// transferEncodingLoop is transferEncoding as it was, byte by byte: the oracle.
func transferEncodingLoop(body []byte) string {
	col := 0
	for _, c := range body {
		switch {
		case c >= 0x80 || c == 0 || c == '\r':
			return "quoted-printable"
		case c == '\n':
			col = 0
		default:
			col++
			if col > 76 {
				return "quoted-printable"
			}
		}
	}
	return "7bit"
}

func FuzzTransferEncoding(f *testing.F) {
	for _, b := range contentBodies {
		f.Add(b)
	}
	f.Add([]byte("abcdefg\rhijklmnop"))
	f.Add([]byte("abcdefgh\x00ijklmnop"))
	f.Add([]byte("abcdefgh\x7fij\x80klmnop"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := transferEncoding(b), transferEncodingLoop(b); got != want {
			t.Fatalf("%q: %s, want %s", b, got, want)
		}
		// Each special byte at each position of a word.
		for i := 0; i < len(b) && i < 24; i++ {
			for _, c := range []byte{0, '\r', '\n', 0x80, 0xff, 0x0c, 0x0e, 0x7f} {
				m := append([]byte(nil), b...)
				m[i] = c
				if got, want := transferEncoding(m), transferEncodingLoop(m); got != want {
					t.Fatalf("%q: %s, want %s", m, got, want)
				}
			}
		}
	})
}

func FuzzFormatAddress(f *testing.F) {
	for _, s := range [][2]string{
		{"", "ann@example.com"}, {"Bob Smith", "bob@example.com"}, {`Say "hi" \ ok`, "a.b@x.example"},
		{"Zoë", "zoe@example.com"}, {"tab\there", "a..b@x"}, {"x", ".a@x"}, {"x", "a.@x"}, {"x", "a(b)@x"},
		{"x", "zoë@example.com"}, {"x", "noat"}, {"x", "@x"}, {"ctl\x01", "a@x"}, {"", "a@b@c"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, name, addr string) {
		if got, want := formatAddress(name, addr), (&mail.Address{Name: name, Address: addr}).String(); got != want {
			t.Fatalf("%q %q: %q, want %q", name, addr, got, want)
		}
	})
}

func TestDateCache(t *testing.T) {
	var c dateCache
	t0 := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	oslo := time.FixedZone("CET", 3600)
	for _, tm := range []time.Time{t0, t0.Add(999 * time.Millisecond), t0.In(oslo), t0.Add(time.Second), t0, t0.Add(time.Hour).In(oslo)} {
		if got, want := c.format(tm), tm.Format(time.RFC1123Z); got != want {
			t.Errorf("%v: %q, want %q", tm, got, want)
		}
	}
	// Concurrent renders share the cache (go test -race).
	tm := mustParse(t, "plain.tmpl")
	done := make(chan error)
	for i := 0; i < 4; i++ {
		go func() {
			var buf bytes.Buffer
			_, err := tm.Render(&buf, Recipient{Address: "ann@example.com", Fields: map[string]string{"first_name": "Ann"}})
			done <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// BenchmarkRenderShapes: text and html bodies of about 4 KB, ASCII (7bit)
// and not (quoted-printable), through programs and through the template
// packages (a function programs do not take).
func BenchmarkRenderShapes(b *testing.B) {
	line := map[string]string{
		"ascii": "Line for {{.name}} on the {{.plan}} plan: lorem ipsum dolor sit amet.\n",
		"utf8":  "Grüße an {{.name}} zum {{.plan}}-Abo: Straße, Größe, Übermaß, Ärger.\n",
		"funcs": "Line for {{.name | printf \"%s\"}} on the {{.plan}} plan: lorem ipsum dolor.\n",
	}
	for _, kind := range []string{"ascii", "utf8", "funcs"} {
		b.Run(kind, func(b *testing.B) {
			body := strings.Repeat(line[kind], 50)
			src := "From: News <news@acme.example>\nSubject: Hi {{.name}}\n\n{{define \"text\"}}" + body + "{{end}}{{define \"html\"}}<p>" + body + "</p>{{end}}"
			tm, err := Parse("b.tmpl", []byte(src), fixedOpts)
			if err != nil {
				b.Fatal(err)
			}
			r := Recipient{Address: "ann@example.com", Name: "Ann", Fields: map[string]string{"name": "Ann Smith", "plan": "pro"}}
			var buf bytes.Buffer
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tm.Render(&buf, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func FuzzAppendQP(f *testing.F) {
	for _, b := range contentBodies {
		f.Add(b)
	}
	f.Add([]byte(strings.Repeat("a", 74) + " \n" + strings.Repeat("b", 73) + "\t\r\n" + strings.Repeat("c", 75) + "=ü\r\rx\r\n\n"))
	f.Add([]byte(strings.Repeat("é", 40) + " "))
	f.Fuzz(func(t *testing.T, body []byte) {
		var want bytes.Buffer
		w := quotedprintable.NewWriter(&want)
		w.Write(body)
		w.Close()
		got, ok := appendQP([]byte("prefix"), body, 1<<30)
		if !ok || string(got[6:]) != want.String() {
			t.Fatalf("%q:\ngot  %q\nwant %q", body, got[6:], want.String())
		}
		// A budget one short fails, the exact one holds.
		if n := int64(want.Len()); n > 0 {
			if _, ok := appendQP(nil, body, n-1); ok {
				t.Errorf("%q: %d octets fit in %d", body, n, n-1)
			}
			if _, ok := appendQP(nil, body, n); !ok {
				t.Errorf("%q: %d octets do not fit in %d", body, n, n)
			}
		}
	})
}
