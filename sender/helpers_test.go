package sender

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/mailer-dev/mailer/internal/testrelay"
)

func startRelay(t *testing.T, opts testrelay.Options) *testrelay.Server {
	t.Helper()
	s, err := testrelay.Listen("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func plainRelay(s *testrelay.Server) Relay {
	r, err := ParseRelay("smtp+plain://"+s.Addr(), false)
	if err != nil {
		panic(err)
	}
	return r
}

func fastOpts() Options {
	return Options{MaxConns: 4, MaxAttempts: 3, Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		ConnectTimeout: 5 * time.Second, CommandTimeout: 5 * time.Second, DataTimeout: 5 * time.Second}
}

func msg(to string) *Message {
	return &Message{From: "news@acme.example", To: to, Data: []byte("Subject: hi\r\n\r\nhello " + to + "\r\n")}
}

func rule(stage, re string, code int, enh smtp.EnhancedCode, text string) *testrelay.Rule {
	return &testrelay.Rule{Stage: stage, Match: regexp.MustCompile(re), Code: code, Enhanced: enh, Text: text}
}

// deadRelay is a loopback address where nothing listens: connections are refused.
func deadRelay(t *testing.T) Relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r, err := ParseRelay("smtp+plain://"+addr, false)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sendAll sends n messages from workers goroutines and returns the results.
func sendAll(ctx context.Context, p *Pool, n, workers int, to func(i int) string) []Result {
	res := make([]Result, n)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				res[i] = p.Send(ctx, msg(to(i)))
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return res
}

func rcpt(i int) string { return fmt.Sprintf("r%d@example.com", i) }

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond) // a poll interval, not a wait for an event
	}
}
