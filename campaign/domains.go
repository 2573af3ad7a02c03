package campaign

import (
	"context"
	"io"

	"github.com/mailer-dev/mailer/address"
)

// ProblemDomain: Invalid: DNS says the recipient's domain takes no mail
// (Options.DomainVerdict).
const ProblemDomain Problem = "recipient domain takes no mail"

// DomainVerdict says whether rows whose address is at domain (A-labels,
// lower case) must not be sent, and the reason recorded for them. The
// planner asks it for every row it would send; it must be safe for
// concurrent use.
type DomainVerdict func(domain string) (invalid bool, reason string)

// ListDomains streams the list and calls fn with the domain (A-labels,
// lower case), the address and the line of every row whose address is
// valid, in list order: the pre-pass of a DNS check, which keeps only the
// distinct domains.
func ListDomains(ctx context.Context, list, emailColumn, nameColumn string, fn func(domain, email string, line int)) error {
	if emailColumn == "" {
		emailColumn = "email"
	}
	lr, err := openList(list, emailColumn, nameColumn, nil)
	if err != nil {
		return err
	}
	defer lr.close()
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		r, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if lr.emailAt >= len(r.fields) || r.cut || len(r.fields[lr.emailAt]) > MaxFieldBytes {
			continue
		}
		a, err := address.Parse(r.fields[lr.emailAt])
		if err != nil {
			continue
		}
		fn(address.Domain(a.Wire), a.Wire, r.line)
	}
}

// domainGroup is check's group for a row at a domain that takes no mail:
// the reason names the domain, so rows group by domain. Past
// maxDomainGroups the rest share one group, so memory stays flat.
func (gs groups) domainGroup(reason string) *Group {
	if gs[reason] == nil && len(gs) >= maxDomainGroups {
		reason = otherDomains
	}
	return gs.get(reason)
}

const (
	maxDomainGroups = 50
	otherDomains    = "other rows at domains that take no mail"
)
