package session

import (
	"github.com/ccgw/ccgw"
)

// SignIn is a validated sign-in request.
type SignIn struct {
	Op       string // login, forceLogin or loginEx (for logs and errors)
	Force    bool   // replace a session the agent already has
	Password string
	// SkipPassword signs in without a password check: the simulated call
	// centre's own agents. Never set for a sign-in over HTTP.
	SkipPassword bool
	Status       ccgw.AgentState // StateIdle, StateBusy or StateWork
	// Session carries the agent ID and the client's options; the Manager fills in
	// Gen, GUID, LoginTime, State and Skills.
	Session ccgw.Session
}

// SignIn signs an agent in and returns its new session. It fails with
// RetBadPassword for a wrong password or unknown agent, RetAccountLocked if too
// many wrong passwords locked the agent out (Config.Lockout; see Guard.Check),
// RetAlreadySignedIn if the
// agent is signed in and Force is false, RetSigningIn while another sign-in or
// sign-out of the agent is in flight, and RetInternal if the store fails. A forced
// sign-in ends the earlier session (its client is told AgentOther_ShutdownService).
func (m *Manager) SignIn(req SignIn) (ccgw.Session, error) {
	id := req.Session.Agent
	if !req.SkipPassword {
		if err := m.guard.Check(req.Op, id, req.Password); err != nil {
			return ccgw.Session{}, err
		}
	}
	agent, ok := m.cfg.Directory.Agent(id)
	if !ok {
		return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetBadPassword, Op: req.Op}
	}
	now := m.cfg.Clock.Now()
	s := req.Session
	s.Gen = m.gen.Add(1)
	s.GUID = newGUID(m.cfg.NodeName)
	s.GUIDIssued = ccgw.Millis(now)
	s.LoginTime = ccgw.Millis(now)
	s.Op = req.Op
	s.State = req.Status
	s.StateSince = ccgw.Millis(now)
	s.TalkRight = true
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
	evs := []ccgw.Event{e.q.Add(ccgw.EvInService, nil, now), e.q.Add(ccgw.EvReady, nil, now)}
	switch req.Status {
	case ccgw.StateBusy:
		evs = append(evs, e.q.Add(ccgw.EvSetNotReadySuccess, ccgw.Content(map[string]string{"reason": "0"}), now))
	case ccgw.StateWork:
		evs = append(evs, e.q.Add(ccgw.EvWork, nil, now))
	}
	sh.mu.Unlock()
	m.persist(&s, evs)
	m.skills.set(id, nil, s.Skills)
	m.wheel.add(deadline(now, m.timeout(s.Mode)), wheelEntry{id: id, gen: s.Gen})
	if m.cfg.AuthMode == AuthDynamic {
		m.wheel.add(m.rotationDue(&s), wheelEntry{id: id, gen: s.Gen, rotate: true})
	}
	m.live.Add(1)
	m.stats.signIn()
	m.notify(&s)
	m.changed(s)
	return s, nil
}
