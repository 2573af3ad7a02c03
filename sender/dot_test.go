package sender

import (
	"bufio"
	"bytes"
	"net/textproto"
	"testing"
)

// textprotoDotted is what go-smtp's DataCommand puts on the wire for body:
// net/textproto's DotWriter, written and closed.
func textprotoDotted(t testing.TB, body []byte) []byte {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	w := textproto.NewWriter(bw).DotWriter()
	if _, err := w.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

var dotCases = []string{
	"", ".", "\r\n", "\n", "\r", "a", "a\r\n", ".a\r\n.b\r\n..c\r\n", "a\r\n.\r\n", "a\nb\n.c\n",
	"a\r\r\nb", "a\rb\r\n", "x\r\n\r\n.", "Subject: hi\r\n\r\nhello\r\n", "\r\n.", ".\r\n.\r\n.",
}

func TestAppendDottedMatchesTextproto(t *testing.T) {
	for _, c := range dotCases {
		want := textprotoDotted(t, []byte(c))
		got := appendDotted([]byte("MAIL FROM:<a>\r\n"), []byte(c))
		if !bytes.Equal(got[len("MAIL FROM:<a>\r\n"):], want) {
			t.Errorf("%q: got %q, want %q", c, got, want)
		}
	}
}

// FuzzAppendDotted holds appendDotted to textproto's DotWriter: the same
// bytes on the wire for any body.
func FuzzAppendDotted(f *testing.F) {
	for _, c := range dotCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		want := textprotoDotted(t, body)
		if got := appendDotted(nil, body); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %q, want %q", body, got, want)
		}
	})
}

func BenchmarkAppendDotted(b *testing.B) {
	body := bytes.Repeat([]byte("Line of the digest for someone: lorem ipsum dolor sit.\r\n"), 75)
	var buf []byte
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		buf = appendDotted(buf[:0], body)
	}
}

func BenchmarkTextprotoDotWriter(b *testing.B) {
	body := bytes.Repeat([]byte("Line of the digest for someone: lorem ipsum dolor sit.\r\n"), 75)
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	tw := textproto.NewWriter(bw)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		out.Reset()
		w := tw.DotWriter()
		w.Write(body)
		w.Close()
	}
}
