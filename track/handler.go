package track

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Appender is where the handler records events; *Log is one.
type Appender interface {
	Append(ctx context.Context, e Event) error
}

var _ Appender = (*Log)(nil)

// Handler answers tracked URLs: GET /c/<token> with a 302 to the token's
// destination, GET /o/<token> with a 1x1 GIF; each after verifying the
// token and appending the event (the append is on disk before the answer
// is written). A bad token is a 404 and records nothing: the server is no
// open redirect. HEAD is answered but not recorded (no person clicks with
// HEAD). Mount it where the paths start with /c/ and /o/ (http.StripPrefix
// for a deeper base path).
type Handler struct {
	Secret []byte
	Events Appender
	// LogIP keeps the client's IP address and full User-Agent in the events.
	LogIP bool
	// Now is the clock [time.Now].
	Now func() time.Time
	// Error, when set, hears of events that could not be recorded; the
	// request is answered anyway (the reader still gets their page).
	Error func(err error)
}

// pixelGIF is the smallest transparent 1x1 GIF.
var pixelGIF = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	kind, tok, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	want := map[string]Kind{"c": Click, "o": Open}[kind]
	t, err := Verify(h.Secret, tok)
	if !ok || want == "" || err != nil || t.Kind != want {
		http.NotFound(w, r)
		return
	}
	if r.Method == http.MethodGet {
		h.record(r, t)
	}
	hd := w.Header()
	hd.Set("Cache-Control", "no-store, no-cache, must-revalidate, private")
	hd.Set("Pragma", "no-cache")
	hd.Set("Expires", "0")
	hd.Set("Referrer-Policy", "no-referrer")
	if t.Kind == Click {
		hd.Set("Location", t.URL)
		w.WriteHeader(http.StatusFound)
		return
	}
	hd.Set("Content-Type", "image/gif")
	hd.Set("Content-Length", strconv.Itoa(len(pixelGIF)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(pixelGIF)
	}
}

func (h *Handler) record(r *http.Request, t Token) {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	ua := r.UserAgent()
	e := Event{Time: now().UTC(), Campaign: t.Campaign, Recipient: t.Recipient, Kind: t.Kind, Link: t.Link, Agent: ClassifyAgent(ua)}
	if u, err := url.Parse(t.URL); err == nil && t.Kind == Click {
		e.Host = strings.ToLower(u.Hostname())
	}
	if h.LogIP {
		e.IP, _, _ = net.SplitHostPort(r.RemoteAddr)
		e.UserAgent = ua
	}
	if err := h.Events.Append(r.Context(), e); err != nil && h.Error != nil {
		h.Error(err)
	}
}
