package session

import (
	"context"
	"time"

	"github.com/ccgw/ccgw"
)

// Run sweeps every tick until ctx ends. It returns ctx's error.
func (m *Manager) Run(ctx context.Context) error {
	for {
		t := m.cfg.Clock.NewTimer(m.cfg.Tick)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C():
			m.Sweep(m.cfg.Clock.Now())
			m.FlushAcks()
		}
	}
}

// Sweep signs out every session whose deadline passed by now and purges expired
// tombstones. It looks only at the wheel's due entries, never at all sessions,
// and signs out at most MaxExpiries sessions; the rest wait for the next sweep.
// It returns how many sessions it signed out.
func (m *Manager) Sweep(now time.Time) int {
	due := m.wheel.due(now)
	if len(due) == 0 {
		return 0
	}
	var refile []timedEntry
	var expired []ccgw.Session
	var rested []restDone
	for i, we := range due {
		if len(expired) >= m.cfg.MaxExpiries {
			for _, rest := range due[i:] {
				refile = append(refile, timedEntry{now.Add(m.cfg.Tick), rest})
			}
			break
		}
		sh := m.shard(we.id)
		sh.mu.Lock()
		if we.tomb {
			if t := sh.tombs[we.id]; t != nil && t.gen == we.gen && !t.until.After(now) {
				delete(sh.tombs, we.id)
				sh.mu.Unlock()
				t.q.Discard(ccgw.DropSessionEnded)
				continue
			}
			sh.mu.Unlock()
			continue
		}
		e := sh.live[we.id]
		if e == nil || e.s.Gen != we.gen {
			sh.mu.Unlock()
			continue // stale: that sign-in already ended
		}
		if we.rotate {
			// Rotation is due: send the next heartbeat to the slow path, which rotates.
			if !m.rotationDue(&e.s).After(now) {
				e.hot.disarm()
			}
			sh.mu.Unlock()
			continue
		}
		if we.rest != 0 {
			if ev, ok := m.restTimeoutLocked(e, we.rest, now); ok {
				s := e.s
				t := ticketLocked(e)
				sh.mu.Unlock()
				rested = append(rested, restDone{s, ev, sh, e, t})
				continue
			}
			sh.mu.Unlock()
			continue
		}
		var dl time.Time
		if timeout := m.timeout(e.s.Mode); m.cfg.NoExpiry || e.pending || e.polling.Load() > 0 || e.s.Simulated {
			dl = deadline(now, timeout)
		} else {
			dl = deadline(time.Unix(0, e.hot.seen.Load()), timeout)
		}
		if dl.After(now) {
			sh.mu.Unlock()
			refile = append(refile, timedEntry{dl, we})
			continue
		}
		m.endLocked(sh, e, ccgw.CauseTimeout, now) // the commit point: only this caller has e
		sh.mu.Unlock()
		expired = append(expired, e.s)
	}
	m.wheel.addAll(refile)
	for _, r := range rested {
		m.ordered(r.sh, r.e, r.ticket, func() { m.putWithEvents(&r.s, r.evs) })
		m.notify(&r.s)
		m.changed(r.s)
	}
	for _, s := range expired {
		m.stats.expiries.Add(1)
		m.ended(s, ccgw.CauseTimeout)
	}
	return len(expired)
}

type restDone struct {
	s      ccgw.Session
	evs    []ccgw.Event
	sh     *shard
	e      *entry
	ticket uint32 // e's write ticket for s
}

// restTimeoutLocked tells agent e that its rest (number seq) ran out, if it is
// still in that rest: AgentState_Rest_Timeout, and with RestTimeoutIdle the move
// to idle. sh.mu must be held.
func (m *Manager) restTimeoutLocked(e *entry, seq uint64, now time.Time) ([]ccgw.Event, bool) {
	s := &e.s
	if s.State != ccgw.StateRest || s.RestSeq != seq || s.RestUntil == 0 || time.UnixMilli(s.RestUntil).After(now) {
		return nil, false
	}
	s.RestUntil = 0
	evs := []ccgw.Event{e.q.Add(ccgw.EvRestTimeout, nil, now)}
	if m.cfg.RestTimeoutIdle {
		s.State, s.StateReason, s.StateSince = ccgw.StateIdle, 0, ccgw.Millis(now)
		evs = append(evs, e.q.Add(ccgw.EvReady, nil, now))
	}
	return evs, true
}
