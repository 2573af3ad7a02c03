package feedback

import "testing"

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		action, status string
		want           Class
	}{
		{"failed", "5.1.1", Hard},
		{"failed", "5.1.2", Hard},
		{"failed", "5.1.10", Hard}, // RFC 7505 null MX
		{"failed", "5.1.6", Hard},
		{"failed", "5.1.7", Policy}, // the sender's address
		{"failed", "5.1.8", Policy},
		{"failed", "5.2.1", Hard},
		{"failed", "5.2.2", Soft}, // mailbox full: persistent transient
		{"failed", "5.2.3", Policy},
		{"failed", "5.3.4", Policy},
		{"failed", "5.3.2", Soft},
		{"failed", "5.4.4", Hard},
		{"failed", "5.4.7", Soft},
		{"failed", "5.5.2", Policy},
		{"failed", "5.6.1", Policy},
		{"failed", "5.7.1", Policy},
		{"failed", "5.7.26", Policy},
		{"failed", "5.0.0", Hard},
		{"failed", "4.2.0", Soft}, // expired after the queue lifetime
		{"delayed", "4.4.1", Soft},
		{"Delayed", "5.1.1", Soft}, // still queued, whatever the status
		{"delivered", "2.0.0", None},
		{"relayed", "2.0.0", None},
		{"expanded", "2.0.0", None},
		{"failed", "", None},
		{"failed", "5.1", None},
		{"failed", "6.1.1", None},
		{"failed", "5.1.1000", None},
		{"", "4.7.0", Policy},
		{"failed", "4.7.28", Policy}, // a rate limit that outlived the queue
		{"delayed", "4.7.1", Policy},
	} {
		if got := Classify(tc.action, tc.status); got != tc.want {
			t.Errorf("Classify(%q, %q) = %q, want %q", tc.action, tc.status, got, tc.want)
		}
	}
}
