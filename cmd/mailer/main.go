// Command mailer sends personalised bulk email: a CSV list and a template in,
// one message per recipient out through a pool of SMTP relays, and a results
// CSV that says what happened to every recipient.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run executes one command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	return runWith(args, stdout, stderr, runFuncs{})
}

// runWith is run with the commands' run functions replaced by rf's.
func runWith(args []string, stdout, stderr io.Writer, rf runFuncs) (code int) {
	u := newUI(stderr)
	ctx, stop, caught := notifyContext(context.Background(), u)
	defer stop()
	defer func() {
		// A panic is a bug: say so in one line with what to do, not in a
		// goroutine dump (a panic in another goroutine still dumps).
		if p := recover(); p != nil {
			u.errorf(fmt.Sprintf("internal error: %v", p), "exit", exitSoftware)
			u.hint("this is a bug in mailer: please report it with the command line and this message")
			code = exitSoftware
		}
	}()
	root := newRootCmd(stdout, u, rf)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	var ue *usageError
	if err != nil && cmd == root && !errors.As(err, &ue) {
		// mailer itself runs nothing: an error of its own is cobra's
		// unknown command, with suggestions on lines of their own.
		msg := strings.Replace(err.Error(), "\n\nDid you mean this?", "; did you mean:", 1)
		err = &usageError{msg: strings.Join(strings.Fields(msg), " ") + " (see mailer --help)"}
	}
	code = exitCode(err)
	if sig := caught(); sig != nil && code != exitOK {
		code = signalCode(sig)
	}
	if err != nil {
		if msg := err.Error(); msg != "" {
			u.errorf(msg, "exit", code)
		}
		if h := hintFor(err); h != "" {
			u.hint(h)
		}
	}
	return code
}

// notifyContext cancels the returned context at the first SIGINT or
// SIGTERM, so the run stops taking new recipients and records what is in
// flight. A second signal exits at once. caught reports the first signal.
//
// Nothing stands between the second signal and the exit: the run is
// cancelled, and the second signal awaited, before the notice is printed,
// because a write to stderr can block for good (a full pipe nobody reads,
// a terminal paused with Ctrl-S) and would otherwise swallow both the
// stop and the way out.
func notifyContext(parent context.Context, u *ui) (ctx context.Context, stop func(), caught func() os.Signal) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	first := make(chan os.Signal, 1)
	noticed := make(chan struct{}) // closed once the notice is printed
	go func() {
		sig, ok := <-ch
		if !ok {
			return
		}
		first <- sig
		cancel()
		go func() {
			if sig, ok := <-ch; ok {
				os.Exit(signalCode(sig))
			}
		}()
		u.info(fmt.Sprintf("%v: stopping (send it again to quit at once)", sig), "signal", sig.String())
		close(noticed)
	}()
	var got os.Signal
	return ctx, func() {
			signal.Stop(ch)
			close(ch)
			cancel()
		}, func() os.Signal {
			if got == nil {
				select {
				case got = <-first:
					<-noticed // the notice comes before what the run says last
				default:
				}
			}
			return got
		}
}
