package serve

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/mailer-dev/mailer/render"
)

// The placeholders rendered into the URL template to find where .Address,
// .Token and row fields sit. Letters and digits only, so urlquery,
// pathescape and html leave them as they are.
const (
	addrHole  = "mailerXaddrXhole7c1"
	tokenHole = "mailerXtokenXhole7c2"
	fieldHole = "mailerXfieldXhole7c3"
)

type hole int

const (
	noHole hole = iota
	addrPart
	tokenPart
	fieldPart // a row field: any value, ignored
)

// part is one path segment or query value of the URL: literal, or a
// literal prefix and suffix around one hole. Both are unescaped.
type part struct {
	prefix, suffix string
	hole           hole
}

// match returns the hole's value in v, or ok false.
func (p part) match(v string) (string, bool) {
	if p.hole == noHole {
		return "", v == p.prefix
	}
	if len(v) < len(p.prefix)+len(p.suffix) || !strings.HasPrefix(v, p.prefix) || !strings.HasSuffix(v, p.suffix) {
		return "", false
	}
	return v[len(p.prefix) : len(v)-len(p.suffix)], true
}

// Route is where the unsubscribe URL template of send puts the address and
// the token: path segments or query parameters, learned by rendering the
// template itself (render.UnsubscribeURLPattern), so the server follows
// whatever URL the messages carry and there is no second setting to drift.
// The host is not compared (a proxy may stand in front).
type Route struct {
	tmpl  string
	segs  []part          // the path split at "/", the first one empty
	query map[string]part // query parameter -> value
}

// ErrNoRoute is a request whose path is not that of the unsubscribe URL.
var ErrNoRoute = errors.New("not the unsubscribe URL")

// ErrMissing is a request to the unsubscribe URL without the address or
// the token.
var ErrMissing = errors.New("the link lacks the address or the token")

// ParseRoute learns the route of the unsubscribe URL template tmpl. The
// template must carry {{.Address}} and {{.Token}} (the token is an HMAC of
// the address, so the address is needed to check it), each once, and at
// most one of them (or a row field) per path segment or query value.
func ParseRoute(tmpl string) (*Route, error) {
	s, err := render.UnsubscribeURLPattern(tmpl, addrHole, tokenHole, fieldHole)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("unsubscribe URL %q: %v", s, err)
	}
	if strings.Contains(u.Host, "mailerX") {
		return nil, fmt.Errorf("unsubscribe URL %q: the host must not depend on the recipient", tmpl)
	}
	r := &Route{tmpl: tmpl, query: map[string]part{}}
	count := map[hole]int{}
	split := func(raw string, unescape func(string) (string, error)) (part, error) {
		v, err := unescape(raw)
		if err != nil {
			return part{}, fmt.Errorf("unsubscribe URL %q: %v", tmpl, err)
		}
		p := part{prefix: v}
		n := 0
		for _, h := range []struct {
			s string
			h hole
		}{{addrHole, addrPart}, {tokenHole, tokenPart}, {fieldHole, fieldPart}} {
			if c := strings.Count(v, h.s); c > 0 {
				n += c
				i := strings.Index(v, h.s)
				p = part{prefix: v[:i], suffix: v[i+len(h.s):], hole: h.h}
				count[h.h] += c
			}
		}
		if n > 1 {
			return part{}, fmt.Errorf("unsubscribe URL %q: put the address, the token and row fields in path segments or query values of their own", tmpl)
		}
		return p, nil
	}
	for _, seg := range strings.Split(u.EscapedPath(), "/") {
		p, err := split(seg, url.PathUnescape)
		if err != nil {
			return nil, err
		}
		if strings.ContainsAny(p.prefix+p.suffix, "{} \t") {
			return nil, fmt.Errorf("unsubscribe URL %q: a path with braces or spaces cannot be served", tmpl)
		}
		r.segs = append(r.segs, p)
	}
	if len(r.segs) == 1 { // https://host?t=...: the path is "/"
		r.segs = []part{{}, {}}
	}
	for _, kv := range strings.Split(u.RawQuery, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("unsubscribe URL %q: %v", tmpl, err)
		}
		if strings.Contains(key, "mailerX") {
			return nil, fmt.Errorf("unsubscribe URL %q: a query parameter's name must not depend on the recipient", tmpl)
		}
		p, err := split(v, url.QueryUnescape)
		if err != nil {
			return nil, err
		}
		r.query[key] = p
	}
	if count[addrPart] != 1 || count[tokenPart] != 1 {
		return nil, fmt.Errorf("unsubscribe URL %q: serve needs {{.Address}} and {{.Token}} in it, once each, to check the token against the address", tmpl)
	}
	return r, nil
}

