package campaign

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDeliveries: a recipient's last row decides; a late complaint keeps
// the time of the delivered row; the campaign comes from the fingerprint.
func TestDeliveries(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
	h := "email,status,code,enhanced_code,message,relay,attempts,message_id,time,line,envelope_from,fingerprint,reason\n"
	fp := "list=0123456789abcdef template=0123456789abcdef campaign=spring"
	os.WriteFile(a, []byte(h+
		"ann@example.com,delivered,250,,OK,r,1,m1,2026-11-26T10:00:00.000Z,2,,"+fp+",\n"+
		"bob@example.com,deferred,451,,later,r,1,m2,2026-11-26T10:00:01.000Z,3,,"+fp+",\n"+
		"cy@example.com,delivered,250,,OK,r,1,m3,2026-11-26T10:00:02.000Z,4,,"+fp+",\n"+
		"dee@example.com,delivered,250,,OK,r,1,m4,2026-11-26T10:00:03.000Z,5,,list=0123456789abcdef template=0123456789abcdef,\n"), 0o644)
	os.WriteFile(b, []byte(h+
		"bob@example.com,delivered,250,,OK,r,2,m2,2026-11-26T11:00:00.000Z,3,,"+fp+",\n"+
		"cy@example.com,bounced,550,5.1.1,late,r,1,m3,2026-11-27T10:00:00.000Z,4,,"+fp+",late-bounce\n"+
		"ann@example.com,complained,,,abuse report,,,m1,2026-11-28T10:00:00.000Z,2,,"+fp+",late-complaint\n"), 0o644)
	got, err := Deliveries([]string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	want := []DeliveredRow{
		{"ann@example.com", a, "spring", time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)},
		{"bob@example.com", b, "spring", time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC)},
		{"dee@example.com", a, "", time.Date(2026, 11, 26, 10, 0, 3, 0, time.UTC)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
