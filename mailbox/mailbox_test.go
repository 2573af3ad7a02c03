package mailbox

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
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
)

func msg(n int) string {
	return fmt.Sprintf("From: a@example.com\r\nMessage-ID: <m%d@example.com>\r\nSubject: %d\r\n\r\nbody %d\r\n", n, n, n)
}

func drain(t *testing.T, s Source, mark bool) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for {
		m, err := s.Next(ctx)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(m.Raw))
		if mark {
			if err := s.Mark(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestMaildir(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"new", "cur", "tmp"} {
		os.Mkdir(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "new", "1.a.host"), []byte(msg(1)), 0o644)
	os.WriteFile(filepath.Join(dir, "cur", "2.b.host:2,F"), []byte(msg(2)), 0o644)
	os.WriteFile(filepath.Join(dir, "cur", "3.c.host:2,RS"), []byte(msg(3)), 0o644) // already seen
	os.WriteFile(filepath.Join(dir, "tmp", "4.d.host"), []byte(msg(4)), 0o644)      // being delivered

	s, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*Maildir); !ok {
		t.Fatalf("Open gave %T, want *Maildir", s)
	}
	got := drain(t, s, true)
	if len(got) != 2 || got[0] != msg(1) || got[1] != msg(2) {
		t.Fatalf("first run read %q", got)
	}
	for _, p := range []string{"cur/1.a.host:2,S", "cur/2.b.host:2,FS", "cur/3.c.host:2,RS", "tmp/4.d.host"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("after marking: %v", err)
		}
	}
	s2, _ := Open(context.Background(), dir, Options{})
	if got := drain(t, s2, true); len(got) != 0 {
		t.Fatalf("re-run read %d messages, want none", len(got))
	}
}

