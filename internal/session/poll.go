package session

import (
	"context"
	"time"

	"github.com/ccgw/ccgw"
)

// Poll implements ccgw.SessionService: a long poll on any node, woken
// (WatchEvents) when any node queues an event for the agent; a held poll keeps
// the session alive (its deadline is renewed every tick). The GUID is checked
// as a heartbeat's is (from the node's cache, else auth), once; then each
// event is taken only while the sign-in checked is live (the store's Pop). An
// ended session's old GUID takes its last events (PopTomb).
func (s *Service) Poll(ctx context.Context, id ccgw.AgentID, guid string, wait time.Duration) (*ccgw.Event, string, error) {
	setGUID, gen, ev, err := s.pollStart(ctx, id, guid)
	if ev != nil || err != nil {
		return ev, "", err
	}
	s.polls.Add(1)
	ch := s.wait(id)
	defer s.unwait(id, ch)
	timer := s.cfg.WaitClock.NewTimer(wait)
	defer timer.Stop()
	for {
		if err := s.up(); err != nil {
			return nil, "", err
		}
		ev, err := s.db.Pop(ctx, id, gen)
		if ccgw.CodeOf(err) == ccgw.RetNotSignedIn {
			// Ended while the poll was held: what the old GUID can still
			// collect, else the refusal.
			_, _, ev, err := s.pollStart(ctx, id, guid)
			return ev, "", err
		}
		if err != nil {
			return nil, "", unavailable(err)
		}
		if ev != nil {
			s.polled.Add(1)
			return ev, setGUID, nil
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

// pollStart checks a poll's GUID (pollAuth) and returns the GUID the client
// should switch to and the sign-in's gen; or, for the old GUID of an ended
// session, the next of its last events (nil, with the refusal, when none is
// left); or the refusal: RetWrongEventMethod for a push-mode session.
func (s *Service) pollStart(ctx context.Context, id ccgw.AgentID, guid string) (string, uint64, *ccgw.Event, error) {
	setGUID, gen, mode, tomb, err := s.pollAuth(ctx, id, guid, s.cfg.Clock.Now())
	if tomb != nil {
		ev, terr := s.popTomb(ctx, id, tomb.Gen)
		if terr != nil {
			return "", 0, nil, terr
		}
		if ev != nil {
			return "", 0, ev, nil
		}
	}
	if err != nil {
		return "", 0, nil, err
	}
	if mode == ccgw.ModePush {
		return "", 0, nil, ccgw.Fail(ccgw.RetWrongEventMethod)
	}
	return setGUID, gen, nil, nil
}

// pollAuth checks a poll's GUID as a heartbeat's (fastHeartbeat, else auth
// and afterAuth) and returns the GUID the client should switch to and the
// sign-in's gen and mode. If it refuses, the agent's tombstone is returned
// too when guid is its old GUID.
func (s *Service) pollAuth(ctx context.Context, id ccgw.AgentID, guid string, now time.Time) (string, uint64, ccgw.Mode, *tombRec, error) {
	if g, ok := s.fastHeartbeat(id, guid, "", now); ok {
		if e := s.cache.get(id); e != nil {
			return g, e.gen, e.mode, nil, nil
		}
	}
	epoch := s.cache.epoch(id)
	raw, tomb, err := s.authTomb(ctx, id, guid, now)
	if err != nil {
		if tomb != nil && (guid == "" || tomb.GUID != guid) {
			tomb = nil
		}
		return "", 0, 0, tomb, err
	}
	sess, err := decodeSession(raw)
	if err != nil {
		return "", 0, 0, nil, unavailable(err)
	}
	s.fill(epoch, &sess)
	g, err := s.afterAuth(ctx, raw, guid, "", now)
	return g, sess.Gen, sess.Mode, nil, err
}

// popTomb takes the next of the last events of agent id's ended sign-in gen,
// if its tombstone is still that sign-in's; nil if none is left.
func (s *Service) popTomb(ctx context.Context, id ccgw.AgentID, gen uint64) (*ccgw.Event, error) {
	if err := s.up(); err != nil {
		return nil, err
	}
	ev, err := s.db.PopTomb(ctx, id, gen)
	if err != nil {
		return nil, unavailable(err)
	}
	return ev, nil
}

// wait registers a wake-up channel for id's events.
func (s *Service) wait(id ccgw.AgentID) chan struct{} {
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

func (s *Service) unwait(id ccgw.AgentID, ch chan struct{}) {
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
func (s *Service) rearm(id ccgw.AgentID, ch chan struct{}) chan struct{} {
	select {
	case <-ch:
	default:
	}
	return ch
}

func (s *Service) wake(id ccgw.AgentID) {
	s.waitMu.Lock()
	for ch := range s.waiters[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	s.waitMu.Unlock()
}

func (s *Service) hold(id ccgw.AgentID, d int) {
	s.heldMu.Lock()
	s.held[id] += d
	if s.held[id] <= 0 {
		delete(s.held, id)
	}
	s.heldMu.Unlock()
}

// wakeAll wakes every held poll (after an outage, when messages may be lost).
func (s *Service) wakeAll() {
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
