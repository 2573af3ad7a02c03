package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"
	"github.com/mailer-dev/mailer/internal/testrelay"
	"github.com/mailer-dev/mailer/render"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"mailer": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the end-to-end scripts in testdata/script: mailer as a
// user runs it, against relays on 127.0.0.1. Each script starts with the
// bundled examples/ copied into its work directory.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		UpdateScripts:       *update, // -update rewrites the cmp golden files inside the scripts
		Setup: func(env *testscript.Env) error {
			if err := copyDir("../../examples", filepath.Join(env.WorkDir, "examples")); err != nil {
				return err
			}
			port, err := freePort()
			if err != nil {
				return err
			}
			env.Setenv("FREEPORT", port)
			if port, err = freePort(); err != nil {
				return err
			}
			env.Setenv("FREEPORT2", port)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"relay":      cmdRelay,
			"exitcode":   cmdExitcode,
			"waitport":   cmdWaitport,
			"countfiles": cmdCountfiles,
			"countlines": cmdCountlines,
			"waitfile":   cmdWaitfile,
			"waitlocked": cmdWaitlocked,
			"dkimverify": cmdDKIMVerify,
			"dnsserver":  cmdDNSServer,
			"unsuburl":   cmdUnsubURL,
			"httppost":   cmdHTTPPost,
			"click":      cmdClick,
		},
	})
}

// relay [-reject RE] [-defer RE] [-lost RE] [-slow RE] [-reply SPEC] [-dir DIR] [-smtputf8]
// [-starttls CAFILE | -tls CAFILE] starts a test relay on 127.0.0.1:0 for
// the rest of the script and sets $RELAY to its address. -reply takes what
// `mailer sink --reply` does. -lost drops the connection after the final dot
// for matching recipients; -slow delays their RCPT reply by 200ms; -dir stores
// accepted messages; -smtputf8 offers SMTPUTF8; -starttls offers STARTTLS and
// -tls speaks TLS from the first byte, with a certificate for 127.0.0.1 from
// a new private CA whose PEM goes to CAFILE.
func cmdRelay(ts *testscript.TestScript, neg bool, args []string) {
	var opts testrelay.Options
	for i := 0; i < len(args); i++ {
		opt := args[i]
		if opt == "-smtputf8" {
			opts.SMTPUTF8 = true
			continue
		}
		if i++; i >= len(args) {
			ts.Fatalf("relay: %s needs a value", opt)
		}
		switch opt {
		case "-dir":
			opts.Dir = ts.MkAbs(args[i])
			continue
		case "-starttls", "-tls":
			srv, caPEM, err := testrelay.TestCA()
			ts.Check(err)
			ts.Check(os.WriteFile(ts.MkAbs(args[i]), caPEM, 0o644))
			opts.TLS, opts.ImplicitTLS = srv, opt == "-tls"
			continue
		}
		if opt == "-reply" {
			r, err := testrelay.ParseReply(args[i])
			ts.Check(err)
			opts.Rules = append(opts.Rules, r)
			continue
		}
		re := regexp.MustCompile(args[i])
		switch opt {
		case "-reject":
			opts.Rules = append(opts.Rules, &testrelay.Rule{Stage: "RCPT", Match: re, Code: 550, Enhanced: smtp.EnhancedCode{5, 1, 1}, Text: "User unknown"})
		case "-defer":
			opts.Rules = append(opts.Rules, &testrelay.Rule{Stage: "RCPT", Match: re, Code: 451, Enhanced: smtp.EnhancedCode{4, 7, 1}, Text: "Try later"})
		case "-lost":
			opts.Rules = append(opts.Rules, &testrelay.Rule{Stage: "DATA", Match: re, Action: testrelay.Drop})
		case "-slow":
			opts.Rules = append(opts.Rules, &testrelay.Rule{Stage: "RCPT", Match: re, Action: testrelay.Stall, Delay: 200 * time.Millisecond})
		default:
			ts.Fatalf("relay: unknown option %s", opt)
		}
	}
	s, err := testrelay.Listen("127.0.0.1:0", opts)
	ts.Check(err)
	ts.Defer(func() { s.Close() })
	ts.Setenv("RELAY", s.Addr())
}

// exitcode N program args... runs a program and checks its exit code.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("%v", err)
	}
	if got != want {
		ts.Fatalf("exit code %d, want %d", got, want)
	}
}

