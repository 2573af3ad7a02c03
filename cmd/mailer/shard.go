package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/mailer-dev/mailer/campaign"
	"github.com/mailer-dev/mailer/sender"
	"golang.org/x/time/rate"
)

// campaignNameRE is what --campaign takes: it goes into every Message-ID
// (a dot-atom, RFC 5322 section 3.2.3) and into the results' fingerprint
// column, where fields are split by spaces.
var campaignNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func checkCampaignName(name string) error {
	if name != "" && !campaignNameRE.MatchString(name) {
		return &usageError{msg: fmt.Sprintf("--campaign %q: want letters, digits, '.', '_' and '-', at most 64, starting with a letter or digit", name)}
	}
	return nil
}

// share is a shard's part of the campaign's totals: --rate, --burst,
// --concurrency, --domain-limit and --quota are for the whole campaign, and each of
// N shards takes 1/N of them. Rates divide exactly; counts (connections,
// burst, a domain's connections) round down but never below 1, so with
// more shards than connections the fleet opens N, not fewer than one each.
type share struct {
	n int // shards; 1 when not sharded
}

func (s share) rate(r rate.Limit) rate.Limit {
	if r == 0 || r == rate.Inf {
		return r
	}
	return r / rate.Limit(s.n)
}

func (s share) count(c int) int {
	if c <= 0 {
		return c // 0: no cap
	}
	return max(1, c/s.n)
}

func (s share) domain(dl sender.DomainLimit) sender.DomainLimit {
	return sender.DomainLimit{MaxConns: s.count(dl.MaxConns), Rate: s.rate(dl.Rate)}
}

// shareOf is the share of the shard in o (the whole when not sharded).
func shareOf(sh campaign.Shard) share {
	return share{n: max(1, sh.N)}
}

// shareNote is what --print-config adds to a total's line under --shard.
func shareNote(o *SendOptions, name string) string {
	sh, err := campaign.ParseShard(o.Shard)
	if err != nil || sh.N == 0 {
		return ""
	}
	s := shareOf(sh)
	switch name {
	case "rate":
		r, err := sender.ParseRate(o.Rate)
		if err != nil || r == 0 {
			return ""
		}
		return fmt.Sprintf("; campaign total, shard %s takes %s", sh, formatRate(s.rate(r)))
	case "concurrency":
		return fmt.Sprintf("; campaign total, shard %s takes %d", sh, s.count(o.Concurrency))
	case "quota":
		q, err := sender.ParseQuota(o.Quota)
		if err != nil || q == 0 {
			return ""
		}
		return fmt.Sprintf("; campaign total, shard %s takes %d/day", sh, s.count(q))
	case "burst":
		return fmt.Sprintf("; campaign total, shard %s takes %d", sh, s.count(o.Burst))
	case "domain-limit":
		var parts []string
		for _, spec := range o.DomainLimits {
			d, dl, err := sender.ParseDomainLimit(spec)
			if err != nil {
				return ""
			}
			dl = s.domain(dl)
			p := fmt.Sprintf("%s=%d", d, dl.MaxConns)
			if dl.Rate > 0 {
				p += "," + formatRate(dl.Rate)
			}
			parts = append(parts, p)
		}
		if len(parts) == 0 {
			return ""
		}
		return fmt.Sprintf("; campaign totals, shard %s takes %s", sh, strings.Join(parts, " "))
	}
	return ""
}

func formatRate(r rate.Limit) string {
	return fmt.Sprintf("%.6g/s", float64(r))
}
