package track

import (
	"regexp"
	"strconv"
	"testing"
)

const base = "https://t.acme.example"

var unsub = "https://acme.example/unsubscribe?a=ann%40example.com&t=TOKEN"

func opts() Options {
	return Options{Base: base + "/", Secret: secret, Campaign: "c1", Recipient: "KEY", Skip: []string{unsub}}
}

var tracked = regexp.MustCompile(`https://t\.acme\.example/([co])/([A-Za-z0-9_-]+)`)

// readable replaces each tracked URL by {N URL} (a click) or {open},
// verifying its token on the way.
func readable(t *testing.T, b []byte) string {
	t.Helper()
	return tracked.ReplaceAllStringFunc(string(b), func(m string) string {
		sub := tracked.FindStringSubmatch(m)
		tok, err := Verify(secret, sub[2])
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if tok.Campaign != "c1" || tok.Recipient != "KEY" {
			t.Errorf("%s: token %+v", m, tok)
		}
		if sub[1] == "o" {
			if tok.Kind != Open {
				t.Errorf("%s: kind %s", m, tok.Kind)
			}
			return "{open}"
		}
		return "{" + strconv.Itoa(tok.Link) + " " + tok.URL + "}"
	})
}

func TestRewriteHTML(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"double quoted", `<p><a href="https://acme.example/a">A</a></p>`, `<p><a href="{1 https://acme.example/a}">A</a></p>`},
		{"single quoted, upper case, spaces", `<A class=x HREF = 'HTTP://acme.example/b' >B</A>`, `<A class=x HREF = '{1 HTTP://acme.example/b}' >B</A>`},
		{"unquoted", `<a href=https://acme.example/c>C</a>`, `<a href={1 https://acme.example/c}>C</a>`},
		{"entities decoded for the destination", `<a href="https://acme.example/?a=1&amp;b=2">x</a>`, `<a href="{1 https://acme.example/?a=1&b=2}">x</a>`},
		{"area", `<map><area shape=rect href="https://acme.example/m" alt=m></map>`, `<map><area shape=rect href="{1 https://acme.example/m}" alt=m></map>`},
		{"untouched: relative, anchor, mailto, tel, javascript", `<a href="/rel">r</a><a href="#top">t</a><a href="mailto:ann@example.com">m</a><a href="tel:+1">p</a><a href="javascript:x()">j</a><a href="//acme.example/x">s</a>`, `<a href="/rel">r</a><a href="#top">t</a><a href="mailto:ann@example.com">m</a><a href="tel:+1">p</a><a href="javascript:x()">j</a><a href="//acme.example/x">s</a>`},
		{"same link twice: one index per position", `<a href="https://acme.example/x">1</a><a href="https://acme.example/x">2</a>`, `<a href="{1 https://acme.example/x}">1</a><a href="{2 https://acme.example/x}">2</a>`},
		{"notrack", `<a href="` + Mark + `https://acme.example/private">p</a> <a href="https://acme.example/y">y</a>`, `<a href="https://acme.example/private">p</a> <a href="{1 https://acme.example/y}">y</a>`},
		{"notrack outside a link", `<p>` + Mark + `https://acme.example/z</p>`, `<p>https://acme.example/z</p>`},
		{"unsubscribe", `<a href="https://acme.example/unsubscribe?a=ann%40example.com&amp;t=TOKEN">unsubscribe</a>`, `<a href="https://acme.example/unsubscribe?a=ann%40example.com&amp;t=TOKEN">unsubscribe</a>`},
		{"not in a comment, script or other attribute", `<!-- <a href="https://acme.example/c"> --><script>var s='<a href="https://acme.example/s">'</script><img src="https://acme.example/i.png" alt='href="https://acme.example/q"'>`, `<!-- <a href="https://acme.example/c"> --><script>var s='<a href="https://acme.example/s">'</script><img src="https://acme.example/i.png" alt='href="https://acme.example/q"'>`},
		{"first href wins, data-href ignored", `<a data-href="https://acme.example/d" href="https://acme.example/1" href="https://acme.example/2">x</a>`, `<a data-href="https://acme.example/d" href="{1 https://acme.example/1}" href="https://acme.example/2">x</a>`},
		{"link text keeps its URL", `<a href="https://acme.example/t">https://acme.example/t</a>`, `<a href="{1 https://acme.example/t}">https://acme.example/t</a>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := Rewrite([]byte(tc.in), nil, opts())
			if got := readable(t, h); got != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestRewriteHTMLByteIdentical(t *testing.T) {
	in := "<!DOCTYPE html>\r\n<html><head><style>a{color:red}</style></head>\n<body  class=\"x\">\n" +
		"<p>Caf\xc3\xa9 &nbsp; &amp; <b>bold</b></p>\t<a   id=a1\nhref=\"https://acme.example/1\"\ttitle='t'>one</a>\n" +
		"<a href='https://acme.example/2'/>\n<!-- c --></BODY>\n</html>\n"
	o := opts()
	o.Opens = true
	h, _ := Rewrite([]byte(in), nil, o)
	got := readable(t, h)
	want := "<!DOCTYPE html>\r\n<html><head><style>a{color:red}</style></head>\n<body  class=\"x\">\n" +
		"<p>Caf\xc3\xa9 &nbsp; &amp; <b>bold</b></p>\t<a   id=a1\nhref=\"{1 https://acme.example/1}\"\ttitle='t'>one</a>\n" +
		"<a href='{2 https://acme.example/2}'/>\n<!-- c -->" + `<img src="{open}" width="1" height="1" alt="" style="display:none">` + "</BODY>\n</html>\n"
	if got != want {
		t.Errorf("\n got %q\nwant %q", got, want)
	}
	// No </body>: the pixel goes at the end.
	h, _ = Rewrite([]byte("<p>hi</p>"), nil, o)
	if got := readable(t, h); got != `<p>hi</p><img src="{open}" width="1" height="1" alt="" style="display:none">` {
		t.Errorf("no body: %s", got)
	}
	// Nothing to track: the same slice back.
	in2 := []byte(`<a href="/x">x</a>`)
	if h, _ := Rewrite(in2, nil, opts()); &h[0] != &in2[0] {
		t.Error("an untouched body was copied")
	}
}

func TestRewriteText(t *testing.T) {
	in := "Read https://acme.example/a. Or (https://acme.example/wiki/Go_(lang)) or <https://acme.example/b>,\n" +
		Mark + "https://acme.example/private and " + unsub + "\nmailto:ann@example.com www.acme.example /rel\n"
	want := "Read {2 https://acme.example/a}. Or ({3 https://acme.example/wiki/Go_(lang)}) or <{4 https://acme.example/b}>,\n" +
		"https://acme.example/private and " + unsub + "\nmailto:ann@example.com www.acme.example /rel\n"
	o := opts()
	o.TextLinks = true
	h, tx := Rewrite([]byte(`<a href="https://acme.example/h">h</a>`), []byte(in), o)
	if got := readable(t, h); got != `<a href="{1 https://acme.example/h}">h</a>` {
		t.Errorf("html: %s", got)
	}
	if got := readable(t, tx); got != want {
		t.Errorf("text:\n got %s\nwant %s", got, want)
	}
	// Without TextLinks the text keeps its links; marks still go.
	_, tx = Rewrite(nil, []byte(in), opts())
	if got := string(tx); got != string(Strip([]byte(in))) || tracked.MatchString(got) {
		t.Errorf("text without TextLinks: %s", got)
	}
}

func TestStrip(t *testing.T) {
	if got := string(Strip([]byte(`<a href="` + Mark + `https://a.example/">` + Mark + `</a>`))); got != `<a href="https://a.example/"></a>` {
		t.Errorf("Strip: %s", got)
	}
}

func TestCheckBase(t *testing.T) {
	for _, b := range []string{"https://t.acme.example", "http://127.0.0.1:8080/track/"} {
		if err := CheckBase(b); err != nil {
			t.Errorf("%s: %v", b, err)
		}
	}
	for _, b := range []string{"", "t.acme.example", "ftp://t.acme.example", "https://t.acme.example/?x=1", "https://t.acme.example/#f", `https://t"x`, "https:///path"} {
		if err := CheckBase(b); err == nil {
			t.Errorf("%q accepted", b)
		}
	}
}

