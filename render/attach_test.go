package render

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// pngHead is the start of a PNG file: enough for content sniffing.
var pngHead = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")

func testFiles() fstest.MapFS {
	return fstest.MapFS{
		"terms.pdf":            {Data: []byte("%PDF-1.4\n% terms and conditions\n%%EOF\n")},
		"logo":                 {Data: pngHead},
		"invoices/2026-11.pdf": {Data: []byte("%PDF-1.4\n% invoice 2026-11\n%%EOF\n")},
		"notes/readme.md":      {Data: []byte("# Notes\n")},
	}
}

// rootFS makes a template directory with a file outside it and symlinks
// that try to reach it, and returns the directory as an os.Root FS, as the
// command gives it to render.
func rootFS(t *testing.T) fs.FS {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "tmpl")
	for _, d := range []string{dir, filepath.Join(dir, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string, data []byte) {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(base, "secret.txt"), []byte("outside"))
	write(filepath.Join(dir, "terms.pdf"), []byte("%PDF-1.4\n%%EOF\n"))
	write(filepath.Join(dir, "sub", "big.bin"), bytes.Repeat([]byte{0}, 2048))
	if err := os.Symlink(filepath.Join(base, "secret.txt"), filepath.Join(dir, "link.txt")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	if err := os.Symlink("../../secret.txt", filepath.Join(dir, "sub", "rel.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("terms.pdf", filepath.Join(dir, "inside.pdf")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root.FS()
}

func TestAttachPaths(t *testing.T) {
	files := rootFS(t)
	src := "From: a@acme.example\nSubject: s\n\nbody\n"
	o := fixedOpts
	o.Files, o.AttachColumn, o.MaxAttachmentBytes = files, "files", 1024
	tm, err := Parse("t.tmpl", []byte(src), o)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ cell, want string }{
		{"terms.pdf", ""},
		{"inside.pdf", ""}, // a symlink that stays inside is fine
		{"./sub/../terms.pdf", ""},
		{"../secret.txt", "leads out of the template's directory"},
		{"sub/../../secret.txt", "leads out of the template's directory"},
		{"/etc/passwd", "leads out of the template's directory"},
		{"link.txt", "leads out of the template's directory"},
		{"sub/rel.txt", "leads out of the template's directory"},
		{"missing.pdf", "no such file"},
		{"sub", "is a directory"},
		{"sub/big.bin", "larger than the 1 KiB limit"},
		{strings.Repeat("terms.pdf,", 70), "with the other attachments, over the 1 KiB limit"},
		{"terms.pdf, ../secret.txt", "leads out"},
	}
	for _, c := range cases {
		t.Run(c.cell, func(t *testing.T) {
			var buf bytes.Buffer
			m, err := tm.Render(&buf, Recipient{Address: "r@example.com", Fields: map[string]string{"files": c.cell}})
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(m.Data, []byte("Content-Type: application/pdf")) {
					t.Errorf("no PDF part:\n%s", m.Data)
				}
				return
			}
			var re *RowError
			if !errors.As(err, &re) || re.Part != "Attach" || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want a RowError for Attach containing %q", err, c.want)
			}
			if strings.Contains(buf.String(), "outside") {
				t.Error("the outside file reached the message")
			}
		})
	}
	// The same paths written in the template are found at Parse.
	for _, p := range []string{"../secret.txt", "link.txt", "/etc/passwd", "missing.pdf"} {
		_, err := Parse("t.tmpl", []byte("From: a@acme.example\nAttach: "+p+"\n\nbody\n"), o)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Line != 2 {
			t.Errorf("Attach: %s: got %v, want a ParseError on line 2", p, err)
		}
	}
	// No file source: attachments cannot work.
	if _, err := Parse("t.tmpl", []byte("From: a@acme.example\nAttach: x.pdf\n\nbody\n"), fixedOpts); err == nil {
		t.Error("Attach without Options.Files parsed")
	}
}

func TestAttachContentType(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"a.pdf", []byte("%PDF-1.4"), "application/pdf"},
		{"logo", pngHead, "image/png"},
		{"notes", []byte("plain words\n"), "text/plain; charset=utf-8"},
		{"blob", []byte{0, 1, 2, 3}, "application/octet-stream"},
	}
	for _, c := range cases {
		if got := contentType(c.name, c.data); got != c.want {
			t.Errorf("contentType(%s) = %q, want %q", c.name, got, c.want)
		}
	}
}

func attachPath(name string) string {
	if name == "2026-11.pdf" {
		return "invoices/" + name
	}
	return name
}

// FuzzFSPath: whatever a list cell holds, a path fsPath accepts stays in
// the tree (the os.Root underneath is the second line of defence).
func FuzzFSPath(f *testing.F) {
	for _, s := range []string{"a.pdf", "../x", "a/../../x", "/etc/passwd", `..\x`, "a//b", "./a", "C:x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		s, err := fsPath(p)
		if err != nil {
			return
		}
		if !fs.ValidPath(s) || s == ".." || strings.HasPrefix(s, "../") || strings.HasPrefix(s, "/") {
			t.Fatalf("fsPath(%q) = %q escapes", p, s)
		}
		for _, el := range strings.Split(s, "/") {
			if el == ".." {
				t.Fatalf("fsPath(%q) = %q has a .. element", p, s)
			}
		}
	})
}
