package dnscheck

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailer-dev/mailer/dnscheck/dnstest"
)

// recipientZone has one domain for every answer the domain check tells apart.
const recipientZone = `
mx.example.          300 IN MX 10 mail.mx.example.
mail.mx.example.     300 IN A 192.0.2.25
nullmx.example.      300 IN MX 0 .
addr.example.        300 IN A 192.0.2.1
addr6.example.       300 IN AAAA 2001:db8::1
nohost.example.      300 IN TXT "v=spf1 -all"
alias.example.       300 IN CNAME mx.example.
gmail.com.           300 IN MX 5 gmail-smtp-in.l.google.com.
gmial.com.           300 IN A 192.0.2.99
$SERVFAIL broken.example.
$SLOW slow.example. 30s
`

func startServer(t *testing.T, zone string) *dnstest.Server {
	t.Helper()
	s, err := dnstest.Start(dnstest.Zone(zone))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func newResolver(t *testing.T, s *dnstest.Server, o ResolverOptions) *Resolver {
	t.Helper()
	o.Server = s.Addr
	if o.Timeout == 0 {
		o.Timeout = 150 * time.Millisecond
	}
	if o.Rate == 0 {
		o.Rate = -1
	}
	r, err := NewResolver(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLookup(t *testing.T) {
	s := startServer(t, recipientZone)
	c := NewChecker(newResolver(t, s, ResolverOptions{}))
	for _, tc := range []struct {
		domain  string
		verdict Verdict
		reason  string
	}{
		{"mx.example", OK, ""},
		{"MX.Example.", OK, ""},
		{"alias.example", OK, ""}, // CNAME to a domain with MX
		{"addr.example", OK, ""},  // implicit MX (RFC 5321 5.1)
		{"addr6.example", OK, ""}, // implicit MX, IPv6 only
		{"gone.example", Invalid, ReasonNoDomain},
		{"nullmx.example", Invalid, ReasonNullMX},
		{"nohost.example", Invalid, ReasonNoHost},
		{"bad..example", Invalid, ReasonNoDomain},
		{"broken.example", Temporary, "SERVFAIL"},
		{"slow.example", Temporary, "timeout"},
	} {
		got := c.Lookup(context.Background(), tc.domain)
		if got.Verdict != tc.verdict || got.Reason != tc.reason {
			t.Errorf("Lookup(%q) = %v %q, want %v %q", tc.domain, got.Verdict, got.Reason, tc.verdict, tc.reason)
		}
	}
}

// Every distinct domain is asked once, however many callers want it at once.
func TestLookupOnce(t *testing.T) {
	s := startServer(t, recipientZone)
	c := NewChecker(newResolver(t, s, ResolverOptions{}))
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := c.Lookup(context.Background(), "mx.example"); r.Verdict != OK {
				t.Errorf("verdict %v", r.Verdict)
			}
		}()
	}
	wg.Wait()
	if n := s.Queries(); n != 1 {
		t.Fatalf("%d queries for one domain, want 1", n)
	}
	c.Lookup(context.Background(), "addr.example") // MX, then A: two queries
	if n := s.Queries(); n != 3 {
		t.Fatalf("%d queries, want 3", n)
	}
}

func TestCheckReport(t *testing.T) {
	s := startServer(t, recipientZone)
	c := NewChecker(newResolver(t, s, ResolverOptions{}))
	ds := NewDomains()
	add := func(domain string, lines ...int) {
		for _, l := range lines {
			ds.Add(domain, "x@"+domain, l)
		}
	}
	add("mx.example", 2, 3, 4)
	add("gone.example", 5, 9)
	add("nullmx.example", 6)
	add("broken.example", 7, 8, 10, 11, 12, 13, 14)
	add("gmial.com", 15)
	add("gmail.com", 16)
	add("slow.example", 17)
	add("gmail.con", 18)
	rep, err := c.Check(context.Background(), ds, Options{Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Domains != 8 || rep.Rows != 17 {
		t.Fatalf("domains %d rows %d", rep.Domains, rep.Rows)
	}
	var got []string
	for _, f := range rep.Invalid {
		got = append(got, f.Domain+"|"+f.Reason+"|"+itoa(f.Rows)+"|"+joinLines(f.Lines))
	}
	want := []string{
		"gone.example|" + ReasonNoDomain + "|2|5,9",
		"nullmx.example|" + ReasonNullMX + "|1|6",
		"gmail.con|" + ReasonNoDomain + "; did you mean gmail.com?|1|18",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("invalid:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got = nil
	for _, f := range rep.Warnings {
		got = append(got, f.Domain+"|"+f.Kind+"|"+f.Reason+"|"+itoa(f.Rows)+"|"+joinLines(f.Lines))
	}
	want = []string{
		"broken.example|temporary failure|SERVFAIL|7|7,8,10,11,12",
		"gmial.com|likely typo|did you mean gmail.com?|1|15",
		"slow.example|temporary failure|timeout|1|17",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, tc := range []struct {
		domain  string
		invalid bool
		reason  string
	}{
		{"gone.example", true, "gone.example: " + ReasonNoDomain},
		{"NullMX.example", true, "nullmx.example: " + ReasonNullMX},
		{"broken.example", false, ""}, // temporary: sent as usual
		{"gmial.com", false, ""},      // a typo is a warning only
		{"mx.example", false, ""},
		{"unseen.example", false, ""},
	} {
		inv, reason := rep.Verdict(tc.domain)
		if inv != tc.invalid || reason != tc.reason {
			t.Errorf("Verdict(%q) = %v %q, want %v %q", tc.domain, inv, reason, tc.invalid, tc.reason)
		}
	}
	if rep.InvalidRows() != 4 {
		t.Errorf("InvalidRows %d, want 4", rep.InvalidRows())
	}
}

// The lookups per second are capped across all workers.
func TestRateLimit(t *testing.T) {
	s := startServer(t, recipientZone)
	r := newResolver(t, s, ResolverOptions{Rate: 20}) // burst 3
	c := NewChecker(r)
	ds := NewDomains()
	for i := 0; i < 9; i++ {
		ds.Add("d"+itoa(i)+".example", "a@x", i+2) // NXDOMAIN: one query each
	}
	start := time.Now()
	if _, err := c.Check(context.Background(), ds, Options{Concurrency: 8}); err != nil {
		t.Fatal(err)
	}
	// 9 queries, 3 at once, then 6 more at 20/s: at least 300ms.
	if el := time.Since(start); el < 280*time.Millisecond {
		t.Fatalf("9 lookups at 20/s took %v", el)
	}
}

// An answer too large for UDP comes again over TCP.
func TestTruncatedAnswer(t *testing.T) {
	var zone strings.Builder
	for i := 0; i < 12; i++ {
		zone.WriteString(`big.example. 300 IN TXT "` + strings.Repeat(string(rune('a'+i)), 200) + "\"\n")
	}
	s := startServer(t, zone.String())
	r := newResolver(t, s, ResolverOptions{})
	txts, err := r.LookupTXT(context.Background(), "big.example")
	if err != nil {
		t.Fatal(err)
	}
	if len(txts) != 12 {
		t.Fatalf("%d TXT records, want 12", len(txts))
	}
}

func TestNewResolverBadServer(t *testing.T) {
	for _, s := range []string{"127.0.0.1", "127.0.0.1:x", ":53"} {
		if _, err := NewResolver(ResolverOptions{Server: s}); err == nil {
			t.Errorf("NewResolver(%q): no error", s)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func joinLines(ls []int) string {
	var s []string
	for _, l := range ls {
		s = append(s, strconv.Itoa(l))
	}
	return strings.Join(s, ",")
}
