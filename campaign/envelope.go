package campaign

import (
	"fmt"

	"github.com/mailer-dev/mailer/address"
)

// Envelope chooses the envelope sender (MAIL FROM, the future Return-Path)
// of each message. The zero value uses the message's From address.
type Envelope struct {
	// ReturnPath is the address bounces go to, instead of From.
	ReturnPath string
	// VERP puts each recipient into ReturnPath (bounces+ann=example.com@...)
	// so that a bounce arriving after the run names its recipient; see
	// sender.VERP and address.DecodeVERP.
	VERP bool
}

// Check reports a setting that cannot work, before anything is sent.
func (e Envelope) Check() error {
	if e.VERP && e.ReturnPath == "" {
		return fmt.Errorf("VERP needs a return path")
	}
	if e.ReturnPath != "" {
		if _, err := address.Parse(e.ReturnPath); err != nil {
			return fmt.Errorf("return path %v", err)
		}
		if _, err := address.VERP(e.ReturnPath, "probe@example.com"); e.VERP && err != nil {
			return err
		}
	}
	return nil
}

// from is the envelope sender for a message whose From is headerFrom, to rcpt.
func (e Envelope) from(headerFrom, rcpt string) (string, error) {
	switch {
	case e.ReturnPath == "":
		return headerFrom, nil
	case e.VERP:
		return address.VERP(e.ReturnPath, rcpt)
	}
	return e.ReturnPath, nil
}
