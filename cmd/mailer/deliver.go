package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mailer-dev/mailer/address"
	"github.com/mailer-dev/mailer/campaign"
	"github.com/mailer-dev/mailer/render"
	"github.com/mailer-dev/mailer/templates"
	"github.com/spf13/pflag"
)

// unsubscribeSecretEnv holds the key of the unsubscribe tokens. It is never
// a flag: flags show in process listings and shell history.
const unsubscribeSecretEnv = "MAILER_UNSUBSCRIBE_SECRET"

// DeliverOptions are the deliverability settings of a campaign: one-click
// unsubscribe, DKIM, attachments and the envelope sender. Flags fill them
// now; a config file can fill the same struct.
type DeliverOptions struct {
	UnsubscribeURL    string // text/template of the HTTPS URL (render.Unsubscribe.URL)
	UnsubscribeMailto string // optional mailto: address
	DKIMKey           string // PEM file of the private key
	DKIMDomain        string
	DKIMSelector      string
	AttachColumn      string // list column with per-row attachments
	MaxAttachment     string // size cap per message: 10MiB, 500KB, 1048576
	MaxMessage        string // cap on one rendered message (render.Options.MaxMessageBytes)
	ReturnPath        string // envelope sender (default: the From address)
	VERP              bool   // encode each recipient into ReturnPath
	Track             TrackOptions

	subjectPrefix string // a test send's "[test] "
}

func (d *DeliverOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&d.UnsubscribeURL, "unsubscribe-url", "", "per-recipient HTTPS unsubscribe `TEMPLATE`, e.g. 'https://acme.example/u?a={{.Address | urlquery}}&t={{.Token}}'; adds List-Unsubscribe (RFC 8058); the token key comes from "+unsubscribeSecretEnv)
	f.StringVar(&d.UnsubscribeMailto, "unsubscribe-mailto", "", "`ADDRESS` for the mailto: alternative in List-Unsubscribe")
	f.StringVar(&d.DKIMKey, "dkim-key", "", "PEM private key `FILE` (RSA or Ed25519) to DKIM-sign every message")
	f.StringVar(&d.DKIMDomain, "dkim-domain", "", "DKIM signing `DOMAIN` (d=), normally the From domain")
	f.StringVar(&d.DKIMSelector, "dkim-selector", "", "DKIM `SELECTOR` (s=): the key is in DNS at SELECTOR._domainkey.DOMAIN")
	f.StringVar(&d.AttachColumn, "attach-column", "", "list `COLUMN` naming more attachments per row (comma-separated, inside the template's directory)")
	f.StringVar(&d.MaxAttachment, "max-attachment-size", "10MiB", "cap on one message's attachments (`SIZE`: bytes, KB, MB, KiB, MiB)")
	f.StringVar(&d.MaxMessage, "max-message-size", "25MB", "a message larger than this (`SIZE`) is invalid, not sent; template output stops there (Gmail takes 25MB; Postfix's default is 10240000)")
	f.StringVar(&d.ReturnPath, "return-path", "", "envelope sender `ADDRESS` that bounces go to (default: the From address)")
	f.BoolVar(&d.VERP, "verp", false, "encode each recipient into the return path (bounces+ann=example.com@...) to match bounces later")
	d.Track.addFlags(f)
}

// envelope checks the envelope settings.
func (d *DeliverOptions) envelope() (campaign.Envelope, error) {
	e := campaign.Envelope{ReturnPath: d.ReturnPath, VERP: d.VERP}
	if err := e.Check(); err != nil {
		return e, &usageError{msg: "--return-path/--verp: " + err.Error()}
	}
	return e, nil
}

