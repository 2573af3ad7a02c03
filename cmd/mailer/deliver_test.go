package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailer-dev/mailer/render"
)

// TestMessageIDStableAndUnique: the Message-ID of a recipient is the same
// on every retry and re-run of a campaign (same results file), differs
// between recipients and between campaigns, and sits on the From domain.
func TestMessageIDStableAndUnique(t *testing.T) {
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "t.tmpl")
	if err := os.WriteFile(tmpl, []byte("From: News <news@Acme.example>\nSubject: hi\n\nhello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	idOf := func(results, rcpt string) string {
		t.Helper()
		tm, err := loadTemplateWith(tmpl, campaignID(results), nil)
		if err != nil {
			t.Fatal(err)
		}
		m, err := renderOne(tm, rcpt)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a := idOf(filepath.Join(dir, "r.csv"), "ann@example.com")
	if !strings.HasSuffix(a, "@acme.example") {
		t.Errorf("Message-ID %q is not on the From domain", a)
	}
	// A later run of the same campaign (a retry after deferral, a resume),
	// and the address written in another case, give the same ID.
	if b := idOf(filepath.Join(dir, "r.csv"), "Ann@Example.com"); b != a {
		t.Errorf("same campaign and recipient: %q then %q", a, b)
	}
	// The campaign is the real file: a symlink to it, a symlinked directory
	// or a relative spelling give the same IDs, so receivers can drop a
	// message that reached them twice.
	os.WriteFile(filepath.Join(dir, "r.csv"), nil, 0o644)
	os.Symlink("r.csv", filepath.Join(dir, "link.csv"))
	os.Symlink(dir, filepath.Join(dir, "sub"))
	t.Chdir(dir)
	for _, alias := range []string{filepath.Join(dir, "link.csv"), filepath.Join(dir, "sub", "r.csv"), "./r.csv", "sub/link.csv"} {
		if b := idOf(alias, "ann@example.com"); b != a {
			t.Errorf("results named %s: Message-ID %q, want %q as for r.csv", alias, b, a)
		}
	}
	if b := idOf(filepath.Join(dir, "other.csv"), "ann@example.com"); b == a {
		t.Errorf("another campaign reuses %q", a)
	}
	// Unique across many recipients of one campaign.
	f := messageIDFunc(campaignID("r.csv"))
	seen := map[string]string{}
	for i := 0; i < 20000; i++ {
		rcpt := fmt.Sprintf("user%d@example.com", i)
		id := f(rcpt)
		if prev, dup := seen[id]; dup {
			t.Fatalf("%s and %s share Message-ID %s", prev, rcpt, id)
		}
		seen[id] = rcpt
	}
	if f("ann@example.com") != f("ann@example.com") {
		t.Error("not deterministic")
	}
}

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64
	}{
		{"10MiB", 10 << 20}, {"10mib", 10 << 20}, {"500KB", 500000}, {"2MB", 2000000}, {"1048576", 1048576},
		{"64KiB", 64 << 10}, {"100B", 100}, {"1GiB", 1 << 30},
	}
	for _, c := range cases {
		if got, err := parseSize(c.in); err != nil || got != c.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "0", "-1MB", "ten", "10XB", "MB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q): no error", bad)
		}
	}
}

func TestRenderOptionsErrors(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	cases := []struct {
		name   string
		d      DeliverOptions
		secret string
		code   int
		want   string
	}{
		{"no secret", DeliverOptions{UnsubscribeURL: "https://x.example/?t={{.Token}}"}, "", exitConfig, "MAILER_UNSUBSCRIBE_SECRET"},
		{"short secret", DeliverOptions{UnsubscribeURL: "https://x.example/?t={{.Token}}"}, "short", exitConfig, "at least 16"},
		{"mailto alone", DeliverOptions{UnsubscribeMailto: "u@x.example"}, "", exitUsage, "needs --unsubscribe-url"},
		{"partial DKIM", DeliverOptions{DKIMDomain: "x.example"}, "", exitUsage, "all of --dkim-key"},
		{"missing key", DeliverOptions{DKIMKey: "/nonexistent.pem", DKIMDomain: "x.example", DKIMSelector: "s"}, "", exitNoInput, "DKIM key"},
		{"bad size", DeliverOptions{MaxAttachment: "lots"}, "", exitUsage, "--max-attachment-size"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.d.MaxAttachment == "" {
				c.d.MaxAttachment = "10MiB"
			}
			_, err := c.d.renderOptions("", env(c.secret))
			if err == nil || !strings.Contains(err.Error(), c.want) || exitCode(err) != c.code {
				t.Errorf("got %v (exit %d), want %q with exit %d", err, exitCode(err), c.want, c.code)
			}
		})
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), 0o600)
	d := DeliverOptions{DKIMKey: bad, DKIMDomain: "x.example", DKIMSelector: "s", MaxAttachment: "1MB"}
	if _, err := d.renderOptions("", env("")); err == nil || exitCode(err) != exitConfig {
		t.Errorf("a public key as DKIM key: %v (exit %d)", err, exitCode(err))
	}
}

// renderOne renders tm for rcpt and returns the Message-ID.
func renderOne(tm interface {
	Render(*bytes.Buffer, render.Recipient) (*render.Message, error)
}, rcpt string) (string, error) {
	var buf bytes.Buffer
	m, err := tm.Render(&buf, render.Recipient{Address: rcpt})
	if err != nil {
		return "", err
	}
	return m.MessageID, nil
}
