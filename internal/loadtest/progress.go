package loadtest

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress closes a second of the latency series every second and, if it has a
// writer, redraws a one-line progress bar there ("\r", no newline until stop).
// Its goroutine is started by start and stopped, and waited for, by stop.
type progress struct {
	w        io.Writer // nil: no bar
	label    string
	rec      *recorder
	agents   int
	duration time.Duration

	steadyC chan time.Time
	stopC   chan struct{}
	doneC   chan struct{}
}

func newProgress(w io.Writer, label string, rec *recorder, cfg Config) *progress {
	return &progress{w: w, label: label, rec: rec, agents: cfg.Agents, duration: cfg.Duration,
		steadyC: make(chan time.Time, 1), stopC: make(chan struct{}), doneC: make(chan struct{})}
}

func (p *progress) start() { go p.loop(time.Now()) }

// steady tells the loop that the measured window started at t.
func (p *progress) steady(t time.Time) { p.steadyC <- t }

// stop ends the loop, draws the last state and ends the line.
func (p *progress) stop() {
	close(p.stopC)
	<-p.doneC
}

func (p *progress) loop(t0 time.Time) {
	defer close(p.doneC)
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	var steadyAt, lastAt time.Time
	var lastReqs uint64
	width := 0
	draw := func(now time.Time, final bool) {
		if p.w == nil {
			return
		}
		s := p.rec.status()
		var line string
		if steadyAt.IsZero() {
			line = fmt.Sprintf("%-8s signing in  %d/%d agents  %v", p.label, s.signedIn, p.agents,
				now.Sub(t0).Round(time.Second))
		} else {
			el := min(now.Sub(steadyAt), p.duration)
			frac := float64(el) / float64(p.duration)
			const barLen = 20
			n := int(frac * barLen)
			// requests per second since the last redraw, or over the window at the end
			reqs, span := s.requests-lastReqs, now.Sub(lastAt)
			if final {
				reqs, span = s.requests, el
			}
			rate := 0.0
			if span > 0 {
				rate = float64(reqs) / span.Seconds()
			}
			p99 := "-"
			if s.p99 > 0 {
				p99 = fmtDur(s.p99)
			}
			line = fmt.Sprintf("%-8s [%s%s] %3.0f%%  %v/%v  %.0f req/s  p99 %s  false sign-outs %d  errors %d",
				p.label, strings.Repeat("#", n), strings.Repeat("-", barLen-n), 100*frac,
				el.Round(time.Second), p.duration, rate, p99, s.falseSignOuts, s.errors)
		}
		lastReqs, lastAt = s.requests, now
		pad := max(width-len(line), 0)
		width = len(line)
		fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
	}
	for {
		select {
		case t := <-p.steadyC:
			steadyAt = t
			tk.Reset(time.Second)
			draw(time.Now(), false)
		case now := <-tk.C:
			if !steadyAt.IsZero() {
				p.rec.tick(now)
			}
			draw(now, false)
		case <-p.stopC:
			draw(time.Now(), true)
			if p.w != nil {
				fmt.Fprintln(p.w)
			}
			return
		}
	}
}
