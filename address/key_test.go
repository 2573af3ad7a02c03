package address

import (
	"strings"
	"testing"
)

func TestKey(t *testing.T) {
	cases := []struct{ in, key string }{
		{"ann@example.com", "ann@example.com"},
		{"  Ann.Lee@Example.COM ", "ann.lee@example.com"},
		{"JOSÉ@Bücher.example", "josé@xn--bcher-kva.example"},
		{"josé@xn--bcher-kva.example", "josé@xn--bcher-kva.example"},
		// Not addresses: trimmed and lower-cased, so a resumed invalid row
		// and a suppression file's odd line still find themselves.
		{" Not An Address ", "not an address"},
		{"Ann <ann@example.com>", "ann <ann@example.com>"},
		{"", ""},
	}
	for _, c := range cases {
		if got := Key(c.in); got != c.key {
			t.Errorf("Key(%q) = %q, want %q", c.in, got, c.key)
		}
	}
}

func TestDomain(t *testing.T) {
	for in, want := range map[string]string{"ann@Example.COM": "example.com", "a@b@c.example": "c.example", "nodomain": "", "x@": ""} {
		if got := Domain(in); got != want {
			t.Errorf("Domain(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestASCIIDomain(t *testing.T) {
	if got, err := ASCIIDomain("Ann@Bücher.example"); err != nil || got != "Ann@xn--bcher-kva.example" {
		t.Errorf("ASCIIDomain = %q, %v", got, err)
	}
	for _, bad := range []string{"nodomain", "a@-bad-.example"} {
		if got, err := ASCIIDomain(bad); err == nil {
			t.Errorf("ASCIIDomain(%q) = %q, want an error", bad, got)
		}
	}
}

// FuzzKey: the three places that once normalised on their own (the list's
// key, render's token address, cmd's Message-ID hash, each lower-casing the
// wire form) agree with Key, and Key is stable: the key of a parsed
// address, of its wire form and of the key itself are one.
func FuzzKey(f *testing.F) {
	for _, s := range []string{"a@example.com", " A@Example.COM", "bad", "JOSÉ@bücher.example", "用户@例子.广告", "\"x y\"@example.com", "a@b@c", "K@x.example", "\xff@x.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := Key(s)
		if Key(k) != k {
			t.Errorf("Key not idempotent: %q -> %q -> %q", s, k, Key(k))
		}
		a, err := Parse(s)
		if err != nil {
			return
		}
		if k != a.Key || Key(a.Wire) != a.Key || strings.ToLower(strings.TrimSpace(a.Wire)) != a.Key {
			t.Errorf("%q: Key %q, Parse %+v, Key(wire) %q", s, k, a, Key(a.Wire))
		}
		if b, err := Parse(a.Wire); err != nil || b != a {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", a.Wire, b, err, a)
		}
	})
}