// unsuburl VAR FILE BASE sets $VAR to the https URL of the List-Unsubscribe
// header of the stored message FILE (a glob that matches one file), its scheme and host replaced by BASE
// (where mailer serve listens), as a mailbox provider would POST to it.
func cmdUnsubURL(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: unsuburl VAR FILE BASE")
	}
	files, err := filepath.Glob(ts.MkAbs(args[1]))
	ts.Check(err)
	if len(files) != 1 {
		ts.Fatalf("unsuburl: %d files match %s, want 1", len(files), args[1])
	}
	m, err := mail.ReadMessage(strings.NewReader(ts.ReadFile(files[0])))
	ts.Check(err)
	h := m.Header.Get("List-Unsubscribe")
	for _, f := range strings.Split(h, ",") {
		f = strings.Trim(strings.TrimSpace(f), "<>")
		if !strings.HasPrefix(f, "https://") {
			continue
		}
		u, err := url.Parse(f)
		ts.Check(err)
		base, err := url.Parse(args[2])
		ts.Check(err)
		u.Scheme, u.Host = base.Scheme, base.Host
		ts.Setenv(args[0], u.String())
		return
	}
	ts.Fatalf("%s: no https URL in List-Unsubscribe %q", args[1], h)
}

// httppost URL BODY POSTs BODY (form-urlencoded) to URL and prints the
// answer's status line ("status 200") and body.
func cmdHTTPPost(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: httppost URL BODY")
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Post(args[0], "application/x-www-form-urlencoded", strings.NewReader(args[1]))
	ts.Check(err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "status %d\n%s", resp.StatusCode, b)
}

// waitport PORT waits until something listens on 127.0.0.1:PORT.
func cmdWaitport(ts *testscript.TestScript, neg bool, args []string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", "127.0.0.1:"+args[0])
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Fatalf("nothing listens on 127.0.0.1:%s", args[0])
}

// countfiles DIR GLOB N checks how many files in DIR match GLOB.
func cmdCountfiles(ts *testscript.TestScript, neg bool, args []string) {
	m, err := filepath.Glob(filepath.Join(ts.MkAbs(args[0]), args[1]))
	ts.Check(err)
	if strconv.Itoa(len(m)) != args[2] {
		ts.Fatalf("%d files match %s/%s, want %s", len(m), args[0], args[1], args[2])
	}
}

// countlines FILE REGEXP N checks how many lines of FILE match REGEXP.
func cmdCountlines(ts *testscript.TestScript, neg bool, args []string) {
	re := regexp.MustCompile(args[1])
	n := 0
	for _, l := range strings.Split(ts.ReadFile(args[0]), "\n") {
		if re.MatchString(l) {
			n++
		}
	}
	if strconv.Itoa(n) != args[2] {
		ts.Fatalf("%d lines of %s match %q, want %s", n, args[0], args[1], args[2])
	}
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port), nil
}

func copyDir(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

// waitfile FILE REGEXP waits until a line of FILE matches REGEXP.
func cmdWaitfile(ts *testscript.TestScript, neg bool, args []string) {
	re := regexp.MustCompile(args[1])
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(ts.MkAbs(args[0])); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if re.MatchString(l) {
					return
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	ts.Fatalf("no line of %s matches %q", args[0], args[1])
}

// dkimverify KEYFILE DIR checks that every .eml in DIR has a DKIM signature
// that verifies against the public half of the PEM private key in KEYFILE,
// published (without DNS) for any selector and domain.
func cmdDKIMVerify(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: dkimverify KEYFILE DIR")
	}
	k, err := render.ParseDKIMKey([]byte(ts.ReadFile(args[0])))
	ts.Check(err)
	var txt string
	switch pub := k.Public().(type) {
	case ed25519.PublicKey:
		txt = "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	default:
		der, err := x509.MarshalPKIXPublicKey(pub)
		ts.Check(err)
		txt = "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	}
	files, err := filepath.Glob(filepath.Join(ts.MkAbs(args[1]), "*.eml"))
	ts.Check(err)
	if len(files) == 0 {
		ts.Fatalf("no .eml files in %s", args[1])
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		ts.Check(err)
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(data), &dkim.VerifyOptions{
			LookupTXT: func(string) ([]string, error) { return []string{txt}, nil },
		})
		ts.Check(err)
		ok := len(vs) == 1 && vs[0].Err == nil
		if ok == neg {
			ts.Fatalf("%s: DKIM verification %v (signatures: %d)", filepath.Base(f), vs, len(vs))
		}
	}
}

// waitlocked FILE waits until another process holds an exclusive flock on FILE.
func cmdWaitlocked(ts *testscript.TestScript, neg bool, args []string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		f, err := os.Open(ts.MkAbs(args[0]))
		if err == nil {
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	ts.Fatalf("nobody locks %s", args[0])
}
