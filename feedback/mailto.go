package feedback

import (
	"strings"

	"github.com/emersion/go-message"
)

// autoReply says why a message is an automatic reply, or "" when it is not
// one: RFC 3834 Auto-Submitted (any value but "no"), the X-Autoreply and
// X-Autorespond fields of vacation programs, Precedence: auto_reply, and
// the subjects of out-of-office notices. Bounces carry Auto-Submitted too,
// so this runs after the bounce parsers.
func autoReply(h message.Header, subject string) string {
	if v := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); v != "" && v != "no" {
		return "Auto-Submitted: " + v
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Autoresponder"} {
		if h.Has(k) {
			return k
		}
	}
	if p := strings.ToLower(strings.TrimSpace(h.Get("Precedence"))); p == "auto_reply" {
		return "Precedence: " + p
	}
	s := strings.ToLower(subject)
	for _, p := range []string{"out of office", "out of the office", "automatic reply", "auto:", "autoreply", "auto-reply", "auto reply", "vacation", "abwesenheitsnotiz", "réponse automatique"} {
		if strings.Contains(s, p) {
			return "subject " + `"` + subject + `"`
		}
	}
	return ""
}

// parseUnsubscribe reads a message delivered to the unsubscribe mailto
// address as an unsubscribe of its From (RFC 2369 3.2: the client sends a
// message to the mailto URL from the subscriber's address). The From is
// taken as it is: a forged From can unsubscribe someone else, which is the
// nature of mailto unsubscribes and harmless compared to mailing the
// unwilling.
func parseUnsubscribe(rep *Report, mailto, subject string) bool {
	to := false
	for _, a := range rep.Envelope {
		if strings.EqualFold(a, mailto) {
			to = true
			break
		}
	}
	if !to {
		return false
	}
	if subject != "" && !strings.Contains(strings.ToLower(rep.Subject), strings.ToLower(subject)) {
		rep.Why = "to the unsubscribe address without " + `"` + subject + `"` + " in the subject"
		return false
	}
	if rep.From == "" || strings.EqualFold(rep.From, mailto) {
		rep.Why = "to the unsubscribe address without a From address"
		return false
	}
	if l := strings.ToLower(rep.From); strings.HasPrefix(l, "mailer-daemon@") || strings.HasPrefix(l, "postmaster@") {
		rep.Why = "to the unsubscribe address from " + rep.From
		return false
	}
	rep.Kind, rep.Format = KindUnsubscribe, FormatMailto
	rep.Recipients = []Recipient{{Address: rep.From, AddressFrom: FromSender, Class: Unsubscribe}}
	return true
}
