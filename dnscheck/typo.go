package dnscheck

import (
	"sort"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Providers are big mailbox providers' domains: a domain a letter or two
// away from one of them is more likely a typo than a real domain. Each is
// itself never a typo.
var Providers = []string{
	"gmail.com", "googlemail.com", "yahoo.com", "ymail.com", "rocketmail.com",
	"hotmail.com", "outlook.com", "live.com", "msn.com", "aol.com",
	"icloud.com", "me.com", "mac.com", "protonmail.com", "proton.me",
	"gmx.com", "gmx.de", "gmx.net", "web.de", "mail.com", "email.com",
	"yandex.ru", "mail.ru", "comcast.net", "verizon.net", "att.net", "sbcglobal.net",
	"yahoo.co.uk", "yahoo.fr", "yahoo.de", "hotmail.co.uk", "hotmail.fr", "hotmail.de",
	"live.co.uk", "btinternet.com", "orange.fr", "free.fr", "wanadoo.fr", "laposte.net",
	"t-online.de", "qq.com", "163.com", "naver.com", "fastmail.com", "zoho.com",
}

// Defaults for TypoOptions.
const (
	// DefaultPopularRows: a domain used by this many rows of the list is
	// checked against like a provider's.
	DefaultPopularRows = 50
	// popularRatio: a domain is taken for a typo of a popular one only if
	// the popular one has this many times its rows.
	popularRatio = 20
	// maxPopular caps the list's own popular domains compared against.
	maxPopular = 100
)

// TypoOptions configure the typo rule.
type TypoOptions struct {
	Providers   []string // [Providers]
	PopularRows int      // [DefaultPopularRows]
}

// comTypos are real top-level domains that are, in an address, almost
// always "com" mistyped.
var comTypos = map[string]bool{"co": true, "cm": true, "om": true}

type split struct {
	name, label, suffix string
	icann               bool // suffix is a real, ICANN-listed public suffix
}

// splitDomain cuts a domain into the label before its public suffix and
// the suffix: "mail.yahoo.co.uk" -> "mail.yahoo", "co.uk".
func splitDomain(d string) split {
	suf, icann := publicsuffix.PublicSuffix(d)
	label := strings.TrimSuffix(strings.TrimSuffix(d, suf), ".")
	return split{name: d, label: label, suffix: suf, icann: icann}
}

// maxLabelDistance is the edit distance from a provider's label that is
// still a typo: none for short labels (live, msn, aol: their neighbours
// are real domains), one up to seven letters, two from eight.
func maxLabelDistance(label string) int {
	switch n := len(label); {
	case n <= 4:
		return 0
	case n <= 7:
		return 1
	}
	return 2
}

// Typo reports whether domain d looks like a mistyped target t, by these
// rules: the same suffix and a label within maxLabelDistance of t's
// (gmial.com, yaho.com, hotmial.com, outlok.com); or the same label and a
// suffix that is not a real one, one edit from t's (gmail.con), or com
// typed as co, cm or om.
func typo(d, t split) (dist int, ok bool) {
	if d.name == t.name || strings.Contains(d.name, "xn--") || strings.Contains(t.name, "xn--") {
		return 0, false
	}
	switch {
	case d.suffix == t.suffix:
		max := maxLabelDistance(t.label)
		if max == 0 || abs(len(d.label)-len(t.label)) > max {
			return 0, false
		}
		dist = distance(d.label, t.label, max)
		return dist, dist <= max
	case d.label == t.label:
		if comTypos[d.suffix] && t.suffix == "com" {
			return 1, true
		}
		if d.icann {
			return 0, false // a real domain under another suffix (gmx.at, yahoo.fr)
		}
		dist = distance(d.suffix, t.suffix, 1)
		return dist, dist <= 1
	}
	return 0, false
}

// findTypos maps each domain of all that looks like a typo to the domain
// it likely meant: a provider's, or one that many rows of the list use.
func findTypos(all []*Domain, o TypoOptions) map[string]string {
	if o.Providers == nil {
		o.Providers = Providers
	}
	if o.PopularRows <= 0 {
		o.PopularRows = DefaultPopularRows
	}
	known := map[string]bool{}
	type target struct {
		s    split
		rows int // 0 for a provider
	}
	var targets []target
	for _, p := range o.Providers {
		known[p] = true
		targets = append(targets, target{s: splitDomain(p)})
	}
	var popular []*Domain
	for _, d := range all {
		if d.Rows >= o.PopularRows && !known[d.Name] {
			popular = append(popular, d)
		}
	}
	sort.Slice(popular, func(i, j int) bool { return popular[i].Rows > popular[j].Rows })
	if len(popular) > maxPopular {
		popular = popular[:maxPopular]
	}
	for _, d := range popular {
		targets = append(targets, target{s: splitDomain(d.Name), rows: d.Rows})
	}
	out := map[string]string{}
	for _, d := range all {
		if known[d.Name] {
			continue
		}
		ds := splitDomain(d.Name)
		best, bestDist := "", 3
		for _, t := range targets {
			if t.rows > 0 && t.rows < popularRatio*d.Rows {
				continue // not popular enough next to d: both may be real
			}
			if dist, ok := typo(ds, t.s); ok && dist < bestDist {
				best, bestDist = t.s.name, dist
			}
		}
		if best != "" {
			out[d.Name] = best
		}
	}
	return out
}

// distance is the Damerau-Levenshtein distance of a and b (optimal string
// alignment: insertions, deletions, substitutions and transpositions of
// neighbours), or max+1 once it is known to exceed max.
func distance(a, b string, max int) int {
	if abs(len(a)-len(b)) > max {
		return max + 1
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			rowMin = min(rowMin, v)
		}
		if rowMin > max {
			return max + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(b)], max+1)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
