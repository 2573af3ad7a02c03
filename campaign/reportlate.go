package campaign

import (
	"fmt"

	"github.com/mailer-dev/mailer/suppress"
)

// Thresholds above which mailbox providers punish a sender; the README
// gives the source of each.
const (
	// ComplaintRateWarn: Gmail's bulk sender guidelines ask to keep the
	// spam rate reported in Postmaster Tools below 0.1%...
	ComplaintRateWarn = 0.001
	// ComplaintRateLimit: ...and never to reach 0.3%.
	ComplaintRateLimit = 0.003
	// HardBounceRateWarn: hard bounces over 2% of the messages sent mark a
	// list that is old or bought.
	HardBounceRateWarn = 0.02
)

// LateOutcomes is what came back after the relays' verdicts (appended by
// the bounce reader), with the rates receivers judge a sender by.
type LateOutcomes struct {
	Bounces      int `json:"bounces"`           // late hard bounces (DSNs)
	SoftLimit    int `json:"soft_bounce_limit"` // soft bounces that reached the threshold
	Complaints   int `json:"complaints"`
	Unsubscribes int `json:"unsubscribes"`
	// HardBounces is recipients whose outcome is a hard bounce: the relay's
	// 5.1.x refusals and the late ones. The rates are fractions of Sent.
	HardBounces    int      `json:"hard_bounces"`
	HardBounceRate float64  `json:"hard_bounce_rate"`
	ComplaintRate  float64  `json:"complaint_rate"`
	Warnings       []string `json:"warnings,omitempty"`
}

// lateTally counts the late outcomes of the rows that are outcomes.
type lateTally struct{ l LateOutcomes }

func (t *lateTally) add(r *Record) {
	switch {
	case r.Status == Bounced && r.Reason == ReasonLateBounce && !r.legacy:
		t.l.Bounces++
		t.l.HardBounces++
	case r.Status == Bounced && r.Reason == ReasonSoftLimit && !r.legacy:
		t.l.SoftLimit++
	case r.Status == Bounced:
		if _, hard := suppress.ForBounce(r.EnhancedCode); hard {
			t.l.HardBounces++
		}
	case r.Status == Complained:
		t.l.Complaints++
	case r.Status == Unsubscribed:
		t.l.Unsubscribes++
	}
}

// finish computes the rates over sent and the warnings.
func (t *lateTally) finish(sent int) *LateOutcomes {
	l := t.l
	l.HardBounceRate = ratio(l.HardBounces, sent)
	l.ComplaintRate = ratio(l.Complaints, sent)
	switch {
	case l.ComplaintRate >= ComplaintRateLimit:
		l.Warnings = append(l.Warnings, fmt.Sprintf("complaint rate %.2f%% reaches the %.1f%% at which Gmail stops delivering bulk mail: stop and find out why", 100*l.ComplaintRate, 100*ComplaintRateLimit))
	case l.ComplaintRate > ComplaintRateWarn:
		l.Warnings = append(l.Warnings, fmt.Sprintf("complaint rate %.2f%% is over the %.1f%% Gmail asks bulk senders to stay under", 100*l.ComplaintRate, 100*ComplaintRateWarn))
	}
	if l.HardBounceRate > HardBounceRateWarn {
		l.Warnings = append(l.Warnings, fmt.Sprintf("hard bounce rate %.1f%% is over %.0f%%: receivers and relays take it for an old or bought list", 100*l.HardBounceRate, 100*HardBounceRateWarn))
	}
	return &l
}
