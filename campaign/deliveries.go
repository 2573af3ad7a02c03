package campaign

import (
	"time"

	"github.com/mailer-dev/mailer/address"
)

// DeliveredRow is a recipient whose message reached its mailbox: its outcome
// is delivered, or a late complaint or unsubscribe (which only a delivered
// message can have).
type DeliveredRow struct {
	Email string
	// File is the results file the delivered row is in; Campaign is the
	// campaign name its fingerprint records ("" when send had none).
	File     string
	Campaign string
	// Time is when the relay accepted the message (zero if the row has no time).
	Time time.Time
}

// Deliveries reads results files as BuildReports does (a later row of a
// recipient replaces an earlier one) and returns the delivered
// recipients, in the order of their delivered rows.
func Deliveries(paths []string) ([]DeliveredRow, error) {
	type state struct {
		d      DeliveredRow
		status Status
		seen   bool // a delivered row was read
	}
	byKey := map[digest]*state{}
	var order []*state
	for _, path := range paths {
		err := readResults(path, func(r *Record) error {
			k := outcomeKey(r)
			st := byKey[k]
			if st == nil {
				st = &state{}
				byKey[k] = st
				order = append(order, st)
			}
			st.status = r.Status
			if r.Status == Delivered || !st.seen {
				t, _ := time.Parse(time.RFC3339, r.Time)
				st.d = DeliveredRow{Email: r.Email, File: path, Campaign: fingerprintField(r.Fingerprint, "campaign"), Time: t}
				st.seen = r.Status == Delivered
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	var out []DeliveredRow
	for _, st := range order {
		switch st.status {
		case Delivered, Complained, Unsubscribed:
			if address.Key(st.d.Email) != "" {
				out = append(out, st.d)
			}
		}
	}
	return out, nil
}
