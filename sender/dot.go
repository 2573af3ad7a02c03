package sender

import "bytes"

// appendDotted appends body as the DATA content of RFC 5321 section 4.5.2
// (dot-stuffed, CRLF line ends) followed by the final ".\r\n", producing
// the same bytes as net/textproto's DotWriter given body and closed (the
// fuzz test holds it to that). A rendered message has CRLF line ends
// already, so the common case is a copy with a '.' put before each line
// that starts with one: a bytes.Index pass over "\n.", not the byte at a
// time state machine of DotWriter. Any other input (a bare CR or LF) goes
// the slow way, byte by byte, with DotWriter's rules.
func appendDotted(dst, body []byte) []byte {
	start := len(dst)
	if out, ok := appendDottedCRLF(dst, body); ok {
		return out
	}
	return appendDottedSlow(dst[:start], body)
}

// appendDottedCRLF is the fast path: it reports false, with dst in any
// state, when body has a CR or LF that is not part of a CRLF.
func appendDottedCRLF(dst, body []byte) ([]byte, bool) {
	if len(body) == 0 {
		return append(dst, "\r\n.\r\n"...), true
	}
	if body[0] == '.' {
		dst = append(dst, '.')
	}
	lines, from := 0, 0 // CRLFs seen; body[from:] is not copied yet
	for {
		i := bytes.IndexByte(body[from:], '\n')
		if i < 0 {
			break
		}
		lf := from + i
		if lf == 0 || body[lf-1] != '\r' {
			return dst, false // a bare LF
		}
		lines++
		dst = append(dst, body[from:lf+1]...)
		if lf+1 < len(body) && body[lf+1] == '.' {
			dst = append(dst, '.')
		}
		from = lf + 1
	}
	if bytes.Count(body, []byte{'\r'}) != lines {
		return dst, false // a bare CR
	}
	dst = append(dst, body[from:]...)
	if from < len(body) { // no line end at the end: DotWriter adds one
		dst = append(dst, '\r', '\n')
	}
	return append(dst, ".\r\n"...), true
}

// appendDottedSlow is net/textproto's dotWriter, Write and Close, over a
// byte slice.
func appendDottedSlow(dst, body []byte) []byte {
	const (
		begin = iota
		beginLine
		cr
		data
	)
	state := begin
	for _, c := range body {
		switch state {
		case begin, beginLine:
			state = data
			if c == '.' {
				dst = append(dst, '.')
			}
			fallthrough
		case data:
			switch c {
			case '\r':
				state = cr
			case '\n':
				dst = append(dst, '\r')
				state = beginLine
			}
		case cr:
			state = data
			if c == '\n' {
				state = beginLine
			}
		}
		dst = append(dst, c)
	}
	switch state {
	case beginLine:
	case cr:
		dst = append(dst, '\n')
	default:
		dst = append(dst, '\r', '\n')
	}
	return append(dst, ".\r\n"...)
}
