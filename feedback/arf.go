package feedback

import (
	"bufio"
	"bytes"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// complaintTypes are the RFC 5965 3.1 / RFC 6650 Feedback-Types that mean the
// recipient did not want the message. "not-spam" and "auth-failure" (RFC 6591
// DMARC failure reports) say nothing against the recipient.
var complaintTypes = map[string]bool{"abuse": true, "fraud": true, "virus": true, "other": true}

// parseARF reads an RFC 5965 feedback report: the message/feedback-report
// part's fields (Feedback-Type, Original-Rcpt-To, Original-Mail-From, ...)
// and the returned message or its headers, which many providers redact
// except for Message-ID.
func parseARF(rep *Report, rp *part) {
	var fr *part
	for _, c := range rp.children {
		if c.ct == "message/feedback-report" {
			fr = c
			break
		}
	}
	if fr == nil {
		rep.Why = "feedback report without a message/feedback-report part"
		return
	}
	h, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(fr.body)))
	ft := strings.ToLower(strings.TrimSpace(h.Get("Feedback-Type")))
	rep.FeedbackType = ft
	if !complaintTypes[ft] {
		rep.Why = "feedback report of type " + quoteOr(ft, "(none)")
		return
	}
	rep.ReportingMTA = typed(h.Get("Reporting-Mta"))
	if rep.ReportingMTA == "" {
		rep.ReportingMTA = unfold(h.Get("User-Agent"))
	}
	orig, _ := returned(rp)
	orig.MailFrom = bareOr(typed(h.Get("Original-Mail-From")))
	if orig.MessageID == "" {
		// Not an RFC 5965 field, but some providers send it when they redact
		// the returned message.
		orig.MessageID = strings.Trim(strings.TrimSpace(h.Get("Original-Message-Id")), "<>")
	}
	rep.Original = orig
	rep.Kind, rep.Format = KindComplaint, FormatARF

	for _, v := range h.Values("Original-Rcpt-To") {
		if a := bareAddress(typed(decodeWord(v))); a != "" {
			rep.Recipients = append(rep.Recipients, Recipient{Address: a, AddressFrom: FromOriginalRcptTo, Class: Complaint})
		}
	}
	if len(rep.Recipients) == 0 {
		r := Recipient{Class: Complaint}
		if len(orig.To) == 1 {
			r.Address, r.AddressFrom = orig.To[0], FromReturnedTo
		}
		// Address may stay empty (redacted): the caller matches by the
		// VERP envelope or the original Message-ID.
		rep.Recipients = append(rep.Recipients, r)
	}
}

func quoteOr(s, empty string) string {
	if s == "" {
		return empty
	}
	return `"` + s + `"`
}
