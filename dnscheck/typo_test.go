package dnscheck

import "testing"

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		max  int
		want int
	}{
		{"gmail", "gmail", 2, 0},
		{"gmial", "gmail", 2, 1}, // transposition
		{"gmal", "gmail", 2, 1},  // deletion
		{"gmaill", "gmail", 2, 1},
		{"gnail", "gmail", 2, 1},
		{"hotmial", "hotmail", 2, 1},
		{"hotmal", "hotmail", 2, 1},
		{"homtial", "hotmail", 2, 2},
		{"outlok", "outlook", 2, 1},
		{"acme", "gmail", 1, 2}, // cut off at max+1
		{"", "abc", 5, 3},
	} {
		if got := distance(tc.a, tc.b, tc.max); got != tc.want {
			t.Errorf("distance(%q, %q, %d) = %d, want %d", tc.a, tc.b, tc.max, got, tc.want)
		}
	}
}

func TestTypos(t *testing.T) {
	for _, tc := range []struct {
		domain string
		rows   int
		want   string // "" for not a typo
	}{
		{"gmial.com", 1, "gmail.com"},
		{"gmai.com", 1, "gmail.com"},
		{"gmail.con", 1, "gmail.com"},
		{"gmail.co", 1, "gmail.com"},  // a real ccTLD, but in addresses a typo of com
		{"gmail.cmo", 1, "gmail.com"}, // not a real suffix
		{"hotmial.com", 1, "hotmail.com"},
		{"hotmail.co.uk", 1, ""}, // a provider itself
		{"hotmial.co.uk", 1, "hotmail.co.uk"},
		{"yaho.com", 1, "yahoo.com"},
		{"yahooo.com", 1, "yahoo.com"},
		{"outlok.com", 1, "outlook.com"},
		{"outlook.com", 1, ""},
		{"googlemial.com", 1, "googlemail.com"},
		{"gooogelmail.com", 1, "googlemail.com"}, // two edits in a long label
		{"gmx.at", 1, ""},                        // a real domain under another suffix
		{"yahoo.es", 1, ""},
		{"lime.com", 1, ""}, // live.com's label is too short to guess at
		{"aol.co", 1, "aol.com"},
		{"ymail.com", 1, ""}, // one edit from gmail.com, but a provider itself
		{"example.com", 1, ""},
		{"acme.example", 1, ""},
		{"xn--gmil-6na.com", 1, ""}, // IDN: no guessing on Punycode
		// From the list's own popular domains.
		{"acmecrop.example", 1, "acmecorp.example"},
		{"acmecrop.example", 10, ""}, // too many rows next to acmecorp.example's 100
		{"bigcorp.example", 1, ""},
	} {
		all := []*Domain{
			{Name: "acmecorp.example", Rows: 100, Lines: []int{2}},
			{Name: "bigcorp.example", Rows: 5, Lines: []int{3}},
			{Name: tc.domain, Rows: tc.rows, Lines: []int{4}},
		}
		got := findTypos(all, TypoOptions{})[tc.domain]
		if got != tc.want {
			t.Errorf("%s (%d rows): suggestion %q, want %q", tc.domain, tc.rows, got, tc.want)
		}
	}
}
