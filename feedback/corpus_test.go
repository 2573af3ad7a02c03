package feedback

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rcpt is the golden expectation for one Recipient.
type rcpt struct {
	addr, from, action, status string
	code                       int
	class                      Class
}

const testMailto = "mailto:unsubscribe@acme.example?subject=unsubscribe"

// corpus holds the golden expectations for every file under testdata:
// typed from the RFC examples and what each server is documented to send,
// and (testdata/postfix) written by a real Postfix through gen.sh.
var corpus = []struct {
	file     string
	kind     Kind
	format   Format
	key      string // "" for the sha256 fallback
	envelope string // one expected entry of Envelope
	origID   string
	rcpts    []rcpt
}{
	{"postfix/hard-5.1.1.eml", KindDSN, FormatRFC3464, "mid:", "bounces+ann=bounce.test@origin.test", "hard1@origin.test",
		[]rcpt{{"ann@bounce.test", FromFinalRecipient, "failed", "5.1.1", 550, Hard}}},
	{"postfix/multi-recipient.eml", KindDSN, FormatRFC3464, "mid:", "news@origin.test", "multi1@origin.test",
		[]rcpt{
			{"bob@bounce.test", FromFinalRecipient, "failed", "5.1.1", 550, Hard},
			{"full@bounce.test", FromFinalRecipient, "failed", "5.2.2", 552, Soft},
			{"spam@bounce.test", FromFinalRecipient, "failed", "5.7.1", 554, Policy},
		}},
	{"postfix/eightbit.eml", KindDSN, FormatRFC3464, "mid:", "bounces+ann=bounce.test@origin.test", "eightbit1@origin.test",
		[]rcpt{{"ann@bounce.test", FromFinalRecipient, "failed", "5.1.1", 550, Hard}}},
	{"postfix/headers-only.eml", KindDSN, FormatRFC3464, "mid:", "bounces+ann=bounce.test@origin.test", "big1@origin.test",
		[]rcpt{{"ann@bounce.test", FromFinalRecipient, "failed", "5.1.1", 550, Hard}}},
	{"postfix/delayed.eml", KindDSN, FormatRFC3464, "mid:", "bounces+later=bounce.test@origin.test", "later1@origin.test",
		[]rcpt{{"later@bounce.test", FromFinalRecipient, "delayed", "4.2.0", 451, Soft}}},
	{"postfix/expired.eml", KindDSN, FormatRFC3464, "mid:", "bounces+later=bounce.test@origin.test", "later1@origin.test",
		[]rcpt{{"later@bounce.test", FromFinalRecipient, "failed", "4.2.0", 451, Soft}}},

	{"exim.eml", KindDSN, FormatRFC3464, "mid:E1vAbCd-0001Xy-2Q@mx.acme.example", "bounces+carol=example.net@acme.example", "exim1@acme.example",
		[]rcpt{{"carol@example.net", FromFinalRecipient, "failed", "5.1.1", 550, Hard}}},
	{"exim-text.eml", KindDSN, FormatExim, "mid:E1KXyZ0-0003aB-Cd@mx.acme.example", "bounces+dave=example.org@acme.example", "eximtext1@acme.example",
		[]rcpt{{"dave@example.org", FromText, "", "5.1.1", 550, Hard}}},
	{"qmail.eml", KindDSN, FormatQmail, "", "bounces+erin=example.com@acme.example", "qmail1@acme.example",
		[]rcpt{{"erin@example.com", FromText, "", "5.1.1", 550, Hard}}},
	{"sendmail.eml", KindDSN, FormatRFC3464, "mid:202603021008.622A80aa012345@relay.example.edu", "bounces+frank=example.edu@acme.example", "sendmail1@acme.example",
		[]rcpt{{"frank@example.edu", FromOriginalRecipient, "failed", "5.1.1", 550, Hard}}},
	{"no-recipient-fields.eml", KindDSN, FormatRFC3464, "mid:norcpt1@mx.example.net", "bounces@acme.example", "norcpt-orig@acme.example",
		[]rcpt{{"grace@example.net", FromReturnedTo, "failed", "5.1.1", 550, Hard}}},
	{"exchange-text-base64.eml", KindDSN, FormatExchange, "mid:m365ndr1@AM0PR01MB1234.eurprd01.prod.exchangelabs.com", "bounces+heidi=contoso.example@acme.example", "m365text1@acme.example",
		[]rcpt{{"heidi@contoso.example", FromText, "", "5.1.10", 550, Hard}}},
	{"m365-dsn.eml", KindDSN, FormatRFC3464, "mid:4c6d5e7f-m365dsn@DB8PR01MB5678.eurprd01.prod.outlook.com", "bounces+ivan=fabrikam.example@acme.example", "m365dsn-orig@acme.example",
		[]rcpt{{"ivan@fabrikam.example", FromFinalRecipient, "failed", "5.1.10", 550, Hard}}},
	{"gmail-dsn-base64.eml", KindDSN, FormatRFC3464, "mid:65e2fa14.gmaildsn1@mx.google.com", "bounces+judy=example.com@acme.example", "gmaildsn-orig@acme.example",
		[]rcpt{{"judy@example.com", FromFinalRecipient, "failed", "5.1.1", 550, Hard}}},
	{"gmail-text.eml", KindDSN, FormatGmail, "mid:gmailtext1@mx.google.com", "bounces+ken=example.com@acme.example", "gmailtext-orig@acme.example",
		[]rcpt{{"ken@example.com", FromText, "", "5.1.1", 550, Hard}}},
	{"yahoo-text.eml", KindDSN, FormatYahoo, "mid:yahoofail1@mta1234.mail.bf1.yahoo.example", "bounces+lee=yahoo.example@acme.example", "yahootext-orig@acme.example",
		[]rcpt{{"lee@yahoo.example", FromText, "", "5.0.0", 554, Hard}}},
	{"yahoo-arf.eml", KindComplaint, FormatARF, "mid:yahooarf1@arf.mail.yahoo.example", "fbl@acme.example", "yahooarf-orig@acme.example",
		[]rcpt{{"mia@yahoo.example", FromOriginalRcptTo, "", "", 0, Complaint}}},
	{"arf-redacted.eml", KindComplaint, FormatARF, "mid:arfredacted1@isp.example", "fbl@acme.example", "arfredacted-orig@acme.example",
		[]rcpt{{"redacted@isp.example", FromReturnedTo, "", "", 0, Complaint}}},
	{"arf-not-spam.eml", KindNotRecognised, FormatUnknown, "mid:arfnotspam1@isp.example", "fbl@acme.example", "", nil},
	{"autoreply-vacation.eml", KindAutoReply, FormatAutoReply, "mid:oof1@example.com", "bounces+pat=example.com@acme.example", "", nil},
	{"autoreply-header.eml", KindAutoReply, FormatAutoReply, "mid:autoreply2@example.com", "news@acme.example", "", nil},
	{"unsubscribe.eml", KindUnsubscribe, FormatMailto, "mid:unsub1@example.com", "unsubscribe@acme.example", "",
		[]rcpt{{"Rita@Example.com", FromSender, "", "", 0, Unsubscribe}}},
	{"unsubscribe-no-subject.eml", KindNotRecognised, FormatUnknown, "mid:unsub2@example.com", "unsubscribe@acme.example", "", nil},
	{"human-reply.eml", KindNotRecognised, FormatUnknown, "mid:reply1@example.com", "news@acme.example", "", nil},
	{"mdn.eml", KindNotRecognised, FormatUnknown, "mid:mdn1@example.com", "news@acme.example", "", nil},
}

