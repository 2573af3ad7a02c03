// Package sender delivers rendered messages to upstream SMTP relays through a
// pool of reused connections, under one global rate limit, with retries, and
// classifies every SMTP reply into an outcome.
//
// It is the only package that talks SMTP (go-smtp): callers see Result and
// ReplyError, never go-smtp's types. sender must not import render, campaign
// or cmd, and it never prints.
package sender
