// Package guard owns the password check of every sign-in with its lockout:
// wrong passwords counted per agent in a ccgw.LockoutStore, a locked agent
// refused before any password is hashed.
package guard

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ccgw/ccgw"
)

// Guard is the password check of every sign-in, on one node and on several: it asks the directory, and with a lockout policy on
// it counts wrong passwords per agent in a ccgw.LockoutStore and refuses a
// locked agent before any password is hashed. Its fields are set before use.
type Guard struct {
	Directory ccgw.Directory     // required
	Policy    ccgw.LockoutPolicy // zero: nobody is ever locked out
	Store     ccgw.LockoutStore  // where the counts live; required if Policy is on
	Clock     ccgw.Clock         // times windows and locks; required if Policy is on
	Log       *slog.Logger       // required if Policy is on
}

// Check checks password, given to sign-in operation op, for agent id. It
// returns nil if it signs the agent in, else an *Error with Op op and:
//
//   - RetAccountLocked if the agent is locked (checked before the password is
//     hashed), or becomes locked by this wrong password, or was locked by a
//     concurrent sign-in's while this one's right password was being checked;
//   - RetBadPassword for a wrong password or an unknown agent; each counts
//     toward the lock, except the empty password (not a guess: it is refused
//     without hashing and never locks anyone out);
//   - RetInternal if the directory or the lockout store cannot be read or written.
//
// A right password forgets the agent's count. Safe for concurrent use.
func (g *Guard) Check(ctx context.Context, op string, id ccgw.AgentID, password string) error {
	if !g.Policy.On() {
		return ccgw.VerifyPassword(ctx, g.Directory, op, id, password)
	}
	f, err := g.Store.LoginFailures(ctx, id)
	if err != nil {
		return g.storeFailed(op, err)
	}
	if f.Locked(g.Clock.Now()) {
		return &ccgw.Error{Code: ccgw.RetAccountLocked, Op: op}
	}
	verr := ccgw.VerifyPassword(ctx, g.Directory, op, id, password)
	switch ccgw.CodeOf(verr) {
	case ccgw.RetOK:
		now := g.Clock.Now()
		f, err := g.Store.ClearLoginFailures(ctx, id, now)
		if err != nil {
			return g.storeFailed(op, err)
		}
		if f.Locked(now) {
			return &ccgw.Error{Code: ccgw.RetAccountLocked, Op: op}
		}
		return nil
	case ccgw.RetBadPassword:
		if password == "" {
			return verr
		}
		if err := g.failed(ctx, op, id); err != nil {
			return err
		}
	}
	return verr
}

// Change runs change, a password change that checks the old password
// (modifyAccountPwdEx: agent.Directory.ChangePassword), under the lockout, so
// that a signed-in client cannot guess the password there instead. It returns
// an *Error with Op op: RetAccountLocked if agent id is locked (change does not
// run) or becomes locked by this wrong old password (RetOldPasswordWrong from
// change; an empty one is not counted), RetInternal if the lockout store fails,
// else change's error as it is. A change that succeeds forgets the count.
func (g *Guard) Change(ctx context.Context, op string, id ccgw.AgentID, old string, change func() error) error {
	if !g.Policy.On() {
		return change()
	}
	f, err := g.Store.LoginFailures(ctx, id)
	if err != nil {
		return g.storeFailed(op, err)
	}
	if f.Locked(g.Clock.Now()) {
		return &ccgw.Error{Code: ccgw.RetAccountLocked, Op: op}
	}
	cerr := change()
	switch ccgw.CodeOf(cerr) {
	case ccgw.RetOK:
		g.Store.ClearLoginFailures(ctx, id, g.Clock.Now()) // best effort: the change is made
	case ccgw.RetOldPasswordWrong:
		if old == "" {
			break
		}
		if err := g.failed(ctx, op, id); err != nil {
			return err
		}
	}
	return cerr
}

// failed counts a wrong password of agent id toward its lock. It returns
// RetAccountLocked if that locked the agent (logged once, here), RetInternal
// if the store failed, else nil.
func (g *Guard) failed(ctx context.Context, op string, id ccgw.AgentID) error {
	now := g.Clock.Now()
	f, err := g.Store.AddLoginFailure(ctx, id, now, g.Policy)
	if err != nil {
		return g.storeFailed(op, err)
	}
	if f.Locked(now) {
		g.Log.Warn("agent locked out", "agent", id.String(), "op", op, "attempts", g.Policy.Attempts,
			"window", g.Policy.Window, "until", f.Until.UTC().Format(time.RFC3339))
		return &ccgw.Error{Code: ccgw.RetAccountLocked, Op: op}
	}
	return nil
}

func (g *Guard) storeFailed(op string, err error) error {
	return &ccgw.Error{Code: ccgw.RetInternal, Op: op, Err: fmt.Errorf("lockout store: %w", err)}
}

// MemLockouts is a ccgw.LockoutStore in memory: counts last while the process
// runs, on this node only. It keeps one record per work number that had a
// wrong password and has not expired or been cleared since (at most the
// 999,899 work numbers, about 64 bytes each); expired records are dropped
// whenever the map has doubled since the last such sweep.
type MemLockouts struct {
	mu    sync.Mutex // guards recs and sweep
	recs  map[ccgw.AgentID]memFailures
	sweep int // len(recs) at which expired records are next dropped
}

type memFailures struct {
	f      ccgw.LoginFailures
	expiry time.Time
}

var _ ccgw.LockoutStore = (*MemLockouts)(nil)

// NewMemLockouts returns an empty MemLockouts.
func NewMemLockouts() *MemLockouts {
	return &MemLockouts{recs: make(map[ccgw.AgentID]memFailures), sweep: 1024}
}

// LoginFailures implements ccgw.LockoutStore; it never fails.
func (m *MemLockouts) LoginFailures(ctx context.Context, id ccgw.AgentID) (ccgw.LoginFailures, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.recs[id].f, nil
}

// AddLoginFailure implements ccgw.LockoutStore; it never fails.
func (m *MemLockouts) AddLoginFailure(ctx context.Context, id ccgw.AgentID, now time.Time, p ccgw.LockoutPolicy) (ccgw.LoginFailures, error) {
	now = time.UnixMilli(ccgw.Millis(now)) // the precision of every store
	m.mu.Lock()
	defer m.mu.Unlock()
	f := p.Fail(m.recs[id].f, now)
	if exp := p.Expiry(f); exp.After(now) {
		m.recs[id] = memFailures{f: f, expiry: exp}
	} else {
		delete(m.recs, id)
	}
	if len(m.recs) >= m.sweep {
		for k, r := range m.recs {
			if !r.expiry.After(now) {
				delete(m.recs, k)
			}
		}
		m.sweep = max(1024, 2*len(m.recs))
	}
	return f, nil
}

// ClearLoginFailures implements ccgw.LockoutStore; it never fails.
func (m *MemLockouts) ClearLoginFailures(ctx context.Context, id ccgw.AgentID, now time.Time) (ccgw.LoginFailures, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.recs[id].f
	if !f.Locked(now) {
		delete(m.recs, id)
	}
	return f, nil
}
