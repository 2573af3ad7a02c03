package feedback

import (
	"regexp"
	"strconv"
	"strings"
)

// textFormat is a non-standard bounce: markers that only that software
// writes, found in the Subject or the first text part.
type textFormat struct {
	format  Format
	markers []string
}

var textFormats = []textFormat{
	{FormatExim, []string{"This message was created automatically by mail delivery software"}},
	{FormatQmail, []string{"This is the qmail-send program"}},
	{FormatExchange, []string{"Remote Server returned '", "Delivery has failed to these recipients or groups"}},
	{FormatGmail, []string{"Delivery Status Notification (Failure)", "Delivery Status Notification (Delay)", "** Address not found **", "** Message not delivered **", "Message not delivered"}},
	{FormatYahoo, []string{"Sorry, we were unable to deliver your message to the following address"}},
	{FormatSendmail, []string{"----- The following addresses had permanent fatal errors -----", "----- Transcript of session follows -----"}},
}

// cutMarkers start the returned message inside a text bounce; what follows
// is not the bounce's own text (its To: holds the address that bounced and
// must not be read as one).
var cutMarkers = []string{
	"------ This is a copy of the message",         // Exim
	"--- Below this line is a copy of the message", // qmail
	"Original message headers:",                    // Exchange
	"----- Original message -----",                 // Gmail
	"----- Original Message -----",
	"------ The body of the message is",
	"----- Unsent message follows -----", // Sendmail
	"----- Message header follows -----",
	"------- Returned message --------",
}

var (
	gmailRe = regexp.MustCompile(`(?i)(?:wasn't|was not|couldn't be|could not be|isn't being) delivered to (\S+@[^\s,;]+?)[.,]?(?:\s|$)`)
	midRe   = regexp.MustCompile(`(?im)^message-id:\s*<?([^<>\s]+)>?\s*$`)
	toRe    = regexp.MustCompile(`(?im)^to:\s*(.+)$`)
)

// parseText recognises the plain-text bounces of Exim, qmail, Exchange,
// Gmail and Sendmail (often these come as RFC 3464 reports, which are read
// first). A recipient is taken only where an address and a status code are
// both found in its block: an address line, then the lines up to the next
// address or blank-line-separated paragraph that holds a reply code.
func parseText(rep *Report, root *part) bool {
	text := firstText(root)
	if text == "" {
		return false
	}
	var f Format = FormatUnknown
	for _, tf := range textFormats {
		for _, m := range tf.markers {
			if strings.Contains(text, m) || strings.Contains(rep.Subject, m) {
				f = tf.format
				break
			}
		}
		if f != FormatUnknown {
			break
		}
	}
	if f == FormatUnknown {
		return false
	}
	own, returnedText := text, ""
	for _, m := range cutMarkers {
		if i := strings.Index(own, m); i >= 0 {
			own, returnedText = own[:i], own[i:]
		}
	}
	rcpts := textRecipients(own)
	if len(rcpts) == 0 {
		rep.Why = string(f) + " bounce text without an address and a status code"
		return false
	}
	orig, ok := returnedPart(root)
	if !ok && returnedText != "" {
		if m := midRe.FindStringSubmatch(returnedText); m != nil {
			orig.MessageID = m[1]
		}
		if m := toRe.FindStringSubmatch(returnedText); m != nil {
			orig.To = parseAddresses(m[1])
		}
	}
	rep.Original = orig
	rep.Recipients = rcpts
	rep.Kind, rep.Format = KindDSN, f
	return true
}

// firstText returns the first text/plain part that is not inside a
// returned message, at most 256 KiB of it.
func firstText(p *part) string {
	if len(p.children) == 0 {
		if p.ct == "text/plain" {
			b := p.body
			if len(b) > 256<<10 {
				b = b[:256<<10]
			}
			return strings.ReplaceAll(string(b), "\r\n", "\n")
		}
		return ""
	}
	for _, c := range p.children {
		if t := firstText(c); t != "" {
			return t
		}
	}
	return ""
}

// returnedPart finds a returned message attached to a text bounce (Exim and
// Exchange attach it as message/rfc822 or text/rfc822-headers).
func returnedPart(p *part) (Original, bool) {
	if o, ok := returned(p); ok {
		return o, true
	}
	for _, c := range p.children {
		if o, ok := returnedPart(c); ok {
			return o, true
		}
	}
	return Original{}, false
}

func textRecipients(text string) []Recipient {
	var out []Recipient
	index := map[string]int{}
	cur := ""
	var block []string
	flush := func() {
		if cur == "" {
			return
		}
		defer func() { cur, block = "", nil }()
		for _, l := range block {
			code, enh := lineCode(l)
			if code == 0 && enh == "" {
				continue
			}
			r := Recipient{Address: cur, AddressFrom: FromText, Code: code, Status: enh, Diagnostic: unfold(l)}
			if r.Status == "" {
				r.Status = strconv.Itoa(code/100) + ".0.0"
			}
			r.Class = Classify("", r.Status)
			k := strings.ToLower(cur)
			if _, dup := index[k]; dup {
				return
			}
			index[k] = len(out)
			out = append(out, r)
			return
		}
	}
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if a := bareAddress(t); a != "" {
			flush()
			cur = a
			continue
		}
		if m := gmailRe.FindStringSubmatch(t); m != nil {
			if a := bareAddress(m[1]); a != "" {
				flush()
				cur = a
				continue
			}
		}
		if cur != "" {
			block = append(block, t)
		}
	}
	flush()
	return out
}

// lineCode finds a reply code in one line of bounce text: at its start
// (after quoting such as "Remote host said:", "<<<", "Remote Server returned
// '"), or an enhanced code anywhere.
func lineCode(l string) (int, string) {
	for _, p := range []string{"Remote host said:", "Remote Server returned '", "<<<", "said:", "The error that the other server returned was:"} {
		if i := strings.Index(l, p); i >= 0 {
			l = strings.TrimSpace(l[i+len(p):])
		}
	}
	code, enh := replyCode(l)
	if code != 0 && code/100 == 2 {
		return 0, ""
	}
	if enh != "" && code != 0 && enh[0] != byte('0'+code/100) {
		enh = ""
	}
	return code, enh
}
