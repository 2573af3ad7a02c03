package main

import (
	"strings"
	"testing"
)

func TestCheckGolden(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"campaign", []string{"--list", "testdata/check/campaign.csv", "--template", "testdata/check/campaign.tmpl", "--suppress", "testdata/check/suppress.csv"}, 65, "2 invalid rows will not be sent"},
		{"campaign-json", []string{"--list", "testdata/check/campaign.csv", "--template", "testdata/check/campaign.tmpl", "--suppress", "testdata/check/suppress.csv", "--format", "json"}, 65, "2 invalid rows"},
		{"clean", []string{"--list", "testdata/check/clean.csv", "--template", "testdata/check/clean.tmpl"}, 0, ""},
		{"clean-strict", []string{"--list", "testdata/check/clean.csv", "--template", "testdata/check/clean.tmpl", "--strict"}, 0, ""},
		{"warnings-strict", []string{"--list", "testdata/check/clean.csv", "--template", "testdata/check/warn.tmpl", "--strict"}, 65, "2 warnings and --strict"},
		{"warnings", []string{"--list", "testdata/check/clean.csv", "--template", "testdata/check/warn.tmpl"}, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runMailer(t, append([]string{"check"}, c.args...)...)
			if code != c.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, c.code, errs)
			}
			if c.stderr == "" && errs != "" || !strings.Contains(errs, c.stderr) {
				t.Errorf("stderr %q, want %q", errs, c.stderr)
			}
			golden(t, "check/"+c.name+".golden", []byte(out))
		})
	}
}