// renderOptions turns the settings into render's options, reading the DKIM
// key and opening the template's directory for attachments. dir is "" for
// a built-in template, which has no directory.
func (d *DeliverOptions) renderOptions(dir string, getenv func(string) string) (render.Options, error) {
	var o render.Options
	if d.UnsubscribeURL != "" {
		secret := getenv(unsubscribeSecretEnv)
		if len(secret) < 16 {
			return o, &configError{fmt.Errorf("--unsubscribe-url needs a secret of at least 16 characters in %s (for example: openssl rand -base64 32)", unsubscribeSecretEnv)}
		}
		o.Unsubscribe = &render.Unsubscribe{URL: d.UnsubscribeURL, Mailto: d.UnsubscribeMailto, Secret: []byte(secret)}
		if err := o.Unsubscribe.Check(); err != nil {
			return o, &configError{fmt.Errorf("--unsubscribe-url: %w", err)}
		}
	} else if d.UnsubscribeMailto != "" {
		return o, &usageError{msg: "--unsubscribe-mailto needs --unsubscribe-url: RFC 8058 one-click unsubscribe is HTTPS"}
	}
	if n := countSet(d.DKIMKey, d.DKIMDomain, d.DKIMSelector); n > 0 {
		if n < 3 {
			return o, &usageError{msg: "DKIM needs all of --dkim-key, --dkim-domain and --dkim-selector"}
		}
		pemData, err := os.ReadFile(d.DKIMKey)
		if err != nil {
			return o, fmt.Errorf("DKIM key: %w", err)
		}
		k, err := render.ParseDKIMKey(pemData)
		if err != nil {
			return o, &configError{fmt.Errorf("DKIM key %s: %w", d.DKIMKey, err)}
		}
		o.DKIM = &render.DKIM{Domain: d.DKIMDomain, Selector: d.DKIMSelector, Signer: k}
	}
	if d.MaxAttachment != "" {
		size, err := parseSize(d.MaxAttachment)
		if err != nil {
			return o, &usageError{msg: "--max-attachment-size: " + err.Error()}
		}
		o.MaxAttachmentBytes = size
	}
	if d.MaxMessage != "" {
		size, err := parseSize(d.MaxMessage)
		if err != nil {
			return o, &usageError{msg: "--max-message-size: " + err.Error()}
		}
		o.MaxMessageBytes = size
	}
	o.AttachColumn = d.AttachColumn
	o.SubjectPrefix = d.subjectPrefix
	if dir != "" {
		// os.Root refuses every path that leaves dir, through ".." or a
		// symbolic link. It stays open for the life of the command.
		root, err := os.OpenRoot(dir)
		if err != nil {
			return o, fmt.Errorf("template directory: %w", err)
		}
		o.Files = nonBlockingFS{root}
	}
	return o, nil
}

func countSet(vals ...string) int {
	n := 0
	for _, v := range vals {
		if v != "" {
			n++
		}
	}
	return n
}

// parseSize parses "10MiB", "500KB", "2MB", "1048576" into bytes.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}} {
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) && (u.suffix != "B" || !strings.ContainsAny(t, "KMGkmg")) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q: want a size such as 10MiB, 500KB or 1048576", s)
	}
	return n * mult, nil
}

// messageIDFunc gives the left part of a recipient's Message-ID: the
// campaign, then a hash of campaign and normalised address. It is the same
// for every retry and re-run of the campaign (so a relay or receiver can
// drop a duplicate) and differs between recipients and campaigns.
func messageIDFunc(campaign string) func(string) string {
	return func(rcpt string) string {
		sum := sha256.Sum256([]byte(campaign + "\x00" + address.Key(rcpt)))
		return campaign + "." + hex.EncodeToString(sum[:12])
	}
}

// loadTemplateWith reads and parses a template file, or a built-in template
// by name, with the deliverability settings d (nil: none).
func loadTemplateWith(name, campaign string, d *DeliverOptions) (*render.Template, error) {
	src, err := os.ReadFile(name)
	dir := filepath.Dir(name)
	if errors.Is(err, os.ErrNotExist) && !strings.ContainsAny(name, `/\.`) {
		if b, ok := templates.Lookup(name); ok {
			src, err, dir = b, nil, ""
		}
	}
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if d == nil {
		d = &DeliverOptions{}
	}
	o, err := d.renderOptions(dir, os.Getenv)
	if err != nil {
		return nil, err
	}
	o.Now, o.MessageID = time.Now, messageIDFunc(campaign)
	if o.Tracking, err = d.Track.tracking(campaign, os.Getenv); err != nil {
		return nil, err
	}
	if o.Unsubscribe != nil {
		o.Unsubscribe.Campaign = campaign
	}
	return render.Parse(name, src, o)
}

// nonBlockingFS is an os.Root's file system whose Open never waits: a FIFO
// or a device is opened with O_NONBLOCK, so render can see it is no
// regular file and refuse it instead of hanging on a FIFO with no writer.
type nonBlockingFS struct{ root *os.Root }

func (n nonBlockingFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	return n.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
}

func (n nonBlockingFS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	return n.root.Stat(name)
}
