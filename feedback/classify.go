package feedback

import (
	"strconv"
	"strings"
)

// Class says what a list should do about an address a report names.
type Class string

// The classes. Only Hard, Complaint and Unsubscribe suppress at once; Soft
// counts towards a threshold; Policy and None never touch the recipient.
const (
	// Hard: the address itself is permanently unusable (RFC 3463 X.1.x
	// address status, X.2.1 mailbox disabled, X.4.4 unroutable domain).
	Hard Class = "hard"
	// Soft: a transient failure (4.x.x, Action: delayed) or a persistent
	// transient one reported as permanent (5.2.2 mailbox full, 5.3.x
	// receiving system trouble, 5.4.x network trouble other than 5.4.4).
	Soft Class = "soft"
	// Policy: the receiver refused the sender or the message, not the
	// address (5.7.x security/policy, 5.1.7/5.1.8 the sender's address,
	// 5.6.x content, 5.2.3/5.3.4 size, 5.5.x protocol). Fixable by the
	// sender; suppressing would silently shrink the list.
	Policy Class = "policy"
	// Complaint: the recipient reported the message as spam.
	Complaint Class = "complaint"
	// Unsubscribe: the recipient asked to be taken off the list.
	Unsubscribe Class = "unsubscribe"
	// None: the entry reports no failure (delivered, relayed, expanded, a
	// 2.x.x status) or no usable status.
	None Class = "none"
)

// Classify maps a DSN's Action and RFC 3463 Status to a Class.
//
// Decisions beyond the plain reading of RFC 3463:
//   - Action "delayed" is Soft whatever its status (RFC 3464 2.3.3: the
//     message is still queued).
//   - 5.2.2 (mailbox full) is Soft: RFC 3463 3.3 calls it persistent
//     transient, and mailboxes are emptied.
//   - 5.4.4 (unable to route) is Hard: Postfix and Exim use it when the
//     domain has no MX and no address (NXDOMAIN), and a temporary DNS
//     failure is 4.4.3; 5.1.10 (RFC 7505 null MX) is Hard as all X.1.x.
//   - 5.1.7 and 5.1.8 are about the sender's address: Policy.
//   - 5.0.0 (no detail, or derived from a bare 550 in a text bounce) is Hard:
//     RFC 5321 4.2.3 gives 550 as "mailbox unavailable".
//   - A failed action with a 4.x.x status (the queue lifetime ran out) is
//     Soft: the address never said it does not exist.
//   - 4.7.x, delayed or failed, is Policy like 5.7.x: a receiver's rate
//     limit or reputation deferral (Gmail's 4.7.28, say) is the sender's to
//     fix, and counting it toward the soft limit would shrink the list for it.
func Classify(action, status string) Class {
	action = strings.ToLower(strings.TrimSpace(action))
	class, subject, detail, ok := splitStatus(status)
	switch action {
	case "delivered", "relayed", "expanded":
		return None
	case "delayed":
		if ok && class == 4 && subject == 7 {
			return Policy
		}
		return Soft
	}
	if !ok {
		return None
	}
	switch class {
	case 2:
		return None
	case 4:
		if subject == 7 {
			return Policy
		}
		return Soft
	}
	// class 5
	switch subject {
	case 0:
		return Hard
	case 1:
		if detail == 7 || detail == 8 {
			return Policy
		}
		return Hard
	case 2:
		switch detail {
		case 2:
			return Soft
		case 3:
			return Policy
		}
		return Hard
	case 3:
		if detail == 4 {
			return Policy
		}
		return Soft
	case 4:
		if detail == 4 {
			return Hard
		}
		return Soft
	case 5, 6, 7:
		return Policy
	}
	return Policy
}

// splitStatus parses "class.subject.detail" (RFC 3463 2: class 2, 4 or 5,
// subject and detail 1 to 3 digits).
func splitStatus(s string) (class, subject, detail int, ok bool) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 3 {
		return 0, 0, 0, false
	}
	var n [3]int
	for i, p := range parts {
		if p == "" || len(p) > 3 {
			return 0, 0, 0, false
		}
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return 0, 0, 0, false
		}
		n[i] = v
	}
	if n[0] != 2 && n[0] != 4 && n[0] != 5 {
		return 0, 0, 0, false
	}
	return n[0], n[1], n[2], true
}
