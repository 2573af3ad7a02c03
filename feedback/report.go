package feedback

// Kind is what a message turned out to be.
type Kind string

// The kinds of Report. KindAutoReply and KindNotRecognised are both "not
// recognised" for the caller: neither says anything about an address.
const (
	KindDSN           Kind = "dsn"
	KindComplaint     Kind = "complaint"
	KindUnsubscribe   Kind = "unsubscribe"
	KindAutoReply     Kind = "auto-reply"
	KindNotRecognised Kind = "not-recognised"
)

// Recognised reports whether k says something about a recipient.
func (k Kind) Recognised() bool { return k == KindDSN || k == KindComplaint || k == KindUnsubscribe }

// Format names where a Report's facts came from, for the summary and for
// debugging a report that was read wrong.
type Format string

// The formats Parse understands.
const (
	FormatRFC3464   Format = "rfc3464"    // multipart/report; report-type=delivery-status
	FormatARF       Format = "arf"        // multipart/report; report-type=feedback-report
	FormatExim      Format = "exim"       // Exim's plain-text bounce
	FormatQmail     Format = "qmail"      // qmail-send's plain-text bounce
	FormatExchange  Format = "exchange"   // Microsoft 365 / Exchange NDR text
	FormatGmail     Format = "gmail"      // Gmail's plain-text Delivery Status Notification
	FormatSendmail  Format = "sendmail"   // Sendmail's plain-text transcript
	FormatYahoo     Format = "yahoo"      // Yahoo's plain-text Failure Notice
	FormatMailto    Format = "mailto"     // a message to the unsubscribe mailto address
	FormatAutoReply Format = "auto-reply" // an auto-reply, vacation notice
	FormatUnknown   Format = ""           // nothing recognised
)

// Report is what one message says.
type Report struct {
	Kind   Kind
	Format Format

	// Key identifies the report for idempotence: "mid:" and the report's own
	// Message-ID (without angle brackets), or "sha256:" and the hex SHA-256
	// of the raw message when it has none. Re-reading the same message gives
	// the same Key.
	Key string

	// MessageID, From, Subject are the report's own header fields
	// (MessageID without angle brackets, From as the bare address).
	MessageID string
	From      string
	Subject   string

	// Envelope lists the addresses the report was delivered to, from its
	// own Delivered-To, X-Original-To, To and Return-Path fields in that
	// order, without duplicates: the VERP address, where there is one, is
	// among them (Delivered-To holds it after a local delivery even when To
	// is a plain list address).
	Envelope []string

	// ReportingMTA is the DSN's Reporting-MTA (without its "dns;" type), or
	// the feedback report's Reporting-MTA / User-Agent.
	ReportingMTA string

	// FeedbackType is the RFC 5965 Feedback-Type ("abuse", "fraud", ...) of
	// a complaint.
	FeedbackType string

	// Original is what the report says about the message it is about (the
	// returned message or its headers, or a feedback report's fields).
	Original Original

	// Recipients has one entry per recipient the report is about: each
	// per-recipient group of a DSN, the complained-about recipient, the
	// address that asked to unsubscribe. Empty for KindAutoReply and
	// KindNotRecognised.
	Recipients []Recipient

	// Why says, for KindNotRecognised and KindAutoReply, what the message lacked or
	// showed (for a summary line, never parsed by code).
	Why string
}

// Original is the message a report is about.
type Original struct {
	// MessageID is its Message-ID without angle brackets: the key into the
	// message_id column of a campaign's results.
	MessageID string
	// To holds the addresses of its To field.
	To []string
	// ReturnPath is its Return-Path (the VERP address when the receiver
	// added the field before returning it), MailFrom a feedback report's
	// Original-Mail-From.
	ReturnPath string
	MailFrom   string
	Subject    string
}

// Address sources, for Recipient.AddressFrom.
const (
	FromFinalRecipient    = "final-recipient"
	FromOriginalRecipient = "original-recipient"
	FromReturnedTo        = "returned-to"      // the To of the returned message
	FromOriginalRcptTo    = "original-rcpt-to" // a feedback report's Original-Rcpt-To
	FromText              = "text"             // the text of a non-standard bounce
	FromSender            = "from"             // the From of an unsubscribe request
)

// Recipient is what a report says about one address.
type Recipient struct {
	// Address is the recipient the entry is about, taken from AddressFrom.
	Address     string
	AddressFrom string

	// FinalRecipient and OriginalRecipient are the DSN fields without their
	// address type ("rfc822;").
	FinalRecipient    string
	OriginalRecipient string

	// Action is the DSN Action lower-cased (failed, delayed, delivered,
	// relayed, expanded); empty outside DSNs.
	Action string
	// Status is the RFC 3463 enhanced status ("5.1.1"); for a non-standard
	// bounce that gave only a basic reply code it is derived from it
	// ("550" gives "5.0.0").
	Status string
	// Code is the SMTP reply code found in the Diagnostic-Code or text, 0
	// when there is none.
	Code int
	// Diagnostic is the Diagnostic-Code without its "smtp;" type (or the
	// text's reply line), unfolded onto one line.
	Diagnostic string
	// RemoteMTA is the Remote-MTA without its "dns;" type.
	RemoteMTA string

	// Class is what the list should do about the address.
	Class Class
}
