package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"time"

	"github.com/mailer-dev/mailer/render"
	"github.com/mailer-dev/mailer/serve"
	"github.com/mailer-dev/mailer/suppress"
	"github.com/spf13/cobra"
	"golang.org/x/time/rate"
)

// ServeOptions are the settings of `mailer serve`.
type ServeOptions struct {
	Listen         string
	Suppress       []string // exactly one: the file appended to
	Config         string
	UnsubscribeURL string
	TLSCert        string
	TLSKey         string
	ClientRate     float64
	ClientBurst    int
	ClientIPHeader string
	Shutdown       time.Duration
}

func newServeCmd(stdout io.Writer, u *ui, runF func(*ServeOptions) error) *cobra.Command {
	o := &ServeOptions{}
	cmd := &cobra.Command{
		Use:   "serve --suppress FILE [--listen ADDR] [--unsubscribe-url TEMPLATE | --config FILE]",
		Short: "Answer the unsubscribe URL of the messages: one-click POSTs and the unsubscribe page",
		Long: `serve is the web endpoint behind send's --unsubscribe-url. A POST with the body
List-Unsubscribe=One-Click (RFC 8058, what Gmail and Yahoo send) unsubscribes at
once; a GET shows a page whose button does the same (a GET never unsubscribes:
mail scanners fetch every link). Each unsubscribe is appended to the --suppress
file, fsynced before the answer, so send --suppress FILE skips it next time.

The path and query names come from the same URL template send uses (give the
same --config or --unsubscribe-url), and the token key from
` + unsubscribeSecretEnv + `. SIGINT or SIGTERM stops it after the requests in
flight; it exits 0.`,
		Example: `  MAILER_UNSUBSCRIBE_SECRET=... mailer serve --config campaign.yaml --suppress unsubscribed.csv
  mailer serve --listen 127.0.0.1:8080 --suppress unsubscribed.csv \
      --unsubscribe-url 'https://acme.example/unsubscribe?a={{.Address | urlquery}}&t={{.Token}}'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			if _, err := resolveSettings(c, u, o.Config); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return runServe(c.Context(), o, stdout, u)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Listen, "listen", "127.0.0.1:8080", "address to listen on (behind a proxy, keep it on loopback)")
	f.StringArrayVar(&o.Suppress, "suppress", nil, "suppression `FILE` to append unsubscribes to (the one send --suppress reads)")
	f.StringVar(&o.Config, "config", "", "YAML config `FILE` (or MAILER_CONFIG), the one send uses; settings serve has no use for are ignored")
	f.StringVar(&o.UnsubscribeURL, "unsubscribe-url", "", "the `TEMPLATE` given to send: where the address and the token are in the URL")
	f.StringVar(&o.TLSCert, "tls-cert", "", "serve HTTPS with this certificate `FILE` (PEM, with its chain)")
	f.StringVar(&o.TLSKey, "tls-key", "", "the private key `FILE` of --tls-cert (PEM)")
	f.Float64Var(&o.ClientRate, "client-rate", serve.DefaultClientRate, "requests a second allowed per client IP, past its burst (0: no limit)")
	f.IntVar(&o.ClientBurst, "client-burst", serve.DefaultClientBurst, "requests a client IP may make at once before --client-rate applies")
	f.StringVar(&o.ClientIPHeader, "client-ip-header", "", "`HEADER` a reverse proxy on loopback puts the client's IP in (X-Forwarded-For, X-Real-IP), for the rate limit and the log")
	f.DurationVar(&o.Shutdown, "shutdown-timeout", serve.DefaultShutdownTimeout, "on SIGINT/SIGTERM, how long requests in flight may take to finish")
	return cmd
}

func runServe(ctx context.Context, o *ServeOptions, stdout io.Writer, u *ui) error {
	if len(o.Suppress) != 1 {
		return &usageError{msg: fmt.Sprintf("serve appends to one --suppress FILE, got %d (see mailer serve --help)", len(o.Suppress))}
	}
	path := o.Suppress[0]
	if o.UnsubscribeURL == "" {
		return &usageError{msg: "serve needs the unsubscribe URL template that send uses: --unsubscribe-url TEMPLATE, or unsubscribe-url in --config FILE"}
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return &usageError{msg: "--tls-cert and --tls-key go together"}
	}
	secret := os.Getenv(unsubscribeSecretEnv)
	if len(secret) < 16 {
		return &configError{fmt.Errorf("serve needs the secret send made the tokens with, of at least 16 characters, in %s", unsubscribeSecretEnv)}
	}
	if err := (&render.Unsubscribe{URL: o.UnsubscribeURL, Secret: []byte(secret)}).Check(); err != nil {
		return &configError{fmt.Errorf("--unsubscribe-url: %w", err)}
	}
	known, err := suppress.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		known, err = nil, nil
	} else if b, rerr := os.ReadFile(path); rerr == nil && len(b) == 0 {
		known, err = nil, nil // empty: the first append writes the header
	}
	if err != nil {
		return fmt.Errorf("--suppress: %w", err)
	}
	w, err := suppress.OpenWriter(path)
	if err != nil {
		u.errorf(fmt.Sprintf("--suppress %s: %v", path, err))
		return &exitStatus{code: exitCantCreate}
	}
	defer w.Close()
	g := suppress.NewGroup(w)
	defer g.Close() // before w.Close: Serve has returned, nothing is waiting
	limit := rate.Limit(o.ClientRate)
	if o.ClientRate <= 0 {
		limit = -1
	}
	s, err := serve.New(serve.Options{
		URL: o.UnsubscribeURL, Secret: []byte(secret), Suppress: g, Known: known,
		ClientRate: limit, ClientBurst: o.ClientBurst, ClientIPHeader: o.ClientIPHeader,
		Log:      func(a serve.Access) { logAccess(u, a) },
		ErrorLog: func(msg string) { u.warn(msg) },
	})
	if err != nil {
		return &configError{fmt.Errorf("--unsubscribe-url: %w", err)}
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return &configError{fmt.Errorf("--listen: %w", err)}
	}
	var t *serve.TLS
	scheme := "http"
	if o.TLSCert != "" {
		t, scheme = &serve.TLS{CertFile: o.TLSCert, KeyFile: o.TLSKey}, "https"
	}
	u.info(fmt.Sprintf("serve listening on %s://%s, answering %s, appending unsubscribes to %s (%d addresses on it); Ctrl-C to stop",
		scheme, ln.Addr(), s.Path(), path, known.Len()), "addr", ln.Addr().String(), "suppress", path)
	err = s.Serve(ctx, ln, t, o.Shutdown)
	fmt.Fprintf(stdout, "serve: %d unsubscribes recorded\n", s.Recorded())
	if err != nil {
		return &configError{err}
	}
	return nil
}

// logAccess prints the access log line of one request. a.Path carries no
// token (serve redacts it) and no query.
func logAccess(u *ui, a serve.Access) {
	ms := float64(a.Duration.Microseconds()) / 1000
	u.info(fmt.Sprintf("%s %s %s %d %dB %.1fms", a.Remote, a.Method, a.Path, a.Status, a.Bytes, ms),
		"kind", "access", "remote", a.Remote, "method", a.Method, "path", a.Path, "status", a.Status,
		"bytes", a.Bytes, "ms", ms)
}
