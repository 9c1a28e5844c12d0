package session

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/ccgw/ccgw"
)

// endLocked takes e out of the live table and keeps its queue, with
// AgentOther_ShutdownService added unless the agent signed out itself (then
// emptied), as a tombstone for its client: its old GUID collects what is left,
// and after a voluntary sign-out a second one with it is told
// RetAlreadySignedOut. It returns the sign-out, holding e's last write
// ticket, for ended or signedOut. sh.mu must be held for writing.
func (m *Manager) endLocked(sh *shard, e *entry, cause ccgw.SignOutCause, now time.Time) signOut {
	delete(sh.live, e.s.Agent)
	e.hot.disarm()
	end := ccgw.EndingOf(&e.s, cause)
	if !end.Tells() {
		e.q.Discard(end.Drop)
	} else {
		if end.Drop != "" {
			e.q.DropHead(math.MaxUint64, end.Drop)
		}
		e.q.Add(end.Shutdown.Type, end.Shutdown.Content, now)
		e.q.Close()
	}
	if t := sh.tombs[e.s.Agent]; t != nil {
		t.q.Discard(ccgw.DropSessionEnded)
	}
	until := now.Add(m.cfg.Timeout)
	t := &tomb{guid: e.s.GUID, gen: e.s.Gen, q: e.q, until: until, loggedOut: end.LoggedOut}
	if e.s.Mode == ccgw.ModePush && end.Tells() {
		s := e.s
		t.push = &s
	}
	sh.tombs[e.s.Agent] = t
	m.wheel.add(until, wheelEntry{id: e.s.Agent, gen: e.s.Gen, tomb: true})
	return signOut{s: e.s, cause: cause, sh: sh, e: e, ticket: ticketLocked(e)}
}

// signOut is a session that left the table (endLocked) and waits for its store
// write and its announcement (signedOut).
type signOut struct {
	s     ccgw.Session
	cause ccgw.SignOutCause
	due   time.Time // CauseTimeout: the deadline it missed
	// The session's entry and its last write ticket: the deletion reaches the
	// store after every earlier write of the session (ordered).
	sh     *shard
	e      *entry
	ticket uint32
}

// ended does the work after a session left the table: the live count and the
// skill index, then the store and the announcement (signedOut).
func (m *Manager) ended(o signOut) {
	m.left(&o.s)
	m.signedOut([]signOut{o})
}

// left takes session s, which left the table, out of the live count and the
// skill index.
func (m *Manager) left(s *ccgw.Session) {
	m.live.Add(-1)
	m.skills.set(s.Agent, s.Skills, nil)
}

// signOutStore is a store that keeps sessions and events and can delete both
// in one commit (bolt.Store).
type signOutStore interface {
	DeleteSessionsEvents(refs []ccgw.SessionRef) error
}

// signedOut deletes the sessions of outs and their stored events, SignOutBatch
// at a time in one commit each, and after each commit announces its sign-outs:
// counts, Notify (AgentOther_ShutdownService to push), OnChange, OnSignOut and
// the log. Each sign-out is announced once, by the caller holding it; no lock
// is held. A deletion waits for the earlier writes of its session (a state
// change in flight when the session ended), so that none of them stores the
// session again after it: the wait is rare, and short (those writes are under
// way, and wait for nothing of the sign-out's).
func (m *Manager) signedOut(outs []signOut) {
	for len(outs) > 0 {
		batch := outs[:min(len(outs), m.cfg.SignOutBatch)]
		for i := range batch {
			m.awaitTurn(batch[i].sh, batch[i].e, batch[i].ticket)
		}
		m.deleteStored(batch)
		for i := range batch {
			m.turnDone(batch[i].sh, batch[i].e, batch[i].ticket)
		}
		m.announce(batch)
		outs = outs[len(batch):]
	}
}

// deleteStored deletes the sessions of outs and their events from the store, in
// one commit where the store keeps both (else one for each). Simulated sessions
// were never stored. A failure is logged: the sessions are signed out anyway,
// and a restart would restore them with a full timeout.
func (m *Manager) deleteStored(outs []signOut) {
	refs := make([]ccgw.SessionRef, 0, len(outs))
	for i := range outs {
		if !outs[i].s.Simulated {
			refs = append(refs, ccgw.SessionRef{Agent: outs[i].s.Agent, Gen: outs[i].s.Gen})
		}
	}
	if len(refs) == 0 {
		return
	}
	fail := func(what string, err error) {
		m.cfg.Log.Error(what, "sessions", len(refs), "agent", refs[0].Agent.String(), "err", err)
	}
	if both, ok := m.cfg.Store.(signOutStore); ok && m.cfg.Events != nil && any(m.cfg.Events) == any(m.cfg.Store) {
		if err := both.DeleteSessionsEvents(refs); err != nil {
			fail("store delete failed", err)
		}
		return
	}
	if err := m.cfg.Store.DeleteSessions(refs); err != nil {
		fail("store delete failed", err)
	}
	if m.cfg.Events != nil {
		if err := m.cfg.Events.DropSignIns(refs); err != nil {
			fail("event store drop failed", err)
		}
	}
}

