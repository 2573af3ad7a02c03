package campaign

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func lines(g *Group) []int {
	var l []int
	for _, e := range g.Examples {
		l = append(l, e.Line)
	}
	return l
}

func findGroup(gs []*Group, kind string) *Group {
	for _, g := range gs {
		if g.Kind == kind {
			return g
		}
	}
	return nil
}

// TestCheckFindsEachProblem: one case per error, skip reason and warning,
// each naming the rows (by line) that show it.
func TestCheckFindsEachProblem(t *testing.T) {
	const okTmpl = "From: News <news@acme.example>\nSubject: Hi {{.first_name}}\nList-Unsubscribe: <https://acme.example/u/{{.email}}>\n\n{{define \"text\"}}Hello{{end}}{{define \"html\"}}<p>Hello</p>{{end}}\n"
	list := "email,first_name\na@example.com,A\nb@example.com,B\nc@example.com,C\n"
	many := "email,first_name\n"
	for i := 0; i < 301; i++ {
		many += fmt.Sprintf("u%d@example.com,U\n", i)
	}
	cases := []struct {
		name, list, tmpl string
		section          string // errors, skipped, warnings
		kind             string
		count            int
		lines            []int
		detail           string // in the first example
	}{
		{"bad address", "email,first_name\na@example.com,A\nnot an address,B\nc@,C\n", okTmpl,
			"errors", string(ProblemAddress), 2, []int{3, 4}, `"not an address"`},
		{"missing field", list, strings.Replace(okTmpl, "Hi {{.first_name}}", "Hi {{.nickname}}", 1),
			"errors", "Subject: the list has no column named nickname", 3, []int{2, 3, 4}, "no column named nickname"},
		{"header injection", "email,first_name\na@example.com,A\nb@example.com,\"B\nBcc: x@evil.example\"\n", okTmpl,
			"errors", "Subject: value contains a line break (header injection refused)", 1, []int{3}, "header injection"},
		{"From of two addresses", "email,first_name,from\na@example.com,A,news@acme.example\nb@example.com,B,\"news@acme.example, ceo@acme.example\"\nc@example.com,C,\"a@x.example, b@y.example\"\n",
			strings.Replace(okTmpl, "From: News <news@acme.example>", "From: {{.from}}", 1),
			"errors", `From: "…" is 2 addresses; a message has one From address (template line 1)`, 2, []int{3, 4}, `"news@acme.example, ceo@acme.example"`},
		{"display name with a line break", "email,name,first_name\na@example.com,\"Ann\nBcc: x@evil.example\",A\nb@example.com,Bob,B\n", okTmpl,
			"errors", "To: the display name contains a line break (header injection refused)", 1, []int{2}, "display name"},
		{"duplicate", "email,first_name\na@example.com,A\nb@example.com,B\nA@EXAMPLE.com,A2\n", okTmpl,
			"skipped", string(ProblemDuplicate), 1, []int{4}, "duplicate of line 2"},
		{"no unsubscribe on a big list", many, strings.Replace(okTmpl, "List-Unsubscribe: <https://acme.example/u/{{.email}}>\n", "", 1),
			"warnings", WarnNoUnsubscribe, 301, []int{2, 3, 4, 5, 6}, "List-Unsubscribe"},
		{"several From addresses", "email,first_name,from\na@example.com,A,news@acme.example\nb@example.com,B,sales@acme.example\nc@example.com,C,news@acme.example\n",
			strings.Replace(okTmpl, "From: News <news@acme.example>", "From: {{.from}}", 1),
			"warnings", WarnManyFrom, 2, []int{2, 3}, "From news@acme.example (2 messages)"},
		{"HTML without text", list, strings.Replace(okTmpl, `{{define "text"}}Hello{{end}}`, "", 1),
			"warnings", WarnNoText, 3, []int{2, 3, 4}, "text/html only"},
		{"too large", "email,first_name\na@example.com,A\nb@example.com," + strings.Repeat("x", 50<<10) + "\n",
			strings.Replace(okTmpl, `{{define "text"}}Hello{{end}}`, `{{define "text"}}Hello {{range 4}}{{$.first_name}}{{end}}{{end}}`, 1),
			"warnings", WarnTooLarge, 1, []int{3}, "over 104448"},
		{"http link", list, strings.Replace(okTmpl, "<p>Hello</p>", `<p><a href="http://acme.example/offer">Hello</a></p>`, 1),
			"warnings", WarnHTTPLink, 3, []int{2, 3, 4}, "http://acme.example/offer: use https://"},
		{"empty subject", "email,first_name\na@example.com,A\nb@example.com,\n", strings.Replace(okTmpl, "Hi {{.first_name}}", "{{.first_name}}", 1),
			"warnings", WarnEmptySubject, 1, []int{3}, "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			l := writeFile(t, dir, "list.csv", c.list)
			rep, err := Check(context.Background(), CheckOptions{PrepareOptions: PrepareOptions{ListOptions: ListOptions{List: l, Template: testTemplate(t, c.tmpl)}, Concurrency: 3}})
			if err != nil {
				t.Fatal(err)
			}
			gs := map[string][]*Group{"errors": rep.Errors, "skipped": rep.Skipped, "warnings": rep.Warnings}[c.section]
			g := findGroup(gs, c.kind)
			if g == nil {
				t.Fatalf("no %s group %q; report: errors %v skipped %v warnings %v", c.section, c.kind, kinds(rep.Errors), kinds(rep.Skipped), kinds(rep.Warnings))
			}
			if g.Count != c.count || !reflect.DeepEqual(lines(g), c.lines) || !strings.Contains(g.Examples[0].Detail, c.detail) {
				t.Errorf("group %q: count %d lines %v detail %q; want %d %v %q", c.kind, g.Count, lines(g), g.Examples[0].Detail, c.count, c.lines, c.detail)
			}
			// Only this case's problem: every other section is clean.
			total := len(rep.Errors) + len(rep.Skipped) + len(rep.Warnings)
			if total != 1 {
				t.Errorf("want only %q; report: errors %v skipped %v warnings %v", c.kind, kinds(rep.Errors), kinds(rep.Skipped), kinds(rep.Warnings))
			}
		})
	}
}

