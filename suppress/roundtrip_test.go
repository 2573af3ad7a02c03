package suppress

import (
	"path/filepath"
	"testing"

	"github.com/mailer-dev/mailer/address"
)

// TestAppendedAddressSuppresses: every address a Writer appends is
// suppressed when the file is loaded back, including addresses that start
// like a spreadsheet formula (-, +, =, @ and ' are valid in a local part).
func TestAppendedAddressSuppresses(t *testing.T) {
	for _, email := range []string{"gone@example.com", "-gone@example.com", "+gone@example.com", "=gone@example.com", "'gone@example.com"} {
		path := filepath.Join(t.TempDir(), "s.csv")
		w, err := OpenWriter(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Append(Entry{Email: email, Reason: HardBounce, Code: "5.1.1"}); err != nil {
			t.Fatal(err)
		}
		w.Close()
		set, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if set.File(address.Key(email)) == "" {
			t.Errorf("%s was appended but is not suppressed on reading", email)
		}
	}
}
