package redis

import (
	"context"
	"time"

	"github.com/ccgw/ccgw"
)

// Poll implements session.Service: a long poll on any node, woken over Redis
// pub/sub when an event is queued for the agent; a held poll keeps the session
// alive (its deadline is renewed every tick).
func (s *Store) Poll(ctx context.Context, id ccgw.AgentID, guid string, wait time.Duration) (*ccgw.Event, string, error) {
	ch := s.wait(id)
	defer s.unwait(id, ch)
	timer := s.cfg.WaitClock.NewTimer(wait)
	defer timer.Stop()
	setGUID, first, adopted := "", true, false
	for {
		now := s.cfg.Clock.Now()
		res, err := s.run(ctx, pollScript, id.String(), guid, s.ms(now), s.deadline(now, ccgw.ModePoll))
		if err != nil {
			return nil, "", err
		}
		code, out := pair(res)
		if code == ccgw.RetNoPermission && !adopted {
			adopted = true // a rotated GUID not recorded yet (guids.go)?
			if s.adoptDerived(ctx, id, guid, "", now) {
				continue
			}
		}
		if code != ccgw.RetOK {
			return nil, "", ccgw.Fail(code)
		}
		if first {
			first = false
			s.polls.Add(1)
			if out[2] != "" {
				g, err := s.afterAuth(ctx, out[2], guid, "", now)
				if err != nil {
					return nil, "", err
				}
				setGUID = g
			}
		}
		if out[1] != "" {
			ev, ok := parseQueued(out[1])
			if ok {
				s.polled.Add(1)
				return &ev, setGUID, nil
			}
			continue
		}
		if out[2] == "" { // a tombstone with nothing left
			return nil, "", ccgw.Fail(ccgw.RetNotSignedIn)
		}
		s.hold(id, 1)
		select {
		case <-ch:
		case <-timer.C():
			s.hold(id, -1)
			return nil, setGUID, nil
		case <-ctx.Done():
			s.hold(id, -1)
			return nil, setGUID, nil
		}
		s.hold(id, -1)
		ch = s.rearm(id, ch)
	}
}

// wait registers a wake-up channel for id's events.
func (s *Store) wait(id ccgw.AgentID) chan struct{} {
	ch := make(chan struct{}, 1)
	s.waitMu.Lock()
	m := s.waiters[id]
	if m == nil {
		m = make(map[chan struct{}]struct{})
		s.waiters[id] = m
	}
	m[ch] = struct{}{}
	s.waitMu.Unlock()
	return ch
}

func (s *Store) unwait(id ccgw.AgentID, ch chan struct{}) {
	s.waitMu.Lock()
	if m := s.waiters[id]; m != nil {
		delete(m, ch)
		if len(m) == 0 {
			delete(s.waiters, id)
		}
	}
	s.waitMu.Unlock()
}

// rearm drains a fired wake-up channel for reuse.
func (s *Store) rearm(id ccgw.AgentID, ch chan struct{}) chan struct{} {
	select {
	case <-ch:
	default:
	}
	return ch
}

func (s *Store) wake(id ccgw.AgentID) {
	s.waitMu.Lock()
	for ch := range s.waiters[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	s.waitMu.Unlock()
}

func (s *Store) hold(id ccgw.AgentID, d int) {
	s.heldMu.Lock()
	s.held[id] += d
	if s.held[id] <= 0 {
		delete(s.held, id)
	}
	s.heldMu.Unlock()
}

// wakeAll wakes every held poll (after an outage, when messages may be lost).
func (s *Store) wakeAll() {
	s.waitMu.Lock()
	ids := make([]ccgw.AgentID, 0, len(s.waiters))
	for id := range s.waiters {
		ids = append(ids, id)
	}
	s.waitMu.Unlock()
	for _, id := range ids {
		s.wake(id)
	}
}
