package sender

import (
	"context"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

const smtpSink = "/usr/sbin/smtp-sink"

// startSmtpSink runs Postfix's smtp-sink on 127.0.0.1 with args (its fault
// options) and returns its address. It skips the test when smtp-sink is
// not installed (Debian: apt-get install postfix; bench/sink.sh install).
func startSmtpSink(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := os.Stat(smtpSink); err != nil {
		t.Skip("smtp-sink not installed (Postfix: apt-get install postfix, or bench/sink.sh install)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if os.Getuid() == 0 {
		args = append(args, "-u", "nobody") // smtp-sink will not run as root
	}
	cmd := exec.Command(smtpSink, append(args, addr, "64")...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "smtp-sink to listen", 10*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr
}

// TestSmtpSinkFaults runs each of smtp-sink's faults (a reply or a hang-up
// at a command, for every message) against the pipelined transaction and
// against one command at a time (smtp-sink -P: no PIPELINING), three
// messages in a row on one connection, and wants the same outcomes.
// smtp-sink offers no PIPELINING when it is to refuse a command, so a proxy
// puts it back for the pipelined run.
func TestSmtpSinkFaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want Status
	}{
		{"ok", nil, Delivered},
		{"550 to RCPT", []string{"-f", "RCPT", "-B", "550 5.1.1 User unknown"}, Bounced},
		{"451 to MAIL", []string{"-r", "MAIL", "-b", "451 4.3.0 Try later"}, Deferred},
		{"554 to DATA", []string{"-f", "DATA", "-B", "554 5.5.1 No data"}, Bounced},
		{"421 mid group", []string{"-r", "RCPT", "-b", "421 4.3.2 Shutting down"}, Deferred},
		{"550 after the dot", []string{"-f", ".", "-B", "550 5.6.0 Bad content"}, Bounced},
		{"drop after the group", []string{"-q", "RCPT"}, Deferred},
		{"drop after the dot", []string{"-q", "."}, Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got [2][]outcome
			for i, extra := range [][]string{nil, {"-P"}} {
				addr := startSmtpSink(t, append(append([]string{"-c"}, tc.args...), extra...)...)
				px := startProxy(t, addr, &turnProxy{add: extra == nil})
				r := px.relay(t)
				o := fastOpts()
				o.MaxConns, o.MaxAttempts, o.DownFor = 1, 2, time.Millisecond
				p, _ := New([]Relay{r}, o)
				if err := p.Probe(context.Background()); err != nil {
					t.Fatal(err)
				}
				if piped := pipelined(t, p); piped != (extra == nil) {
					t.Fatalf("pipelined %v with smtp-sink %v", piped, extra)
				}
				for j := range 3 {
					res := p.Send(context.Background(), msg(rcpt(j)))
					text := res.Text
					if res.Code == 0 {
						text = ""
					}
					got[i] = append(got[i], outcome{res.Status, res.Code, res.Enhanced, text, res.Attempts, 0})
				}
				p.Close()
			}
			for j := range 3 {
				if got[0][j] != got[1][j] {
					t.Errorf("message %d: pipelined %+v, one at a time %+v", j, got[0][j], got[1][j])
				}
				if got[0][j].Status != tc.want {
					t.Errorf("message %d: %+v, want %s", j, got[0][j], tc.want)
				}
			}
		})
	}
}
