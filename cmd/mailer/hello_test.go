package main

import (
	"runtime/debug"
	"testing"
)

func TestHelloName(t *testing.T) {
	hosts := []byte(`# managed by hand
127.0.0.1	localhost localhost.localdomain
127.0.1.1	vm.corp.example vm   # the canonical name first
10.0.0.7	db db.corp.example
::1	ip6-localhost
`)
	for _, tc := range []struct {
		host, from string
		hosts      []byte
		want       string
	}{
		{host: "mail.acme.example", from: "news.example", hosts: hosts, want: "mail.acme.example"},
		{host: "mail.acme.example.", want: "mail.acme.example"},
		{host: "vm", from: "acme.example", hosts: hosts, want: "vm.corp.example"},
		{host: "VM", hosts: hosts, want: "vm.corp.example"},
		{host: "db", hosts: hosts, want: "db.corp.example"}, // short name first on its line
		{host: "vm", from: "acme.example", want: "acme.example"},
		{host: "web", from: "acme.example", hosts: hosts, want: "acme.example"},
		{host: "localhost", from: "acme.example", hosts: hosts, want: "acme.example"}, // localhost.localdomain is no FQDN of ours
		{host: "10.0.0.7", from: "acme.example", want: "acme.example"},                // an IP is not a name
		{host: "vm", want: "vm.localdomain"},
		{host: "", want: "localhost.localdomain"},
		{host: "ip-10-0-0-5", hosts: []byte("10.0.0.5 ip-10-0-0-5\n"), want: "ip-10-0-0-5.localdomain"},
	} {
		got, why := helloName(tc.host, tc.hosts, tc.from)
		if got != tc.want {
			t.Errorf("helloName(%q, from %q) = %q (%s), want %q", tc.host, tc.from, got, why, tc.want)
		}
		if why == "" {
			t.Errorf("helloName(%q): no reason given", tc.host)
		}
	}
}

func TestVersionString(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i+1 < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	bi := func(v string, settings []debug.BuildSetting) *debug.BuildInfo {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/mailer-dev/mailer", Version: v}, Settings: settings}
	}
	for _, tc := range []struct {
		name    string
		ldflags string
		bi      *debug.BuildInfo
		want    string
	}{
		{"ldflags", "v1.2.3", bi("(devel)", nil), "v1.2.3"},
		{"tag", "", bi("v1.4.0", nil), "v1.4.0 (go1.26.8)"},
		{"pseudo", "", bi("v0.0.0-20261201190943-f9a277e8adef", vcs("vcs.revision", "f9a277e8adef566ebbb3900ca1184ba280d308fc")), "v0.0.0-20261201190943-f9a277e8adef (go1.26.8)"},
		{"revision", "", bi("(devel)", vcs("vcs", "git", "vcs.revision", "f9a277e8adef566ebbb3900ca1184ba280d308fc", "vcs.modified", "false")), "f9a277e8adef (go1.26.8)"},
		{"dirty", "", bi("(devel)", vcs("vcs.revision", "f9a277e8adef566ebbb3900ca1184ba280d308fc", "vcs.modified", "true")), "f9a277e8adef+dirty (go1.26.8)"},
		{"empty version", "", bi("", vcs("vcs.revision", "abc")), "abc (go1.26.8)"},
		{"nothing", "", bi("(devel)", nil), "unknown (go1.26.8): built without VCS information (-buildvcs=false, or not in a git clone)"},
		{"no build info", "", nil, "unknown (no build information)"},
	} {
		if got := versionString(tc.ldflags, tc.bi); got != tc.want {
			t.Errorf("%s: versionString = %q, want %q", tc.name, got, tc.want)
		}
	}
}
