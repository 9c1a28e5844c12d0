package loadtest

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/client"
)

// Point is the keep-alive latency of one second of the measured window.
type Point struct {
	At       time.Duration // end of the second, from the start of the window
	Requests uint64        // heartbeats (and polls) answered in it
	P50, P99 time.Duration // of the heartbeats answered in it
}

// recorder collects what the workers observe. Requests sent inside the measured
// window [start, end) count towards latency and throughput; retcodes, errors and
// false sign-outs count for the whole run.
type recorder struct {
	mu            sync.Mutex // guards every field below; held for counting only, never across I/O
	poll          bool
	start, end    time.Time // the measured window; zero until startWindow
	handShake     Histogram // heartbeats sent in the window
	polls         Histogram // polls sent in the window
	signIn        Histogram // every login and forceLogin
	second        Histogram // heartbeats answered since the last tick
	secondReqs    uint64
	requests      uint64 // keep-alive requests sent in the window and answered
	retcodes      map[string]map[string]int64
	errors        int64
	firstError    string
	falseSignOuts int64
	skipped       int64
	maxLag        time.Duration
	signedInN     int64
	series        []Point
}

func newRecorder(poll bool) *recorder {
	return &recorder{poll: poll, retcodes: make(map[string]map[string]int64)}
}

// inWindowLocked reports whether t is inside the measured window; mu must be held.
func (c *recorder) inWindowLocked(t time.Time) bool {
	return !c.start.IsZero() && !t.Before(c.start) && t.Before(c.end)
}

// record counts one request: its retcode by spec method name (o.Op), or
// "HTTP <status>" for an answer without one, or a transport error.
func (c *recorder) record(o client.Observation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	op := o.Op
	if o.Err != nil {
		c.errors++
		if c.firstError == "" {
			c.firstError = op + ": " + o.Err.Error()
		}
		return
	}
	m := c.retcodes[op]
	if m == nil {
		m = make(map[string]int64)
		c.retcodes[op] = m
	}
	code := string(o.Code)
	if code == "" {
		code = "HTTP " + strconv.Itoa(o.Status)
	}
	m[code]++
	switch op {
	case opLogin, opForceLogin:
		c.signIn.Record(o.Took)
	case opHandShake, opPoll:
		if !c.inWindowLocked(o.Start) {
			return
		}
		c.requests++
		c.secondReqs++
		if op == opHandShake {
			c.handShake.Record(o.Took)
			c.second.Record(o.Took)
		} else {
			c.polls.Record(o.Took)
		}
	}
}

func (c *recorder) signedIn() {
	c.mu.Lock()
	c.signedInN++
	c.mu.Unlock()
}

func (c *recorder) falseSignOut() {
	c.mu.Lock()
	c.falseSignOuts++
	c.mu.Unlock()
}

func (c *recorder) skip() {
	c.mu.Lock()
	c.skipped++
	c.mu.Unlock()
}

// lag records that a heartbeat due at due was handed to a worker late by d. It
// counts if it was handed over inside the window, whenever it was due: a schedule
// that fell far behind before the window hands over only slots due before it.
func (c *recorder) lag(due time.Time, d time.Duration) {
	c.mu.Lock()
	if c.inWindowLocked(due.Add(d)) && d > c.maxLag {
		c.maxLag = d
	}
	c.mu.Unlock()
}

// startWindow opens the measured window at start for d and returns its end.
func (c *recorder) startWindow(start time.Time, d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.start, c.end = start, start.Add(d)
	c.second.Reset()
	c.secondReqs = 0
	return c.end
}

// tick closes the current second of the window at now and adds it to the series.
func (c *recorder) tick(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.start.IsZero() {
		return
	}
	c.series = append(c.series, Point{
		At:       now.Sub(c.start),
		Requests: c.secondReqs,
		P50:      c.second.Quantile(0.50),
		P99:      c.second.Quantile(0.99),
	})
	c.second.Reset()
	c.secondReqs = 0
}

// endWindow closes the last, possibly partial, second of the window.
func (c *recorder) endWindow(now time.Time) {
	c.mu.Lock()
	partial := c.secondReqs > 0
	if now.After(c.end) {
		now = c.end
	}
	c.mu.Unlock()
	if partial {
		c.tick(now)
	}
}

// status is what the progress line shows.
type status struct {
	signedIn, falseSignOuts, errors int64
	requests                        uint64
	p99                             time.Duration // of the last second
	measuring                       bool
}

func (c *recorder) status() status {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := status{signedIn: c.signedInN, falseSignOuts: c.falseSignOuts, errors: c.errors,
		requests: c.requests, measuring: !c.start.IsZero()}
	if n := len(c.series); n > 0 {
		s.p99 = c.series[n-1].P99
	}
	return s
}

// describeFailure says why no agent signed in.
func (c *recorder) describeFailure() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.firstError != "" {
		return c.firstError
	}
	for op, m := range c.retcodes {
		for code, n := range m {
			if code != string(ccgw.RetOK) {
				return fmt.Sprintf("%s answered retcode %s (%d times)", op, code, n)
			}
		}
	}
	return "no answer"
}

// report summarizes the run; window is how long the measured window lasted.
func (c *recorder) report(window time.Duration) Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	rep := Report{
		Elapsed:       window,
		Requests:      int64(c.requests),
		HandShake:     latencyOf(&c.handShake),
		SignIn:        latencyOf(&c.signIn),
		Retcodes:      make(map[string]map[string]int64, len(c.retcodes)),
		Errors:        c.errors,
		FirstError:    c.firstError,
		FalseSignOuts: c.falseSignOuts,
		Skipped:       c.skipped,
		MaxLag:        c.maxLag,
		Series:        append([]Point(nil), c.series...),
	}
	if c.poll {
		rep.Poll = latencyOf(&c.polls)
	}
	if window > 0 {
		rep.RPS = float64(c.requests) / window.Seconds()
	}
	for op, m := range c.retcodes {
		cp := make(map[string]int64, len(m))
		for k, v := range m {
			cp[k] = v
		}
		rep.Retcodes[op] = cp
	}
	return rep
}
