package render

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMessageSizeLimit: whatever makes a message large (a loop, a field,
// functions that multiply text, encoding, attachments) stops at the limit
// with a *TooLargeError for the row, having built little more than the
// limit; a message under it renders.
func TestMessageSizeLimit(t *testing.T) {
	const limit = 1 << 20
	big := strings.Repeat("x", 60<<10)
	cases := []struct {
		name, src string
		files     map[string]int // attachments: name -> size
	}{
		{"range loop", "{{range 100000000}}0123456789{{end}}", nil},
		{"field repeated", "{{range 1000}}{{$.big}}{{end}}", nil},
		{"replace multiplies", `{{replace "" .big .big}}`, nil},
		{"printf doubles in a loop", `{{$x := .big}}{{range 40}}{{$x = printf "%s%s" $x $x}}{{end}}{{$x}}`, nil},
		{"urlquery doubles in a loop", `{{$x := "%"}}{{range 40}}{{$x = urlquery $x $x}}{{end}}{{$x}}`, nil},
		{"join of split", `{{join .big (split "" .big)}}`, nil},
		{"html block", "{{define \"html\"}}{{range 100000000}}<p>{{$.big}}</p>{{end}}{{end}}", nil},
		{"header", "{{range 100000000}}x{{end}}", nil}, // in Subject, below
		{"quoted-printable triples the body", strings.Repeat("=", 400<<10), nil},
		{"attachment encoded", "hi\nAttach", map[string]int{"a.bin": 900 << 10}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := fixedOpts
			opts.MaxMessageBytes = limit
			head, body := "From: a@example.com\nSubject: s\n", tc.src
			if tc.name == "header" {
				head, body = "From: a@example.com\nSubject: "+tc.src+"\n", "hi"
			}
			if tc.files != nil {
				dir := t.TempDir()
				for n, size := range tc.files {
					os.WriteFile(filepath.Join(dir, n), bytes.Repeat([]byte{0xff}, size), 0o644)
					head += "Attach: " + n + "\n"
				}
				body = "hi"
				opts.Files = os.DirFS(dir)
			}
			tm, err := Parse("t.tmpl", []byte(head+"\n"+body), opts)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			var buf bytes.Buffer
			_, err = tm.Render(&buf, Recipient{Address: "b@example.com", Fields: map[string]string{"big": big}})
			var tl *TooLargeError
			var re *RowError
			if !errors.As(err, &tl) || !errors.As(err, &re) || tl.Limit != limit {
				t.Fatalf("got %v; want a RowError with a TooLargeError", err)
			}
			if !strings.Contains(err.Error(), "passes the 1 MiB limit for one message") {
				t.Errorf("message %q", err)
			}
			if buf.Cap() > 4*limit {
				t.Errorf("built %d bytes for a %d limit", buf.Cap(), limit)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	opts := fixedOpts
	opts.MaxMessageBytes = limit
	tm, err := Parse("t.tmpl", []byte("From: a@example.com\nSubject: s\n\n{{range 10}}{{$.big}}{{end}}"), opts)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := tm.Render(&buf, Recipient{Address: "b@example.com", Fields: map[string]string{"big": big}}); err != nil {
		t.Fatalf("600 KB under a 1 MiB limit: %v", err)
	}
	// The functions behave as before below the limit.
	tm, err = Parse("t.tmpl", []byte(`From: a@example.com
Subject: {{replace "a" "b" "aXa"}} {{join "-" (split "," "x,y")}} {{printf "%03d" 7}} {{print 1 2}} {{urlquery "a b"}} {{html "<"}} {{js "'"}}

x`), fixedOpts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tm.Render(&buf, Recipient{Address: "b@example.com"}); err != nil {
		t.Fatal(err)
	}
	if want := `Subject: bXb x-y 007 1 2 a+b &lt; \'`; !strings.Contains(buf.String(), want) {
		t.Errorf("want %q in\n%s", want, buf.String())
	}
}

// TestAttachmentMustBeRegular: a FIFO (which would block the read for
// good) or a directory named by a row makes that row fail at once.
func TestAttachmentMustBeRegular(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "ok.txt"), []byte("hello"), 0o644)
	opts := fixedOpts
	opts.Files, opts.AttachColumn = os.DirFS(dir), "files"
	tm, err := Parse("t.tmpl", []byte("From: a@example.com\nSubject: s\n\nhi"), opts)
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{"fifo": "is a named pipe (FIFO), not a regular file", "sub": "is a directory, not a regular file", "ok.txt": ""} {
		done := make(chan error, 1)
		go func() {
			var buf bytes.Buffer
			_, err := tm.Render(&buf, Recipient{Address: "b@example.com", Fields: map[string]string{"files": file}})
			done <- err
		}()
		select {
		case err := <-done:
			if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
				t.Errorf("%s: %v, want %q", file, err, want)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s: still rendering after 5s", file)
			if f, err := os.OpenFile(filepath.Join(dir, "fifo"), os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close() // let the blocked open go
			}
		}
	}
}
