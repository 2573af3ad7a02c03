package main

import (
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"syscall"

	"github.com/mailer-dev/mailer/campaign"
	"github.com/mailer-dev/mailer/render"
	"github.com/mailer-dev/mailer/sender"
)

// Exit codes, from sysexits(3).
const (
	exitOK          = 0
	exitUsage       = 64
	exitDataErr     = 65
	exitNoInput     = 66
	exitUnavailable = 69
	exitCantCreate  = 73
	exitIOErr       = 74
	exitTempFail    = 75
	exitConfig      = 78
)

// usageError is a command line that makes no sense.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

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
		pa  *fs.PathError
		le  *campaign.LockedError
		che *campaign.ChangedError
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
	case errors.As(err, &de), errors.As(err, &pe), errors.As(err, &che):
		return exitDataErr
	case errors.As(err, &una):
		return exitUnavailable
	case errors.As(err, &we):
		if errors.Is(we.Err, fs.ErrNotExist) || errors.Is(we.Err, fs.ErrPermission) || errors.Is(we.Err, syscall.EISDIR) || errors.Is(we.Err, syscall.ENOTDIR) {
			return exitCantCreate
		}
		return exitIOErr
	case errors.Is(err, fs.ErrNotExist), errors.As(err, &pa):
		return exitNoInput
	}
	return exitUsage // cobra's own errors: unknown flag, bad value
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
	return ""
}

func signalCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 130
}
