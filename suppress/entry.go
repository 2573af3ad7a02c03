package suppress

import (
	"strings"
	"time"

	"github.com/mailer-dev/mailer/address"
)

// Reason says why an address is suppressed. It is a code that programs
// act on, not text for people (that is Entry.Diagnostic).
type Reason string

// The reasons mailer writes; a file may hold others, which read back as
// they are.
const (
	Unsubscribe Reason = "unsubscribe" // the recipient asked (List-Unsubscribe, a link)
	HardBounce  Reason = "hard-bounce" // the mailbox does not exist (5.1.x)
	SoftBounce  Reason = "soft-bounce" // one temporary failure: counted, does not suppress (see Suppresses)
	Complaint   Reason = "complaint"   // marked as spam (a feedback report)
	Manual      Reason = "manual"      // put on the list by a person

	// SoftBounceLimit is the soft bounce that reached the threshold
	// (so many within a window): from it on the address is suppressed.
	SoftBounceLimit Reason = "soft-bounce-limit"
)

// Suppresses reports whether a row with this reason keeps its address from
// being mailed. Every reason does, the empty one and those of other tools
// included, except SoftBounce: a soft-bounce row is a count that the
// bounce reader keeps in the file so it persists between runs; only the
// SoftBounceLimit row it writes at the threshold suppresses.
func (r Reason) Suppresses() bool { return r != SoftBounce }

// Entry is one line of a suppression list.
type Entry struct {
	Email      string    // the address as it was written; compared by Key
	Code       string    // RFC 3463 enhanced status code, when a reply led to it
	Diagnostic string    // the reply or report text, for people
	Time       time.Time // when it was suppressed; zero when the file does not say
	Reason     Reason    // "" in files that only list addresses
	Source     string    // what wrote it: "send", a campaign, a bounce mailbox
}

// Key is the address key the entry suppresses (address.Key).
func (e Entry) Key() string { return address.Key(e.Email) }

// ForBounce reports whether a permanent rejection with the enhanced code
// enhanced suppresses its recipient, and as what. Only "no such mailbox"
// codes (5.1.x, RFC 3463 section 3.2: addressing status) do: a full
// mailbox (5.2.x) may empty, and a policy refusal (5.7.x) is the sender's
// to fix, never the recipient's.
func ForBounce(enhanced string) (Reason, bool) {
	if enhanced == "5.1.7" || enhanced == "5.1.8" {
		return "", false // the sender's address, not the recipient's
	}
	if strings.HasPrefix(enhanced, "5.1.") {
		return HardBounce, true
	}
	return "", false
}