// TestRewriteLeavesLinksWithTheAddress: a destination that carries the
// recipient's address (raw or URL-encoded, any case) is not tracked, since
// its token would carry the address readable; other links still are.
func TestRewriteLeavesLinksWithTheAddress(t *testing.T) {
	o := opts()
	o.Address = "Ann.Lee@example.com"
	in := `<a href="https://acme.example/prefs?e=ann.lee%40Example.com">p</a>` +
		`<a href="https://acme.example/u/Ann.Lee@example.com">u</a>` +
		`<a href="https://acme.example/offer">o</a>`
	h, _ := Rewrite([]byte(in), []byte("see https://acme.example/p?e=ann.lee%40example.com and https://acme.example/x\n"), o)
	want := `<a href="https://acme.example/prefs?e=ann.lee%40Example.com">p</a>` +
		`<a href="https://acme.example/u/Ann.Lee@example.com">u</a>` +
		`<a href="{1 https://acme.example/offer}">o</a>`
	if got := readable(t, h); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	o.TextLinks = true
	_, txt := Rewrite(nil, []byte("see https://acme.example/p?e=ann.lee%40example.com and https://acme.example/x\n"), o)
	if got := readable(t, txt); got != "see https://acme.example/p?e=ann.lee%40example.com and {1 https://acme.example/x}\n" {
		t.Errorf("text: %s", got)
	}
}
