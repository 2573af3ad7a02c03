package address

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct{ in, wire, err string }{
		{in: "ann@example.com", wire: "ann@example.com"},
		{in: "  Ann.Lee@Example.COM ", wire: "Ann.Lee@example.com"},
		{in: "a+tag@bücher.example", wire: "a+tag@xn--bcher-kva.example"},
		{in: "josé@example.com", wire: "josé@example.com"},
		{in: "o'brien@example.ie", wire: "o'brien@example.ie"},
		{in: "", err: "no address"},
		{in: "frank at example.com", err: "no angle-addr"},
		{in: "a@example.com, b@example.com", err: "one address per cell"},
		{in: "Ann <ann@example.com>", err: "bare address"},
		{in: "ann@localhost", err: "has no dot"},
		{in: `"a b"@example.com`, err: "quoted local parts are not supported"},
		{in: "a@-bad-.example", err: "bad domain"},
	}
	for _, c := range cases {
		a, err := Parse(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: got %+v, %v; want error %q", c.in, a, err, c.err)
			}
			continue
		}
		if err != nil || a.Wire != c.wire || a.Key != strings.ToLower(c.wire) {
			t.Errorf("%q: got %+v, %v; want %q", c.in, a, err, c.wire)
		}
	}
}

func TestParseInternational(t *testing.T) {
	cases := []struct{ in, wire, key string }{
		{"josé@bücher.example", "josé@xn--bcher-kva.example", "josé@xn--bcher-kva.example"},
		{"JOSÉ@Example.com", "JOSÉ@example.com", "josé@example.com"},
		{"用户@例子.广告", "用户@xn--fsqu00a.xn--4rr70v", "用户@xn--fsqu00a.xn--4rr70v"},
	}
	for _, c := range cases {
		a, err := Parse(c.in)
		if err != nil || a.Wire != c.wire || a.Key != c.key {
			t.Errorf("Parse(%q) = %+v, %v; want wire %q key %q", c.in, a, err, c.wire, c.key)
		}
	}
}

// FuzzParse: a cell is either a valid address whose key is its wire
// form lower-cased, or an error; keys never hold line breaks.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"a@example.com", "A@Example.COM", "bad", "a@bücher.example", "\"x y\"@example.com", "a@b@c", "<a@b.c>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cell string) {
		a, err := Parse(cell)
		if err != nil {
			return
		}
		if a.Key != strings.ToLower(a.Wire) || strings.ContainsAny(a.Wire, "\r\n <>\"") || !strings.Contains(a.Wire, "@") {
			t.Errorf("%q -> %+v", cell, a)
		}
	})
}
