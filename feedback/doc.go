// Package feedback reads the mail that comes back after a campaign: RFC 3464
// delivery status notifications, RFC 5965 feedback reports (complaints), the
// common non-standard bounce texts, replies to the unsubscribe mailto
// address, and tells auto-replies apart. Parse turns one raw message into a
// Report; Classify maps an RFC 3463 status to what a list should do.
//
// Parsing is done with go-message (MIME, transfer encodings, header blocks);
// nothing here guesses: a message that is none of the above is a Report of
// kind NotRecognised. The package depends on no other package of mailer;
// addresses come out as written in the report (angle brackets and the
// "rfc822;" type removed), and the caller normalises them.
package feedback
