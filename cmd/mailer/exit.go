package main

import (
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/mailer-dev/mailer/campaign"
	"github.com/mailer-dev/mailer/render"
	"github.com/mailer-dev/mailer/sender"
	"github.com/mailer-dev/mailer/suppress"
	"github.com/spf13/cobra"
)

// Exit codes, from sysexits(3).
const (
	exitOK          = 0
	exitUsage       = 64
	exitDataErr     = 65
	exitNoInput     = 66
	exitUnavailable = 69
	exitSoftware    = 70 // an error mailer has no better code for: a bug, or a case it did not foresee
	exitCantCreate  = 73
	exitIOErr       = 74
	exitTempFail    = 75
	exitConfig      = 78
)

// usageError is a command line that makes no sense.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usageArgs makes a cobra Args validator's error a usageError, so a wrong
// number of arguments exits 64 like an unknown flag does.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := check(c, args); err != nil {
			return &usageError{msg: err.Error() + " (see " + c.CommandPath() + " --help)"}
		}
		return nil
	}
}

// configError is a setting that cannot work (a bad relay URL, say).
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// exitStatus carries an exit code with no message: the command already
// said everything on stdout (for example "75: deferred recipients remain").
type exitStatus struct {
	code int
	hint string
}

func (e *exitStatus) Error() string { return "" }

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var (
		es  *exitStatus
		ue  *usageError
		ce  *configError
		de  *campaign.DataError
		pe  *render.ParseError
		we  *campaign.WriteError
		una *sender.UnavailableError
		rf  *sender.RefusedError
		pa  *fs.PathError
		le  *campaign.LockedError
		che *campaign.ChangedError
		sfe *suppress.FormatError
	)
	switch {
	case errors.As(err, &es):
		return es.code
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ce):
		return exitConfig
	case errors.As(err, &le):
		return exitTempFail // another run has it: cron can simply retry
	case errors.As(err, &de), errors.As(err, &pe), errors.As(err, &che), errors.As(err, &sfe):
		return exitDataErr
	case errors.As(err, &rf) && rf.Auth():
		return exitConfig // the relay settings must change: waiting will not help
	case errors.As(err, &una), errors.As(err, &rf):
		return exitUnavailable
	case errors.As(err, &we):
		if errors.Is(we.Err, fs.ErrNotExist) || errors.Is(we.Err, fs.ErrPermission) || errors.Is(we.Err, syscall.EISDIR) || errors.Is(we.Err, syscall.ENOTDIR) {
			return exitCantCreate
		}
		return exitIOErr
	case errors.Is(err, fs.ErrNotExist), errors.As(err, &pa):
		return exitNoInput
	}
	return exitSoftware
}

func hintFor(err error) string {
	var (
		es *exitStatus
		ua x509.UnknownAuthorityError
	)
	switch {
	case errors.As(err, &es):
		return es.hint
	case errors.As(err, &ua):
		return "the relay's certificate is not signed by an authority this system trusts: add ?ca=FILE (a PEM file of its CA) to the relay URL, or set SSL_CERT_FILE"
	}
	var rf *sender.RefusedError
	if errors.As(err, &rf) {
		return refusalHint(rf) + "; blocked and not-tried recipients are sent by a re-run"
	}
	return settingHint(err)
}

// settingHint names the flag or variable that changes what a library
// error is about: the libraries say what is wrong in their own terms and
// know nothing of mailer's command line (age: cmd/age/age.go).
func settingHint(err error) string {
	var (
		mc *campaign.MissingColumnError
		ch *campaign.ChangedError
		rs *campaign.ResultsFileError
		nu *render.NoUnsubscribeURLError
		pt *sender.PlaintextError
		pw *sender.PasswordInURLError
		ts *trackingSecretError
	)
	switch {
	case errors.As(err, &mc):
		return "name the address column with --email-column"
	case errors.As(err, &ch):
		return "pass --allow-changed to resume anyway, or use a new --results file for a new campaign"
	case errors.As(err, &rs):
		return "give --results another file"
	case errors.As(err, &nu):
		return "give the URL with --unsubscribe-url, and the token secret in " + unsubscribeSecretEnv
	case errors.As(err, &ts):
		return "set " + trackingSecretEnv + " (for example: export " + trackingSecretEnv + "=$(openssl rand -base64 32)); report --events needs the same secret"
	case errors.As(err, &pt):
		return "pass --allow-plaintext to send unencrypted to it anyway, or use smtp:// (STARTTLS) or smtps://"
	case errors.As(err, &pw):
		return "remove the password from the URL: give it in MAILER_SMTP_PASSWORD, or with password_file or password_env in the config"
	}
	return ""
}

// refusalHint says what to change when a relay refuses the sender.
func refusalHint(rf *sender.RefusedError) string {
	r := rf.Reply
	text := strings.ToLower(r.Message)
	switch {
	case strings.Contains(text, "starttls") || strings.Contains(text, "tls") && r.Code == 530:
		return "the relay wants TLS first: use smtp:// (STARTTLS) or smtps:// instead of smtp+plain://"
	case r.Code == 535 || r.Enhanced == "5.7.8":
		return "the relay refuses the credentials: check the password (MAILER_SMTP_PASSWORD, password_env or password_file) and the user in the relay URL"
	case r.Code == 538 || r.Enhanced == "5.7.11":
		return "the relay requires encryption for AUTH: use smtp:// (STARTTLS) or smtps://"
	case rf.Auth():
		return "the relay requires authentication: add user@ to the relay URL (smtp://user@host:587) and give the password in MAILER_SMTP_PASSWORD or a password file"
	}
	return "the relay refuses the sender or the content (see its reply): check that it lets this From address send (relay access, SPF, DKIM, DMARC) and what it says about the message"
}

func signalCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 130
}
