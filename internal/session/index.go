package session

import (
	"sort"
	"sync"

	"github.com/ccgw/ccgw"
)

// skillIndex maps each skill to the live agents signed in to it, so that a query
// by skill touches only those agents.
type skillIndex struct {
	mu sync.RWMutex // guards by
	by map[int]map[ccgw.AgentID]struct{}
}

// set moves agent id from the skills in from to those in to.
func (x *skillIndex) set(id ccgw.AgentID, from, to []int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, sk := range from {
		if m := x.by[sk]; m != nil {
			delete(m, id)
			if len(m) == 0 {
				delete(x.by, sk)
			}
		}
	}
	for _, sk := range to {
		m := x.by[sk]
		if m == nil {
			m = make(map[ccgw.AgentID]struct{})
			x.by[sk] = m
		}
		m[id] = struct{}{}
	}
}

// agents returns the agents signed in to skill, in work-number order.
func (x *skillIndex) agents(skill int) []ccgw.AgentID {
	x.mu.RLock()
	out := make([]ccgw.AgentID, 0, len(x.by[skill]))
	for id := range x.by[skill] {
		out = append(out, id)
	}
	x.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// BySkill returns copies of the live sessions signed in to skill, in work-number
// order.
func (m *Manager) BySkill(skill int) []ccgw.Session {
	var out []ccgw.Session
	for _, id := range m.skills.agents(skill) {
		if s, ok := m.Lookup(id); ok {
			out = append(out, s)
		}
	}
	return out
}

type ackKey struct {
	id  ccgw.AgentID
	gen uint64
}

// ackBuffer gathers delivery acknowledgements between flushes, keeping only the
// highest Seq per sign-in.
type ackBuffer struct {
	mu      sync.Mutex // guards pending
	pending map[ackKey]uint64
}

func (b *ackBuffer) add(id ccgw.AgentID, gen, seq uint64) {
	b.mu.Lock()
	k := ackKey{id, gen}
	if seq > b.pending[k] {
		b.pending[k] = seq
	}
	b.mu.Unlock()
}

func (b *ackBuffer) take() []ccgw.EventAck {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending) == 0 {
		return nil
	}
	out := make([]ccgw.EventAck, 0, len(b.pending))
	for k, seq := range b.pending {
		out = append(out, ccgw.EventAck{Agent: k.id, Gen: k.gen, Seq: seq})
	}
	b.pending = make(map[ackKey]uint64)
	return out
}
