package main

import (
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/mailer-dev/mailer/internal/safetext"
)

// ui is the one place messages to people are printed (stderr): as
// "mailer: ..." lines, or with --log-format json as one JSON object per
// line for log collectors. stdout carries results only. Messages often quote
// a relay or a list, so control characters are escaped (safetext) before
// they reach a terminal or a log.
type ui struct {
	mu   sync.Mutex
	w    io.Writer
	json *slog.Logger // nil for text
}

func newUI(w io.Writer) *ui { return &ui{w: w} }

// setFormat switches between "text" and "json".
func (u *ui) setFormat(format string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch format {
	case "", "text":
		u.json = nil
	case "json":
		u.json = slog.New(slog.NewJSONHandler(u.w, nil))
	default:
		return &usageError{msg: fmt.Sprintf("--log-format %q: want text or json", format)}
	}
	return nil
}

func (u *ui) isJSON() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.json != nil
}

// info prints msg; attrs (key, value pairs) go only into JSON logs, so msg
// must say everything a person needs.
func (u *ui) info(msg string, attrs ...any) { u.log(slog.LevelInfo, "", msg, attrs...) }

func (u *ui) errorf(msg string, attrs ...any) { u.log(slog.LevelError, "error: ", msg, attrs...) }

func (u *ui) warn(msg string, attrs ...any) { u.log(slog.LevelWarn, "warning: ", msg, attrs...) }

func (u *ui) hint(msg string) { u.log(slog.LevelInfo, "hint: ", msg, "kind", "hint") }

func (u *ui) log(level slog.Level, prefix, msg string, attrs ...any) {
	msg = safetext.String(msg)
	for i, a := range attrs {
		if s, ok := a.(string); ok {
			attrs[i] = safetext.String(s)
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.json != nil {
		u.json.Log(nil, level, msg, attrs...)
		return
	}
	fmt.Fprintf(u.w, "mailer: %s%s\n", prefix, msg)
}
