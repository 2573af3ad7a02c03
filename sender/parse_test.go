package sender

import (
	"testing"
)

func TestParseRate(t *testing.T) {
	cases := []struct {
		in   string
		want float64
		err  bool
	}{
		{"200/s", 200, false}, {"120/m", 2, false}, {"3600/h", 1, false}, {"50", 50, false},
		{"0", 0, false}, {"", 0, false}, {"0.5/s", 0.5, false},
		{"-1/s", 0, true}, {"x/s", 0, true}, {"10/d", 0, true},
	}
	for _, c := range cases {
		got, err := ParseRate(c.in)
		if (err != nil) != c.err || float64(got) != c.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v (error %v)", c.in, got, err, c.want, c.err)
		}
	}
}

func TestParseDomainLimit(t *testing.T) {
	cases := []struct {
		in, domain string
		conns      int
		rate       float64
		err        bool
	}{
		{in: "gmail.com=5,20/s", domain: "gmail.com", conns: 5, rate: 20},
		{in: "Yahoo.COM=2", domain: "yahoo.com", conns: 2},
		{in: "outlook.com=0,600/m", domain: "outlook.com", rate: 10},
		{in: "gmail.com", err: true},
		{in: "=5", err: true},
		{in: "a@gmail.com=5", err: true},
		{in: "gmail.com=x", err: true},
		{in: "gmail.com=5,fast", err: true},
	}
	for _, c := range cases {
		d, dl, err := ParseDomainLimit(c.in)
		if c.err {
			if err == nil {
				t.Errorf("%q: no error", c.in)
			}
			continue
		}
		if err != nil || d != c.domain || dl.MaxConns != c.conns || float64(dl.Rate) != c.rate {
			t.Errorf("%q: got %q %+v %v", c.in, d, dl, err)
		}
	}
}
