package campaign

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// mixedList has one row of every kind: ready, bad address, render failure
// (header injection), duplicate, suppressed.
const mixedList = "email,first_name\n" +
	"a@example.com,A\n" +
	"not-an-address,B\n" +
	"c@example.com,\"C\nBcc: evil@example.com\"\n" +
	"A@Example.com,A again\n" +
	"s@example.com,S\n" +
	"f@example.com,F\n"

// TestPrepareAgreesWithDryRun: send --dry-run, check and preview must never
// disagree about a row, so the verdicts Prepare gives must be exactly what
// a dry run records, line by line.
func TestPrepareAgreesWithDryRun(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", mixedList)
	supp := writeFile(t, dir, "supp.csv", "email\nS@example.com\n")
	results := filepath.Join(dir, "dry.csv")
	tm := testTemplate(t, tmplSrc)
	if _, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: tm, Suppress: []string{supp}}, Results: results, DryRun: true, Concurrency: 3}, &fakeSender{}); err != nil {
		t.Fatal(err)
	}
	dry := map[int]Record{}
	for _, r := range readRecords(t, results) {
		dry[r.Line] = r
	}
	for _, conc := range []int{1, 4} {
		got := map[int]*Verdict{}
		err := Prepare(context.Background(), PrepareOptions{ListOptions: ListOptions{List: list, Template: tm, Suppress: []string{supp}}, Concurrency: conc}, func(v *Verdict) error {
			c := *v
			got[v.Line] = &c
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(dry) {
			t.Fatalf("concurrency %d: %d verdicts, dry run recorded %d", conc, len(got), len(dry))
		}
		for line, r := range dry {
			v := got[line]
			status := v.Status
			if status == "" {
				status = DryRun
			}
			if v == nil || status != r.Status || v.Email != r.Email || (v.Status != "" && v.Reason != r.Message) {
				t.Errorf("concurrency %d, line %d: Prepare says %+v, dry run recorded %+v", conc, line, v, r)
			}
		}
	}
	want := map[int]Problem{2: "", 3: ProblemAddress, 4: ProblemRender, 6: ProblemDuplicate, 7: ProblemSuppressed, 8: ""}
	got := map[int]Problem{}
	Prepare(context.Background(), PrepareOptions{ListOptions: ListOptions{List: list, Template: tm, Suppress: []string{supp}}}, func(v *Verdict) error {
		got[v.Line] = v.Problem
		return nil
	})
	for line, p := range want {
		if got[line] != p {
			t.Errorf("line %d: problem %q, want %q", line, got[line], p)
		}
	}
}

func TestPrepareStopsAndReportsListErrors(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", mixedList)
	tm := testTemplate(t, tmplSrc)
	var lines []int
	err := Prepare(context.Background(), PrepareOptions{ListOptions: ListOptions{List: list, Template: tm}}, func(v *Verdict) error {
		lines = append(lines, v.Line)
		if len(lines) == 2 {
			return ErrStop
		}
		return nil
	})
	if err != nil || len(lines) != 2 || lines[0] != 2 || lines[1] != 3 {
		t.Errorf("stopped after %v with %v; want lines [2 3] and no error", lines, err)
	}
	bad := writeFile(t, dir, "bad.csv", "email,first_name\na@example.com,A\nb@example.com\n")
	err = Prepare(context.Background(), PrepareOptions{ListOptions: ListOptions{List: bad, Template: tm}}, func(*Verdict) error { return nil })
	var de *DataError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "bad.csv:3: wrong number of fields") {
		t.Errorf("got %v, want bad.csv:3 wrong number of fields", err)
	}
}
