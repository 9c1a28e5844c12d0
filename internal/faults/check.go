package faults

import (
	"time"

	"github.com/ccgw/ccgw"
)

// Effect is what the faults on at a request do to it.
type Effect struct {
	// Code, if set, is the answer instead of serving the request
	// (DRSwitchover, Unavailable; the first added wins).
	Code ccgw.Retcode
	// SignedInBefore, if set, refuses with 000-003 a request authenticating a
	// session signed in before it (GUIDExpiry; the latest start of those on).
	SignedInBefore time.Time
	// Delay is how long to hold the answer (Slow; the longest of those on).
	Delay time.Duration
}

// Held reports whether any fault is held: false means every question has the
// answer "nothing", and costs this one atomic load.
func (s *Set) Held() bool { return s.held.Load() != 0 }

// Check returns what the faults on now do to a request of agent id to the
// interface named method. A fault whose scope leaves the request out does
// nothing to it.
func (s *Set) Check(id ccgw.AgentID, method string) Effect {
	var e Effect
	if s.held.Load() == 0 {
		return e
	}
	now := s.cfg.Clock.Now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, f := range s.faults {
		if !f.on(now) || !f.covers(id) || (f.ifaces != nil && !f.ifaces[method]) {
			continue
		}
		switch f.Kind {
		case DRSwitchover:
			if e.Code == "" {
				e.Code = ccgw.RetSwitchingOver
			}
		case Unavailable:
			if e.Code == "" {
				e.Code = ccgw.RetInternal
			}
		case GUIDExpiry:
			if f.Start.After(e.SignedInBefore) {
				e.SignedInBefore = f.Start
			}
		case Slow:
			e.Delay = max(e.Delay, f.Delay)
		}
	}
	return e
}

// DropEvent reports whether a fault on now drops ev, an event made for agent
// id (DropEvents). It is quick and calls nothing but the clock: the session
// layer asks it with the agent's queue locked.
func (s *Set) DropEvent(id ccgw.AgentID, ev ccgw.Event) bool {
	if s.held.Load() == 0 {
		return false
	}
	now := s.cfg.Clock.Now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, f := range s.faults {
		if f.Kind == DropEvents && f.on(now) && f.covers(id) {
			return true
		}
	}
	return false
}
