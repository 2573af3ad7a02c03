package safetext

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"250 2.0.0 OK: queued", "250 2.0.0 OK: queued"},
		{"chloé.durand@exämple.net, 日本", "chloé.durand@exämple.net, 日本"},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"bell\a back\b nul\x00 del\x7f", `bell\x07 back\x08 nul\x00 del\x7f`},
		{"a\r\nb\tc", `a\r\nb\tc`},
		{"c1 \u009b2J csi", `c1 \u009b2J csi`},
		{"\u0080\u009f", `\u0080\u009f`},
		{"bidi \u202eevil\u202c \u2066x\u2069", `bidi \u202eevil\u202c \u2066x\u2069`},
		{"sep\u2028line\u2029", `sep\u2028line\u2029`},
		{"bad \x9b utf8 \xff", `bad \x9b utf8 \xff`},
		{`already \x1b escaped`, `already \x1b escaped`},
	} {
		got := String(c.in)
		if got != c.want {
			t.Errorf("String(%q) = %q, want %q", c.in, got, c.want)
		}
		if again := String(got); again != got {
			t.Errorf("String not idempotent on %q: %q", got, again)
		}
		if Safe(c.in) != (c.in == c.want) {
			t.Errorf("Safe(%q) = %v", c.in, Safe(c.in))
		}
	}
}

// FuzzString: whatever the input, the output has no control character, no
// bidi override, is valid UTF-8 and stays the same when escaped again.
func FuzzString(f *testing.F) {
	f.Add("\x1b]0;title\a\u202e\x9b")
	f.Fuzz(func(t *testing.T, s string) {
		out := String(s)
		if !Safe(out) {
			t.Fatalf("String(%q) = %q is not safe", s, out)
		}
		if String(out) != out {
			t.Fatalf("not idempotent: %q", out)
		}
		if strings.ContainsAny(out, "\x1b\r\n\u009b\u202e") {
			t.Fatalf("String(%q) = %q", s, out)
		}
	})
}
