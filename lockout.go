package ccgw

import (
	"context"
	"time"
)

// LockoutPolicy says when wrong passwords lock an agent out of signing in
// (RetAccountLocked). The zero LockoutPolicy never locks anyone.
type LockoutPolicy struct {
	Attempts int           // wrong passwords within Window that lock the agent; 0: none ever does
	Window   time.Duration // counted from the first wrong password of the window
	Duration time.Duration // how long a lock lasts
}

// On reports whether p locks anyone at all.
func (p LockoutPolicy) On() bool { return p.Attempts > 0 }

// LoginFailures is an agent's count of wrong passwords, as a LockoutStore keeps
// it. Times have millisecond precision (Millis) in every store.
type LoginFailures struct {
	Count int       // wrong passwords since Since
	Since time.Time // the first of them; zero if Count is 0
	Until time.Time // the agent is locked before this; zero: it was not locked
}

// Locked reports whether f locks its agent at now.
func (f LoginFailures) Locked(now time.Time) bool { return now.Before(f.Until) }

// Fail returns f after one more wrong password at now. A window that is over
// (Since+Window at or before now) starts again with this one. The Attempts-th
// wrong password within a window locks the agent until now+Duration and starts
// the count again; a lock that was running is kept (or extended).
func (p LockoutPolicy) Fail(f LoginFailures, now time.Time) LoginFailures {
	if f.Count == 0 || !now.Before(f.Since.Add(p.Window)) {
		f.Count, f.Since = 0, now
	}
	f.Count++
	if f.Count >= p.Attempts {
		return LoginFailures{Until: now.Add(p.Duration)}
	}
	return f
}

// Expiry returns when f stops mattering under p: its lock has ended and its
// window is over. A store may forget f then.
func (p LockoutPolicy) Expiry(f LoginFailures) time.Time {
	end := f.Until
	if f.Count > 0 && f.Since.Add(p.Window).After(end) {
		end = f.Since.Add(p.Window)
	}
	return end
}

// LockoutStore keeps each agent's LoginFailures, so that a lockout holds on every
// node at once (Redis) and across restarts (bbolt). Times are the caller's
// clock's (the session Clock), never the store's own. Each method is one atomic
// step of the store; all are safe for concurrent use. An error means the store
// could not be read or written.
type LockoutStore interface {
	// LoginFailures returns agent id's record; the zero LoginFailures if none.
	LoginFailures(ctx context.Context, id AgentID) (LoginFailures, error)
	// AddLoginFailure replaces agent id's record f by p.Fail(f, now), in one
	// atomic step, and returns the new record.
	AddLoginFailure(ctx context.Context, id AgentID, now time.Time, p LockoutPolicy) (LoginFailures, error)
	// ClearLoginFailures forgets agent id's record unless it locks the agent at
	// now, in one atomic step, and returns the record as it was.
	ClearLoginFailures(ctx context.Context, id AgentID, now time.Time) (LoginFailures, error)
}
