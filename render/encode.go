package render

import (
	"bytes"
)

// appendContent writes the MIME fields and the text and/or html body of a
// message without attachments straight into buf, in one pass: the same
// bytes as writeContent (go-message's writer chain, still used inside
// multipart/mixed), which TestAppendContentMatches and FuzzAppendContent
// hold as the oracle. Everything written is charged to bud.
func appendContent(buf *bytes.Buffer, bud *budget, id string, text, html []byte) error {
	if text != nil && html != nil {
		bd := boundary(id, "")
		if err := put(buf, bud, "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"", bd, "\"\r\n\r\n--", bd, "\r\n"); err != nil {
			return err
		}
		if err := appendPart(buf, bud, "text/plain", text); err != nil {
			return err
		}
		if err := put(buf, bud, "\r\n--", bd, "\r\n"); err != nil {
			return err
		}
		if err := appendPart(buf, bud, "text/html", html); err != nil {
			return err
		}
		return put(buf, bud, "\r\n--", bd, "--\r\n")
	}
	ct, body := "text/plain", text
	if html != nil {
		ct, body = "text/html", html
	}
	if err := put(buf, bud, "MIME-Version: 1.0\r\n"); err != nil {
		return err
	}
	return appendPart(buf, bud, ct, body)
}

// appendPart writes Content-Type and Content-Transfer-Encoding, the blank
// line and the encoded body. It writes 7bit while it scans the body for
// what transferEncoding looks for, and starts over with quoted-printable
// at the first line that needs it.
func appendPart(buf *bytes.Buffer, bud *budget, ct string, body []byte) error {
	start := buf.Len()
	head := len("Content-Type: ; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n") + len(ct)
	n := bytes.Count(body, []byte("\n"))
	buf.Grow(head + len(body) + n)
	buf.WriteString("Content-Type: ")
	buf.WriteString(ct)
	buf.WriteString("; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
	if out, ok := append7bit(buf.AvailableBuffer(), body); ok {
		if err := bud.take(head + len(out)); err != nil {
			buf.Truncate(start)
			return err
		}
		buf.Write(out) // out is buf's own free space: nothing moves
		return nil
	}
	buf.Truncate(start)
	if err := put(buf, bud, "Content-Type: ", ct, "; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"); err != nil {
		return err
	}
	buf.Grow(len(body) + len(body)/4 + 128) // most text needs little encoding
	out, ok := appendQP(buf.AvailableBuffer(), body, bud.left)
	if !ok || bud.take(len(out)) != nil {
		bud.left = -1
		return &TooLargeError{bud.limit}
	}
	buf.Write(out)
	return nil
}

// qpLiteral are the bytes quoted-printable writes as they are (a space or
// tab at the end of a line aside); the others become =XX, but for line ends.
var qpLiteral = func() (t [256]bool) {
	for c := '!'; c <= '~'; c++ {
		t[c] = c != '='
	}
	t[' '], t['\t'] = true, true
	return t
}()

// appendQP appends body encoded as mime/quotedprintable's Writer encodes it
// in one Write and a Close (text mode: CR, LF and CRLF are line breaks),
// byte for byte (FuzzAppendQP), without its per-line writes. It reports
// false as soon as the output passes left octets.
func appendQP(dst, body []byte, left int64) ([]byte, bool) {
	const max = 76
	start := len(dst)
	line := len(dst) // where the current output line starts
	cr := false
	encode := func(b byte) {
		if max-1-(len(dst)-line) < 3 {
			dst = append(dst, '=', '\r', '\n')
			line = len(dst)
		}
		dst = append(dst, '=', upperhex[b>>4], upperhex[b&0x0f])
	}
	// lastSpace encodes a space or tab that ends a line.
	lastSpace := func() {
		if n := len(dst); n > line && (dst[n-1] == ' ' || dst[n-1] == '\t') {
			b := dst[n-1]
			dst = dst[:n-1]
			encode(b)
		}
	}
	for i := 0; i < len(body); i++ {
		b := body[i]
		switch {
		case qpLiteral[b]:
			// A run of literal bytes up to the soft line break.
			j := i + 1
			room := max - 1 - (len(dst) - line)
			if room == 0 {
				dst = append(dst, '=', '\r', '\n')
				line = len(dst)
				room = max - 1
			}
			for j < len(body) && j-i < room && qpLiteral[body[j]] {
				j++
			}
			dst = append(dst, body[i:j]...)
			i = j - 1
			cr = false
		case b == '\n' || b == '\r':
			if cr && b == '\n' {
				cr = false
				continue
			}
			cr = b == '\r'
			lastSpace()
			dst = append(dst, '\r', '\n')
			line = len(dst)
			if int64(len(dst)-start) > left {
				return dst, false
			}
		default:
			encode(b)
		}
	}
	lastSpace()
	return dst, int64(len(dst)-start) <= left
}

const upperhex = "0123456789ABCDEF"

// append7bit appends body with CRLF line ends to dst, or reports false
// when a line is longer than 76 octets or holds a byte that is not ASCII,
// a NUL or a CR (transferEncoding's rules).
func append7bit(dst, body []byte) ([]byte, bool) {
	for {
		line := body
		i := bytes.IndexByte(body, '\n')
		if i >= 0 {
			line = body[:i]
		}
		if len(line) > 76 || !plainLine(line) {
			return dst, false
		}
		dst = append(dst, line...)
		if i < 0 {
			return dst, true
		}
		dst = append(dst, '\r', '\n')
		body = body[i+1:]
	}
}

// put writes the concatenation of ss, charged to bud.
func put(buf *bytes.Buffer, bud *budget, ss ...string) error {
	n := 0
	for _, s := range ss {
		n += len(s)
	}
	if err := bud.take(n); err != nil {
		return err
	}
	for _, s := range ss {
		buf.WriteString(s)
	}
	return nil
}
