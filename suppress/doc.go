// Package suppress is the one home of the suppression list: who must not
// be mailed again, and why. An Entry names an address (compared by
// address.Key), a Reason code, the SMTP enhanced code and diagnostic that
// led to it, its source and its time. Load reads several CSV files into a
// Set; a Writer appends to one file safely from several processes at once.
// Which outcomes suppress a recipient is decided here too (ForBounce).
//
// suppress is a leaf: it imports address and nothing else of mailer (not
// campaign, render, sender or cmd), so the bounce reader and the
// unsubscribe server can write the same file send reads.
package suppress
