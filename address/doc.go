// Package address is the one home of recipient addresses: it parses and
// checks a list cell (Parse), normalises an address into the key mailer
// compares by (Key: dedupe, resume, suppression, unsubscribe tokens and
// Message-IDs all use it, so they can never disagree), names its domain
// (Domain), and encodes a recipient into a return path and back (VERP,
// DecodeVERP).
//
// address is a leaf: it must not import campaign, render, sender or cmd
// (only the leaf internal/safetext, for the control-character rule).
package address
