package main

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/mailer-dev/mailer/campaign"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows how a run goes on stderr: a bar with rate and ETA on a
// terminal, a plain status line every statusEvery otherwise (cron, CI, a
// pipe), nothing with --quiet. It is the only place send's progress is printed.
type progress struct {
	u        *ui
	bar      *progressbar.ProgressBar
	plain    bool
	mu       sync.Mutex
	last     time.Time
	lastDone int
	every    time.Duration
}

const statusEvery = 10 * time.Second

func newProgress(u *ui, quiet bool) *progress {
	p := &progress{u: u, every: statusEvery, last: time.Now()}
	if quiet {
		return p
	}
	if f, ok := u.w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !u.isJSON() {
		p.bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(u.w),
			progressbar.OptionSetDescription("sending"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("msg"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		return p
	}
	p.plain = true
	return p
}

func (p *progress) update(pr campaign.Progress) {
	switch {
	case p.bar != nil:
		if p.bar.GetMax64() != int64(pr.Total) {
			p.bar.ChangeMax64(int64(pr.Total))
		}
		p.bar.Set(pr.Done)
	case p.plain:
		p.mu.Lock()
		defer p.mu.Unlock()
		if now := time.Now(); now.Sub(p.last) >= p.every {
			rate := float64(pr.Done-p.lastDone) / now.Sub(p.last).Seconds()
			eta := "?"
			if rate > 0 {
				eta = (time.Duration(float64(pr.Total-pr.Done)/rate) * time.Second).Round(time.Second).String()
			}
			p.u.info(fmt.Sprintf("%d/%d recipients done (%.0f%%), %.1f msgs/s, eta %s",
				pr.Done, pr.Total, 100*float64(pr.Done)/float64(max(pr.Total, 1)), rate, eta),
				"kind", "progress", "done", pr.Done, "total", pr.Total, "rate", rate)
			p.last, p.lastDone = now, pr.Done
		}
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
