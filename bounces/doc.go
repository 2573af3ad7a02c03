// Package bounces closes the loop after a campaign: it reads what came
// back (late DSNs, complaints, unsubscribe replies) from a mailbox.Source,
// matches each report to the campaign recipient it is about, and writes
// what follows from it: a suppression row (through suppress.Writer, fsynced
// before it is counted) and, for recipients of the given results files, a
// late outcome row (campaign.LateWriter, under the campaign's lock).
//
// Matching, in this order: the VERP return path the report came back to
// (the envelope_from column of the results, or address.DecodeVERP with the
// return path send used), the original Message-ID joined to the results'
// message_id column, then the report's own recipient address
// (Final-Recipient, the complainant, the unsubscriber).
//
// Idempotence: each row it writes carries "bounces:" and the report's Key
// in the source column, and a suppress.Ledger read at start skips a report
// already applied to an address, so a re-run over the same messages adds
// nothing.
//
// bounces never prints; cmd/mailer shows its Summary. It imports address,
// campaign, feedback, mailbox and suppress, and nothing of cmd.
package bounces
