package campaign

import (
	"encoding/csv"
	"os"
	"time"
)

// timeLayout is the results CSV's time column: RFC 3339 in UTC with
// milliseconds, which per-second rate checks need.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// bounceWriter appends hard bounces to a CSV that works as a suppression
// list (its first column is email).
type bounceWriter struct {
	path string
	f    *os.File
	cw   *csv.Writer
}

func openBounces(path string) (*bounceWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, &WriteError{Path: path, Err: err}
	}
	b := &bounceWriter{path: path, f: f, cw: csv.NewWriter(f)}
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		if err := b.writeRow([]string{"email", "enhanced_code", "message", "time"}); err != nil {
			f.Close()
			return nil, err
		}
	}
	return b, nil
}

func (b *bounceWriter) add(r *Record, now time.Time) error {
	return b.writeRow([]string{r.Email, r.EnhancedCode, neutralise(r.Message), now.UTC().Format(timeLayout)})
}

func (b *bounceWriter) writeRow(row []string) error {
	b.cw.Write(row)
	b.cw.Flush()
	if err := b.cw.Error(); err != nil {
		return &WriteError{Path: b.path, Err: err}
	}
	return nil
}

func (b *bounceWriter) close() error {
	if err := b.f.Sync(); err != nil {
		b.f.Close()
		return &WriteError{Path: b.path, Err: err}
	}
	return b.f.Close()
}
