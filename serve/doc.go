// Package serve answers the unsubscribe URL that send puts in every
// message (List-Unsubscribe, RFC 8058): a one-click POST unsubscribes at
// once and is answered only after the suppression is fsynced; a GET shows
// a page whose button POSTs, because a GET must never unsubscribe (mail
// scanners fetch every link). The URL's shape (which path segment or query
// parameter holds the address and the token) is learned from send's own
// URL template, and tokens are checked with render's function, so the
// server cannot drift from the messages.
//
// serve never prints: requests and errors go to callbacks that cmd logs.
// It imports address, render and suppress, never campaign, sender or cmd.
// Other handlers (click tracking) are mounted with Server.Handle.
package serve
