package session

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/ccgw/ccgw"
)

// stats counts what the Manager did; metrics read it through Stats.
type stats struct {
	heartbeats atomic.Uint64
	polls      atomic.Uint64
	signIns    atomic.Uint64
	expiries   atomic.Uint64
	queued     atomic.Uint64 // events added to any queue
	polled     atomic.Uint64 // events handed out by polls

	lag ccgw.LagHistogram // of expiries: sign-out time minus deadline

	mu       sync.Mutex // guards signOuts and drops
	signOuts map[ccgw.SignOutCause]uint64
	drops    map[ccgw.DropReason]uint64
}

func (s *stats) init() {
	s.signOuts = make(map[ccgw.SignOutCause]uint64)
	s.drops = make(map[ccgw.DropReason]uint64)
}

func (s *stats) signIn() { s.signIns.Add(1) }

func (s *stats) signOut(c ccgw.SignOutCause) {
	s.mu.Lock()
	s.signOuts[c]++
	s.mu.Unlock()
}

func (s *stats) drop(r ccgw.DropReason) { s.dropN(r, 1) }

func (s *stats) dropN(r ccgw.DropReason, n int) {
	s.mu.Lock()
	s.drops[r] += uint64(n)
	s.mu.Unlock()
}

// Stats returns a snapshot of the counters.
func (m *Manager) Stats(ctx context.Context) ccgw.SessionStats {
	st := ccgw.SessionStats{
		Live:       m.Live(),
		Heartbeats: m.stats.heartbeats.Load(),
		Polls:      m.stats.polls.Load(),
		SignIns:    m.stats.signIns.Load(),
		Expiries:   m.stats.expiries.Load(),
		Queued:     m.stats.queued.Load(),
		Polled:     m.stats.polled.Load(),
		SignOuts:   make(map[ccgw.SignOutCause]uint64),
		Drops:      make(map[ccgw.DropReason]uint64),
	}
	lag := m.stats.lag.Snapshot()
	st.SignOutLag = &lag
	m.stats.mu.Lock()
	for k, v := range m.stats.signOuts {
		st.SignOuts[k] = v
	}
	for k, v := range m.stats.drops {
		st.Drops[k] = v
	}
	m.stats.mu.Unlock()
	return st
}
