package push

import (
	"errors"
	"math"
	"time"

	"github.com/ccgw/ccgw"
)

// What becomes of an agent after a push attempt: the retry policies, and the
// drops and sign-out they lead to.

// RetryPolicy says how a Pusher retries a failed push.
type RetryPolicy uint8

const (
	// RetryVendor retries the same events every RetryInterval; the time an
	// agent's pushes have been failing adds up across attempts, a success
	// resets it, and when it reaches FailTotal the agent is signed out
	// (Source.PushFailed). So the vendor's CC-Gateway does (its development
	// guide, "Agent Event Push Mode").
	RetryVendor RetryPolicy = iota
	// RetryExponential retries after a delay doubling from BaseBackoff to
	// MaxBackoff (jittered) and drops the events after MaxAttempts; the agent
	// stays signed in.
	RetryExponential
)

// errUntrusted stands for a push not sent: the callback policy refuses its URL.
var errUntrusted = errors.New("callback not trusted")

// pushNextStep is what becomes of an agent after a push attempt.
type pushNextStep uint8

const (
	pushNone    pushNextStep = iota // the Pusher forgot the agent, or closed
	pushNext                        // delivered: on to the next events
	pushRetry                       // a retry timer is set
	pushGiveUp                      // RetryExponential: drop the batch, go on
	pushDropAll                     // drop every event queued (ended session, untrusted callback), go on
	pushSignOut                     // RetryVendor: failing for FailTotal, sign the agent out
)

// afterLocked records the outcome err of agent id's push to t, attempted from
// start to end, and returns what to do next; p.mu must be held.
func (p *Pusher) afterLocked(id ccgw.AgentID, t Target, err error, start, end time.Time) pushNextStep {
	st := p.agents[id]
	if st == nil {
		return pushNone
	}
	switch {
	case err == nil:
		st.attempt, st.failSince = 0, time.Time{}
		return pushNext
	case t.Ended || errors.Is(err, errUntrusted):
		st.attempt = 0
		return pushDropAll
	case p.cfg.Retry == RetryVendor:
		if st.failSince.IsZero() || st.failGen != t.Gen {
			st.failSince, st.failGen = start, t.Gen
		}
		if end.Sub(st.failSince) >= p.cfg.FailTotal {
			st.failSince = time.Time{}
			return pushSignOut
		}
		p.retryLocked(id, st, p.cfg.RetryInterval)
		return pushRetry
	case st.attempt+1 >= p.cfg.MaxAttempts:
		st.attempt = 0
		return pushGiveUp
	default:
		st.attempt++
		p.retryLocked(id, st, Backoff(st.attempt, p.cfg.BaseBackoff, p.cfg.MaxBackoff, p.rnd.Float64()))
		return pushRetry
	}
}

// retryLocked requeues agent id after d; p.mu must be held.
func (p *Pusher) retryLocked(id ccgw.AgentID, st *pushState, d time.Duration) {
	if !p.closed {
		st.retry = p.cfg.Clock.AfterFunc(d, func() { p.requeue(id) })
	}
}

// batchOf returns how many events one push to t carries at most.
func (p *Pusher) batchOf(t Target) int {
	if t.Legacy {
		return 1
	}
	return p.cfg.MaxBatch
}

// dropAll drops every event queued for t, from batch, its head, on, and returns
// how many.
func (p *Pusher) dropAll(t Target, batch []ccgw.Event) int {
	n := 0
	for len(batch) > 0 {
		last := batch[len(batch)-1].Seq
		n += t.Queue.DropHead(last, ccgw.DropPushFailed)
		p.cfg.Source.Delivered(t.Agent, t.Gen, last)
		batch = t.Queue.Peek(math.MaxInt32)
	}
	return n
}

// Backoff returns the delay before retry number attempt (from 1): the
// exponential step min(max, base·2^(attempt-1)), of which the upper half is
// jittered by r in [0,1).
func Backoff(attempt int, base, max time.Duration, r float64) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d/2 + time.Duration(r*float64(d/2))
}
