package session

import (
	"math/bits"
	"slices"
	"sync"

	"github.com/ccgw/ccgw"
)

// skillIndex maps each skill to the live agents signed in to it, so that a query
// by skill touches only those agents.
type skillIndex struct {
	mu sync.RWMutex // guards by
	by map[int]*skillSet
}

// skillChunk is the bitmap of 1024 consecutive work numbers.
type skillChunk [16]uint64

const skillChunkBits = len(skillChunk{}) * 64

// skillSet is the agents of one skill: a bitmap over work numbers in chunks, so
// that a million agents with a skill take 128 KB (a map of them took ~15 MB and
// a tenth of a restore's CPU; docs/benchmarks.md, "Capacity") and a skill's few
// agents take a chunk each at most.
type skillSet struct {
	n      int // agents in the set
	chunks map[uint32]*skillChunk
}

// add adds id and reports whether it was not in the set.
func (s *skillSet) add(id ccgw.AgentID) bool {
	k, w, bit := uint32(id)/uint32(skillChunkBits), int(id)%skillChunkBits/64, uint64(1)<<(uint(id)%64)
	c := s.chunks[k]
	if c == nil {
		c = new(skillChunk)
		s.chunks[k] = c
	}
	if c[w]&bit != 0 {
		return false
	}
	c[w] |= bit
	s.n++
	return true
}

// remove removes id and reports whether it was in the set.
func (s *skillSet) remove(id ccgw.AgentID) bool {
	k, w, bit := uint32(id)/uint32(skillChunkBits), int(id)%skillChunkBits/64, uint64(1)<<(uint(id)%64)
	c := s.chunks[k]
	if c == nil || c[w]&bit == 0 {
		return false
	}
	c[w] &^= bit
	s.n--
	if *c == (skillChunk{}) {
		delete(s.chunks, k)
	}
	return true
}

// set moves agent id from the skills in from to those in to.
func (x *skillIndex) set(id ccgw.AgentID, from, to []int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, sk := range from {
		if s := x.by[sk]; s != nil && s.remove(id) && s.n == 0 {
			delete(x.by, sk)
		}
	}
	for _, sk := range to {
		s := x.by[sk]
		if s == nil {
			if x.by == nil {
				x.by = make(map[int]*skillSet)
			}
			s = &skillSet{chunks: make(map[uint32]*skillChunk)}
			x.by[sk] = s
		}
		s.add(id)
	}
}

// agents returns the agents signed in to skill, in work-number order.
func (x *skillIndex) agents(skill int) []ccgw.AgentID {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s := x.by[skill]
	if s == nil {
		return []ccgw.AgentID{}
	}
	keys := make([]uint32, 0, len(s.chunks))
	for k := range s.chunks {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]ccgw.AgentID, 0, s.n)
	for _, k := range keys {
		for w, word := range s.chunks[k] {
			for word != 0 {
				b := bits.TrailingZeros64(word)
				word &= word - 1
				out = append(out, ccgw.AgentID(int(k)*skillChunkBits+w*64+b))
			}
		}
	}
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
