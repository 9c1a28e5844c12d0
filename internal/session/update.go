package session

import (
	"context"
	"slices"
	"time"

	"github.com/ccgw/ccgw"
)

// Update runs fn on agent id's session, authenticated by guid, under the
// session's lock: fn changes the session and returns the events to queue, or an
// error to refuse. A change is persisted after the lock is released. fn must not
// block or do I/O. It fails with RetNotSignedIn, the GUID check's retcodes
// (RetNoPermission, RetNotSignedIn for a replaced sign-in's GUID), or fn's error.
func (m *Manager) Update(ctx context.Context, id ccgw.AgentID, guid string, fn func(s *ccgw.Session, now time.Time) ([]ccgw.Emit, error)) (ccgw.Session, error) {
	return m.update(id, guid, true, fn)
}

// UpdateAny is Update on agent id's session whatever its GUID: for the gateway's
// own changes (the simulated call centre, the supervisor's interfaces), never
// for a client's request. It fails with RetNotSignedIn or fn's error.
func (m *Manager) UpdateAny(ctx context.Context, id ccgw.AgentID, fn func(s *ccgw.Session, now time.Time) ([]ccgw.Emit, error)) (ccgw.Session, error) {
	return m.update(id, "", false, fn)
}

func (m *Manager) update(id ccgw.AgentID, guid string, auth bool, fn func(s *ccgw.Session, now time.Time) ([]ccgw.Emit, error)) (ccgw.Session, error) {
	s, finish, err := m.updateLater(id, guid, auth, fn)
	if err != nil {
		return s, err
	}
	finish()
	return s, nil
}

// UpdateAnyLater is UpdateAny but for the store write and the notifications
// after it (Config.Notify, OnChange), which it leaves to finish: the caller
// must call finish once, after letting go of its own locks, so that it holds
// none across the write (the simulated call centre does). Writes of one session
// still reach the store in the order of its changes, whenever finish runs.
func (m *Manager) UpdateAnyLater(id ccgw.AgentID, fn func(s *ccgw.Session, now time.Time) ([]ccgw.Emit, error)) (ccgw.Session, func(), error) {
	return m.updateLater(id, "", false, fn)
}

func (m *Manager) updateLater(id ccgw.AgentID, guid string, auth bool, fn func(s *ccgw.Session, now time.Time) ([]ccgw.Emit, error)) (ccgw.Session, func(), error) {
	now := m.cfg.Clock.Now()
	sh := m.shard(id)
	sh.mu.Lock()
	e := sh.live[id]
	if e == nil || e.pending {
		sh.mu.Unlock()
		return ccgw.Session{}, nil, ccgw.Fail(ccgw.RetNotSignedIn)
	}
	if auth {
		if err := m.authLocked(e, guid, now, true); err != nil {
			sh.mu.Unlock()
			return ccgw.Session{}, nil, err
		}
	}
	before := e.s
	// fn gets a copy of the skills: the entry's may be shared (skillLists).
	e.s.Skills = append([]int(nil), before.Skills...)
	evs, err := fn(&e.s, now)
	if err != nil {
		e.s = before
		sh.mu.Unlock()
		return ccgw.Session{}, nil, err
	}
	if slices.Equal(before.Skills, e.s.Skills) {
		e.s.Skills = before.Skills
	}
	queued := make([]ccgw.Event, 0, len(evs))
	for _, ev := range evs {
		queued = append(queued, e.q.Add(ev.Type, ev.Content, now))
	}
	s := e.s
	s.Skills = append([]int(nil), e.s.Skills...)
	t := ticketLocked(e)
	sh.mu.Unlock()
	if s.RestSeq != before.RestSeq && s.RestUntil != 0 {
		m.wheel.add(time.UnixMilli(s.RestUntil), wheelEntry{id: id, gen: s.Gen, rest: s.RestSeq})
	}
	if !slices.Equal(before.Skills, s.Skills) {
		m.skills.set(id, before.Skills, s.Skills)
	}
	finish := func() {
		m.ordered(sh, e, t, func() { m.putWithEvents(&s, queued) })
		if len(queued) > 0 {
			m.notify(&s)
		}
		m.changed(s)
	}
	return s, finish, nil
}

var _ ccgw.SessionService = (*Manager)(nil)
