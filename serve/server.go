package serve

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailer-dev/mailer/address"
	"github.com/mailer-dev/mailer/render"
	"github.com/mailer-dev/mailer/suppress"
	"golang.org/x/time/rate"
)

// Appender writes a suppression and returns once it is on disk
// (*suppress.Group; *suppress.Writer works too, one fsync each).
type Appender interface {
	Append(suppress.Entry) error
}

// Access is one request, for the access log. Path never holds a token: the
// segments that carry values are "…" and the query is left out.
type Access struct {
	Time     time.Time
	Remote   string // the client's IP (see Options.ClientIPHeader)
	Method   string
	Path     string
	Status   int
	Bytes    int64
	Duration time.Duration
}

// Defaults of Options.
const (
	DefaultMaxBody         = 4 << 10
	DefaultClientRate      = 20 // requests a second per client IP
	DefaultClientBurst     = 60
	DefaultShutdownTimeout = 10 * time.Second
	maxClients             = 10000 // limiters kept; see limiter
)

// Options configure a Server.
type Options struct {
	// URL is send's unsubscribe URL template (render.Unsubscribe.URL).
	URL string
	// Secret keys the tokens (render.UnsubscribeToken).
	Secret []byte
	// Suppress receives each unsubscribe.
	Suppress Appender
	// Known is the suppression file as it was at the start: addresses on
	// it are not appended again. Nil for none.
	Known *suppress.Set
	// MaxBody is the largest POST body read (DefaultMaxBody when 0): a
	// one-click body is 26 bytes.
	MaxBody int64
	// ClientRate and ClientBurst limit the refused requests (4xx: a bad
	// or missing token, a wrong method, an oversized body) of each client
	// IP (token bucket): past them every request of that IP gets 429 until
	// the bucket refills, while a client whose requests succeed is never
	// limited. ClientRate < 0 turns the limit off. Zero values are the
	// defaults.
	ClientRate  rate.Limit
	ClientBurst int
	// ClientIPHeader, when set (X-Forwarded-For, X-Real-IP), names the
	// header a reverse proxy on loopback puts the client's IP in. It is
	// believed only from a loopback peer.
	ClientIPHeader string
	// Log gets one Access per request; nil for none.
	Log func(Access)
	// ErrorLog gets the http.Server's own complaints (TLS handshakes,
	// broken connections); nil for none.
	ErrorLog func(string)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Server answers the unsubscribe URL: GET shows a page with a button, a
// POST (RFC 8058 one-click, or the page's button) unsubscribes. Other
// handlers (click tracking) can be mounted beside it with Handle; they get
// the same access log, rate limit and security headers.
type Server struct {
	o       Options
	route   *Route
	mux     *http.ServeMux
	mounted []string // patterns given to Handle, for Redact
	limit   *limiter
	own     map[string]*ownLimit // patterns of HandleLimit

	mu       sync.Mutex
	added    map[string]*claim // address.Key -> its append, under way or done
	recorded atomic.Int64
}

// Path is the unsubscribe URL's path and query as the server reads it,
// with {address}, {token} and {field} where the values go.
func (s *Server) Path() string { return s.route.String() }

// Recorded is the number of unsubscribes appended since New.
func (s *Server) Recorded() int64 { return s.recorded.Load() }

// claim is one address's append: later requests for the address wait for
// it instead of writing the address again.
type claim struct {
	done chan struct{}
	err  error
}

// New makes a Server from o. Its errors are in o's terms (a URL that
// cannot be served, no secret).
func New(o Options) (*Server, error) {
	if len(o.Secret) == 0 {
		return nil, errors.New("serve: no secret to check the tokens with")
	}
	if o.Suppress == nil {
		return nil, errors.New("serve: no suppression file to write to")
	}
	route, err := ParseRoute(o.URL)
	if err != nil {
		return nil, err
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.ClientRate == 0 {
		o.ClientRate = DefaultClientRate
	}
	if o.ClientBurst <= 0 {
		o.ClientBurst = DefaultClientBurst
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{o: o, route: route, mux: http.NewServeMux(), added: map[string]*claim{}}
	if o.ClientRate > 0 {
		s.limit = newLimiter(o.ClientRate, o.ClientBurst, maxClients)
	}
	if err := s.handle(route.Pattern(), http.HandlerFunc(s.unsubscribe)); err != nil {
		return nil, fmt.Errorf("unsubscribe URL %q: %v", o.URL, err)
	}
	return s, nil
}

// Handle mounts h at pattern (http.ServeMux syntax) beside the unsubscribe
// URL. The access log shows only the pattern's literal prefix of its
// paths, followed by "…": what comes after may be a token.
func (s *Server) Handle(pattern string, h http.Handler) error {
	if err := s.handle(pattern, h); err != nil {
		return err
	}
	_, path, _ := strings.Cut(pattern, " ")
	if path == "" {
		path = pattern
	}
	if i := strings.IndexByte(path, '{'); i >= 0 {
		path = path[:i]
	}
	s.mounted = append(s.mounted, path)
	return nil
}

// ownLimit is the per-IP limit of a HandleLimit mount and what answers
// past it.
type ownLimit struct {
	limit *limiter // nil: none
	over  http.Handler
}

// HandleLimit mounts h like Handle, but its requests are counted in a
// bucket of their own per client IP (rate r, burst burst; r < 0: no
// limit), apart from the unsubscribe URL's: a flood of them cannot lock a
// client out of unsubscribing, and their limit can be looser. A request
// past the limit goes to over (nil: 429 Too Many Requests).
func (s *Server) HandleLimit(pattern string, h, over http.Handler, r rate.Limit, burst int) error {
	if err := s.Handle(pattern, h); err != nil {
		return err
	}
	ol := &ownLimit{over: over}
	if r >= 0 {
		if r == 0 {
			r = DefaultClientRate
		}
		if burst <= 0 {
			burst = DefaultClientBurst
		}
		ol.limit = newLimiter(r, burst, maxClients)
	}
	if s.own == nil {
		s.own = map[string]*ownLimit{}
	}
	s.own[pattern] = ol
	return nil
}

// handle is mux.Handle with its panic (a bad or conflicting pattern) made
// an error.
func (s *Server) handle(pattern string, h http.Handler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("pattern %q: %v", pattern, p)
		}
	}()
	s.mux.Handle(pattern, h)
	return nil
}

// ServeHTTP applies the rate limit and the security headers, routes, and
// logs the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.o.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	ip := s.ClientIP(r)
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer") // the URL holds the token
	h.Set("Cache-Control", "no-store")
	limit, over := s.limit, http.Handler(nil)
	mounted := false
	if len(s.own) > 0 {
		if _, pat := s.mux.Handler(r); s.own[pat] != nil {
			limit, over, mounted = s.own[pat].limit, s.own[pat].over, true
		}
	}
	switch {
	case limit == nil:
		s.mux.ServeHTTP(rec, r)
	case mounted && limit.allow(ip, start):
		s.mux.ServeHTTP(rec, r)
	case !mounted && limit.has(ip, start):
		// Only refusals count here: a request with a good token is
		// never turned away (an unsubscribe must not be lost to a
		// provider posting many at once from one address), while a
		// client guessing tokens runs out after its burst.
		s.mux.ServeHTTP(rec, r)
		if rec.status >= 400 && rec.status < 500 {
			limit.allow(ip, start)
		}
	case over != nil:
		over.ServeHTTP(rec, r)
	default:
		h.Set("Retry-After", "1")
		s.page(rec, http.StatusTooManyRequests, errorPage, "Too many requests", "Please try again in a moment.")
	}
	if s.o.Log != nil {
		s.o.Log(Access{Time: start, Remote: ip, Method: r.Method, Path: s.redact(r.URL), Status: rec.status,
			Bytes: rec.bytes, Duration: s.o.Now().Sub(start)})
	}
}

