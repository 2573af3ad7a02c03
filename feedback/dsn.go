package feedback

import (
	"bufio"
	"bytes"
	"regexp"
	"strconv"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// parseDSN reads an RFC 3464 report: the message/delivery-status part is a
// per-message header block, then one block per recipient, separated by blank
// lines (RFC 3464 2.1); each is read with textproto.ReadHeader.
func parseDSN(rep *Report, rp *part) bool {
	var status *part
	for _, c := range rp.children {
		if c.ct == "message/delivery-status" || c.ct == "message/global-delivery-status" {
			status = c
			break
		}
	}
	if status == nil {
		return false
	}
	orig, _ := returned(rp)
	rep.Original = orig

	br := bufio.NewReader(bytes.NewReader(status.body))
	for i := 0; i < maxGroups; i++ {
		// ReadHeader at the end of its input returns an empty header and no
		// error, again and again: without this the loop ran maxGroups times
		// for every DSN (0.5 MB of garbage and most of the parse time).
		if _, err := br.Peek(1); err != nil {
			break
		}
		h, err := textproto.ReadHeader(br)
		if h.Len() > 0 {
			if isRecipientGroup(h) {
				rep.Recipients = append(rep.Recipients, dsnRecipient(h))
			} else if v := h.Get("Reporting-Mta"); v != "" && rep.ReportingMTA == "" {
				rep.ReportingMTA = typed(v)
			}
		}
		if err != nil {
			break
		}
	}
	if len(rep.Recipients) == 0 {
		return false
	}
	// RFC 3464 2.3.1 makes Final-Recipient required, yet some MTAs leave it
	// out; fall back to Original-Recipient (in dsnRecipient) and then to the
	// returned message's To, only when that names exactly one address.
	for i := range rep.Recipients {
		r := &rep.Recipients[i]
		if r.Address == "" && len(orig.To) == 1 && len(rep.Recipients) == 1 {
			r.Address, r.AddressFrom = orig.To[0], FromReturnedTo
		}
	}
	rep.Kind, rep.Format = KindDSN, FormatRFC3464
	return true
}

func isRecipientGroup(h textproto.Header) bool {
	return h.Has("Final-Recipient") || h.Has("Original-Recipient") || h.Has("Action") || h.Has("Status")
}

func dsnRecipient(h textproto.Header) Recipient {
	r := Recipient{
		FinalRecipient:    bareOr(typed(h.Get("Final-Recipient"))),
		OriginalRecipient: bareOr(typed(h.Get("Original-Recipient"))),
		Action:            strings.ToLower(strings.TrimSpace(h.Get("Action"))),
		Diagnostic:        typed(h.Get("Diagnostic-Code")),
		RemoteMTA:         typed(h.Get("Remote-Mta")),
	}
	switch {
	case r.FinalRecipient != "":
		r.Address, r.AddressFrom = r.FinalRecipient, FromFinalRecipient
	case r.OriginalRecipient != "":
		r.Address, r.AddressFrom = r.OriginalRecipient, FromOriginalRecipient
	}
	code, enh := replyCode(r.Diagnostic)
	r.Code = code
	r.Status = leadingStatus(h.Get("Status"))
	// "5.0.0" says only the class (MTAs write it when they do not map the
	// reply): the receiver's own enhanced code of the same class in the
	// diagnostic says more, and a 5.7.1 spam refusal must read as policy.
	if r.Status == "" || enh != "" && enh[0] == r.Status[0] && strings.HasSuffix(r.Status, ".0.0") {
		r.Status = enh
	}
	if r.Status == "" && code != 0 {
		r.Status = strconv.Itoa(code/100) + ".0.0"
	}
	r.Class = Classify(r.Action, r.Status)
	return r
}

// bareOr returns v as an address when it is one, else v unchanged (a
// Final-Recipient of type x400 or utf-8 is kept as written).
func bareOr(v string) string {
	if a := bareAddress(v); a != "" {
		return a
	}
	return v
}

var (
	statusRe = regexp.MustCompile(`^\s*([245]\.\d{1,3}\.\d{1,3})\b`)
	// replyRe finds an SMTP reply code at the start of a diagnostic, or after
	// the words MTAs put before it, with an optional enhanced code.
	replyRe = regexp.MustCompile(`(?:^|[\s'"(:<>#])([245]\d\d)(?:[ -]+#?([245]\.\d{1,3}\.\d{1,3}))?(?:[\s'";:,.)]|$)`)
	pairRe  = regexp.MustCompile(`(?:^|[\s'"(:<>#])([45]\d\d)[ -]+#?([45]\.\d{1,3}\.\d{1,3})(?:[\s'";:,.)]|$)`)
	enhRe   = regexp.MustCompile(`(?:^|[\s'"(:#\[])([45]\.\d{1,3}\.\d{1,3})(?:[\s'";:,.)\]]|$)`)
)

func leadingStatus(s string) string {
	if m := statusRe.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// replyCode returns the SMTP reply code that starts a diagnostic ("550 5.1.1
// ..." gives 550, "5.1.1"), or an enhanced code found in it.
func replyCode(diag string) (int, string) {
	d := strings.TrimSpace(diag)
	if m := replyRe.FindStringSubmatchIndex(d); m != nil && m[0] <= 1 {
		code, _ := strconv.Atoi(d[m[2]:m[3]])
		enh := ""
		if m[4] >= 0 {
			enh = d[m[4]:m[5]]
		}
		if enh == "" {
			if e := enhRe.FindStringSubmatch(d); e != nil {
				enh = e[1]
			}
		}
		return code, enh
	}
	// "host mx.example [192.0.2.1]: 550 5.1.1 ...": a basic code followed by
	// an enhanced one of the same class is a reply wherever it stands.
	if m := pairRe.FindStringSubmatch(d); m != nil && m[1][0] == m[2][0] {
		code, _ := strconv.Atoi(m[1])
		return code, m[2]
	}
	if e := enhRe.FindStringSubmatch(d); e != nil {
		return 0, e[1]
	}
	return 0, ""
}
