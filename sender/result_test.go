package sender

import (
	"testing"
)

func TestIsEnhancedCode(t *testing.T) {
	for s, want := range map[string]bool{"2.0.0": true, "5.7.1": true, "4.7.123": true, "2.123.4": true,
		"2.0": false, "6.0.0": false, "2.0.0.0": false, "2..0": false, "2.0.": false, "2.1234.0": false, "x.0.0": false, "250": false} {
		if got := isEnhancedCode(s); got != want {
			t.Errorf("isEnhancedCode(%q) = %v", s, got)
		}
	}
	if e, r := splitEnhanced("2.0.0 Ok: queued as  X"); e != "2.0.0" || r != "Ok: queued as X" {
		t.Errorf("splitEnhanced: %q %q", e, r)
	}
}
