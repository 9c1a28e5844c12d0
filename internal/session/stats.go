package session

import (
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

func (s *stats) drop(r ccgw.DropReason) {
	s.mu.Lock()
	s.drops[r]++
	s.mu.Unlock()
}

// Stats is a snapshot of a Manager's counters.
type Stats struct {
	// Partial is set when the store-wide figures (Live, SignIns, Expiries,
	// Queued, SignOuts, Drops; cluster-wide on Redis) could not be read: they
	// are then zero, not counts. Heartbeats, Polls and Polled are this node's
	// and always hold.
	Partial    bool
	Live       int
	Heartbeats uint64
	Polls      uint64
	SignIns    uint64
	Expiries   uint64
	Queued     uint64 // events queued
	Polled     uint64 // events delivered by poll
	SignOuts   map[ccgw.SignOutCause]uint64
	Drops      map[ccgw.DropReason]uint64
}

// Stats returns a snapshot of the counters.
func (m *Manager) Stats() Stats {
	st := Stats{
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
