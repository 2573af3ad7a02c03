// Package campaign runs one campaign: it streams the recipient list, skips
// what is already final or suppressed, renders each message, hands it to a
// Sender and records every outcome in the results CSV. Prepare yields the
// verdict on every row (rendered message included) by the same code Run uses,
// for check (Check) and preview (Select); BuildReport reads a results CSV back.
//
// campaign depends on render and sender (for their types); it must not import
// cmd, and it never prints: progress goes through Options.Progress.
package campaign
