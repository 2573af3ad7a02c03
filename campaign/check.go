package campaign

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"runtime"
	"sort"
	"strings"

	"github.com/mailer-dev/mailer/internal/safetext"
	"github.com/mailer-dev/mailer/render"
)

// Warnings that bulk receivers punish. Each is a Group.Kind in a
// CheckReport's Warnings.
const (
	WarnNoUnsubscribe = "no List-Unsubscribe"
	WarnManyFrom      = "several From addresses"
	WarnNoText        = "HTML without a text part"
	WarnTooLarge      = "message too large"
	WarnHTTPLink      = "http:// link"
	WarnEmptySubject  = "empty subject"
)

// Defaults for CheckOptions.
const (
	// DefaultUnsubscribeRows: Gmail and Yahoo require one-click unsubscribe
	// (RFC 8058) from bulk senders; a list of a few hundred is bulk enough
	// to be judged by it.
	DefaultUnsubscribeRows = 300
	// DefaultMaxSize: Gmail clips messages over 102 KB and hides the rest
	// behind "View entire message", unsubscribe link included.
	DefaultMaxSize = 102 << 10
	// maxExamples is how many rows each group names.
	maxExamples = 5
	// maxRenderGroups is how many distinct render errors get a group each.
	maxRenderGroups   = 20
	otherRenderErrors = "other rows that do not render"
)

// CheckOptions are Prepare's options plus the warning thresholds.
type CheckOptions struct {
	PrepareOptions
	UnsubscribeRows int // warn about no List-Unsubscribe above this many rows [DefaultUnsubscribeRows]
	MaxSize         int // warn about messages larger than this many bytes [DefaultMaxSize]
}

// Example is one row of a group.
type Example struct {
	Line   int    `json:"line"`
	Email  string `json:"email"`
	Detail string `json:"detail"`
}

// Group is rows that share a problem or a warning: how many, and the first
// few by line.
type Group struct {
	Kind     string    `json:"kind"`
	Count    int       `json:"count"`
	Examples []Example `json:"examples"` // the lowest lines, at most 5, in line order
}

func (g *Group) add(e Example) {
	g.Count++
	i := sort.Search(len(g.Examples), func(i int) bool { return g.Examples[i].Line > e.Line })
	if i >= maxExamples {
		return
	}
	if len(g.Examples) < maxExamples {
		g.Examples = append(g.Examples, Example{})
	}
	// What check shows comes from the list: cells, and the From a row
	// renders. Verdicts are escaped already; this is the last stop.
	e.Email, e.Detail = safetext.String(e.Email), safetext.String(e.Detail)
	copy(g.Examples[i+1:], g.Examples[i:])
	g.Examples[i] = e
}

// CheckReport is what check found: rows that will not be sent, grouped, and
// warnings about the campaign as a whole.
type CheckReport struct {
	Rows   int      `json:"rows"`   // data rows in the list
	Ready  int      `json:"ready"`  // rows that would be sent
	Bytes  int      `json:"bytes"`  // total size of the messages that would be sent
	Errors []*Group `json:"errors"` // invalid rows: bad addresses, rows that do not render; by kind
	// Skipped are rows that are fine not to send: duplicates, suppressed.
	Skipped  []*Group `json:"skipped"`
	Warnings []*Group `json:"warnings"`
}

// Invalid is the number of rows in Errors.
func (r *CheckReport) Invalid() int {
	n := 0
	for _, g := range r.Errors {
		n += g.Count
	}
	return n
}

