package serve

import (
	"net/url"
	"strings"
	"testing"

	"github.com/mailer-dev/mailer/render"
)

// The URL shapes the tests run against: the address and token in query
// parameters, in path segments, and beside a row field.
var shapes = []string{
	"https://acme.example/unsubscribe?a={{.Address | urlquery}}&t={{.Token}}",
	"https://acme.example/u/{{.Token}}/{{.Address | urlquery}}",
	"https://lists.acme.example/{{.Fields.list}}/off?t={{.Token}}&e={{.Address|urlquery}}",
	"https://acme.example/?addr={{.Address | urlquery}}&tok=t-{{.Token}}",
}

// rendered is the URL render puts in the message of addr.
func rendered(t *testing.T, tmpl, addr string) *url.URL {
	t.Helper()
	s, err := render.UnsubscribeURLPattern(tmpl, addr, render.UnsubscribeToken(testSecret, addr), "news")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestRouteMatchesWhatRenderMakes(t *testing.T) {
	for _, tmpl := range shapes {
		r, err := ParseRoute(tmpl)
		if err != nil {
			t.Fatalf("%s: %v", tmpl, err)
		}
		for _, addr := range []string{"bob@example.com", "o'neil+x/y&z=1@example.com", "δοκιμή@παράδειγμα.δοκιμή"} {
			u := rendered(t, tmpl, addr)
			a, tok, err := r.Match(u)
			if err != nil || a != addr || tok != render.UnsubscribeToken(testSecret, addr) {
				t.Errorf("%s: Match(%s) = %q, %q, %v", tmpl, u, a, tok, err)
			}
			red, ok := r.Redact(u)
			if !ok || strings.Contains(red, tok) || strings.Contains(red, "?") || !strings.Contains(red, "…") && !strings.HasPrefix(red, "/") {
				t.Errorf("%s: Redact(%s) = %q, %v", tmpl, u, red, ok)
			}
		}
	}
}

func TestRouteRefuses(t *testing.T) {
	r, err := ParseRoute(shapes[0])
	if err != nil {
		t.Fatal(err)
	}
	for raw, want := range map[string]error{
		"/unsubscribe?a=bob%40example.com":   ErrMissing,
		"/unsubscribe?t=abc":                 ErrMissing,
		"/unsubscribe?a=&t=abc":              ErrMissing,
		"/unsubscribe/x?a=b%40example.com&t": ErrNoRoute,
		"/other?a=b%40example.com&t=x":       ErrNoRoute,
	} {
		u, _ := url.Parse(raw)
		if _, _, err := r.Match(u); err != want {
			t.Errorf("Match(%s) = %v, want %v", raw, err, want)
		}
	}
	for _, tmpl := range []string{
		"https://acme.example/unsubscribe?t={{.Token}}",                   // no address: the token cannot be checked
		"https://acme.example/u/{{.Address}}-{{.Token}}",                  // two in one segment
		"https://{{.Token}}.acme.example/?a={{.Address | urlquery}}",      // in the host
		"https://acme.example/u?a={{.Address}}&t={{.Token}}&b={{.Token}}", // twice
		"https://acme.example/u?{{.Token}}={{.Address}}",
		"https://acme.example/{{.Token",
	} {
		if _, err := ParseRoute(tmpl); err == nil {
			t.Errorf("ParseRoute(%s) took it", tmpl)
		}
	}
}

func TestRoutePattern(t *testing.T) {
	for tmpl, want := range map[string]string{
		shapes[0]: "/unsubscribe",
		shapes[1]: "/u/",
		shapes[2]: "/",
		shapes[3]: "/{$}",
		"https://a.example/x/unsub/?a={{.Address | urlquery}}&t={{.Token}}": "/x/unsub/{$}",
	} {
		r, err := ParseRoute(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Pattern(); got != want {
			t.Errorf("%s: Pattern() = %q, want %q", tmpl, got, want)
		}
	}
}
