package address

import (
	"strings"
	"testing"
)

func TestVERPRoundTrip(t *testing.T) {
	cases := []struct{ rp, rcpt, want string }{
		{"bounces@acme.example", "user@example.com", "bounces+user=example.com@acme.example"},
		{"bounces@acme.example", "Ann.Lee@Example.COM", "bounces+Ann.Lee=example.com@acme.example"},
		{"bounces@acme.example", "a+tag@example.com", "bounces+a+tag=example.com@acme.example"},
		{"bounces@acme.example", "x=y@example.com", "bounces+x=y=example.com@acme.example"},
		{"bounces@acme.example", "josé@xn--bcher-kva.example", "bounces+josé=xn--bcher-kva.example@acme.example"},
		{"b@mail.acme.example", "o'neil@sub.example.co.uk", "b+o'neil=sub.example.co.uk@mail.acme.example"},
	}
	for _, c := range cases {
		got, err := VERP(c.rp, c.rcpt)
		if err != nil || got != c.want {
			t.Errorf("VERP(%q, %q) = %q, %v; want %q", c.rp, c.rcpt, got, err, c.want)
			continue
		}
		back, ok := DecodeVERP(c.rp, got)
		if !ok || !strings.EqualFold(back, c.rcpt) || back[:strings.LastIndexByte(back, '@')] != c.rcpt[:strings.LastIndexByte(c.rcpt, '@')] {
			t.Errorf("DecodeVERP(%q) = %q, %v; want %q", got, back, ok, c.rcpt)
		}
		// A receiver that upper-cases what it bounces to still decodes.
		if back, ok := DecodeVERP(c.rp, strings.ToUpper(got[:1])+got[1:]); !ok || !strings.EqualFold(back, c.rcpt) {
			t.Errorf("DecodeVERP of a re-cased address: %q, %v", back, ok)
		}
	}
	for _, a := range []string{"bounces@acme.example", "other+u=example.com@acme.example", "bounces+u=example.com@elsewhere.example",
		"bounces+nodomain@acme.example", "bounces+u=@acme.example", "bounces+=example.com@acme.example", "nonsense"} {
		if r, ok := DecodeVERP("bounces@acme.example", a); ok {
			t.Errorf("DecodeVERP(%q) = %q, want not ok", a, r)
		}
	}
	for _, rp := range []string{"", "bounces", "b+x@acme.example"} {
		if _, err := VERP(rp, "u@example.com"); err == nil {
			t.Errorf("VERP with return path %q: no error", rp)
		}
	}
}

func FuzzVERP(f *testing.F) {
	f.Add("bounces@acme.example", "user@example.com")
	f.Add("b@x.example", "a=b+c@d.example")
	f.Fuzz(func(t *testing.T, rp, rcpt string) {
		v, err := VERP(rp, rcpt)
		if err != nil {
			return
		}
		back, ok := DecodeVERP(rp, v)
		if !ok || !strings.EqualFold(back, rcpt) {
			t.Fatalf("VERP(%q, %q) = %q decodes to %q, %v", rp, rcpt, v, back, ok)
		}
	})
}