func TestCorpus(t *testing.T) {
	for _, tc := range corpus {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rep, err := Parse(f, Options{UnsubscribeMailto: testMailto})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkReport(t, rep, tc.kind, tc.format, tc.key, tc.envelope, tc.origID, tc.rcpts)
		})
	}
}

func checkReport(t *testing.T, rep *Report, kind Kind, format Format, key, env, origID string, rcpts []rcpt) {
	t.Helper()
	if rep.Kind != kind || rep.Format != format {
		t.Fatalf("kind, format = %q, %q, want %q, %q (why: %s)", rep.Kind, rep.Format, kind, format, rep.Why)
	}
	switch {
	case key == "":
		if !strings.HasPrefix(rep.Key, "sha256:") || len(rep.Key) != len("sha256:")+64 {
			t.Errorf("Key = %q, want the sha256 fallback", rep.Key)
		}
	case key == "mid:":
		if !strings.HasPrefix(rep.Key, "mid:") || rep.Key != "mid:"+rep.MessageID || rep.MessageID == "" {
			t.Errorf("Key = %q, MessageID %q, want mid: and the Message-ID", rep.Key, rep.MessageID)
		}
	case rep.Key != key:
		t.Errorf("Key = %q, want %q", rep.Key, key)
	}
	found := false
	for _, e := range rep.Envelope {
		found = found || e == env
	}
	if !found {
		t.Errorf("Envelope = %q, want it to hold %q", rep.Envelope, env)
	}
	if rep.Original.MessageID != origID {
		t.Errorf("Original.MessageID = %q, want %q", rep.Original.MessageID, origID)
	}
	if len(rep.Recipients) != len(rcpts) {
		t.Fatalf("got %d recipients %+v, want %d", len(rep.Recipients), rep.Recipients, len(rcpts))
	}
	for i, w := range rcpts {
		g := rep.Recipients[i]
		got := rcpt{g.Address, g.AddressFrom, g.Action, g.Status, g.Code, g.Class}
		if got != w {
			t.Errorf("recipient %d = %+v, want %+v (diagnostic %q)", i, got, w, g.Diagnostic)
		}
		if w.status != "" && g.Diagnostic == "" {
			t.Errorf("recipient %d: empty Diagnostic", i)
		}
	}
}

// TestCorpusComplete keeps the table and testdata in step: every .eml has
// an expectation.
func TestCorpusComplete(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.eml")
	more, _ := filepath.Glob("testdata/postfix/*.eml")
	files = append(files, more...)
	want := map[string]bool{}
	for _, tc := range corpus {
		want[tc.file] = true
	}
	for _, f := range files {
		rel, _ := filepath.Rel("testdata", f)
		if !want[filepath.ToSlash(rel)] {
			t.Errorf("%s has no expectation in corpus", f)
		}
	}
}
