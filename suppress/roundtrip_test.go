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

// TestLastLineWithoutNewline: a suppression file written by a person or a
// spreadsheet (Google Sheets exports, editors that add no final newline)
// may end without a newline. Its last address is suppressed all the same,
// and an Append keeps it.
func TestLastLineWithoutNewline(t *testing.T) {
	path := write(t, "s.csv", "email,reason\nbob@example.com,manual\nann@example.com,manual")
	set, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if set.File("ann@example.com") == "" {
		t.Error("the last address of a file without a final newline is not suppressed")
	}
	w, err := OpenWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Append(Entry{Email: "cy@example.com", Reason: Unsubscribe}); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range readAll(t, path) {
		got[e.Email] = true
	}
	if !got["ann@example.com"] || !got["bob@example.com"] || !got["cy@example.com"] {
		t.Errorf("after an Append the file holds %v: an address a person wrote was cut", got)
	}
}
