package session

import (
	"errors"
	"time"

	"github.com/ccgw/ccgw"
)

// authedLocked returns agent id's live session if guid authenticates it: else
// RetNotSignedIn (no session) or RetNoPermission. sh.mu must be held for writing.
func (m *Manager) authedLocked(sh *shard, id ccgw.AgentID, guid string, now time.Time) (*entry, error) {
	e := sh.live[id]
	if e == nil {
		return nil, ccgw.Fail(ccgw.RetNotSignedIn)
	}
	if err := m.authLocked(e, guid, now, true); err != nil {
		return nil, err
	}
	return e, nil
}

// errUpgrade is authLocked's answer under a read lock to a GUID that must be
// adopted first: the caller lets go, calls adoptGUID and starts again.
var errUpgrade = errors.New("session: GUID to adopt")

// authLocked checks guid against e; sh.mu must be held, for writing if write.
// A rotated GUID of e's sign-in newer than e's (one issued before a crash and
// never stored; guid.go) is adopted as e's current GUID: at once if write, else
// the answer is errUpgrade. A request that authenticates is activity: it
// renews the session's timeout, as the vendor's "if an agent does not send a
// request to the server within the timeout interval" has it.
func (m *Manager) authLocked(e *entry, guid string, now time.Time, write bool) error {
	err := m.checkGUIDLocked(e, guid, now, write)
	if err == nil {
		e.hot.seen.Store(now.UnixNano())
	}
	return err
}

// checkGUIDLocked is authLocked without the renewal.
func (m *Manager) checkGUIDLocked(e *entry, guid string, now time.Time, write bool) error {
	if guid == "" {
		return ccgw.Fail(ccgw.RetNoPermission)
	}
	if e.s.HasGUID(guid, now) {
		return nil
	}
	if m.cfg.AuthMode == ccgw.AuthDynamic {
		if n, ok := derivedN(m.cfg.GUIDKey, &e.s, guid, m.cfg.NodeName); ok && int64(n) > m.guidN(e, write) {
			if !write {
				return errUpgrade
			}
			m.adoptLocked(e, n, guid, now)
			return nil
		}
	}
	if t := m.shard(e.s.Agent).tombs[e.s.Agent]; t != nil && t.guid == guid {
		// The GUID of the sign-in this one replaced: its client is signed out.
		return ccgw.Fail(ccgw.RetNotSignedIn)
	}
	return ccgw.Fail(ccgw.RetNoPermission)
}

// guidN returns the rotation number of e's current GUID; sh.mu must be held, for
// writing if write (it is then kept).
func (m *Manager) guidN(e *entry, write bool) int64 {
	if e.guidN >= 0 {
		return e.guidN
	}
	n, ok := derivedN(m.cfg.GUIDKey, &e.s, e.s.GUID, m.cfg.NodeName)
	if !ok {
		n = 0 // the sign-in's GUID
	}
	if write {
		e.guidN = int64(n)
	}
	return int64(n)
}

// adoptLocked makes guid, rotation n of e's sign-in, e's current GUID, with the
// one before it accepted for GUIDTimeout; sh.mu must be held for writing.
func (m *Manager) adoptLocked(e *entry, n uint32, guid string, now time.Time) {
	prev := e.s.GUID
	if int64(n)-1 > m.guidN(e, true) {
		prev = deriveGUID(m.cfg.GUIDKey, &e.s, n-1, m.cfg.NodeName)
	}
	e.s.PrevGUID = prev
	e.s.PrevUntil = ccgw.Millis(now.Add(m.cfg.GUIDTimeout))
	e.s.GUID = guid
	e.s.GUIDIssued = ccgw.Millis(now)
	e.guidN = int64(n)
	e.hot.setGUID(guid, m.cfg.NodeName)
	m.wheel.add(m.rotationDue(&e.s), wheelEntry{id: e.s.Agent, gen: e.s.Gen, rotate: true})
	m.cfg.Log.Info("rotated GUID recovered", "agent", e.s.Agent.String(), "rotation", n)
}

// adoptGUID adopts guid for agent id's session (see authLocked); the caller then
// starts again.
func (m *Manager) adoptGUID(id ccgw.AgentID, guid string) {
	now := m.cfg.Clock.Now()
	sh := m.shard(id)
	sh.mu.Lock()
	if e := sh.live[id]; e != nil {
		_ = m.authLocked(e, guid, now, true) // the caller's retry gives the verdict
	}
	sh.mu.Unlock()
}
