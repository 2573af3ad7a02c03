// Command delayproxy is a TCP proxy on 127.0.0.1 that delays every byte by
// a fixed time in each direction, keeping their order: a long-distance
// relay for bench/latency.sh on machines whose kernel has no netem.
//
//	delayproxy -listen 127.0.0.1:2601 -to 127.0.0.1:2600 -delay 25ms
//
// Each chunk read from one side is written to the other when delay has
// passed since it was read, so a round trip through the proxy costs twice
// the delay. It runs until killed, or for -for at most.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (127.0.0.1 only)")
	to := flag.String("to", "", "address to forward to (127.0.0.1 only)")
	delay := flag.Duration("delay", 25*time.Millisecond, "delay in each direction")
	life := flag.Duration("for", time.Hour, "exit after this long")
	flag.Parse()
	if !strings.HasPrefix(*listen, "127.0.0.1:") || !strings.HasPrefix(*to, "127.0.0.1:") {
		fmt.Fprintln(os.Stderr, "delayproxy: -listen and -to must be 127.0.0.1 addresses")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "delayproxy:", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr())
	time.AfterFunc(*life, func() { os.Exit(0) })
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "delayproxy:", err)
			os.Exit(1)
		}
		go func() {
			s, err := net.Dial("tcp", *to)
			if err != nil {
				c.Close()
				return
			}
			go pipe(s, c, *delay)
			pipe(c, s, *delay)
		}()
	}
}

type chunk struct {
	b   []byte
	due time.Time
}

// pipe copies from src to dst, each chunk delay after it was read. At the
// end of src it closes dst's write side once the data before it is out.
func pipe(dst, src net.Conn, delay time.Duration) {
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		for {
			b := make([]byte, 64<<10)
			n, err := src.Read(b)
			if n > 0 {
				q <- chunk{b[:n], time.Now().Add(delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	} else {
		dst.Close()
	}
	go io.Copy(io.Discard, src) // drain until the other side is done
	time.AfterFunc(delay+time.Second, func() { src.Close(); dst.Close() })
}