// bulkSignOuts is the most sign-outs of one commit that are logged a line each
// at INFO: a commit with more (a sweep after a site fell silent) logs one
// summary line at INFO and the lines of each at DEBUG (docs/decisions.md).
const bulkSignOuts = 100

// announce counts and reports the sign-outs of outs, just written to the store.
func (m *Manager) announce(outs []signOut) {
	now := m.cfg.Clock.Now()
	bulk := len(outs) > bulkSignOuts
	perAgent := !bulk || m.cfg.Log.Enabled(context.Background(), slog.LevelDebug)
	var worst time.Duration
	expiries := 0
	for i := range outs {
		o := &outs[i]
		m.stats.signOut(o.cause)
		if o.cause == ccgw.CauseTimeout {
			lag := now.Sub(o.due)
			m.stats.expiries.Add(1)
			m.stats.lag.Observe(lag)
			worst = max(worst, lag)
			expiries++
		}
		if !o.cause.ByAgent() {
			m.notify(&o.s)
		}
		out := o.s
		out.State = ccgw.StateSignedOut
		m.changed(out)
		if m.cfg.OnSignOut != nil {
			m.cfg.OnSignOut(o.s.Agent, o.cause)
		}
		if !perAgent {
			continue
		}
		level := slog.LevelInfo
		if bulk {
			level = slog.LevelDebug
		}
		m.cfg.Log.Log(context.Background(), level, "signed out", "agent", o.s.Agent.String(), "cause", string(o.cause), "guid", shortGUID(o.s.GUID))
	}
	if bulk {
		first, last := outs[0].s.Agent, outs[len(outs)-1].s.Agent
		m.cfg.Log.Info("signed out in bulk", "sessions", len(outs), "expiries", expiries, "lag_max", worst.Round(time.Millisecond),
			"first", first.String(), "last", last.String(), "per_agent", "debug")
	}
}

// SignOut ends agent id's session on its own request: cause CauseLogout (logout;
// refused with RetLogoutStateError while the agent talks) or CauseForceLogout. It
// fails with RetNotSignedIn, RetNoPermission, RetRepeated (a sign-in or sign-out in
// flight) or RetInternal.
func (m *Manager) SignOut(ctx context.Context, id ccgw.AgentID, guid string, cause ccgw.SignOutCause) error {
	now := m.cfg.Clock.Now()
	sh := m.shard(id)
	sh.mu.Lock()
	e, err := m.authedLocked(sh, id, guid, now)
	if err != nil {
		if t := sh.tombs[id]; t != nil && t.loggedOut && guid != "" && t.guid == guid {
			err = ccgw.Fail(ccgw.RetAlreadySignedOut) // a second sign-out
		}
		sh.mu.Unlock()
		return err
	}
	if e.pending {
		sh.mu.Unlock()
		return ccgw.Fail(ccgw.RetRepeated)
	}
	if err := ccgw.CheckSignOut(&e.s, cause); err != nil {
		sh.mu.Unlock()
		return err
	}
	o := m.endLocked(sh, e, cause, now)
	sh.mu.Unlock()
	m.ended(o)
	return nil
}

// Kick ends agent id's session whatever its GUID (a supervisor's forced sign-out).
// It fails with RetNotSignedIn if the agent has no session.
func (m *Manager) Kick(ctx context.Context, id ccgw.AgentID, cause ccgw.SignOutCause) error {
	return m.kick(id, 0, cause)
}

// kick ends agent id's session whatever its GUID, if it is sign-in gen (0: any).
func (m *Manager) kick(id ccgw.AgentID, gen uint64, cause ccgw.SignOutCause) error {
	now := m.cfg.Clock.Now()
	sh := m.shard(id)
	sh.mu.Lock()
	e := sh.live[id]
	if e == nil || e.pending || (gen != 0 && e.s.Gen != gen) {
		sh.mu.Unlock()
		return ccgw.Fail(ccgw.RetNotSignedIn)
	}
	o := m.endLocked(sh, e, cause, now)
	sh.mu.Unlock()
	m.ended(o)
	return nil
}
