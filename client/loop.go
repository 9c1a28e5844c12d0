package client

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/ccgw/ccgw"
)

// Timing of the loops, as the vendor recommends it where it does.
const (
	// HeartbeatEvery is KeepAlive's default period: the vendor's "about every
	// 30 s" (its gateway signs an agent out after 2 minutes without one).
	HeartbeatEvery = 30 * time.Second
	// EmptyPollPause is how long Events waits after an answer without an event
	// (the vendor: 200–500 ms).
	EmptyPollPause = 300 * time.Millisecond
	// MinBackoff and MaxBackoff bound the wait after a failed request.
	MinBackoff = 500 * time.Millisecond
	MaxBackoff = 30 * time.Second
)

// backoff returns the wait after the n-th failure in a row (n ≥ 1), given r in
// [0,1): uniform in [w/2, w) with w = min(MaxBackoff, 2·MinBackoff·2^(n-1)), so
// from MinBackoff on the first failure up to MaxBackoff.
func backoff(n int, r float64) time.Duration {
	w := 2 * MinBackoff
	for i := 1; i < n && w < MaxBackoff; i++ {
		w *= 2
	}
	w = min(w, MaxBackoff)
	return w/2 + time.Duration(r*float64(w/2))
}

// final reports whether a loop must stop on err: the session is gone
// (100-006), or (polling) it is in push mode and no poll can succeed (000-001).
func final(err error) bool {
	switch CodeOf(err) {
	case ccgw.RetNotSignedIn, ccgw.RetWrongEventMethod:
		return true
	}
	return false
}

// KeepAlive calls Heartbeat once per period, every (HeartbeatEvery if every ≤
// 0), the first time one period after it is called. After a failure it tries
// again sooner, backing off from MinBackoff, but never later than a period.
// It returns the *Error when the agent is signed out (ccgw.RetNotSignedIn,
// 100-006), or ctx's error when ctx ends; it always returns a non-nil error.
// Its time comes from the Client's clock.
func (a *Agent) KeepAlive(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		every = HeartbeatEvery
	}
	wait, fails := every, 0
	for {
		if err := a.c.sleep(ctx, wait); err != nil {
			return err
		}
		err := a.Heartbeat(ctx)
		switch {
		case err == nil:
			wait, fails = every, 0
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case CodeOf(err) == ccgw.RetNotSignedIn:
			return err
		}
		fails++
		wait = min(backoff(fails, rand.Float64()), every)
		a.c.log.Warn("heartbeat failed", "agent", a.workNo, "err", err, "retry_in", wait)
	}
}

// Events polls the agent's events (Poll) and calls handler with each, in
// order: at once again after an event, EmptyPollPause after an answer without
// one, and after a failed poll a random wait that grows from MinBackoff to
// MaxBackoff with each failure in a row. An event whose sequence number (ccgw's
// X-CCGW-Seq) is not above the last one handled since the Agent's sign-in is
// a duplicate and skipped.
//
// It returns handler's error as soon as handler returns one; the *Error if the
// agent is signed out (ccgw.RetNotSignedIn, 100-006: after a sign-out by anyone
// else, the events up to AgentOther_ShutdownService are handled first) or the
// session is in push mode (ccgw.RetWrongEventMethod, 000-001); or ctx's error
// when ctx ends. It always returns a non-nil error. Its time comes from the
// Client's clock.
func (a *Agent) Events(ctx context.Context, handler func(Event) error) error {
	var last, lastGen uint64
	fails := 0
	for {
		ev, gen, err := a.poll(ctx)
		var wait time.Duration
		switch {
		case err == nil && ev == nil:
			fails, wait = 0, EmptyPollPause
		case err == nil:
			fails = 0
			if gen != lastGen {
				last, lastGen = 0, gen // a new sign-in numbers its events from 1
			}
			if ev.Seq != 0 && ev.Seq <= last {
				a.c.log.Debug("duplicate event dropped", "agent", a.workNo, "seq", ev.Seq)
				continue
			}
			if ev.Seq != 0 {
				last = ev.Seq
			}
			if err := handler(*ev); err != nil {
				return err
			}
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case final(err):
			return err
		default:
			fails++
			wait = backoff(fails, rand.Float64())
			a.c.log.Warn("poll failed", "agent", a.workNo, "err", err, "retry_in", wait)
		}
		if err := a.c.sleep(ctx, wait); err != nil {
			return err
		}
	}
}
