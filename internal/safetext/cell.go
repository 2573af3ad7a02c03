package safetext

import "strings"

// formulaStart are the first characters that make a spreadsheet read a
// cell as a formula (OWASP "CSV injection"), and the quote that escapes them.
const formulaStart = "=+-@\t\r'"

// Cell stops a spreadsheet from reading a CSV cell as a formula: text from
// relays and lists must stay text. A leading ' is doubled too, so Uncell
// reads it back exactly. Callers escape control characters first (String).
func Cell(s string) string {
	if s != "" && strings.ContainsRune(formulaStart, rune(s[0])) {
		return "'" + s
	}
	return s
}

// Uncell reverses Cell when reading a CSV file back.
func Uncell(s string) string {
	if len(s) > 1 && s[0] == '\'' && strings.ContainsRune(formulaStart, rune(s[1])) {
		return s[1:]
	}
	return s
}
