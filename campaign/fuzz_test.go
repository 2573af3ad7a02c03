package campaign

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzScanList: any bytes as a list give rows or a DataError, never a panic,
// and a DataError names the file.
func FuzzScanList(f *testing.F) {
	f.Add([]byte("email,name\na@example.com,A\n"))
	f.Add([]byte("\ufeffemail\n\"a@example.com\"\n"))
	f.Add([]byte("email,x\na@b.c,\"unterminated\n"))
	f.Add([]byte("email\n\xff\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "l.csv")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		info, err := ScanList(p, "email", "")
		if err != nil {
			if !strings.Contains(err.Error(), "l.csv") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		if info.Rows < 0 || len(info.Fingerprint) != 64 {
			t.Errorf("info %+v", info)
		}
	})
}
