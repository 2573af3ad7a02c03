package render

import (
	"fmt"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"
)

// dateLayouts are the layouts a date field in a list is commonly written in,
// tried in order by the date function.
var dateLayouts = []string{
	time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02",
	"02/01/2006", "2 Jan 2006", "January 2, 2006",
}

// funcs returns the template functions: a small, well-known set for text,
// dates and defaults (named as in Sprig, so they read familiar). None of them
// reads the environment or the filesystem; now is the injected clock.
func funcs(now func() time.Time) template.FuncMap {
	return template.FuncMap{
		"default": func(def string, v any) any {
			if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
				return def
			}
			if v == nil {
				return def
			}
			return v
		},
		"upper":     strings.ToUpper,
		"lower":     strings.ToLower,
		"title":     title,
		"trim":      strings.TrimSpace,
		"replace":   func(old, repl, s string) string { return strings.ReplaceAll(s, old, repl) },
		"contains":  func(sub, s string) bool { return strings.Contains(s, sub) },
		"hasPrefix": func(prefix, s string) bool { return strings.HasPrefix(s, prefix) },
		"hasSuffix": func(suffix, s string) bool { return strings.HasSuffix(s, suffix) },
		"truncate":  truncate,
		"join":      func(sep string, s []string) string { return strings.Join(s, sep) },
		"split":     func(sep, s string) []string { return strings.Split(s, sep) },
		"now":       now,
		"date":      date,
	}
}

// title upper-cases the first letter of each space-separated word.
func title(s string) string {
	prev := ' '
	return strings.Map(func(r rune) rune {
		up := unicode.IsSpace(prev) || prev == '-'
		prev = r
		if up {
			return unicode.ToTitle(r)
		}
		return r
	}, s)
}

// truncate shortens s to at most n characters (not bytes), adding "…" when cut.
func truncate(n int, s string) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	if n == 1 {
		return "…"
	}
	return string(r[:n-1]) + "…"
}

// date formats v with layout. v may be a time.Time (from now) or a string in
// one of dateLayouts; a string that is no date is an error for the row, so a
// bad cell never reaches an inbox half-formatted.
func date(layout string, v any) (string, error) {
	switch t := v.(type) {
	case time.Time:
		return t.Format(layout), nil
	case string:
		s := strings.TrimSpace(t)
		for _, l := range dateLayouts {
			if p, err := time.Parse(l, s); err == nil {
				return p.Format(layout), nil
			}
		}
		return "", fmt.Errorf("date: %q is not a date (use YYYY-MM-DD or RFC 3339)", t)
	default:
		return "", fmt.Errorf("date: cannot format %T", v)
	}
}
