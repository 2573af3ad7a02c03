package campaign

import (
	"context"
	"encoding/csv"
	"io"
	"strings"
	"testing"
)

// TestRowAndFieldCaps: a field over MaxFieldBytes and a row over
// MaxRowBytes (even one far larger, quoted across lines, or without a final
// line end) make that row invalid with the reason; the rows around them
// are read as usual, on the right lines.
func TestRowAndFieldCaps(t *testing.T) {
	dir := t.TempDir()
	bigField := strings.Repeat("f", MaxFieldBytes+1)
	hugeQuoted := `"` + strings.Repeat("q\n\"\"", MaxRowBytes) + `"` // 4 MiB over 1M+1 lines
	list := "email,first_name,notes\n" +
		"a@example.com,A,ok\n" + // line 2
		"b@example.com,B," + bigField + "\n" + // 3
		"c@example.com,C," + strings.Repeat("x", MaxRowBytes+10) + "\n" + // 4
		"d@example.com,D,ok\n" + // 5
		"e@example.com,E," + hugeQuoted + "\n" + // 6 .. 6+MaxRowBytes
		"g@example.com,\"G\"\"\",ok\n" + // 7+MaxRowBytes
		strings.Repeat("h", 2*MaxRowBytes) // no line end
	path := writeFile(t, dir, "list.csv", list)
	info, err := ScanList(path, "email", "")
	if err != nil {
		t.Fatal(err)
	}
	if info.Rows != 7 {
		t.Errorf("ScanList counted %d rows, want 7", info.Rows)
	}
	got := map[int]*Verdict{}
	err = Prepare(context.Background(), PrepareOptions{ListOptions: ListOptions{List: path, Template: testTemplate(t, tmplSrc)}}, func(v *Verdict) error {
		c := *v
		c.Message = nil
		got[v.Line] = &c
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	gLine := 7 + MaxRowBytes
	want := map[int]string{2: "", 3: `column "notes" holds 65537 bytes, over 64 KiB, the limit for one field`,
		4: "the row is longer than 1 MiB, the limit for one row of the list", 5: "",
		6: "the row is longer than 1 MiB", gLine: "", gLine + 1: "the row is longer than 1 MiB"}
	for line, reason := range want {
		v := got[line]
		switch {
		case v == nil:
			t.Errorf("line %d: no verdict (got lines %v)", line, keys(got))
		case reason == "" && v.Status != "":
			t.Errorf("line %d: %s %s, want it sent", line, v.Status, v.Reason)
		case reason != "" && (v.Status != Invalid || v.Problem != ProblemSize || !strings.HasPrefix(v.Reason, reason)):
			t.Errorf("line %d: %s %s %q, want invalid: %s", line, v.Status, v.Problem, v.Reason, reason)
		}
	}
	if len(got) != len(want) {
		t.Errorf("verdicts on lines %v", keys(got))
	}
	if v := got[4]; v != nil && v.Email != "c@example.com" {
		t.Errorf("line 4 recorded as %q", v.Email)
	}
	if v := got[gLine+1]; v != nil && len(v.Email) > 260 {
		t.Errorf("the cut address cell is recorded whole (%d bytes)", len(v.Email))
	}
	if v := got[gLine]; v != nil && v.Recipient.Fields["first_name"] != `G"` {
		t.Errorf("the row after a cut one reads %q", v.Recipient.Fields["first_name"])
	}
}

// TestRowLimiterPassesOrdinaryCSV: below the cap the limiter changes nothing.
func TestRowLimiterPassesOrdinaryCSV(t *testing.T) {
	in := "a,b\r\n\"x,\"\"y\"\"\nz\",2\r\n\r\n\n,\n\"\",\"\"\nlast,1"
	var out strings.Builder
	if _, err := io.Copy(&out, newRowLimiter(strings.NewReader(in), 100)); err != nil {
		t.Fatal(err)
	}
	if out.String() != in {
		t.Errorf("got %q", out.String())
	}
	cr := csv.NewReader(newRowLimiter(strings.NewReader("a,b\n\"0123456789abc\",x\nc,d\n"), 8))
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[1][0] != "0123456" || recs[2][0] != "c" {
		t.Errorf("cut: %q", recs)
	}
}

func keys(m map[int]*Verdict) []int {
	var k []int
	for l := range m {
		k = append(k, l)
	}
	return k
}
