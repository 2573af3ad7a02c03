package bounces

import (
	"github.com/mailer-dev/mailer/feedback"
	"github.com/mailer-dev/mailer/suppress"
)

// MaxItems is how many unmatched, unrecognised and policy items a Summary
// lists; the counts go on.
const MaxItems = 20

// Summary counts what a run read and did.
type Summary struct {
	Read          int                   `json:"read"`           // messages read
	Kinds         map[feedback.Kind]int `json:"recognised"`     // recognised messages by kind
	NotRecognised int                   `json:"not_recognised"` // left alone
	AutoReplies   int                   `json:"auto_replies"`   // left alone too
	// Matched and NotMatched count report entries (a DSN may name several
	// recipients); By says how each match was made.
	Matched        int            `json:"matched"`
	By             map[string]int `json:"matched_by"`
	NotMatched     int            `json:"not_matched"`
	AlreadyApplied int            `json:"already_applied"` // by an earlier run
	// Suppressed counts suppression rows written, by reason; SoftCounted
	// the soft bounces counted below the threshold.
	Suppressed  map[suppress.Reason]int `json:"suppressed"`
	SoftCounted int                     `json:"soft_counted"`
	Policy      int                     `json:"policy"`    // the sender's problem: nothing suppressed
	NoAction    int                     `json:"no_action"` // delivered, relayed: nothing to do
	ResultsRows int                     `json:"results_rows"`
	Marked      int                     `json:"marked"` // messages marked processed in their source

	Unmatched    []Item `json:"unmatched,omitempty"`
	Unrecognised []Item `json:"unrecognised,omitempty"`
	PolicyItems  []Item `json:"policy_items,omitempty"`
}

// Item is one message or entry a Summary lists.
type Item struct {
	Message string `json:"message"`
	Kind    string `json:"kind,omitempty"`
	Address string `json:"address,omitempty"`
	Code    string `json:"code,omitempty"`
	Why     string `json:"why,omitempty"`
}

func newSummary() *Summary {
	return &Summary{Kinds: map[feedback.Kind]int{}, By: map[string]int{}, Suppressed: map[suppress.Reason]int{}}
}

func (s *Summary) note(list *[]Item, it Item) {
	if len(*list) < MaxItems {
		*list = append(*list, it)
	}
}
