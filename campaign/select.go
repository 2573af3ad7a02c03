package campaign

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/mailer-dev/mailer/address"
)

// Selection chooses rows of the list for preview.
type Selection struct {
	// Lines are rows by the line of the list they start on, as check and
	// the results CSV's line column number them (line 2 is the first row).
	Lines []int
	// Emails are rows by address, compared normalised (as duplicates are).
	Emails []string
	// Limit, with no Lines or Emails, takes the first Limit rows that would
	// be sent [1].
	Limit int
}

// NotFoundError names selected rows that the list does not have.
type NotFoundError struct {
	List    string
	Missing []string // "line 99", "x@example.com"
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s has no row at %s", e.List, strings.Join(e.Missing, ", "))
}

// Select calls fn, in list order, with the verdict on each chosen row,
// made by Prepare exactly as a dry run would make it. Rows chosen by
// line or address are given whatever their verdict; with Limit, rows that
// would not be sent are passed over and counted in passed.
func Select(ctx context.Context, o PrepareOptions, sel Selection, fn func(*Verdict) error) (passed int, err error) {
	o.Concurrency = 1 // list order
	lines := map[int]bool{}
	for _, l := range sel.Lines {
		lines[l] = false
	}
	emails := map[string]bool{}
	for _, e := range sel.Emails {
		emails[address.Key(e)] = false
	}
	byRow := len(lines)+len(emails) > 0
	if sel.Limit < 1 {
		sel.Limit = 1
	}
	taken := 0
	err = Prepare(ctx, o, func(v *Verdict) error {
		if !byRow {
			if v.Status != "" {
				passed++
				return nil
			}
			taken++
			if err := fn(v); err != nil {
				return err
			}
			if taken >= sel.Limit {
				return ErrStop
			}
			return nil
		}
		_, byLine := lines[v.Line]
		k := address.Key(v.Email)
		_, byEmail := emails[k]
		if !byLine && !byEmail {
			return nil
		}
		if byLine {
			lines[v.Line] = true
		}
		if byEmail {
			emails[k] = true
		}
		if err := fn(v); err != nil {
			return err
		}
		if len(emails) == 0 && allFound(lines) {
			return ErrStop // addresses may repeat further down; lines do not
		}
		return nil
	})
	if err != nil {
		return passed, err
	}
	var missing []string
	for l, found := range lines {
		if !found {
			missing = append(missing, fmt.Sprintf("line %d", l))
		}
	}
	sort.Strings(missing)
	var me []string
	for _, e := range sel.Emails {
		if !emails[address.Key(e)] {
			me = append(me, e)
		}
	}
	if missing = append(missing, me...); len(missing) > 0 {
		return passed, &NotFoundError{List: o.List, Missing: missing}
	}
	return passed, nil
}

func allFound(m map[int]bool) bool {
	for _, found := range m {
		if !found {
			return false
		}
	}
	return true
}
