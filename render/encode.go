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
// line and the encoded body.
func appendPart(buf *bytes.Buffer, bud *budget, ct string, body []byte) error {
	cte := transferEncoding(body)
	if err := put(buf, bud, "Content-Type: ", ct, "; charset=utf-8\r\nContent-Transfer-Encoding: ", cte, "\r\n\r\n"); err != nil {
		return err
	}
	if cte == "quoted-printable" {
		w := quotedprintable.NewWriter(capWriter{buf, bud})
		if _, err := w.Write(body); err != nil {
			return err
		}
		return w.Close()
	}
	// 7bit: ASCII lines of at most 76 octets without CR, so the only
	// change is LF to CRLF.
	n := bytes.Count(body, []byte("\n"))
	if err := bud.take(len(body) + n); err != nil {
		return err
	}
	buf.Grow(len(body) + n)
	for {
		i := bytes.IndexByte(body, '\n')
		if i < 0 {
			buf.Write(body)
			return nil
		}
		buf.Write(body[:i])
		buf.WriteString("\r\n")
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
