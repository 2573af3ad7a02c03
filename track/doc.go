// Package track is opt-in click and open tracking: signed tokens that carry
// a link's destination, the rewriting of a rendered message's links to
// BASE/c/<token> (and an open pixel BASE/o/<token>), the HTTP handler that
// answers them, the append-only events file, and the aggregation of events
// against a campaign's deliveries, with the scanner rule.
//
// Nothing here knows an address in clear: the caller computes the opaque
// recipient key (RecipientKey) and passes it in. track is a leaf: it must not
// import render, sender, campaign or cmd, and never prints.
package track