// Check renders every row of the list, as a dry run would, and groups
// what it finds. Memory does not grow with the list beyond Prepare's
// duplicate set: groups keep counts and their first few rows only.
func Check(ctx context.Context, o CheckOptions) (*CheckReport, error) {
	if o.UnsubscribeRows <= 0 {
		o.UnsubscribeRows = DefaultUnsubscribeRows
	}
	if o.MaxSize <= 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.Concurrency < 1 {
		o.Concurrency = runtime.GOMAXPROCS(0)
	}
	rep := &CheckReport{}
	errs, skipped, warns := groups{}, groups{}, groups{}
	froms := map[string]*Group{} // From address -> rows using it; capped
	inspect := func(v *Verdict) {
		inspectMessage(v.Message, o.MaxSize, func(kind, detail string) {
			v.warnings = append(v.warnings, warning{kind, detail})
		})
	}
	err := prepare(ctx, o.PrepareOptions, inspect, func(v *Verdict) error {
		rep.Rows++
		ex := Example{Line: v.Line, Email: v.Email, Detail: v.Reason}
		switch {
		case v.Status == Invalid && v.Problem == ProblemDomain:
			ex.Detail = "" // the group's kind says it
			errs.domainGroup(v.Reason).add(ex)
			return nil
		case v.Status == Invalid && v.Problem == ProblemRender:
			errs.renderGroup(v.Reason).add(ex)
			return nil
		case v.Status == Invalid:
			errs.get(string(v.Problem)).add(ex)
			return nil
		case v.Status != "" && v.SuppressedAs != "":
			// Grouped by why: a list of hard bounces wants another look
			// than one of unsubscribes.
			skipped.get(string(v.Problem) + " (" + string(v.SuppressedAs) + ")").add(ex)
			return nil
		case v.Status != "":
			skipped.get(string(v.Problem)).add(ex)
			return nil
		}
		rep.Ready++
		m := v.Message
		rep.Bytes += len(m.Data)
		ex.Detail = ""
		for _, w := range v.warnings {
			ex.Detail = w.detail
			warns.get(w.kind).add(ex)
		}
		g := froms[m.From]
		if g == nil && len(froms) < 100 {
			g = &Group{Kind: safetext.String(m.From)}
			froms[m.From] = g
		}
		if g != nil {
			g.add(Example{Line: v.Line, Email: v.Email, Detail: m.From})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if g := warns[WarnNoUnsubscribe]; g != nil && rep.Rows <= o.UnsubscribeRows {
		delete(warns, WarnNoUnsubscribe)
	}
	if len(froms) > 1 {
		g := warns.get(WarnManyFrom)
		all := make([]*Group, 0, len(froms))
		for _, f := range froms {
			all = append(all, f)
		}
		sort.Slice(all, func(i, j int) bool { return all[i].Examples[0].Line < all[j].Examples[0].Line })
		for _, f := range all {
			e := f.Examples[0]
			e.Detail = fmt.Sprintf("From %s (%d messages)", f.Kind, f.Count)
			if f.Count == 1 {
				e.Detail = fmt.Sprintf("From %s (1 message)", f.Kind)
			}
			g.add(e)
		}
	}
	rep.Errors, rep.Skipped, rep.Warnings = errs.sorted(), skipped.sorted(), warns.sorted()
	return rep, nil
}

type groups map[string]*Group

var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// renderGroup is the group for a render error. The error names the header
// or body part and the cause; values quoted from the row are left out, so
// that rows with the same cause share a group ("From: \"…\": missing @").
// Past maxRenderGroups, the rest share one group, so memory stays flat.
func (gs groups) renderGroup(reason string) *Group {
	kind := quoted.ReplaceAllString(reason, `"…"`)
	if gs[kind] == nil && len(gs) >= maxRenderGroups {
		kind = otherRenderErrors
	}
	return gs.get(kind)
}

func (gs groups) get(kind string) *Group {
	g := gs[kind]
	if g == nil {
		g = &Group{Kind: safetext.String(kind)}
		gs[kind] = g
	}
	return g
}

// sorted orders groups by their first line, so output is stable whatever
// order the rows rendered in.
func (gs groups) sorted() []*Group {
	out := make([]*Group, 0, len(gs))
	for _, g := range gs {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Examples[0].Line != b.Examples[0].Line {
			return a.Examples[0].Line < b.Examples[0].Line
		}
		return a.Kind < b.Kind
	})
	return out
}

// inspectMessage reports the per-message warnings. It reads the rendered
// bytes directly, without a MIME parser, so that a million rows check in
// seconds: render writes the header block and the MIME structure itself, so
// their shape is known.
func inspectMessage(m *render.Message, maxSize int, warn func(kind, detail string)) {
	data := m.Data
	head, body, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	var subject, contentType []byte
	var unsub, hasSubject bool
	for _, line := range bytes.Split(unfold(head), []byte("\r\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch strings.ToLower(string(k)) {
		case "subject":
			subject, hasSubject = v, true
		case "content-type":
			contentType = v
		case "list-unsubscribe":
			unsub = len(v) > 0
		}
	}
	if !unsub {
		warn(WarnNoUnsubscribe, "no List-Unsubscribe header (RFC 2369, one-click per RFC 8058)")
	}
	if !hasSubject || len(subject) == 0 {
		warn(WarnEmptySubject, "the Subject is empty")
	}
	if bytes.HasPrefix(bytes.ToLower(contentType), []byte("text/html")) {
		warn(WarnNoText, "text/html only: add a {{define \"text\"}} block")
	}
	if len(data) > maxSize {
		warn(WarnTooLarge, fmt.Sprintf("%d bytes (over %d)", len(data), maxSize))
	}
	if bytes.Contains(body, []byte("=\r\n")) { // quoted-printable soft breaks could split a link
		body = bytes.ReplaceAll(body, []byte("=\r\n"), nil)
	}
	if i := indexFold(body, "http://"); i >= 0 {
		end := i
		for end < len(body) && end-i < 60 && !bytes.ContainsRune([]byte(" \t\r\n\"'<>"), rune(body[end])) {
			end++
		}
		warn(WarnHTTPLink, string(body[i:end])+": use https://")
	}
}

// unfold joins folded header lines (RFC 5322 section 2.2.3).
func unfold(head []byte) []byte {
	if !bytes.Contains(head, []byte("\r\n ")) && !bytes.Contains(head, []byte("\r\n\t")) {
		return head
	}
	head = bytes.ReplaceAll(head, []byte("\r\n "), []byte(" "))
	return bytes.ReplaceAll(head, []byte("\r\n\t"), []byte("\t"))
}

// indexFold finds "http://" in any case.
func indexFold(s []byte, needle string) int {
	off := 0
	for {
		i := bytes.Index(s[off:], []byte("://"))
		if i < 0 {
			return -1
		}
		i += off
		if i >= 4 && bytes.EqualFold(s[i-4:i+3], []byte(needle)) {
			return i - 4
		}
		off = i + 3
	}
}
