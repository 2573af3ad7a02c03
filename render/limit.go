package render

import (
	"fmt"
	htmltemplate "html/template"
	"io"
	"strings"
	"text/template"
)

// DefaultMaxMessageBytes caps one rendered message when
// Options.MaxMessageBytes is zero: 25 MB, what Gmail and Microsoft 365
// accept. (Postfix's default message_size_limit is 10240000 bytes.)
const DefaultMaxMessageBytes = 25_000_000

// TooLargeError is a message, or a part of one, that passes the size limit
// for one message. Template execution stops as soon as its output does, so
// a template cannot grow without bound.
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("passes the %s limit for one message", sizeString(e.Limit))
}

// capWriter writes to w while the shared budget lasts, then fails, so
// that text/template and html/template abort the execution.
type capWriter struct {
	w io.Writer
	b *budget
}

func (c capWriter) Write(p []byte) (int, error) {
	if err := c.b.take(len(p)); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// limitFuncs replaces the functions that can make a string longer than
// their arguments (in a loop, without bound) by ones that refuse to pass
// limit: replace, join and the builtins print, printf, println, html, js and
// urlquery. A template may redefine builtins; these behave the same below
// the limit.
func limitFuncs(fm template.FuncMap, limit int64) {
	tooLarge := &TooLargeError{limit}
	check := func(s string) (string, error) {
		if int64(len(s)) > limit {
			return "", tooLarge
		}
		return s, nil
	}
	fm["replace"] = func(old, repl, s string) (string, error) {
		if n := int64(strings.Count(s, old)); int64(len(s))+n*(int64(len(repl))-int64(len(old))) > limit {
			return "", tooLarge
		}
		return strings.ReplaceAll(s, old, repl), nil
	}
	fm["join"] = func(sep string, s []string) (string, error) {
		n := int64(len(sep)) * int64(max(len(s)-1, 0))
		for _, e := range s {
			n += int64(len(e))
		}
		if n > limit {
			return "", tooLarge
		}
		return strings.Join(s, sep), nil
	}
	fm["print"] = func(args ...any) (string, error) { return check(fmt.Sprint(args...)) }
	fm["printf"] = func(format string, args ...any) (string, error) { return check(fmt.Sprintf(format, args...)) }
	fm["println"] = func(args ...any) (string, error) { return check(fmt.Sprintln(args...)) }
	fm["html"] = func(args ...any) (string, error) { return check(template.HTMLEscaper(args...)) }
	fm["js"] = func(args ...any) (string, error) { return check(template.JSEscaper(args...)) }
	fm["urlquery"] = func(args ...any) (string, error) { return check(template.URLQueryEscaper(args...)) }
}

// htmlFuncs is fm for html/template, which keeps its own html and
// urlquery escapers (it treats those names specially).
func htmlFuncs(fm template.FuncMap) htmltemplate.FuncMap {
	out := htmltemplate.FuncMap{}
	for k, v := range fm {
		if k != "html" && k != "urlquery" {
			out[k] = v
		}
	}
	return out
}
