// Package safetext makes text from outside (relay replies, list cells,
// results files) safe to print on a terminal, in a page or in a CSV cell:
// control characters are shown as escapes instead of acting on the reader.
//
// It is the one home of that rule; it must not import anything of mailer.
package safetext

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// String returns s with every character that could act on a terminal or
// reorder text made visible: C0 controls (ESC, BEL, backspace, CR, LF, tab
// and the rest), DEL, C1 controls (U+0080-U+009F, which some terminals
// take as CSI and friends), the bidirectional embeddings, overrides and
// isolates (U+202A-U+202E, U+2066-U+2069, the "Trojan Source" characters),
// the line and paragraph separators (U+2028, U+2029), and bytes that are
// not UTF-8 (a lone 0x9b is CSI to an 8-bit terminal). Each is written as a
// Go-style escape: \n, \r, \t, \x1b, \u202e. Everything else, other
// non-ASCII text included, is kept. The result is one line, and String is
// idempotent: String(String(s)) == String(s).
func String(s string) string {
	i := firstUnsafe(s)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteString(hex2(s[i]))
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\x`)
			b.WriteString(hex2(byte(r)))
		case unsafeRune(r):
			b.WriteString(`\u`)
			h := strconv.FormatInt(int64(r), 16)
			b.WriteString(strings.Repeat("0", 4-len(h)) + h)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// Safe reports whether String would return s unchanged.
func Safe(s string) bool { return firstUnsafe(s) < 0 }

// firstUnsafe is the byte offset of the first character String escapes,
// or -1. ASCII is checked a byte at a time: the common case costs a scan.
func firstUnsafe(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || unsafeRune(r) {
			return i
		}
		i += size
	}
	return -1
}

func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f: // C1 controls
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // bidi embeddings, overrides, isolates
		return true
	case r == 0x2028 || r == 0x2029: // line and paragraph separators
		return true
	}
	return false
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&0xf]})
}
