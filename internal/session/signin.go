package session

import (
	"context"

	"github.com/ccgw/ccgw"
)

// SignIn signs an agent in and returns its new session. It fails with
// RetBadPassword for a wrong password or unknown agent, RetAccountLocked if too
// many wrong passwords locked the agent out (Config.Lockout; see Guard.Check),
// RetAlreadySignedIn if the
// agent is signed in and Force is false, RetSigningIn while another sign-in or
// sign-out of the agent is in flight, and RetInternal if the store fails. A forced
// sign-in ends the earlier session (its client is told AgentOther_ShutdownService).
func (m *Manager) SignIn(ctx context.Context, req ccgw.SignIn) (ccgw.Session, error) {
	id := req.Session.Agent
	if !req.SkipPassword {
		if err := m.guard.Check(ctx, req.Op, id, req.Password); err != nil {
			return ccgw.Session{}, err
		}
	}
	agent, ok := m.cfg.Directory.Agent(id)
	if !ok {
		return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetBadPassword, Op: req.Op}
	}
	now := m.cfg.Clock.Now()
	s := req.Start(agent, m.gen.Add(1), newGUID(m.cfg.NodeName), now)
	// The skill list is shared with every agent of the same skills (skilllists.go).
	s.Skills = m.skillLists.of(agent.Skills)
	e := &entry{s: s, pending: true, q: m.queueFor(id, s.Simulated), hot: m.hot.get(id)} // guidN 0: the sign-in's GUID

	sh := m.shard(id)
	sh.mu.Lock()
	old := sh.live[id]
	var replaced signOut
	if old != nil {
		switch {
		case old.pending:
			sh.mu.Unlock()
			return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetSigningIn, Op: req.Op}
		case !req.Force:
			sh.mu.Unlock()
			return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetAlreadySignedIn, Op: req.Op}
		}
		replaced = m.endLocked(sh, old, ccgw.CauseReplaced, now)
	}
	sh.live[id] = e
	e.hot.seen.Store(now.UnixNano())
	sh.mu.Unlock()

	if old != nil {
		m.ended(replaced)
	}
	if err := m.put(&s); err != nil {
		sh.mu.Lock()
		if sh.live[id] == e {
			delete(sh.live, id)
		}
		sh.mu.Unlock()
		e.q.Discard(ccgw.DropSessionEnded)
		return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetInternal, Op: req.Op, Err: err}
	}
	now = m.cfg.Clock.Now() // the timeout counts from the answer, not from before the write
	sh.mu.Lock()
	e.pending = false
	e.hot.seen.Store(now.UnixNano())
	e.hot.setGUID(s.GUID, m.cfg.NodeName)
	var evs []ccgw.Event
	for _, em := range req.Events() {
		evs = append(evs, e.q.Add(em.Type, em.Content, now))
	}
	sh.mu.Unlock()
	m.persist(&s, evs)
	m.skills.set(id, nil, s.Skills)
	m.wheel.add(deadline(now, m.timeout(s.Mode)), wheelEntry{id: id, gen: s.Gen})
	if m.cfg.AuthMode == ccgw.AuthDynamic {
		m.wheel.add(m.rotationDue(&s), wheelEntry{id: id, gen: s.Gen, rotate: true})
	}
	m.live.Add(1)
	m.stats.signIn()
	m.notify(&s)
	m.changed(s)
	return s, nil
}
