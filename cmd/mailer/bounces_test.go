package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/mailer-dev/mailer/bounces"
	"github.com/mailer-dev/mailer/campaign"
	"github.com/mailer-dev/mailer/suppress"
)

// dsn is an RFC 3464 report, delivered to envelope, about the message
// origMID sent to final, with status.
func dsn(id, envelope, final, status, origMID string) string {
	action := "failed"
	if strings.HasPrefix(status, "4.") {
		action = "delayed"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Return-Path: <>\r\nDelivered-To: %s\r\nFrom: MAILER-DAEMON@mx.example.org\r\nTo: %s\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <%s@mx.example.org>\r\n", envelope, envelope, id)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n")
	b.WriteString("--B\r\nContent-Type: text/plain\r\n\r\nIt failed.\r\n")
	fmt.Fprintf(&b, "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; %s\r\nAction: %s\r\nStatus: %s\r\nDiagnostic-Code: smtp; 5%s %s <%s>: says no\r\n", final, action, status, status[2:3]+"0", status, final)
	b.WriteString("--B\r\nContent-Type: text/rfc822-headers\r\n\r\n")
	if origMID != "" {
		fmt.Fprintf(&b, "Message-ID: <%s>\r\n", origMID)
	}
	b.WriteString("From: News <news@acme.example>\r\nSubject: Hi\r\n--B--\r\n")
	return b.String()
}

