package session

import (
	"time"

	"github.com/ccgw/ccgw"
)

// Heartbeat renews agent id's session if guid is its GUID (or the previous one,
// within its grace time). A non-empty token replaces the session's service token.
// It returns the GUID the client should switch to, or "" if it already has it. It
// fails with RetNotSignedIn if the agent has no session and RetNoPermission if guid
// is not the session's. Without a token change it does no I/O.
func (m *Manager) Heartbeat(id ccgw.AgentID, guid, token string) (string, error) {
	now := m.cfg.Clock.Now()
	if token == "" && id <= ccgw.MaxAgentID {
		// The fast path: the current GUID, no rotation due, no token to store.
		if g0, g1, ok := guidBits(guid, m.cfg.NodeName); ok {
			if h := m.hot.get(id); h.matches(g0, g1) {
				h.seen.Store(now.UnixNano())
				m.stats.heartbeats.Add(1)
				return "", nil
			}
		}
	}
	sh := m.shard(id)
	sh.mu.RLock()
	e := sh.live[id]
	if e == nil {
		sh.mu.RUnlock()
		return "", ccgw.Fail(ccgw.RetNotSignedIn)
	}
	if err := m.authLocked(e, guid, now, false); err != nil {
		sh.mu.RUnlock()
		if err == errUpgrade {
			m.adoptGUID(id, guid)
			return m.Heartbeat(id, guid, token)
		}
		return "", err
	}
	e.hot.seen.Store(now.UnixNano())
	m.stats.heartbeats.Add(1)
	current := e.s.GUID
	rotate := m.rotationDueLocked(e, guid, now)
	retoken := token != "" && token != e.s.ServiceToken
	sh.mu.RUnlock()
	if rotate || retoken {
		g, err := m.refresh(id, e, token, rotate, now)
		if err != nil || g == guid {
			return "", err // a token change alone leaves the GUID as the client has it
		}
		return g, nil
	}
	if guid != current {
		return current, nil
	}
	return "", nil
}

// refresh rotates e's GUID and/or replaces its token. A new token is persisted; a
// rotation alone is not (guid.go).
func (m *Manager) refresh(id ccgw.AgentID, e *entry, token string, rotate bool, now time.Time) (string, error) {
	sh := m.shard(id)
	sh.mu.Lock()
	if sh.live[id] != e {
		sh.mu.Unlock()
		return "", ccgw.Fail(ccgw.RetNotSignedIn)
	}
	if rotate && now.Sub(time.UnixMilli(e.s.GUIDIssued)) >= m.cfg.GUIDInterval {
		m.rotateLocked(e, now)
	}
	if token == "" {
		g := e.s.GUID
		sh.mu.Unlock()
		return g, nil
	}
	e.s.ServiceToken = token
	s := e.s
	t := ticketLocked(e)
	sh.mu.Unlock()
	m.ordered(sh, e, t, func() {
		if err := m.cfg.Store.PutSession(&s); err != nil {
			m.cfg.Log.Error("store put failed", "agent", id.String(), "err", err)
		}
	})
	return s.GUID, nil
}

// rotateLocked gives e the next rotation of its GUID; sh.mu must be held for writing.
func (m *Manager) rotateLocked(e *entry, now time.Time) {
	n := m.guidN(e, true) + 1
	e.s.PrevGUID = e.s.GUID
	e.s.PrevUntil = ccgw.Millis(now.Add(m.cfg.GUIDTimeout))
	e.s.GUID = deriveGUID(m.cfg.GUIDKey, &e.s, uint32(n), m.cfg.NodeName)
	e.guidN = n
	e.s.GUIDIssued = ccgw.Millis(now)
	e.hot.setGUID(e.s.GUID, m.cfg.NodeName)
	if m.cfg.AuthMode == AuthDynamic {
		m.wheel.add(m.rotationDue(&e.s), wheelEntry{id: e.s.Agent, gen: e.s.Gen, rotate: true})
	}
}

// rotationDueLocked reports whether a poll or handshake that authenticated
// with guid at now rotates e's GUID (dynamic mode): only a request with the
// current GUID does, once GUIDInterval has passed since it was minted. A client
// still sending the superseded GUID has not caught up: rotating again would
// drop the GUID it holds one GUIDInterval after it was superseded, not
// GUIDTimeout after. sh.mu must be held.
func (m *Manager) rotationDueLocked(e *entry, guid string, now time.Time) bool {
	return m.cfg.AuthMode == AuthDynamic && guid == e.s.GUID && now.Sub(time.UnixMilli(e.s.GUIDIssued)) >= m.cfg.GUIDInterval
}

// rotationDue returns when session s's GUID is due for rotation (dynamic mode).
func (m *Manager) rotationDue(s *ccgw.Session) time.Time {
	return time.UnixMilli(s.GUIDIssued).Add(m.cfg.GUIDInterval)
}

// UpdateGUID gives agent id's session a fresh GUID at once (updateGuid); the old
// one stays valid for GUIDTimeout. It fails as Heartbeat does.
func (m *Manager) UpdateGUID(id ccgw.AgentID, guid string) (string, error) {
	now := m.cfg.Clock.Now()
	sh := m.shard(id)
	sh.mu.Lock()
	e, err := m.authedLocked(sh, id, guid, now)
	if err != nil {
		sh.mu.Unlock()
		return "", err
	}
	e.hot.seen.Store(now.UnixNano())
	m.rotateLocked(e, now)
	s := e.s
	t := ticketLocked(e)
	sh.mu.Unlock()
	var werr error
	m.ordered(sh, e, t, func() { werr = m.cfg.Store.PutSession(&s) })
	if werr != nil {
		return "", &ccgw.Error{Code: ccgw.RetInternal, Err: werr}
	}
	return s.GUID, nil
}