// redact is the path of u for the log: the route's own redaction, a
// mounted handler's prefix, or (for anything else) the path with every
// segment that could be a token replaced.
func (s *Server) redact(u *url.URL) string {
	if p, ok := s.route.Redact(u); ok {
		return p
	}
	path := u.EscapedPath()
	best := ""
	for _, m := range s.mounted {
		if strings.HasPrefix(path, m) && len(m) > len(best) {
			best = m
		}
	}
	if best != "" {
		if len(path) > len(best) {
			return best + "…"
		}
		return best
	}
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if len(seg) >= 16 || strings.ContainsAny(seg, "%@") {
			segs[i] = "…"
		}
	}
	if len(segs) > 8 {
		segs = append(segs[:8], "…")
	}
	return strings.Join(segs, "/")
}

// ClientIP is the client's IP address as the rate limit and the access
// log see it: the peer, or Options.ClientIPHeader's value from a loopback
// proxy.
func (s *Server) ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if s.o.ClientIPHeader != "" {
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			if v := r.Header.Values(s.o.ClientIPHeader); len(v) > 0 {
				// The proxy appends the peer it saw: the last entry is
				// the one a client cannot forge.
				list := strings.Split(v[len(v)-1], ",")
				if c := strings.TrimSpace(list[len(list)-1]); net.ParseIP(c) != nil {
					return c
				}
			}
		}
	}
	return host
}

