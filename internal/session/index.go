package session

import (
	"context"
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
	keys   []uint32 // the keys of chunks, ascending: a walk in work-number order sorts nothing
}

// add adds id and reports whether it was not in the set.
func (s *skillSet) add(id ccgw.AgentID) bool {
	k, w, bit := uint32(id)/uint32(skillChunkBits), int(id)%skillChunkBits/64, uint64(1)<<(uint(id)%64)
	c := s.chunks[k]
	if c == nil {
		c = new(skillChunk)
		s.chunks[k] = c
		i, _ := slices.BinarySearch(s.keys, k)
		s.keys = slices.Insert(s.keys, i, k)
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
		if i, found := slices.BinarySearch(s.keys, k); found {
			s.keys = slices.Delete(s.keys, i, i+1)
		}
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
	n := 0
	if s := x.by[skill]; s != nil {
		n = s.n
	}
	x.mu.RUnlock()
	out := make([]ccgw.AgentID, 0, n)
	var buf [256]ccgw.AgentID
	for from := uint64(0); ; {
		got := x.next(skill, from, buf[:])
		out = append(out, buf[:got]...)
		if got < len(buf) {
			return out
		}
		from = uint64(buf[got-1]) + 1
	}
}

// next fills buf with the first agents signed in to skill whose work numbers
// are from or above, in work-number order, and returns how many it found: fewer
// than len(buf) only when there are no more. It finds the first chunk by binary
// search and stops when buf is full, so its cost is that of the IDs it returns,
// not of the skill's size; it allocates nothing.
func (x *skillIndex) next(skill int, from uint64, buf []ccgw.AgentID) int {
	if len(buf) == 0 || from > uint64(^ccgw.AgentID(0)) {
		return 0
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	s := x.by[skill]
	if s == nil {
		return 0
	}
	n := 0
	i, _ := slices.BinarySearch(s.keys, uint32(from/uint64(skillChunkBits)))
	for _, k := range s.keys[i:] {
		c := s.chunks[k]
		base := uint64(k) * uint64(skillChunkBits)
		for w, word := range c {
			lo := base + uint64(w)*64
			if lo+64 <= from {
				continue
			}
			if from > lo {
				word &= ^uint64(0) << (from - lo) // drop the IDs below from
			}
			for word != 0 {
				b := bits.TrailingZeros64(word)
				word &= word - 1
				buf[n] = ccgw.AgentID(lo + uint64(b))
				if n++; n == len(buf) {
					return n
				}
			}
		}
	}
	return n
}

// EachInSkill calls fn with each live session signed in to skill whose work
// number is above after, in work-number order, until fn returns false. The
// session's Skills slice is valid only until fn returns (it is reused). It holds
// no lock while fn runs and allocates nothing per session, so a caller that
// stops early pays for the sessions it saw, not for the skill's size.
func (m *Manager) EachInSkill(ctx context.Context, skill int, after ccgw.AgentID, fn func(ccgw.Session) bool) {
	var ids [64]ccgw.AgentID
	var skills []int
	for from := uint64(after) + 1; ; {
		n := m.skills.next(skill, from, ids[:])
		for _, id := range ids[:n] {
			s, ok := m.lookupInto(id, &skills)
			if ok && !fn(s) {
				return
			}
		}
		if n < len(ids) {
			return
		}
		from = uint64(ids[n-1]) + 1
	}
}

// lookupInto is Lookup with the session's skills copied into *skills (grown as
// needed) instead of a new slice.
func (m *Manager) lookupInto(id ccgw.AgentID, skills *[]int) (ccgw.Session, bool) {
	sh := m.shard(id)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	e := sh.live[id]
	if e == nil || e.pending {
		return ccgw.Session{}, false
	}
	s := e.s
	*skills = append((*skills)[:0], e.s.Skills...)
	s.Skills = *skills
	return s, true
}

// BySkill returns copies of the live sessions signed in to skill, in work-number
// order.
func (m *Manager) BySkill(ctx context.Context, skill int) []ccgw.Session {
	var out []ccgw.Session
	m.EachInSkill(ctx, skill, 0, func(s ccgw.Session) bool {
		s.Skills = append([]int(nil), s.Skills...)
		out = append(out, s)
		return true
	})
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
