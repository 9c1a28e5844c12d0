package session

import (
	"context"
	"time"

	"github.com/ccgw/ccgw"
)

// Run sweeps at every tick until ctx ends, and returns ctx's error. Its sweeps
// fall on the tick's boundaries, where the wheel's ticks fall due; a sweep that
// left due sessions over (MaxExpiries) is followed at once by another. The
// store writes and announcements of the sweeps' sign-outs run on a goroutine
// of Run's (outbox), so that a commit does not hold up the next sweep; Run
// returns when they are all done.
func (m *Manager) Run(ctx context.Context) error {
	o := m.startOutbox()
	defer o.close()
	for {
		t := m.cfg.Clock.NewTimer(untilTick(m.cfg.Clock.Now(), m.cfg.Tick))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C():
			for {
				_, more := m.sweep(m.cfg.Clock.Now(), o)
				if !more || ctx.Err() != nil {
					break
				}
			}
			m.FlushAcks()
		}
	}
}

// untilTick returns how long from now to the next boundary of tick, in (0, tick].
func untilTick(now time.Time, tick time.Duration) time.Duration {
	return tick - time.Duration(now.UnixNano()%int64(tick))
}

// Sweep signs out every session whose deadline passed by now and purges expired
// tombstones. It looks only at the wheel's due entries, never at all sessions,
// and signs out at most MaxExpiries sessions; the due entries left over come
// first in the next sweep. It writes the sign-outs to the store (SignOutBatch
// to a commit) and announces them before it returns, and returns how many
// sessions it signed out.
func (m *Manager) Sweep(now time.Time) int {
	n, _ := m.sweep(now, nil)
	return n
}

// sweep is Sweep, handing the sign-outs to o if it is not nil; more reports
// that due entries were left over.
func (m *Manager) sweep(now time.Time, o *outbox) (n int, more bool) {
	due := m.wheel.due(now)
	if len(due) == 0 {
		return 0, false
	}
	var refile []timedEntry
	var expired []signOut
	var rested []restDone
	for i, we := range due {
		if len(expired) >= m.cfg.MaxExpiries {
			m.wheel.requeue(due[i:])
			more = true
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
		expired = append(expired, signOut{s: e.s, cause: ccgw.CauseTimeout, due: dl})
	}
	m.wheel.addAll(refile)
	for _, r := range rested {
		m.ordered(r.sh, r.e, r.ticket, func() { m.putWithEvents(&r.s, r.evs) })
		m.notify(&r.s)
		m.changed(r.s)
	}
	for i := range expired {
		m.left(&expired[i].s)
	}
	switch {
	case len(expired) == 0:
	case o != nil:
		o.put(expired)
	default:
		m.signedOut(expired)
	}
	return len(expired), more
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
