// Package render turns a campaign template and one recipient's row into the
// bytes of an RFC 5322 message (CRLF line endings, MIME via go-message).
//
// Rendering is pure: the clock and the Message-ID source are injected through
// Options, so the same inputs always give the same bytes. render must not
// import sender, campaign or cmd, and it never touches the network or reads
// files other than the template it is given.
package render
