package session

import (
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/event"
)

// endLocked takes e out of the live table and keeps its queue, with
// AgentOther_ShutdownService added unless the agent signed out itself (then
// emptied), as a tombstone for its client: its old GUID collects what is left,
// and after a voluntary sign-out a second one with it is told
// RetAlreadySignedOut. sh.mu must be held.
func (m *Manager) endLocked(sh *shard, e *entry, cause ccgw.SignOutCause, now time.Time) {
	delete(sh.live, e.s.Agent)
	e.hot.disarm()
	if cause.ByAgent() {
		e.q.Discard(ccgw.DropSessionEnded)
	} else {
		if cause == ccgw.CausePushFailed {
			// What its receiver never took is given up, so that the one
			// attempt left goes to AgentOther_ShutdownService.
			e.q.DropHead(math.MaxUint64, ccgw.DropPushFailed)
		}
		e.q.Add(ccgw.EvShutdownService, shutdownContent(e.s.LoginTime), now)
		e.q.Close()
	}
	if t := sh.tombs[e.s.Agent]; t != nil {
		t.q.Discard(ccgw.DropSessionEnded)
	}
	until := now.Add(m.cfg.Timeout)
	t := &tomb{guid: e.s.GUID, gen: e.s.Gen, q: e.q, until: until, loggedOut: cause.ByAgent()}
	if e.s.Mode == ccgw.ModePush && !cause.ByAgent() {
		s := e.s
		t.push = &s
	}
	sh.tombs[e.s.Agent] = t
	m.wheel.add(until, wheelEntry{id: e.s.Agent, gen: e.s.Gen, tomb: true})
}

func shutdownContent(loginTime int64) json.RawMessage {
	return event.Content(map[string]string{"loginTime": strconv.FormatInt(loginTime, 10)})
}

// ended does the work after a session left the table: store, counts, log.
func (m *Manager) ended(s ccgw.Session, cause ccgw.SignOutCause) {
	m.live.Add(-1)
	m.stats.signOut(cause)
	m.skills.set(s.Agent, s.Skills, nil)
	if err := m.cfg.Store.DeleteSession(s.Agent, s.Gen); err != nil {
		m.cfg.Log.Error("store delete failed", "agent", s.Agent.String(), "err", err)
	}
	if m.cfg.Events != nil {
		if err := m.cfg.Events.DropEvents(s.Agent, s.Gen); err != nil {
			m.cfg.Log.Error("event store drop failed", "agent", s.Agent.String(), "err", err)
		}
	}
	if !cause.ByAgent() {
		m.notify(&s)
	}
	out := s
	out.State = ccgw.StateSignedOut
	m.changed(out)
	if m.cfg.OnSignOut != nil {
		m.cfg.OnSignOut(s.Agent, cause)
	}
	m.cfg.Log.Info("signed out", "agent", s.Agent.String(), "cause", string(cause), "guid", shortGUID(s.GUID))
}

// SignOut ends agent id's session on its own request: cause CauseLogout (logout;
// refused with RetLogoutStateError while the agent talks) or CauseForceLogout. It
// fails with RetNotSignedIn, RetNoPermission, RetRepeated (a sign-in or sign-out in
// flight) or RetInternal.
func (m *Manager) SignOut(id ccgw.AgentID, guid string, cause ccgw.SignOutCause) error {
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
	if cause == ccgw.CauseLogout && e.s.State == ccgw.StateTalking {
		sh.mu.Unlock()
		return ccgw.Fail(ccgw.RetLogoutStateError)
	}
	m.endLocked(sh, e, cause, now)
	sh.mu.Unlock()
	m.ended(e.s, cause)
	return nil
}

// Kick ends agent id's session whatever its GUID (a supervisor's forced sign-out).
// It fails with RetNotSignedIn if the agent has no session.
func (m *Manager) Kick(id ccgw.AgentID, cause ccgw.SignOutCause) error { return m.kick(id, 0, cause) }

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
	m.endLocked(sh, e, cause, now)
	sh.mu.Unlock()
	m.ended(e.s, cause)
	return nil
}
