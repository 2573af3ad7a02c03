package campaign

import (
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
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
		a, err := parseAddress(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: got %+v, %v; want error %q", c.in, a, err, c.err)
			}
			continue
		}
		if err != nil || a.wire != c.wire || a.key != strings.ToLower(c.wire) {
			t.Errorf("%q: got %+v, %v; want %q", c.in, a, err, c.wire)
		}
	}
}
