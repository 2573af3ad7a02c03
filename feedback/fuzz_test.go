package feedback

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: no input panics Parse or makes it return an error (there is no
// size limit hit here), and every Report has a key.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eml")
	more, _ := filepath.Glob("testdata/postfix/*.eml")
	for _, p := range append(files, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\n\r\n\r\nAction: failed\r\n--x--"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		rep, err := Parse(bytes.NewReader(raw), Options{UnsubscribeMailto: testMailto})
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if rep.Key == "" {
			t.Fatal("empty key")
		}
		if !rep.Kind.Recognised() && len(rep.Recipients) != 0 {
			t.Fatalf("kind %q with recipients", rep.Kind)
		}
	})
}
