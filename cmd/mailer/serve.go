package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mailer-dev/mailer/render"
	"github.com/mailer-dev/mailer/serve"
	"github.com/mailer-dev/mailer/suppress"
	"github.com/mailer-dev/mailer/track"
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

	// Tracking: the routes /c/ and /o/ under --track-links's path.
	TrackLinks string // the BASE send was given
	Events     string
	LogIP      bool
	TrackRate  float64
	TrackBurst int
}

func newServeCmd(stdout io.Writer, u *ui, runF func(*ServeOptions) error) *cobra.Command {
	o := &ServeOptions{}
	cmd := &cobra.Command{
		Use:   "serve --suppress FILE [--listen ADDR] [--unsubscribe-url TEMPLATE | --config FILE] [--events FILE]",
		Short: "Answer the unsubscribe URL of the messages: one-click POSTs and the unsubscribe page",
		Long: `serve is the web endpoint behind send's --unsubscribe-url. A POST with the body
List-Unsubscribe=One-Click (RFC 8058, what Gmail and Yahoo send) unsubscribes at
once; a GET shows a page whose button does the same (a GET never unsubscribes:
mail scanners fetch every link). Each unsubscribe is appended to the --suppress
file, fsynced before the answer, so send --suppress FILE skips it next time.

The path and query names come from the same URL template send uses (give the
same --config or --unsubscribe-url), and the token key from
` + unsubscribeSecretEnv + `. SIGINT or SIGTERM stops it after the requests in
flight; it exits 0.

With --events FILE it also answers send's tracked links (--track-links BASE,
read from the same --config or given here): BASE/c/<token> redirects to the
link's destination, BASE/o/<token> is the open pixel; each is appended to
FILE, fsynced before the answer. A bad token is a 404 and writes nothing.
The token key comes from ` + trackingSecretEnv + `.`,
		Example: `  MAILER_UNSUBSCRIBE_SECRET=... mailer serve --config campaign.yaml --suppress unsubscribed.csv
  MAILER_TRACKING_SECRET=... mailer serve --config campaign.yaml --suppress unsubscribed.csv --events events.jsonl
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
	f.StringVar(&o.TrackLinks, "track-links", "", "the `BASE` send's --track-links was given (read from --config when there): /c/ and /o/ are served under its path")
	f.StringVar(&o.Events, "events", "", "append click and open events to `FILE` (JSON lines; needed to serve --track-links)")
	f.BoolVar(&o.LogIP, "log-ip", false, "keep the client's IP address and full User-Agent in the events (off: only a user-agent class)")
	f.Float64Var(&o.TrackRate, "track-rate", defaultTrackRate, "clicks and opens a second per client IP past --track-burst that are recorded; past it they are still redirected but not recorded (0: no limit)")
	f.IntVar(&o.TrackBurst, "track-burst", defaultTrackBurst, "clicks and opens a client IP may make at once before --track-rate applies")
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
	} else if err != nil {
		if fi, serr := os.Stat(path); serr == nil && fi.Size() == 0 {
			known, err = nil, nil // empty: the first append writes the header
		}
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
	tr, err := newTrackRoutes(o, u)
	if err != nil {
		return err
	}
	if tr != nil {
		defer tr.log.Close() // after Serve: the requests in flight have their answers
	}
	s, err := serve.New(serve.Options{
		URL: o.UnsubscribeURL, Secret: []byte(secret), Suppress: g, Known: known,
		ClientRate: flagRate(o.ClientRate), ClientBurst: o.ClientBurst, ClientIPHeader: o.ClientIPHeader,
		Log:      func(a serve.Access) { logAccess(u, a) },
		ErrorLog: func(msg string) { u.warn(msg) },
	})
	if err != nil {
		return &configError{fmt.Errorf("--unsubscribe-url: %w", err)}
	}
	if tr != nil {
		if err := tr.mount(s, o); err != nil {
			return &configError{fmt.Errorf("--track-links: %w", err)}
		}
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
	if tr != nil {
		u.info(fmt.Sprintf("serve answering tracked links %sc/… and %so/…, appending events to %s", tr.prefix, tr.prefix, o.Events),
			"events", o.Events, "log_ip", o.LogIP)
	}
	err = s.Serve(ctx, ln, t, o.Shutdown)
	fmt.Fprintf(stdout, "serve: %d unsubscribes recorded\n", s.Recorded())
	if tr != nil {
		if cerr := tr.log.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("--events %s: %w", o.Events, cerr)
		}
		fmt.Fprintf(stdout, "serve: %d clicks and %d opens recorded in %s", tr.clicks.Load(), tr.opens.Load(), o.Events)
		if n := tr.over.Load(); n > 0 {
			fmt.Fprintf(stdout, "; %d answered but not recorded (over --track-rate)", n)
		}
		fmt.Fprintln(stdout)
	}
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

// flagRate is a --client-rate or --track-rate for package serve, where a
// negative rate means no limit (0 there is its default): 0 on the command
// line means no limit.
func flagRate(r float64) rate.Limit {
	if r <= 0 {
		return -1
	}
	return rate.Limit(r)
}

// The default limit of the tracking routes: looser than the unsubscribe
// URL's, since a company's readers often share one IP address (NAT, a mail
// gateway that scans every link), and past it a click is still redirected.
const (
	defaultTrackRate  = 50
	defaultTrackBurst = 200
)

// trackRoutes are serve's click and open routes.
type trackRoutes struct {
	prefix string // the path of --track-links, ending in /
	secret []byte
	log    *track.Log
	clicks atomic.Int64
	opens  atomic.Int64
	over   atomic.Int64
	u      *ui
}

// newTrackRoutes checks the tracking settings and opens the events file;
// nil when serve is not to answer tracked links.
func newTrackRoutes(o *ServeOptions, u *ui) (*trackRoutes, error) {
	if o.Events == "" {
		if o.TrackLinks != "" {
			return nil, &usageError{msg: fmt.Sprintf("--track-links %s is set: give --events FILE, or the tracked links of the messages sent with it are not answered", o.TrackLinks)}
		}
		if o.LogIP {
			return nil, &usageError{msg: "--log-ip needs --events FILE"}
		}
		return nil, nil
	}
	if o.TrackLinks == "" {
		return nil, &usageError{msg: "--events needs the BASE send's --track-links was given: --track-links BASE, or track-links in --config FILE"}
	}
	if err := track.CheckBase(o.TrackLinks); err != nil {
		return nil, &usageError{msg: "--track-links: " + err.Error()}
	}
	secret := os.Getenv(trackingSecretEnv)
	if len(secret) < 16 {
		return nil, &configError{&trackingSecretError{fmt.Sprintf("serve --events needs the secret send made the tracked links with, of at least 16 characters, in %s", trackingSecretEnv)}}
	}
	base, _ := url.Parse(o.TrackLinks)
	prefix := strings.TrimSuffix(base.EscapedPath(), "/") + "/"
	l, err := track.OpenLog(o.Events)
	if err != nil {
		u.errorf(fmt.Sprintf("--events %s: %v", o.Events, err))
		return nil, &exitStatus{code: exitCantCreate}
	}
	return &trackRoutes{prefix: prefix, secret: []byte(secret), log: l, u: u}, nil
}

// mount adds the routes to s: each under its own rate limit, past which a
// request is answered as usual (the reader gets their page) but not
// recorded.
func (tr *trackRoutes) mount(s *serve.Server, o *ServeOptions) error {
	strip := strings.TrimSuffix(tr.prefix, "/")
	h := &track.Handler{Secret: tr.secret, Events: tr, LogIP: o.LogIP,
		Error: func(err error) { tr.u.warn(fmt.Sprintf("tracking event not recorded: %v", err)) }}
	over := &track.Handler{Secret: tr.secret, Events: appenderFunc(func(context.Context, track.Event) error {
		tr.over.Add(1)
		return nil
	})}
	var hh http.Handler = h
	if o.LogIP && o.ClientIPHeader != "" { // the IP kept is the client's, not the proxy's
		hh = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r2 := *r
			r2.RemoteAddr = net.JoinHostPort(s.ClientIP(r), "0")
			h.ServeHTTP(w, &r2)
		})
	}
	for _, p := range []string{"c/", "o/"} {
		if err := s.HandleLimit(tr.prefix+p, http.StripPrefix(strip, hh), http.StripPrefix(strip, over), flagRate(o.TrackRate), o.TrackBurst); err != nil {
			return err
		}
	}
	return nil
}

// Append records e in the events file and counts it.
func (tr *trackRoutes) Append(ctx context.Context, e track.Event) error {
	if err := tr.log.Append(ctx, e); err != nil {
		return err
	}
	if e.Kind == track.Open {
		tr.opens.Add(1)
	} else {
		tr.clicks.Add(1)
	}
	return nil
}

type appenderFunc func(context.Context, track.Event) error

func (f appenderFunc) Append(ctx context.Context, e track.Event) error { return f(ctx, e) }
