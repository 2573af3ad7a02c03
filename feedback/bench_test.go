package feedback

import (
	"bytes"
	"os"
	"testing"
)

func BenchmarkParsePostfix(b *testing.B) {
	raw, err := os.ReadFile("testdata/postfix/hard-5.1.1.eml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(bytes.NewReader(raw), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
