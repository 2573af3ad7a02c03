package render

import (
	"bytes"
	"mime/quotedprintable"
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
	w := quotedprintable.NewWriter(capWriter{buf, bud})
	if _, err := w.Write(body); err != nil {
		return err
	}
	return w.Close()
}

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
