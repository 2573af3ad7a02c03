// Package render turns a campaign template and one recipient's row into the
// bytes of an RFC 5322 message (CRLF line endings, MIME written in one pass,
// go-message's writer for multipart/mixed with attachments), optionally
// with List-Unsubscribe fields, attachments and a DKIM signature.
//
// Parse compiles templates of the usual shape to programs (program.go),
// which render without text/template's reflection; the rest run in the
// template packages. Either way the bytes are the same.
//
// Rendering is pure: the clock, the Message-ID source, the DKIM key and the
// file system that attachments come from are injected through Options, so
// the same inputs always give the same bytes. render must not import
// sender, campaign or cmd; it never touches the network and reads files only
// through Options.Files.
package render