// campaignResults writes a results file: ann sent with VERP, bob and cat
// with a plain return path.
func campaignResults(t *testing.T, dir string) string {
	h := strings.TrimSuffix(resultsHeaderForTest(), "\n")
	p := filepath.Join(dir, "results.csv")
	rows := h + "\n" +
		"ann@example.com,delivered,250,2.0.0,ok,r,1,m1@acme.example,2024-11-05T09:00:00.000Z,2,b+ann=example.com@acme.example,,\n" +
		"bob@example.com,delivered,250,2.0.0,ok,r,1,m2@acme.example,2024-11-05T09:00:00.000Z,3,b@acme.example,,\n" +
		"cat@example.com,delivered,250,2.0.0,ok,r,1,m3@acme.example,2024-11-05T09:00:00.000Z,4,b@acme.example,,\n"
	if err := os.WriteFile(p, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func resultsHeaderForTest() string {
	return "email,status,code,enhanced_code,message,relay,attempts,message_id,time,line,envelope_from,fingerprint,reason\n"
}

func runB(t *testing.T, o *BouncesOptions) (*bounces.Summary, error) {
	t.Helper()
	o.Format = "json"
	if o.SoftLimit == 0 {
		o.SoftLimit = bounces.DefaultSoftLimit
	}
	if o.SoftWindow == "" {
		o.SoftWindow = "30d"
	}
	var out bytes.Buffer
	err := runBounces(context.Background(), o, &out)
	var s bounces.Summary
	if out.Len() == 0 && err != nil {
		return &s, err // stopped before reading anything
	}
	if jerr := json.Unmarshal(out.Bytes(), &s); jerr != nil {
		t.Fatalf("summary %q: %v", out.String(), jerr)
	}
	return &s, err
}

func entries(t *testing.T, path string) []suppress.Entry {
	t.Helper()
	var es []suppress.Entry
	err := suppress.Read(path, func(e suppress.Entry) error { es = append(es, e); return nil })
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return es
}

func writeMsgs(t *testing.T, dir string, msgs map[string]string) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	for name, m := range msgs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBouncesMatchOrder: VERP first (over a conflicting Message-ID and a
// forwarded Final-Recipient), then the Message-ID, then Final-Recipient;
// a report matching no recipient of the results is counted, not applied.
// Each matched hard bounce appends a late row; a re-run adds nothing.
func TestBouncesMatchOrder(t *testing.T) {
	dir := t.TempDir()
	results := campaignResults(t, dir)
	supp := filepath.Join(dir, "suppress.csv")
	eml := filepath.Join(dir, "eml")
	writeMsgs(t, eml, map[string]string{
		"1.eml": dsn("r1", "b+ann=example.com@acme.example", "forwarded@elsewhere.example", "5.1.1", "m2@acme.example"),
		"2.eml": dsn("r2", "b@acme.example", "alias@elsewhere.example", "5.1.1", "m2@acme.example"),
		"3.eml": dsn("r3", "b@acme.example", "cat@example.com", "5.1.1", ""),
		"4.eml": dsn("r4", "b@acme.example", "nobody@example.com", "5.1.1", ""),
	})
	before, _ := os.ReadFile(results)
	s, err := runB(t, &BouncesOptions{Sources: []string{eml}, Suppress: supp, Results: []string{results}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Read != 4 || s.Matched != 3 || s.NotMatched != 1 || s.By["verp"] != 1 || s.By["message-id"] != 1 || s.By["address"] != 1 ||
		s.Suppressed[suppress.HardBounce] != 3 || s.ResultsRows != 3 || len(s.Unmatched) != 1 || s.Unmatched[0].Address != "nobody@example.com" {
		t.Fatalf("summary %+v", s)
	}
	got := map[string]string{}
	for _, e := range entries(t, supp) {
		got[e.Source] = e.Email
		if e.Reason != suppress.HardBounce || e.Code != "5.1.1" || e.Time.IsZero() {
			t.Errorf("entry %+v", e)
		}
	}
	want := map[string]string{"bounces:mid:r1@mx.example.org": "ann@example.com", "bounces:mid:r2@mx.example.org": "bob@example.com", "bounces:mid:r3@mx.example.org": "cat@example.com"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("suppressed %v, want %v", got, want)
	}
	rep, err := campaign.BuildReport(results)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Count(campaign.Bounced) != 3 || rep.Late.Bounces != 3 || rep.Recipients != 3 {
		t.Errorf("report %+v late %+v", rep.Statuses, rep.Late)
	}
	after, _ := os.ReadFile(results)
	suppBefore, _ := os.ReadFile(supp)
	s, err = runB(t, &BouncesOptions{Sources: []string{eml}, Suppress: supp, Results: []string{results}})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(results)
	suppAgain, _ := os.ReadFile(supp)
	if s.AlreadyApplied != 3 || string(again) != string(after) || string(suppAgain) != string(suppBefore) || len(after) <= len(before) {
		t.Errorf("the re-run: %+v; results or suppression changed", s)
	}
}

// TestBouncesWithoutResults: without --results a VERP address (decoded with
// --return-path) or the Final-Recipient alone suppresses.
func TestBouncesWithoutResults(t *testing.T) {
	dir := t.TempDir()
	supp := filepath.Join(dir, "s.csv")
	eml := filepath.Join(dir, "eml")
	writeMsgs(t, eml, map[string]string{
		"1.eml": dsn("r1", "b+ann=example.com@acme.example", "forwarded@elsewhere.example", "5.1.1", ""),
		"2.eml": dsn("r2", "b@acme.example", "dan@example.com", "5.1.2", ""),
	})
	s, err := runB(t, &BouncesOptions{Sources: []string{eml}, Suppress: supp, ReturnPath: "b@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	set, err := suppress.Load(supp)
	if err != nil {
		t.Fatal(err)
	}
	if s.By["verp"] != 1 || s.By["address"] != 1 || set.File("ann@example.com") == "" || set.File("dan@example.com") == "" || set.File("forwarded@elsewhere.example") != "" {
		t.Errorf("summary %+v", s)
	}
}

// TestBouncesSoftAcrossRuns: one soft DSN a run (from stdin, as from a
// pipe); the third within the window writes the suppressing row and a
// late bounced row; the counts before it do not suppress. Policy never.
func TestBouncesSoftAcrossRuns(t *testing.T) {
	dir := t.TempDir()
	results := campaignResults(t, dir)
	supp := filepath.Join(dir, "s.csv")
	for i := 1; i <= 3; i++ {
		m := dsn(fmt.Sprintf("soft%d", i), "b@acme.example", "bob@example.com", "4.2.2", "")
		s, err := runB(t, &BouncesOptions{Sources: []string{"-"}, stdin: strings.NewReader(m), Suppress: supp, Results: []string{results}})
		if err != nil {
			t.Fatal(err)
		}
		set, _ := suppress.Load(supp)
		if i < 3 && (s.SoftCounted != 1 || set.File("bob@example.com") != "" || s.ResultsRows != 0) {
			t.Errorf("run %d: %+v; suppressed %q", i, s, set.File("bob@example.com"))
		}
		if i == 3 && (s.Suppressed[suppress.SoftBounceLimit] != 1 || set.Reason("bob@example.com") != suppress.SoftBounceLimit || s.ResultsRows != 1) {
			t.Errorf("run 3: %+v; reason %q", s, set.Reason("bob@example.com"))
		}
	}
	rep, _ := campaign.BuildReport(results)
	if rep.Late.SoftLimit != 1 {
		t.Errorf("report late %+v", rep.Late)
	}
	s, err := runB(t, &BouncesOptions{Sources: []string{"-"}, stdin: strings.NewReader(dsn("pol", "b@acme.example", "cat@example.com", "5.7.1", "")), Suppress: supp, Results: []string{results}})
	if err != nil {
		t.Fatal(err)
	}
	set, _ := suppress.Load(supp)
	if s.Policy != 1 || set.File("cat@example.com") != "" || len(s.Suppressed) != 0 || s.ResultsRows != 0 {
		t.Errorf("policy: %+v", s)
	}
}

// TestBouncesSoftWindow: soft bounces older than the window do not count.
func TestBouncesSoftWindow(t *testing.T) {
	dir := t.TempDir()
	supp := filepath.Join(dir, "s.csv")
	old := time.Now().Add(-40 * 24 * time.Hour).UTC().Format(suppress.TimeLayout)
	os.WriteFile(supp, []byte(strings.Join(suppress.Columns, ",")+"\n"+
		"bob@example.com,4.2.2,full,"+old+",soft-bounce,bounces:mid:a\nbob@example.com,4.2.2,full,"+old+",soft-bounce,bounces:mid:b\n"), 0o644)
	s, err := runB(t, &BouncesOptions{Sources: []string{"-"}, stdin: strings.NewReader(dsn("c", "b@acme.example", "bob@example.com", "4.2.2", "")), Suppress: supp})
	if err != nil || s.SoftCounted != 1 {
		t.Errorf("%+v %v", s, err)
	}
	s, err = runB(t, &BouncesOptions{Sources: []string{"-"}, stdin: strings.NewReader(dsn("d", "b@acme.example", "bob@example.com", "4.2.2", "")), Suppress: supp, SoftWindow: "50d"})
	if err != nil || s.Suppressed[suppress.SoftBounceLimit] != 1 {
		t.Errorf("50d window: %+v %v", s, err)
	}
}

// TestBouncesComplaintAndUnsubscribe: a feedback report suppresses as a
// complaint and a reply to the unsubscribe address as an unsubscribe (even
// from an address the results do not have); both are final late rows.
func TestBouncesComplaintAndUnsubscribe(t *testing.T) {
	dir := t.TempDir()
	results := campaignResults(t, dir)
	supp := filepath.Join(dir, "s.csv")
	arf, _ := os.ReadFile("../../feedback/testdata/yahoo-arf.eml")
	arf = bytes.ReplaceAll(arf, []byte("mia@yahoo.example"), []byte("cat@example.com"))
	unsub, _ := os.ReadFile("../../feedback/testdata/unsubscribe.eml")
	unsub2 := bytes.ReplaceAll(bytes.ReplaceAll(unsub, []byte("Rita@Example.com"), []byte("bob@example.com")), []byte("unsub1@"), []byte("unsub9@"))
	eml := filepath.Join(dir, "eml")
	writeMsgs(t, eml, map[string]string{"arf.eml": string(arf), "u1.eml": string(unsub), "u2.eml": string(unsub2)})
	s, err := runB(t, &BouncesOptions{Sources: []string{eml}, Suppress: supp, Results: []string{results}, UnsubscribeMailto: "mailto:unsubscribe@acme.example?subject=unsubscribe"})
	if err != nil {
		t.Fatal(err)
	}
	set, _ := suppress.Load(supp)
	if s.Suppressed[suppress.Complaint] != 1 || s.Suppressed[suppress.Unsubscribe] != 2 || s.ResultsRows != 2 ||
		set.Reason("cat@example.com") != suppress.Complaint || set.Reason("rita@example.com") != suppress.Unsubscribe || set.Reason("bob@example.com") != suppress.Unsubscribe {
		t.Fatalf("summary %+v", s)
	}
	rep, _ := campaign.BuildReport(results)
	if rep.Count(campaign.Complained) != 1 || rep.Count(campaign.Unsubscribed) != 1 || rep.Late.Complaints != 1 || len(rep.Late.Warnings) == 0 {
		t.Errorf("report %+v %+v", rep.Statuses, rep.Late)
	}
}

// TestBouncesMaildirAndMbox: a Maildir's processed messages go to cur/
// with S, unrecognised ones stay in new/; an mbox is read in place; a
// re-run over either adds nothing.
func TestBouncesMaildirAndMbox(t *testing.T) {
	dir := t.TempDir()
	supp := filepath.Join(dir, "s.csv")
	md := filepath.Join(dir, "Maildir")
	for _, d := range []string{"new", "cur", "tmp"} {
		os.MkdirAll(filepath.Join(md, d), 0o755)
	}
	writeMsgs(t, filepath.Join(md, "new"), map[string]string{
		"1.host": dsn("md1", "b@acme.example", "ann@example.com", "5.1.1", ""),
		"2.host": "From: friend@example.com\r\nSubject: hello\r\nMessage-ID: <h@x>\r\n\r\nhi\r\n",
	})
	s, err := runB(t, &BouncesOptions{Sources: []string{md}, Suppress: supp})
	if err != nil || s.Marked != 1 || s.NotRecognised != 1 {
		t.Fatalf("%+v %v", s, err)
	}
	if _, err := os.Stat(filepath.Join(md, "cur", "1.host:2,S")); err != nil {
		t.Error("the bounce was not marked:", err)
	}
	if _, err := os.Stat(filepath.Join(md, "new", "2.host")); err != nil {
		t.Error("the unrecognised message was moved:", err)
	}
	mbox := filepath.Join(dir, "mbox")
	var b strings.Builder
	for i, m := range []string{dsn("mb1", "b@acme.example", "bob@example.com", "5.1.1", ""), dsn("mb2", "b@acme.example", "cat@example.com", "5.1.1", "")} {
		fmt.Fprintf(&b, "From MAILER-DAEMON Tue Nov  5 09:00:0%d 2024\n%s\n", i, strings.ReplaceAll(m, "\r\n", "\n"))
	}
	os.WriteFile(mbox, []byte(b.String()), 0o644)
	for run := 1; run <= 2; run++ {
		s, err = runB(t, &BouncesOptions{Sources: []string{md, mbox}, Suppress: supp})
		if err != nil {
			t.Fatal(err)
		}
		if run == 1 && (s.Read != 3 || s.Suppressed[suppress.HardBounce] != 2) || run == 2 && (s.AlreadyApplied != 2 || len(s.Suppressed) != 0) {
			t.Errorf("run %d: %+v", run, s)
		}
	}
	if n := len(entries(t, supp)); n != 3 {
		t.Errorf("%d suppression rows, want 3", n)
	}
}

// TestBouncesIMAP: an IMAP mailbox on an in-memory server; processed
// messages get \Seen (or move with --move-to), the password comes from
// MAILER_IMAP_PASSWORD, and a re-run reads nothing new.
func TestBouncesIMAP(t *testing.T) {
	addr, roots, user := imapTestServer(t)
	for i := 1; i <= 2; i++ {
		raw := dsn(fmt.Sprintf("imap%d", i), "b@acme.example", fmt.Sprintf("u%d@example.com", i), "5.1.1", "")
		if _, err := user.Append("INBOX", imapLiteral(raw), &imap.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	_, port, _ := net.SplitHostPort(addr)
	src := "imaps://bounces@localhost:" + port + "/INBOX"
	supp := filepath.Join(t.TempDir(), "s.csv")
	o := func() *BouncesOptions {
		return &BouncesOptions{Sources: []string{src}, Suppress: supp, MoveTo: "Done", tlsConfig: &tls.Config{RootCAs: roots}}
	}
	if _, err := runB(t, o()); err == nil || !strings.Contains(err.Error(), imapPasswordEnv) {
		t.Fatalf("no password: %v", err)
	}
	t.Setenv(imapPasswordEnv, "s3cret")
	s, err := runB(t, o())
	if err != nil || s.Suppressed[suppress.HardBounce] != 2 || s.Marked != 2 {
		t.Fatalf("%+v %v", s, err)
	}
	if n := imapCount(t, addr, roots, "Done"); n != 2 {
		t.Errorf("%d messages moved to Done", n)
	}
	s, err = runB(t, o())
	if err != nil || s.Read != 0 {
		t.Errorf("re-run: %+v %v", s, err)
	}
}

// TestBouncesLocked: a results file held by a running send: bounces waits
// --lock-wait, then exits 75 having written nothing.
func TestBouncesLocked(t *testing.T) {
	dir := t.TempDir()
	results := campaignResults(t, dir)
	hold, err := campaign.OpenLate(context.Background(), results, 0) // what a send holds
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	supp := filepath.Join(dir, "s.csv")
	_, err = runB(t, &BouncesOptions{Sources: []string{"-"}, stdin: strings.NewReader(dsn("l", "b@acme.example", "ann@example.com", "5.1.1", "")),
		Suppress: supp, Results: []string{results}, LockWait: 50 * time.Millisecond})
	var le *campaign.LockedError
	if !errors.As(err, &le) || exitCode(err) != exitTempFail {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(supp); err == nil {
		t.Error("the suppression file was written")
	}
}

func TestBouncesUsage(t *testing.T) {
	for _, o := range []*BouncesOptions{
		{Sources: []string{"x"}},
		{Sources: []string{"x"}, Suppress: "s", SoftLimit: 1},
		{Sources: []string{"x"}, Suppress: "s", SoftWindow: "soon"},
		{Sources: []string{"-", "-"}, Suppress: "s"},
	} {
		if _, err := runB(t, o); exitCode(err) != exitUsage {
			t.Errorf("%+v: %v", o, err)
		}
	}
	if _, err := runB(t, &BouncesOptions{Sources: []string{filepath.Join(t.TempDir(), "missing")}, Suppress: filepath.Join(t.TempDir(), "s.csv")}); exitCode(err) != exitNoInput {
		t.Errorf("missing source: %v", err)
	}
}

func imapTestServer(t *testing.T) (string, *x509.CertPool, *imapmemserver.User) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	mem := imapmemserver.New()
	user := imapmemserver.NewUser("bounces", "s3cret")
	user.Create("INBOX", nil)
	user.Create("Done", nil)
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:   imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		Logger: quietLogger{},
	})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), roots, user
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

type imapLit struct{ *strings.Reader }

func (l imapLit) Size() int64 { return int64(l.Reader.Len()) }

func imapLiteral(s string) imap.LiteralReader { return imapLit{strings.NewReader(s)} }

func imapCount(t *testing.T, addr string, roots *x509.CertPool, mbox string) int {
	t.Helper()
	c, err := imapclient.DialTLS(addr, &imapclient.Options{TLSConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("bounces", "s3cret").Wait(); err != nil {
		t.Fatal(err)
	}
	d, err := c.Select(mbox, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return int(d.NumMessages)
}

// TestBouncesNothingToWrite: a run that suppresses nobody leaves no empty
// suppression file behind (an empty file is not a suppression list, and
// the next run or send would refuse it).
func TestBouncesNothingToWrite(t *testing.T) {
	supp := filepath.Join(t.TempDir(), "s.csv")
	for i := 0; i < 2; i++ {
		if _, err := runB(t, &BouncesOptions{Sources: []string{"-"}, stdin: strings.NewReader("From: a@example.com\r\nSubject: hi\r\n\r\nhi\r\n"), Suppress: supp}); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	if _, err := os.Stat(supp); err == nil {
		t.Error("an empty suppression file was created")
	}
}

// TestBouncesSoftOncePerMessage: delay warnings about one message (Exim
// repeats them; Postfix sends "delayed" and then "failed") are one soft
// bounce, in one run and across runs; a warning about another message
// counts again.
func TestBouncesSoftOncePerMessage(t *testing.T) {
	dir := t.TempDir()
	supp := filepath.Join(dir, "s.csv")
	mdir := filepath.Join(dir, "eml")
	os.Mkdir(mdir, 0o755)
	for i := 1; i <= 3; i++ {
		os.WriteFile(filepath.Join(mdir, fmt.Sprintf("w%d.eml", i)), []byte(dsn(fmt.Sprintf("warn%d", i), "b@acme.example", "bob@example.com", "4.2.2", "m2@acme.example")), 0o644)
	}
	s, err := runB(t, &BouncesOptions{Sources: []string{mdir}, Suppress: supp})
	if err != nil {
		t.Fatal(err)
	}
	set, _ := suppress.Load(supp)
	if s.SoftCounted != 1 || len(s.Suppressed) != 0 || set.File("bob@example.com") != "" {
		t.Errorf("three warnings about one message: %+v; suppressed %q", s, set.File("bob@example.com"))
	}
	// A later run: a fourth warning about the same message still counts nothing.
	s, err = runB(t, &BouncesOptions{Sources: []string{"-"}, stdin: strings.NewReader(dsn("warn4", "b@acme.example", "bob@example.com", "4.2.2", "m2@acme.example")), Suppress: supp})
	if err != nil || s.SoftCounted != 0 || len(s.Suppressed) != 0 {
		t.Errorf("another run, same message: %+v %v", s, err)
	}
	// Two other messages: the count reaches the limit (3).
	for i, mid := range []string{"m7@acme.example", "m8@acme.example"} {
		s, err = runB(t, &BouncesOptions{Sources: []string{"-"}, stdin: strings.NewReader(dsn(fmt.Sprintf("other%d", i), "b@acme.example", "bob@example.com", "4.2.2", mid)), Suppress: supp})
		if err != nil {
			t.Fatal(err)
		}
	}
	if set, _ = suppress.Load(supp); s.Suppressed[suppress.SoftBounceLimit] != 1 || set.Reason("bob@example.com") != suppress.SoftBounceLimit {
		t.Errorf("three messages: %+v; reason %q", s, set.Reason("bob@example.com"))
	}
}