// Pattern is the http.ServeMux pattern that reaches the route: the path up
// to the first segment that holds a value, as a subtree, or the whole
// path when no segment does.
func (r *Route) Pattern() string {
	var lit []string
	for i, p := range r.segs[1:] {
		if p.hole != noHole {
			return "/" + strings.Join(lit, "/") + trailing(len(lit))
		}
		if i == len(r.segs)-2 {
			if p.prefix == "" {
				return "/" + strings.Join(lit, "/") + trailing(len(lit)) + "{$}"
			}
			return "/" + strings.Join(append(lit, p.prefix), "/")
		}
		lit = append(lit, p.prefix)
	}
	return "/"
}

func trailing(n int) string {
	if n == 0 {
		return ""
	}
	return "/"
}

// Match finds the address and the token in u: ErrNoRoute when its path is
// not the route's, ErrMissing when a value is absent or empty.
func (r *Route) Match(u *url.URL) (addr, token string, err error) {
	segs := strings.Split(u.EscapedPath(), "/")
	if len(segs) != len(r.segs) {
		return "", "", ErrNoRoute
	}
	take := func(p part, v string) bool {
		got, ok := p.match(v)
		switch {
		case !ok:
			return false
		case p.hole == addrPart:
			addr = got
		case p.hole == tokenPart:
			token = got
		}
		return true
	}
	for i, p := range r.segs {
		v, err := url.PathUnescape(segs[i])
		if err != nil || !take(p, v) {
			if p.hole == noHole || err != nil {
				return "", "", ErrNoRoute
			}
			return "", "", ErrMissing
		}
	}
	q := u.Query()
	for k, p := range r.query {
		if !take(p, q.Get(k)) && p.hole != fieldPart {
			if p.hole == noHole {
				return "", "", ErrNoRoute
			}
			return "", "", ErrMissing
		}
	}
	if addr == "" || token == "" {
		return "", "", ErrMissing
	}
	return addr, token, nil
}

// Redact is u's path for a log: the segments that hold values replaced by
// "…", no query (it may hold the token). ok is false when u is not on the
// route.
func (r *Route) Redact(u *url.URL) (path string, ok bool) {
	segs := strings.Split(u.EscapedPath(), "/")
	if len(segs) != len(r.segs) {
		return "", false
	}
	for i, p := range r.segs {
		if p.hole != noHole {
			segs[i] = "…"
		} else if v, err := url.PathUnescape(segs[i]); err != nil || v != p.prefix {
			return "", false
		}
	}
	return strings.Join(segs, "/"), true
}

// String is the route with {address}, {token} and {field} where the
// values go, query parameters sorted.
func (r *Route) String() string {
	show := func(p part) string {
		return p.prefix + [...]string{"", "{address}", "{token}", "{field}"}[p.hole] + p.suffix
	}
	segs := make([]string, len(r.segs))
	for i, p := range r.segs {
		segs[i] = show(p)
	}
	out := strings.Join(segs, "/")
	keys := make([]string, 0, len(r.query))
	for k := range r.query {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		out += sep + k + "=" + show(r.query[k])
	}
	return out
}
