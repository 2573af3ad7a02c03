// Package sender delivers rendered messages to upstream SMTP relays through a
// pool of reused connections, under one global rate limit, with retries, and
// classifies every SMTP reply into an outcome.
//
// It is the only package that talks SMTP (go-smtp): callers see Result and
// ReplyError, never go-smtp's types. sender must not import render, campaign
// or cmd, and it never prints.
//
// The files, by role:
//
//	pool.go      Pool, Options, New, Probe, Close; Send and its retry rule; pick (routing by weight)
//	upstream.go  upstream: one relay's connections (get, put) and state
//	health.go    an upstream's health: the circuit breaker, refusals, throttling and recovery
//	dial.go      opening a connection: TCP, TLS or STARTTLS, EHLO, AUTH
//	conn.go      conn: one SMTP session and its mail transaction (send); trackConn under it
//	pipe.go      the pipelined transaction (RFC 2920), spoken on go-smtp's connection
//	lane.go      the lane: the next message's commands ride with a body; LaneDepth
//	dot.go       dot-stuffing a body in one pass (appendDotted)
//	debug.go     the SMTP transcript of Options.Debug (internal/transcript)
//	shaping.go   per-domain limits and the rate window
//	relay.go     Relay, Security and ParseRelay (the relay URL)
//	parse.go     ParseRate and ParseDomainLimit
//	result.go    Status, Result, the error types and the classification of replies
//	utf8.go      when a message needs SMTPUTF8
//	verp.go      VERP return paths
package sender
