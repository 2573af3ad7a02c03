package suppress

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readAll(t *testing.T, path string) []Entry {
	t.Helper()
	var got []Entry
	if err := Read(path, func(e Entry) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestReadFormats(t *testing.T) {
	when := time.Date(2024, 11, 5, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name, content string
		want          []Entry
	}{
		{"email only (--suppress)", "email\nAnn@Example.com\n\ufeffodd\n", []Entry{{Email: "Ann@Example.com"}, {Email: "\ufeffodd"}}},
		{"byte-order mark, more columns", "\ufeffname,EMAIL\nAnn,ann@example.com\n", []Entry{{Email: "ann@example.com"}}},
		{"old --bounces-to", "email,enhanced_code,message,time\ngone@example.com,5.1.1,RCPT: no such user,2024-11-05T09:00:00.000Z\n",
			[]Entry{{Email: "gone@example.com", Code: "5.1.1", Diagnostic: "RCPT: no such user", Time: when}}},
		{"this version", strings.Join(Columns, ",") + "\ngone@example.com,5.1.1,no such user,2024-11-05T09:00:00.000Z,hard-bounce,send\n",
			[]Entry{{Email: "gone@example.com", Code: "5.1.1", Diagnostic: "no such user", Time: when, Reason: HardBounce, Source: "send"}}},
		{"ragged rows", "email,reason\na@example.com\nb@example.com,manual,extra\n", []Entry{{Email: "a@example.com"}, {Email: "b@example.com", Reason: Manual}}},
		{"last line without its newline", "email,reason\na@example.com,manual\nb@exam", []Entry{{Email: "a@example.com", Reason: Manual}, {Email: "b@exam"}}},
		{"torn quoted line", "email,diagnostic\na@example.com,x\n\"b@example.com\",\"550 no", []Entry{{Email: "a@example.com", Diagnostic: "x"}}},
		{"header only", "email\n", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := readAll(t, write(t, "s.csv", c.content)); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	for content, want := range map[string]string{
		"":                                  "empty",
		"torn header":                       "s.csv:1: no \"email\" column (columns: torn header)",
		"name\nann\n":                       "s.csv:1: no \"email\" column (columns: name)",
		"email,time\na@example.com,today\n": "s.csv:2: time \"today\" is not RFC 3339",
		"email\n\"a@example.com\"x\n":       "s.csv:2:",
	} {
		err := Read(write(t, "s.csv", content), func(Entry) error { return nil })
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want a FormatError with %q", content, err, want)
		}
	}
	if err := Read(filepath.Join(t.TempDir(), "missing.csv"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestLoadSet(t *testing.T) {
	a := write(t, "a.csv", "email\nAnn@Example.com\nbob@bücher.example\n")
	b := write(t, "b.csv", "email,enhanced_code,message,time\nann@example.com,5.1.1,gone,\n  Carol@Example.org \n")
	s, err := Load(a, b)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"ann@example.com": b, "bob@xn--bcher-kva.example": a, "carol@example.org": b, "dan@example.com": ""} {
		if got := s.File(k); got != want {
			t.Errorf("File(%q) = %q, want %q", k, got, want)
		}
	}
	if s.Len() != 3 {
		t.Errorf("Len = %d", s.Len())
	}
	var none *Set
	if none.File("ann@example.com") != "" || none.Len() != 0 {
		t.Error("a nil Set suppresses something")
	}
}

func TestForBounce(t *testing.T) {
	for code, want := range map[string]Reason{"5.1.1": HardBounce, "5.1.10": HardBounce, "5.1.7": "", "5.1.8": "", "5.2.2": "", "5.7.1": "", "4.1.1": "", "": ""} {
		got, ok := ForBounce(code)
		if got != want || ok != (want != "") {
			t.Errorf("ForBounce(%q) = %q, %v; want %q", code, got, ok, want)
		}
	}
}

// TestLoadSoftBounceRows: soft-bounce rows are counts, not suppressions;
// the soft-bounce-limit row suppresses, and Reason gives the last
// suppressing row's reason.
func TestLoadSoftBounceRows(t *testing.T) {
	p := write(t, "s.csv", strings.Join(Columns, ",")+"\n"+
		"soft@example.com,4.2.2,full,,soft-bounce,bounces:mid:1\n"+
		"soft@example.com,4.2.2,full,,soft-bounce,bounces:mid:2\n"+
		"limit@example.com,4.2.2,full,,soft-bounce,bounces:mid:3\n"+
		"limit@example.com,4.2.2,full,,soft-bounce-limit,bounces:mid:4\n"+
		"gone@example.com,5.1.1,no such user,,hard-bounce,send\n"+
		"plain@example.com,,,,,\n")
	s, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]Reason{"limit@example.com": SoftBounceLimit, "gone@example.com": HardBounce, "plain@example.com": ""} {
		if s.File(k) != p || s.Reason(k) != want {
			t.Errorf("%s: file %q reason %q, want %q", k, s.File(k), s.Reason(k), want)
		}
	}
	if s.File("soft@example.com") != "" {
		t.Error("soft-bounce rows alone suppress")
	}
	if s.Len() != 3 {
		t.Errorf("Len = %d", s.Len())
	}
}