func TestMbox(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bounces.mbox")
	body := "From MAILER-DAEMON Mon Mar  2 10:00:00 2026\n" +
		"Subject: one\n\nline\n>From the start\n>>From deeper\nFrom-less line\n\n" +
		"From MAILER-DAEMON Mon Mar  2 10:01:00 2026\n" +
		"Subject: two\n\nsecond\n"
	os.WriteFile(p, []byte(body), 0o644)
	s, err := Open(context.Background(), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*Mbox); !ok {
		t.Fatalf("Open gave %T, want *Mbox", s)
	}
	got := drain(t, s, true)
	want := []string{
		"Subject: one\n\nline\nFrom the start\n>From deeper\nFrom-less line\n",
		"Subject: two\n\nsecond\n",
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestMboxTooLarge(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m")
	os.WriteFile(p, []byte("From x\nSubject: big\n\n"+strings.Repeat("x\n", 100)+"\nFrom y\nSubject: small\n\nok\n"), 0o644)
	mb, _ := OpenMbox(p, 50)
	defer mb.Close()
	_, err := mb.Next(context.Background())
	var tl *TooLargeError
	if !errors.As(err, &tl) {
		t.Fatalf("err = %v, want TooLargeError", err)
	}
	m, err := mb.Next(context.Background())
	if err != nil || m.Raw == nil || !strings.Contains(string(m.Raw), "small") {
		t.Fatalf("after a too large message: %v %q", err, m)
	}
}

func TestDirFileStdin(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "b.eml"), []byte(msg(2)), 0o644)
	os.WriteFile(filepath.Join(dir, "a.eml"), []byte(msg(1)), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	s, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := drain(t, s, true); len(got) != 2 || got[0] != msg(1) || got[1] != msg(2) {
		t.Fatalf("dir: %q", got)
	}
	s, err = Open(context.Background(), filepath.Join(dir, "a.eml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := drain(t, s, true); len(got) != 1 || got[0] != msg(1) {
		t.Fatalf("file: %q", got)
	}
	s.Close()
	s, _ = Open(context.Background(), "-", Options{Stdin: strings.NewReader(msg(3))})
	if got := drain(t, s, true); len(got) != 1 || got[0] != msg(3) {
		t.Fatalf("stdin: %q", got)
	}
	s, _ = Open(context.Background(), "-", Options{Stdin: strings.NewReader(msg(3)), MaxSize: 10})
	var tl *TooLargeError
	if _, err := s.Next(context.Background()); !errors.As(err, &tl) {
		t.Fatalf("stdin over MaxSize: %v", err)
	}
}

// imapServer starts go-imap's in-memory server with TLS on 127.0.0.1:0,
// user "bounces" with mailbox INBOX holding n messages and a folder Done.
func imapServer(t *testing.T, n int) (addr string, roots *x509.CertPool, user *imapmemserver.User) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	roots = x509.NewCertPool()
	roots.AddCert(cert)

	mem := imapmemserver.New()
	user = imapmemserver.NewUser("bounces", "s3cret")
	user.Create("INBOX", nil)
	user.Create("Done", nil)
	for i := 1; i <= n; i++ {
		raw := msg(i)
		if _, err := user.Append("INBOX", literal(raw), &imap.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:   imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		Logger: discardLogger{},
	})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), roots, user
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

type lit struct {
	*strings.Reader
}

func (l lit) Size() int64 { return int64(l.Reader.Len()) }

func literal(s string) imap.LiteralReader { return lit{strings.NewReader(s)} }

func openIMAP(t *testing.T, addr string, roots *x509.CertPool, opts Options) Source {
	t.Helper()
	opts.IMAPPassword = "s3cret"
	opts.TLSConfig = &tls.Config{RootCAs: roots}
	_, port, _ := net.SplitHostPort(addr)
	s, err := Open(context.Background(), "imaps://bounces@localhost:"+port+"/INBOX", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// count returns the messages in mailbox with and without \Seen.
func count(t *testing.T, addr string, roots *x509.CertPool, mailbox string) (all, unseen int) {
	t.Helper()
	c, err := imapclient.DialTLS(addr, &imapclient.Options{TLSConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("bounces", "s3cret").Wait(); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(mailbox, &imap.StatusOptions{NumMessages: true, NumUnseen: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return int(*st.NumMessages), int(*st.NumUnseen)
}

func TestIMAPSeen(t *testing.T) {
	addr, roots, _ := imapServer(t, 3)
	s := openIMAP(t, addr, roots, Options{})
	ctx := context.Background()
	m, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Raw) != msg(1) {
		t.Fatalf("raw %q", m.Raw)
	}
	// Reading alone flags nothing (BODY.PEEK).
	if _, unseen := count(t, addr, roots, "INBOX"); unseen != 3 {
		t.Fatalf("after a read without Mark: %d unseen, want 3", unseen)
	}
	if err := s.Mark(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got := drain(t, s, true); len(got) != 2 {
		t.Fatalf("read %d more, want 2", len(got))
	}
	s.Close()
	if all, unseen := count(t, addr, roots, "INBOX"); all != 3 || unseen != 0 {
		t.Fatalf("INBOX %d messages, %d unseen; want 3, 0 (nothing deleted)", all, unseen)
	}
	if got := drain(t, openIMAP(t, addr, roots, Options{}), true); len(got) != 0 {
		t.Fatalf("re-run read %d, want none", len(got))
	}
}

func TestIMAPMoveAndDelete(t *testing.T) {
	addr, roots, _ := imapServer(t, 2)
	s := openIMAP(t, addr, roots, Options{MoveTo: "Done"})
	ctx := context.Background()
	m, _ := s.Next(ctx)
	if err := s.Mark(ctx, m); err != nil {
		t.Fatal(err)
	}
	if all, _ := count(t, addr, roots, "Done"); all != 1 {
		t.Fatalf("Done holds %d, want 1", all)
	}
	s.Close()
	s = openIMAP(t, addr, roots, Options{Delete: true})
	got := drain(t, s, true)
	if len(got) != 1 || got[0] != msg(2) {
		t.Fatalf("second run read %q", got)
	}
	s.Close()
	if all, _ := count(t, addr, roots, "INBOX"); all != 0 {
		t.Fatalf("INBOX holds %d after move and delete, want 0", all)
	}
	if all, _ := count(t, addr, roots, "Done"); all != 1 {
		t.Fatalf("Done holds %d, want 1 (delete touched only INBOX)", all)
	}
}

func TestIMAPRefusals(t *testing.T) {
	addr, _, _ := imapServer(t, 1)
	_, port, _ := net.SplitHostPort(addr)
	ctx := context.Background()
	// An untrusted certificate is refused.
	if _, err := Open(ctx, "imaps://bounces@localhost:"+port+"/INBOX", Options{IMAPPassword: "s3cret"}); err == nil {
		t.Error("self-signed certificate accepted without its root")
	}
	for _, spec := range []string{"imap://bounces@localhost:" + port + "/INBOX", "imaps://bounces:pw@localhost:" + port + "/INBOX", "imaps://localhost:" + port + "/INBOX"} {
		_, err := Open(ctx, spec, Options{IMAPPassword: "s3cret"})
		if err == nil {
			t.Errorf("%s: no error", spec)
		} else if strings.Contains(err.Error(), "pw@") {
			t.Errorf("%s: error shows the password: %v", spec, err)
		}
	}
}

// A "From " line inside a message that a writer left unescaped does not
// start a new message unless a blank line comes before it, as it always
// does before a real separator.
func TestMboxFromInBody(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m")
	body := "From MAILER-DAEMON Mon Mar  2 10:00:00 2026\n" +
		"Subject: one\n\nThe original message:\nFrom the team, with love\nbye\n\n" +
		"From MAILER-DAEMON Mon Mar  2 10:01:00 2026\n" +
		"Subject: two\n\nsecond\n"
	os.WriteFile(p, []byte(body), 0o644)
	mb, _ := OpenMbox(p, 0)
	defer mb.Close()
	got := drain(t, mb, false)
	want := []string{
		"Subject: one\n\nThe original message:\nFrom the team, with love\nbye\n",
		"Subject: two\n\nsecond\n",
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}
