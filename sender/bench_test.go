package sender

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
)

// fastSink is a minimal pipelining SMTP server, so that a benchmark measures
// the client, not go-smtp's server.
func fastSink(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r, w := bufio.NewReader(c), bufio.NewWriter(c)
				w.WriteString("220 sink\r\n")
				w.Flush()
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					switch cmd := strings.ToUpper(line[:min(4, len(line))]); cmd {
					case "EHLO":
						w.WriteString("250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
					case "DATA":
						w.WriteString("354 go on\r\n")
						w.Flush()
						for {
							l, err := r.ReadSlice('\n')
							if err != nil {
								return
							}
							if bytes.Equal(l, []byte(".\r\n")) {
								break
							}
						}
						w.WriteString("250 2.0.0 ok\r\n")
					case "QUIT":
						w.WriteString("221 bye\r\n")
						w.Flush()
						return
					default:
						w.WriteString("250 ok\r\n")
					}
					if r.Buffered() == 0 {
						w.Flush()
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkSend is one ~4.3 KB message through the pool over a reused,
// pipelined connection.
func BenchmarkSend(b *testing.B) {
	r, _ := ParseRelay("smtp+plain://"+fastSink(b), false)
	p, _ := New([]Relay{r}, Options{MaxConns: 1})
	defer p.Close()
	m := &Message{From: "bench@sender.test", To: "user@d1.sink.test",
		Data: bytes.Repeat([]byte("Line of the digest: lorem ipsum dolor sit amet, consectetur elit.\r\n"), 64)}
	ctx := context.Background()
	b.SetBytes(int64(len(m.Data)))
	b.ReportAllocs()
	for b.Loop() {
		if res := p.Send(ctx, m); res.Status != Delivered {
			b.Fatal(res)
		}
	}
}
