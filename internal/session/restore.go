package session

import (
	"time"

	"github.com/ccgw/ccgw"
)

// Restore loads every stored session and makes it live with a full timeout counted
// from now, so that nobody is signed out because the gateway was down. It returns
// how many it restored. Call it once, before serving.
func (m *Manager) Restore() (int, error) {
	now := m.cfg.Clock.Now()
	n := 0
	var maxGen uint64
	var simulated []ccgw.SessionRef
	err := m.cfg.Store.LoadSessions(func(s *ccgw.Session) error {
		if s.Simulated {
			// Stored by an earlier ccgw; the simulator signs its agents in anew.
			simulated = append(simulated, ccgw.SessionRef{Agent: s.Agent, Gen: s.Gen})
			return nil
		}
		e := &entry{s: *s, q: m.queueFor(s.Agent, s.Simulated), hot: m.hot.get(s.Agent), guidN: -1}
		e.s.Skills = m.skillLists.intern(s.Skills)
		e.hot.seen.Store(now.UnixNano())
		e.hot.setGUID(s.GUID, m.cfg.NodeName)
		sh := m.shard(s.Agent)
		sh.mu.Lock()
		sh.live[s.Agent] = e
		sh.mu.Unlock()
		if s.Gen > maxGen {
			maxGen = s.Gen
		}
		// Filed at once (not gathered first): even after an error, the sessions
		// already loaded are live and must expire.
		m.wheel.add(deadline(now, m.timeout(s.Mode)), wheelEntry{id: s.Agent, gen: s.Gen})
		if s.State == ccgw.StateRest && s.RestUntil != 0 {
			m.wheel.add(time.UnixMilli(s.RestUntil), wheelEntry{id: s.Agent, gen: s.Gen, rest: s.RestSeq})
		}
		if m.cfg.AuthMode == ccgw.AuthDynamic {
			m.wheel.add(m.rotationDue(s), wheelEntry{id: s.Agent, gen: s.Gen, rotate: true})
		}
		m.skills.set(s.Agent, nil, s.Skills)
		n++
		return nil
	})
	if len(simulated) > 0 {
		if derr := m.cfg.Store.DeleteSessions(simulated); derr != nil && err == nil {
			err = derr
		}
	}
	if err == nil {
		err = m.restoreEvents()
	}
	// Even after an error, the sessions already loaded are live: count them and
	// keep new generations above theirs.
	for {
		cur := m.gen.Load()
		if cur >= maxGen || m.gen.CompareAndSwap(cur, maxGen) {
			break
		}
	}
	m.live.Add(int64(n))
	return n, err
}

// restoreEvents puts each restored session's undelivered events back in its queue,
// and drops (counted) those of sign-ins that no longer exist.
func (m *Manager) restoreEvents() error {
	if m.cfg.Events == nil {
		return nil
	}
	var stale []ccgw.SessionRef
	err := m.cfg.Events.LoadEvents(func(id ccgw.AgentID, gen, acked uint64, evs []ccgw.Event) error {
		sh := m.shard(id)
		sh.mu.RLock()
		e := sh.live[id]
		sh.mu.RUnlock()
		if e == nil || e.s.Gen != gen {
			for _, ev := range evs {
				m.dropped(ev, ccgw.DropSessionEnded)
			}
			stale = append(stale, ccgw.SessionRef{Agent: id, Gen: gen})
			return nil
		}
		e.q.RestoreFrom(acked, evs)
		return nil
	})
	if len(stale) > 0 {
		if derr := m.cfg.Events.DropSignIns(stale); derr != nil && err == nil {
			err = derr
		}
	}
	return err
}
