package transcript

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestWholeLines feeds eight sessions at once in chunks that cut lines
// anywhere: every line comes out whole, under its own connection's number.
func TestWholeLines(t *testing.T) {
	var out bytes.Buffer
	l := New(&out)
	l.Now = func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := l.Conn(false)
			var cmds bytes.Buffer
			for i := range 200 {
				fmt.Fprintf(&cmds, "RCPT TO:<c%d-%d@example.com>\r\n", s.ID(), i)
			}
			b := cmds.Bytes()
			for i := 0; len(b) > 0; i++ {
				n := min(len(b), 1+i*7%23)
				s.FromClient(nil)
				s.Write(b[:n])
				s.FromServer(nil)
				s.Write([]byte("250 ok\r\n"))
				b = b[n:]
			}
			s.Close()
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	rcpts := 0
	for _, line := range lines {
		var id, n, id2 int
		switch {
		case strings.HasSuffix(line, " < 250 ok"), strings.HasSuffix(line, " * closed"):
		case strings.Contains(line, " > RCPT"):
			if _, err := fmt.Sscanf(line, "03:04:05.000 c%d > RCPT TO:<c%d-%d@example.com>", &id, &id2, &n); err != nil || id != id2 {
				t.Fatalf("torn or misattributed line %q", line)
			}
			rcpts++
		default:
			t.Fatalf("unexpected line %q", line)
		}
	}
	if rcpts != 8*200 {
		t.Errorf("%d RCPT lines, want %d", rcpts, 8*200)
	}
}

// TestRedaction: AUTH without an initial response, its challenges and
// answers; a body left out; the wire mode ending at STARTTLS.
func TestRedaction(t *testing.T) {
	var out bytes.Buffer
	l := New(&out)
	s := l.Conn(true)
	s.FromServer([]byte("220 hi\r\n"))
	s.FromClient([]byte("STARTTLS\r\n"))
	s.FromServer([]byte("220 go ahead\r\n"))
	s.FromClient([]byte("\x16\x03\x01 not SMTP: TLS records\r\n"))
	s.Write([]byte("AUTH LOGIN\r\n"))
	s.FromServer(nil)
	s.Write([]byte("334 VXNlcm5hbWU6\r\n"))
	s.FromClient(nil)
	s.Write([]byte("YW5u\r\n"))
	s.FromServer(nil)
	s.Write([]byte("334 UGFzc3dvcmQ6\r\n"))
	s.FromClient(nil)
	s.Write([]byte("c2VjcmV0\r\n"))
	s.FromServer(nil)
	s.Write([]byte("535 5.7.8 no\r\n"))
	s.FromClient(nil)
	s.Write([]byte("AUTH PLAIN AGFubgBzZWNyZXQ=\r\n"))
	s.FromServer(nil)
	s.Write([]byte("235 ok\r\n"))
	s.FromClient(nil)
	s.Write([]byte("DATA\r\n"))
	s.FromServer(nil)
	s.Write([]byte("354 go\r\n"))
	s.FromClient(nil)
	s.Write([]byte("Subject: x\r\n\r\nsecret body\r\n.\r\nQUIT\r\n"))
	s.Close()
	got := regexpTime.ReplaceAllString(out.String(), "")
	want := `c1 < 220 hi
c1 > STARTTLS
c1 < 220 go ahead
c1 * TLS handshake
c1 > AUTH LOGIN
c1 < 334 VXNlcm5hbWU6
c1 > [redacted]
c1 < 334 UGFzc3dvcmQ6
c1 > [redacted]
c1 < 535 5.7.8 no
c1 > AUTH PLAIN [redacted]
c1 < 235 ok
c1 > DATA
c1 < 354 go
c1 > [message: 3 lines, 27 bytes]
c1 > .
c1 > QUIT
c1 * closed
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

var regexpTime = regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d{3} `)

// TestPipelinedBodyLeftOut: with PIPELINING (RFC 2920) the replies to MAIL
// and RCPT come after DATA was sent, and the final dot of one message
// shares a write with the next MAIL, RCPT and DATA; both bodies are still
// left out, each from its own 354.
func TestPipelinedBodyLeftOut(t *testing.T) {
	var out bytes.Buffer
	s := New(&out).Conn(true)
	s.FromServer([]byte("220 hi\r\n"))
	s.FromClient([]byte("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n"))
	s.FromServer([]byte("250 ok\r\n250 ok\r\n354 go\r\n"))
	s.FromClient([]byte("secret one\r\n.\r\nMAIL FROM:<a@x>\r\nRCPT TO:<c@x>\r\nDATA\r\n"))
	s.FromServer([]byte("250 queued\r\n250 ok\r\n"))
	s.FromServer([]byte("250 ok\r\n354 go\r\n"))
	s.FromClient([]byte("secret two\r\n.\r\nQUIT\r\n"))
	s.FromServer([]byte("250 queued\r\n221 bye\r\n"))
	s.Close()
	got := regexpTime.ReplaceAllString(out.String(), "")
	if strings.Contains(got, "secret") {
		t.Errorf("a body is in the transcript:\n%s", got)
	}
	if n := strings.Count(got, "> [message: 1 lines, 12 bytes]"); n != 2 {
		t.Errorf("%d bodies left out, want 2:\n%s", n, got)
	}
}
