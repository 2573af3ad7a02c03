package mailbox

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Maildir reads a Maildir's new/ messages, then those in cur/ not yet
// flagged S (seen). Mark moves a new/ message to cur/ with the info ":2,S"
// and adds S to the flags of a cur/ one, both by rename(2), which is what
// Maildir readers expect (https://cr.yp.to/proto/maildir.html): a re-run
// sees neither again. Messages are never deleted.
type Maildir struct {
	dir   string
	names []string // "new/NAME" or "cur/NAME"
	max   int64
}

// OpenMaildir lists the messages of the Maildir dir.
func OpenMaildir(dir string, max int64) (*Maildir, error) {
	if max <= 0 {
		max = DefaultMaxSize
	}
	md := &Maildir{dir: dir, max: max}
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			return nil, fmt.Errorf("maildir %s: %w", dir, err)
		}
		var names []string
		for _, e := range ents {
			n := e.Name()
			if !e.Type().IsRegular() || strings.HasPrefix(n, ".") {
				continue
			}
			if sub == "cur" && hasFlag(n, 'S') {
				continue
			}
			names = append(names, sub+"/"+n)
		}
		sort.Strings(names)
		md.names = append(md.names, names...)
	}
	return md, nil
}

// hasFlag reports whether a cur/ name's info ("unique:2,FLAGS") holds f.
func hasFlag(name string, f byte) bool {
	i := strings.LastIndex(name, ":2,")
	return i >= 0 && strings.IndexByte(name[i+3:], f) >= 0
}

func (md *Maildir) Next(ctx context.Context) (*Message, error) {
	for len(md.names) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := md.names[0]
		md.names = md.names[1:]
		p := filepath.Join(md.dir, n)
		b, err := readFile(p, md.max)
		if os.IsNotExist(err) {
			continue // taken by another reader meanwhile
		}
		if err != nil {
			return nil, err
		}
		return &Message{ID: p, Raw: b, ref: n}, nil
	}
	return nil, io.EOF
}

// Mark flags m seen, see Maildir.
func (md *Maildir) Mark(_ context.Context, m *Message) error {
	n, ok := m.ref.(string)
	if !ok {
		return fmt.Errorf("%s: not a message of this maildir", m.ID)
	}
	dir, base := filepath.Split(n)
	var dst string
	switch dir {
	case "new/":
		// new/ names carry no info; one that does is cut at the colon.
		if i := strings.IndexByte(base, ':'); i >= 0 {
			base = base[:i]
		}
		dst = "cur/" + base + ":2,S"
	default:
		if hasFlag(base, 'S') {
			return nil
		}
		i := strings.LastIndex(base, ":2,")
		if i < 0 {
			dst = "cur/" + base + ":2,S"
		} else {
			flags := []byte(base[i+3:] + "S")
			sort.Slice(flags, func(a, b int) bool { return flags[a] < flags[b] })
			dst = "cur/" + base[:i+3] + string(flags)
		}
	}
	if err := os.Rename(filepath.Join(md.dir, n), filepath.Join(md.dir, dst)); err != nil {
		return fmt.Errorf("mark %s: %w", m.ID, err)
	}
	return nil
}

func (md *Maildir) Close() error { return nil }
