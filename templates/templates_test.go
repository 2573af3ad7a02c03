package templates

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/mailer-dev/mailer/render"
)

// Every built-in template must parse and render for a row that has only an
// address: their fields all have defaults.
func TestBuiltinsRender(t *testing.T) {
	names := Names()
	if len(names) < 2 {
		t.Fatalf("built-in templates: %v", names)
	}
	for _, n := range names {
		src, ok := Lookup(n)
		if !ok {
			t.Fatalf("Lookup(%q) failed", n)
		}
		tm, err := render.Parse(n, src, render.Options{Now: time.Now, MessageID: func(string) string { return "x" }})
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		var buf bytes.Buffer
		m, err := tm.Render(&buf, render.Recipient{Address: "ann@example.com", Fields: map[string]string{}})
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if strings.Contains(string(m.Data), "<no value>") {
			t.Errorf("%s renders <no value>", n)
		}
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup of an unknown name succeeded")
	}
}
