package sender

import (
	"strings"
	"testing"
)

func TestParseRelay(t *testing.T) {
	cases := []struct {
		in, name, err string
		sec           Security
		user          string
		conns, per    int
	}{
		{in: "smtp://mail.example.com", name: "smtp://mail.example.com:587", sec: StartTLS},
		{in: "smtps://bob@mail.example.com", name: "smtps://mail.example.com:465", sec: ImplicitTLS, user: "bob"},
		{in: "smtp+plain://127.0.0.1:2525?max_conns=8&msgs_per_conn=100", name: "smtp+plain://127.0.0.1:2525", sec: Plain, conns: 8, per: 100},
		{in: "smtp+plain://localhost", name: "smtp+plain://localhost:25", sec: Plain},
		{in: "smtp+plain://mail.example.com", err: "only to loopback"},
		{in: "smtp+plain://bob@127.0.0.1", err: "AUTH over an unencrypted connection is refused"},
		{in: "smtp://bob:pw@mail.example.com", err: "password in the URL is refused"},
		{in: "http://mail.example.com", err: "scheme must be"},
		{in: "smtp://", err: "no host"},
		{in: "smtp://h?max_conns=0", err: "max_conns"},
		{in: "smtp://h?bogus=1", err: "unknown parameter"},
	}
	for _, c := range cases {
		r, err := ParseRelay(c.in, false)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: got %v, want error %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if r.Name != c.name || r.Security != c.sec || r.Username != c.user || r.MaxConns != c.conns || r.MsgsPerConn != c.per {
			t.Errorf("%s: got %+v", c.in, r)
		}
	}
	if _, err := ParseRelay("smtp+plain://mail.example.com", true); err != nil {
		t.Errorf("allowPlain: %v", err)
	}
}