// unsubscribe answers the unsubscribe URL.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	addr, token, err := s.route.Match(r.URL)
	if errors.Is(err, ErrNoRoute) {
		s.page(w, http.StatusNotFound, errorPage, "Not found", "There is no page here.")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, HEAD, POST")
		s.page(w, http.StatusMethodNotAllowed, errorPage, "Method not allowed", "This page takes GET and POST.")
		return
	}
	var source string
	if r.Method == http.MethodPost {
		// Read the body first: a large one is refused whatever the URL.
		var status int
		if source, status = s.postKind(w, r); status != 0 {
			msg := "The request was not an unsubscribe."
			if status == http.StatusRequestEntityTooLarge {
				msg = "The request was too large."
			}
			s.page(w, status, errorPage, http.StatusText(status), msg)
			return
		}
	}
	if err == nil {
		err = render.VerifyUnsubscribeToken(s.o.Secret, addr, token)
	}
	switch {
	case errors.Is(err, ErrMissing), errors.Is(err, render.ErrMalformedToken):
		s.page(w, http.StatusBadRequest, errorPage, "This unsubscribe link is incomplete",
			"Part of the link is missing. Please open the whole link from the email, or use the unsubscribe button in your mail program.")
		return
	case err != nil:
		s.page(w, http.StatusForbidden, errorPage, "This unsubscribe link is not valid",
			"The link does not match an address we sent to. Please open the link from the email itself.")
		return
	}
	key := address.Key(addr)
	if r.Method != http.MethodPost {
		if s.known(key) {
			s.page(w, http.StatusOK, donePage, addr, "")
			return
		}
		s.page(w, http.StatusOK, askPage, addr, "")
		return
	}
	if err := s.suppress(addr, key, source); err != nil {
		if s.o.ErrorLog != nil {
			s.o.ErrorLog(fmt.Sprintf("unsubscribe not recorded: %v", err))
		}
		w.Header().Set("Retry-After", "60")
		s.page(w, http.StatusServiceUnavailable, errorPage, "Not recorded",
			"We could not record your request just now. Please try again in a few minutes.")
		return
	}
	s.page(w, http.StatusOK, donePage, addr, "")
}

// postKind reads a POST body of at most MaxBody bytes and tells which
// unsubscribe it is: "one-click" for the RFC 8058 body
// List-Unsubscribe=One-Click (form-urlencoded, or multipart/form-data,
// which section 3.2 allows), "web" for the page's button (confirm=1).
// status is non-zero for a body that is neither or is too large.
func (s *Server) postKind(w http.ResponseWriter, r *http.Request) (source string, status int) {
	if r.ContentLength > s.o.MaxBody {
		return "", http.StatusRequestEntityTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.o.MaxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return "", http.StatusRequestEntityTooLarge
	} else if err != nil {
		return "", http.StatusBadRequest
	}
	form := url.Values{}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" && params["boundary"] != "" {
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			v, _ := io.ReadAll(io.LimitReader(p, 256))
			form.Add(p.FormName(), string(v))
		}
	} else if form, err = url.ParseQuery(strings.TrimSpace(string(body))); err != nil {
		return "", http.StatusBadRequest
	}
	switch {
	case form.Get("List-Unsubscribe") == "One-Click":
		return "one-click", 0
	case form.Get("confirm") == "1":
		return "web", 0
	}
	return "", http.StatusBadRequest
}

// known reports whether the address with key k is suppressed already: on
// the file at the start, or appended since.
func (s *Server) known(k string) bool {
	if s.o.Known.File(k) != "" {
		return true
	}
	s.mu.Lock()
	c := s.added[k]
	s.mu.Unlock()
	if c == nil {
		return false
	}
	select {
	case <-c.done:
		return c.err == nil
	default:
		return false
	}
}

// suppress appends addr once: a second request for it, even while the
// first is being written, waits for that write instead of adding a line.
func (s *Server) suppress(addr, key, source string) error {
	if s.o.Known.File(key) != "" {
		return nil
	}
	s.mu.Lock()
	c, ok := s.added[key]
	if !ok {
		c = &claim{done: make(chan struct{})}
		s.added[key] = c
	}
	s.mu.Unlock()
	if ok {
		<-c.done
		if c.err != nil {
			return s.suppress(addr, key, source) // its write failed: try ours
		}
		return nil
	}
	diag := "List-Unsubscribe=One-Click POST (RFC 8058)"
	if source == "web" {
		diag = "unsubscribe page"
	}
	c.err = s.o.Suppress.Append(suppress.Entry{Email: addr, Reason: suppress.Unsubscribe, Source: source,
		Diagnostic: diag, Time: s.o.Now()})
	if c.err != nil {
		s.mu.Lock()
		delete(s.added, key)
		s.mu.Unlock()
	} else {
		s.recorded.Add(1)
	}
	close(c.done)
	return c.err
}

// recorder keeps the status and size of a response for the log.
type recorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Timeouts of the http.Server: a slow client cannot hold a connection
// (Slowloris) or a goroutine for long.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 15 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 16 << 10
)

// TLS is the certificate to serve HTTPS with; nil serves HTTP (behind a
// proxy that does TLS).
type TLS struct {
	CertFile, KeyFile string
}

// Serve answers on ln until ctx is done, then stops taking connections,
// lets the requests in flight finish (for at most shutdownTimeout; each
// 200 was sent after its fsync, so nothing answered is lost) and returns
// nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener, t *TLS, shutdownTimeout time.Duration) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(logWriter(s.o.ErrorLog), "", 0),
	}
	if t != nil {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return fmt.Errorf("TLS certificate: %w", err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, hs.TLSConfig)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if shutdownTimeout <= 0 {
		shutdownTimeout = DefaultShutdownTimeout
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc // http.ErrServerClosed
	if err != nil {
		hs.Close()
		return fmt.Errorf("requests still running after %v: %w", shutdownTimeout, err)
	}
	return nil
}

type logWriter func(string)

func (f logWriter) Write(b []byte) (int, error) {
	if f != nil {
		f(strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}
