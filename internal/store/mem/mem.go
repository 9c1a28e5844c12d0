// Package mem keeps sessions and their undelivered events in memory: a
// ccgw.SessionStore and ccgw.EventStore for tests and benchmarks, where the
// behaviour of a store matters (a put for an older sign-in never overwrites a
// newer one) and its durability does not. What it holds is lost with the
// process.
package mem

import (
	"crypto/rand"
	"slices"
	"sync"

	"github.com/ccgw/ccgw"
)

// Store is a ccgw.SessionStore and ccgw.EventStore in memory. It is safe for
// concurrent use.
type Store struct {
	mu       sync.Mutex // guards sessions, events
	sessions map[ccgw.AgentID]ccgw.Session
	events   map[signIn]*events
	keys     map[string][]byte
}

type signIn struct {
	id  ccgw.AgentID
	gen uint64
}

type events struct {
	acked uint64
	evs   []ccgw.Event
}

var (
	_ ccgw.SessionStore = (*Store)(nil)
	_ ccgw.EventStore   = (*Store)(nil)
)

// New returns an empty Store.
func New() *Store {
	return &Store{sessions: make(map[ccgw.AgentID]ccgw.Session), events: make(map[signIn]*events)}
}

// PutSession stores a copy of x unless a newer sign-in of x.Agent is stored.
func (s *Store) PutSession(x *ccgw.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.sessions[x.Agent]; ok && old.Gen > x.Gen {
		return nil
	}
	c := *x
	c.Skills = slices.Clone(x.Skills)
	s.sessions[x.Agent] = c
	return nil
}

// DeleteSession deletes agent id's session if its Gen is gen.
func (s *Store) DeleteSession(id ccgw.AgentID, gen uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.sessions[id]; ok && old.Gen == gen {
		delete(s.sessions, id)
	}
	return nil
}

// DeleteSessions deletes each session listed if its Gen is the one given.
func (s *Store) DeleteSessions(refs []ccgw.SessionRef) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range refs {
		if old, ok := s.sessions[r.Agent]; ok && old.Gen == r.Gen {
			delete(s.sessions, r.Agent)
		}
	}
	return nil
}

// LoadSessions calls fn with each stored session, in no order, with no lock
// held.
func (s *Store) LoadSessions(fn func(*ccgw.Session) error) error {
	s.mu.Lock()
	all := make([]ccgw.Session, 0, len(s.sessions))
	for _, x := range s.sessions {
		all = append(all, x)
	}
	s.mu.Unlock()
	for i := range all {
		if err := fn(&all[i]); err != nil {
			return err
		}
	}
	return nil
}

// Session returns agent id's stored session.
func (s *Store) Session(id ccgw.AgentID) (ccgw.Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.sessions[id]
	return x, ok
}

// Len returns how many sessions are stored.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// AppendEvents stores copies of evs for sign-in gen of agent id.
func (s *Store) AppendEvents(id ccgw.AgentID, gen uint64, evs []ccgw.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := signIn{id, gen}
	e := s.events[k]
	if e == nil {
		e = &events{}
		s.events[k] = e
	}
	e.evs = append(e.evs, evs...)
	return nil
}

// AckEvents forgets, for each sign-in listed, its events up to the Seq given.
func (s *Store) AckEvents(acks []ccgw.EventAck) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range acks {
		k := signIn{a.Agent, a.Gen}
		e := s.events[k]
		if e == nil {
			e = &events{}
			s.events[k] = e
		}
		if a.Seq <= e.acked {
			continue
		}
		e.acked = a.Seq
		i := 0
		for i < len(e.evs) && e.evs[i].Seq <= a.Seq {
			i++
		}
		e.evs = slices.Delete(e.evs, 0, i)
	}
	return nil
}

// DropEvents forgets every event of sign-in gen of agent id.
func (s *Store) DropEvents(id ccgw.AgentID, gen uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.events, signIn{id, gen})
	return nil
}

// DropSignIns forgets every event of each sign-in listed.
func (s *Store) DropSignIns(refs []ccgw.SessionRef) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range refs {
		delete(s.events, signIn{r.Agent, r.Gen})
	}
	return nil
}

// LoadEvents calls fn once per sign-in with events or acknowledgements stored,
// with no lock held.
func (s *Store) LoadEvents(fn func(id ccgw.AgentID, gen uint64, acked uint64, evs []ccgw.Event) error) error {
	type load struct {
		k     signIn
		acked uint64
		evs   []ccgw.Event
	}
	s.mu.Lock()
	all := make([]load, 0, len(s.events))
	for k, e := range s.events {
		all = append(all, load{k, e.acked, slices.Clone(e.evs)})
	}
	s.mu.Unlock()
	for _, l := range all {
		if err := fn(l.k.id, l.k.gen, l.acked, l.evs); err != nil {
			return err
		}
	}
	return nil
}

// Close does nothing: a Store has nothing to flush.
func (s *Store) Close() error { return nil }

var _ ccgw.SharedLog = (*Store)(nil)

// Commit implements ccgw.SharedLog: ops apply in order (not atomically:
// nothing here outlives the process to see half of them).
func (s *Store) Commit(ops []ccgw.LogOp) error {
	for _, op := range ops {
		if op.Put != nil {
			s.PutSession(op.Put)
		}
		r := op.Ref
		if op.Delete {
			s.DeleteSession(r.Agent, r.Gen)
			s.DropEvents(r.Agent, r.Gen)
		}
		if len(op.Events) > 0 {
			s.AppendEvents(r.Agent, r.Gen, op.Events)
		}
		if op.Acked > 0 {
			s.AckEvents([]ccgw.EventAck{{Agent: r.Agent, Gen: r.Gen, Seq: op.Acked}})
		}
	}
	return nil
}

// CountSessions implements ccgw.SharedLog.
func (s *Store) CountSessions() (int, error) { return s.Len(), nil }

// Key implements ccgw.SharedLog.
func (s *Store) Key(name string, n int) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[string][]byte{}
	}
	if k, ok := s.keys[name]; ok {
		return slices.Clone(k), nil
	}
	k := make([]byte, n)
	rand.Read(k)
	s.keys[name] = k
	return slices.Clone(k), nil
}
