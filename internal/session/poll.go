package session

import (
	"context"
	"time"

	"github.com/ccgw/ccgw"
)

// Poll takes agent id's next event, waiting up to wait for one (getAgentEvent).
// The poll is a heartbeat, and a poll in progress keeps the session alive. A client
// whose session ended can still collect its last events (AgentOther_ShutdownService)
// with its old GUID; after that it gets RetNotSignedIn (RetNoPermission if the
// agent signed in again). It returns the event (nil after wait with none), the GUID
// the client should switch to ("" if none), or RetWrongEventMethod for a push-mode
// session.
func (m *Manager) Poll(ctx context.Context, id ccgw.AgentID, guid string, wait time.Duration) (*ccgw.Event, string, error) {
	now := m.cfg.Clock.Now()
	sh := m.shard(id)
	sh.mu.RLock()
	e := sh.live[id]
	if e != nil {
		if err := m.authLocked(e, guid, now, false); err == errUpgrade {
			sh.mu.RUnlock()
			m.adoptGUID(id, guid)
			return m.Poll(ctx, id, guid, wait)
		} else if err != nil {
			e = nil
		}
	}
	if e == nil {
		live := sh.live[id] != nil
		sh.mu.RUnlock()
		return m.pollTomb(id, guid, live)
	}
	if e.s.Mode == ccgw.ModePush {
		sh.mu.RUnlock()
		return nil, "", ccgw.Fail(ccgw.RetWrongEventMethod)
	}
	rotate := m.rotationDueLocked(e, guid, now)
	current := e.s.GUID
	e.polling.Add(1)
	e.hot.seen.Store(now.UnixNano())
	sh.mu.RUnlock()
	m.stats.polls.Add(1)

	setGUID := ""
	if rotate {
		g, err := m.refresh(id, e, "", true, now)
		if err != nil {
			e.polling.Add(-1)
			return nil, "", err
		}
		setGUID = g
	} else if guid != current {
		setGUID = current
	}

	t := m.cfg.WaitClock.NewTimer(wait)
	ev, ok := e.q.Next(ctx, t.C())
	t.Stop()
	e.hot.seen.Store(m.cfg.Clock.Now().UnixNano())
	e.polling.Add(-1)
	if !ok {
		return nil, setGUID, nil
	}
	m.stats.polled.Add(1)
	m.delivered(id, e.s.Gen, ev.Seq)
	return &ev, setGUID, nil
}

// pollTomb serves a poll whose GUID is not the live session's.
func (m *Manager) pollTomb(id ccgw.AgentID, guid string, live bool) (*ccgw.Event, string, error) {
	sh := m.shard(id)
	sh.mu.Lock()
	t := sh.tombs[id]
	if t == nil || guid == "" || t.guid != guid {
		sh.mu.Unlock()
		if live {
			return nil, "", ccgw.Fail(ccgw.RetNoPermission)
		}
		return nil, "", ccgw.Fail(ccgw.RetNotSignedIn)
	}
	ev, ok := t.q.Pop() // the sweep purges the tombstone when its time is up
	sh.mu.Unlock()
	if !ok {
		// The client of an ended sign-in is signed out, also when the agent
		// signed in again elsewhere: clients stop polling only on 100-006.
		return nil, "", ccgw.Fail(ccgw.RetNotSignedIn)
	}
	return &ev, "", nil
}

// Session returns a copy of agent id's session if guid authenticates it.
func (m *Manager) Session(id ccgw.AgentID, guid string) (ccgw.Session, error) {
	now := m.cfg.Clock.Now()
	sh := m.shard(id)
	sh.mu.RLock()
	e := sh.live[id]
	if e == nil {
		sh.mu.RUnlock()
		return ccgw.Session{}, ccgw.Fail(ccgw.RetNotSignedIn)
	}
	if err := m.authLocked(e, guid, now, false); err != nil {
		sh.mu.RUnlock()
		if err == errUpgrade {
			m.adoptGUID(id, guid)
			return m.Session(id, guid)
		}
		return ccgw.Session{}, err
	}
	s := e.s
	s.Skills = append([]int(nil), e.s.Skills...)
	sh.mu.RUnlock()
	return s, nil
}

// Lookup returns a copy of agent id's session whatever its GUID, for queries about
// other agents.
func (m *Manager) Lookup(id ccgw.AgentID) (ccgw.Session, bool) {
	sh := m.shard(id)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	e := sh.live[id]
	if e == nil || e.pending {
		return ccgw.Session{}, false
	}
	s := e.s
	s.Skills = append([]int(nil), e.s.Skills...)
	return s, true
}