func kinds(gs []*Group) []string {
	var k []string
	for _, g := range gs {
		k = append(k, fmt.Sprintf("%s(%d)", g.Kind, g.Count))
	}
	return k
}

func TestCheckCleanAndSmallListNeedsNoUnsubscribe(t *testing.T) {
	dir := t.TempDir()
	l := writeFile(t, dir, "list.csv", "email,first_name\na@example.com,A\n")
	rep, err := Check(context.Background(), CheckOptions{PrepareOptions: PrepareOptions{ListOptions: ListOptions{List: l, Template: testTemplate(t, tmplSrc)}}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 1 || rep.Ready != 1 || len(rep.Errors)+len(rep.Skipped)+len(rep.Warnings) != 0 {
		t.Errorf("report %+v, warnings %v", rep, kinds(rep.Warnings))
	}
}

func TestGroupKeepsLowestLines(t *testing.T) {
	g := &Group{}
	for _, l := range []int{9, 3, 7, 1, 8, 2, 6, 4} {
		g.add(Example{Line: l})
	}
	if g.Count != 8 || !reflect.DeepEqual(lines(g), []int{1, 2, 3, 4, 6}) {
		t.Errorf("count %d lines %v", g.Count, lines(g))
	}
}

// TestCheckGroupsRenderErrorsByCause: render errors that quote row values
// differ on every row; rows with the same cause share a group, and distinct
// causes past a cap share one, so memory never grows with the list.
func TestCheckGroupsRenderErrorsByCause(t *testing.T) {
	list := "email,from\n"
	for i := 0; i < 100; i++ {
		list += fmt.Sprintf("u%d@example.com,bad%d\n", i, i)
	}
	l := writeFile(t, t.TempDir(), "list.csv", list)
	rep, err := Check(context.Background(), CheckOptions{PrepareOptions: PrepareOptions{ListOptions: ListOptions{List: l, Template: testTemplate(t, "From: {{.from}}\nSubject: x\n\nhi\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Invalid() != 100 || len(rep.Errors) != 1 {
		t.Fatalf("%d invalid in groups %v, want 100 in one", rep.Invalid(), kinds(rep.Errors))
	}
	g := rep.Errors[0]
	if !strings.HasPrefix(g.Kind, `From: "…": `) || !reflect.DeepEqual(lines(g), []int{2, 3, 4, 5, 6}) || !strings.Contains(g.Examples[0].Detail, `"bad0"`) {
		t.Errorf("group %q lines %v first %q", g.Kind, lines(g), g.Examples[0].Detail)
	}

	gs := groups{}
	for i := 0; i < 50; i++ {
		gs.renderGroup(fmt.Sprintf("text: cause number %d", i)).add(Example{Line: i + 2})
	}
	if len(gs) != maxRenderGroups+1 || gs[otherRenderErrors] == nil || gs[otherRenderErrors].Count != 50-maxRenderGroups {
		t.Errorf("%d groups; overflow %+v", len(gs), gs[otherRenderErrors])
	}
}

// TestCheckGroupsSuppressedByReason: rows on a suppression list are grouped
// by the file's reason, and a soft-bounce row alone suppresses nobody.
func TestCheckGroupsSuppressedByReason(t *testing.T) {
	dir := t.TempDir()
	list := writeFile(t, dir, "list.csv", "email,first_name\na@example.com,A\nb@example.com,B\nc@example.com,C\nd@example.com,D\ne@example.com,E\n")
	supp := writeFile(t, dir, "s.csv", "email,code,diagnostic,time,reason,source\n"+
		"a@example.com,5.1.1,gone,,hard-bounce,bounces:mid:1\nb@example.com,,,,complaint,bounces:mid:2\n"+
		"c@example.com,4.2.2,full,,soft-bounce,bounces:mid:3\nd@example.com,,,,hard-bounce,send\n")
	rep, err := Check(context.Background(), CheckOptions{PrepareOptions: PrepareOptions{ListOptions: ListOptions{List: list, Template: testTemplate(t, tmplSrc), Suppress: []string{supp}}}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, g := range rep.Skipped {
		got[g.Kind] = g.Count
	}
	want := map[string]int{"on a suppression list (hard-bounce)": 2, "on a suppression list (complaint)": 1}
	if !reflect.DeepEqual(got, want) || rep.Ready != 2 {
		t.Errorf("skipped %v, ready %d; want %v and 2", got, rep.Ready, want)
	}
	if d := rep.Skipped[0].Examples[0].Detail; d != "on suppression list "+supp+" (hard-bounce)" {
		t.Errorf("detail %q", d)
	}
}
