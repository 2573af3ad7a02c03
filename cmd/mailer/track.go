package main

import (
	"fmt"

	"github.com/mailer-dev/mailer/render"
	"github.com/mailer-dev/mailer/track"
	"github.com/spf13/pflag"
)

// trackingSecretEnv holds the key of the tracking tokens and recipient
// keys. Like the unsubscribe secret it is never a flag.
const trackingSecretEnv = "MAILER_TRACKING_SECRET"

// TrackOptions are the opt-in click and open tracking settings. All off by
// default; a config file sets them by flag name (track-links: ...).
type TrackOptions struct {
	Links     string // base URL of `mailer serve`: links become BASE/c/<token>
	TextLinks bool
	Opens     bool
	Column    string // consent column
}

func (t *TrackOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&t.Links, "track-links", "", "opt-in click tracking: rewrite the HTML part's http(s) links to `BASE`/c/<token> (signed with "+trackingSecretEnv+"; no address in the URL)")
	f.BoolVar(&t.TextLinks, "track-text-links", false, "with --track-links, rewrite the bare URLs of the text part too")
	f.BoolVar(&t.Opens, "track-opens", false, "with --track-links, add a 1x1 image BASE/o/<token> (opens include machines: image proxies, privacy protection)")
	f.StringVar(&t.Column, "track-column", "", "consent `COLUMN`: only rows whose value is true, yes, y or 1 are tracked")
}

// trackingSecretError is tracking asked for without a usable secret.
type trackingSecretError struct{ msg string }

func (e *trackingSecretError) Error() string { return e.msg }

// tracking turns the flags into render's options for campaign.
func (t *TrackOptions) tracking(campaign string, getenv func(string) string) (*render.Tracking, error) {
	if t.Links == "" {
		if t.TextLinks || t.Opens || t.Column != "" {
			return nil, &usageError{msg: "--track-text-links, --track-opens and --track-column need --track-links BASE"}
		}
		return nil, nil
	}
	if err := track.CheckBase(t.Links); err != nil {
		return nil, &usageError{msg: "--track-links: " + err.Error()}
	}
	secret := getenv(trackingSecretEnv)
	if len(secret) < 16 {
		return nil, &configError{&trackingSecretError{fmt.Sprintf("--track-links needs a secret of at least 16 characters in %s", trackingSecretEnv)}}
	}
	return &render.Tracking{Base: t.Links, Secret: []byte(secret), Campaign: campaign,
		TextLinks: t.TextLinks, Opens: t.Opens, Column: t.Column}, nil
}
