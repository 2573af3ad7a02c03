package campaign

import (
	"context"
	"os"
	"testing"
)

// BenchmarkCheck checks a 100,000-row list with the bundled newsletter.
func BenchmarkCheck(b *testing.B) {
	src, err := os.ReadFile("../examples/newsletter.tmpl")
	if err != nil {
		b.Fatal(err)
	}
	list := genList(b, b.TempDir(), 100_000)
	tm := testTemplate(b, string(src))
	for b.Loop() {
		rep, err := Check(context.Background(), CheckOptions{PrepareOptions: PrepareOptions{ListOptions: ListOptions{List: list, Template: tm}}})
		if err != nil || rep.Ready != 100_000 {
			b.Fatal(err, rep)
		}
	}
}
