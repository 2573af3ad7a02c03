package render

import (
	"errors"
	htmltemplate "html/template"
	"net/url"
	"strings"
	"text/template"

	"github.com/mailer-dev/mailer/address"
	"github.com/mailer-dev/mailer/track"
)

// Tracking configures opt-in click and open tracking (package track): after
// the bodies are executed, each http(s) link of the HTML part (and of the
// text part with TextLinks) becomes Base/c/<token>; the unsubscribe URL and
// links written with {{notrack "https://..."}} stay as they are.
type Tracking struct {
	Base     string // the tracking server, e.g. https://t.acme.example
	Secret   []byte // keys the tokens and the recipient keys
	Campaign string // carried in every token
	// TextLinks rewrites the bare URLs of the text part too.
	TextLinks bool
	// Opens adds a 1x1 image Base/o/<token> to the HTML part.
	Opens bool
	// Column names a consent column: only rows whose value is true, yes,
	// y or 1 (any case) are tracked; a row without it is not. "" tracks
	// every row.
	Column string
	// RecipientKey gives the opaque key of an address [track.RecipientKey
	// of Secret, Campaign and the normalised address].
	RecipientKey func(address string) string
}

func (tr *Tracking) check() error {
	if len(tr.Secret) == 0 {
		return errors.New("tracking: no secret to sign the links with")
	}
	if err := track.CheckBase(tr.Base); err != nil {
		return errors.New("tracking: " + err.Error())
	}
	return nil
}

// notrackFuncs sets {{notrack URL}} for the bodies: with tracking on it
// marks the URL for the rewriter (which strips the mark); off, it is the
// URL as is, so a template that uses it never leaks a mark.
func notrackFuncs(text template.FuncMap, html htmltemplate.FuncMap, on bool) {
	text["notrack"] = func(u string) string { return u }
	html["notrack"] = func(u string) any { return u }
	if !on {
		return
	}
	text["notrack"] = func(u string) string { return track.Mark + u }
	html["notrack"] = func(u string) any {
		p, err := url.Parse(strings.TrimSpace(u))
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") {
			return u // no link to track: html/template checks it as any other
		}
		// A URL value keeps html/template from filtering the mark as an
		// unknown scheme; http(s) it is, so nothing unsafe passes.
		return htmltemplate.URL(track.Mark + u)
	}
}

// consents reports whether r is to be tracked.
func (tr *Tracking) consents(r Recipient) bool {
	if tr.Column == "" {
		return true
	}
	switch strings.ToLower(strings.TrimSpace(r.Fields[tr.Column])) {
	case "true", "yes", "y", "1":
		return true
	}
	return false
}

// track rewrites the executed bodies of r's message; rkey is
// address.Key(r.Address) when Render made it already, else "".
func (t *Template) track(r Recipient, rkey, unsubURL string, text, html []byte) ([]byte, []byte) {
	tr := t.opts.Tracking
	if !tr.consents(r) {
		return track.Strip(text), track.Strip(html)
	}
	var key string
	if tr.RecipientKey != nil {
		key = tr.RecipientKey(r.Address)
	} else {
		if rkey == "" {
			rkey = address.Key(r.Address)
		}
		key = track.RecipientKey(tr.Secret, tr.Campaign, rkey)
	}
	o := track.Options{Base: tr.Base, Secret: tr.Secret, Campaign: tr.Campaign, Recipient: key, Address: r.Address,
		TextLinks: tr.TextLinks, Opens: tr.Opens}
	if unsubURL != "" {
		o.Skip = []string{unsubURL}
	}
	html, text = track.Rewrite(html, text, o)
	return text, html
}
