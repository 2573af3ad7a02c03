package campaign

import (
	"context"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

const domainList = "email,first_name\n" +
	"ann@ok.example,Ann\n" +
	"bob@Gone.Example,Bob\n" +
	"not-an-address,Carl\n" +
	"dee@gone.example,Dee\n" +
	"eve@ok.example,Eve\n" +
	"BOB@gone.example,Bob again\n" +
	"fay@bücher.example,Fay\n"

// gone rejects gone.example, as a DNS pre-pass would.
func gone(domain string) (bool, string) {
	if domain == "gone.example" {
		return true, "gone.example: domain does not exist"
	}
	return false, ""
}

func TestListDomains(t *testing.T) {
	list := writeFile(t, t.TempDir(), "list.csv", domainList)
	var got []string
	err := ListDomains(context.Background(), list, "", "", func(domain, email string, line int) {
		got = append(got, domain+" "+email+" "+strconv.Itoa(line))
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ok.example ann@ok.example 2", "gone.example bob@gone.example 3", "gone.example dee@gone.example 5",
		"ok.example eve@ok.example 6", "gone.example BOB@gone.example 7", "xn--bcher-kva.example fay@xn--bcher-kva.example 8",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// send --dns: rows at a domain that takes no mail are recorded invalid with
// the reason, before sending, and never reach the sender.
func TestRunDomainVerdict(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", domainList)
	results := filepath.Join(dir, "results.csv")
	fs := &fakeSender{}
	sum, err := Run(context.Background(), Options{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc), DomainVerdict: gone}, Results: results}, fs)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts[Invalid] != 3 || sum.Counts[Delivered] != 3 || sum.Counts[Suppressed] != 1 {
		t.Fatalf("counts %v", sum.Counts)
	}
	recs := byEmail(readRecords(t, results))
	for _, e := range []string{"bob@gone.example", "dee@gone.example"} {
		r := recs[e]
		if len(r) != 1 || r[0].Status != Invalid || r[0].Message != "gone.example: domain does not exist" {
			t.Errorf("%s: %+v", e, r)
		}
		if fs.sent[e] != 0 {
			t.Errorf("%s was sent", e)
		}
	}
	if r := recs["BOB@gone.example"]; len(r) != 1 || r[0].Status != Suppressed {
		t.Errorf("duplicate of an invalid-domain row: %+v", r)
	}
}

func TestCheckDomainVerdict(t *testing.T) {
	list := writeFile(t, t.TempDir(), "list.csv", domainList)
	rep, err := Check(context.Background(), CheckOptions{PrepareOptions: PrepareOptions{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc), DomainVerdict: gone}}})
	if err != nil {
		t.Fatal(err)
	}
	g := findGroup(rep.Errors, "gone.example: domain does not exist")
	if g == nil || g.Count != 2 || !reflect.DeepEqual(lines(g), []int{3, 5}) || g.Examples[0].Detail != "" {
		t.Fatalf("errors %v", kinds(rep.Errors))
	}
	if rep.Ready != 3 || rep.Invalid() != 3 {
		t.Fatalf("ready %d invalid %d", rep.Ready, rep.Invalid())
	}
}
