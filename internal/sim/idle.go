package sim

import (
	"context"
	"encoding/binary"
	"slices"
	"sort"

	"github.com/ccgw/ccgw"
)

// The idle index keeps, per skill, the agents whose last reported session is
// idle with talk right, ordered by (StateSince, work number): the order in
// which longestIdle offers calls. It spares a scan of Sessions.BySkill, which
// copies every session of the skill, per call routed.
//
// It is built from the sessions AgentChanged reports, so the engine uses it only
// once Sessions has reported a change (the session service with OnChange
// wired reports every sign-in, state change and sign-out: on one node at
// once, on several a moment later, from the store's feed, changes other nodes
// made included). A skill is tracked from the first time a call is routed to it:
// its agents are read in by one BySkill scan then (restored sessions, which
// are never reported, included), and reports file agents under tracked skills
// only. A gateway whose simulator routes no calls so holds nothing per session
// here, and one that routes calls to some skills holds only their agents
// (docs/benchmarks.md, "RSS per session").
// Everything here runs under e.mu.

// idleKey orders idle agents: longest idle first, ties to the lower work number.
type idleKey struct {
	since int64 // StateSince, ms
	id    ccgw.AgentID
}

func (k idleKey) less(o idleKey) bool {
	return k.since < o.since || (k.since == o.since && k.id < o.id)
}

// idleAgent is an agent in the index: when it became idle and the tracked
// skills it is filed under, as an index into idleIndex.lists (agents share
// their lists: most have the same skills).
type idleAgent struct {
	since int64
	list  uint32
}

type idleIndex struct {
	agents  map[ccgw.AgentID]idleAgent
	sets    map[int]*idleSet
	tracked map[int]bool // skills read in from Sessions.BySkill and filed since
	// lists are the distinct skill lists agents have been filed under, each
	// kept once; listOf finds one by its key (listKey). They are never dropped:
	// there are as many as distinct combinations of skills, not agents.
	lists  [][]int
	listOf map[string]uint32
	filed  []int  // scratch for set
	key    []byte // scratch for intern
}

func newIdleIndex() *idleIndex {
	return &idleIndex{agents: map[ccgw.AgentID]idleAgent{}, sets: map[int]*idleSet{}, tracked: map[int]bool{},
		listOf: map[string]uint32{}}
}

// track makes set file agents under skill from now on.
func (x *idleIndex) track(skill int) { x.tracked[skill] = true }

// set files s's agent as s says: under its tracked skills if idle with talk
// right, nowhere otherwise (including signed out).
func (x *idleIndex) set(s *ccgw.Session) {
	filed := x.filed[:0]
	if s.State == ccgw.StateIdle && s.TalkRight {
		for _, sk := range s.Skills {
			if x.tracked[sk] {
				filed = append(filed, sk)
			}
		}
	}
	x.filed = filed
	key := idleKey{s.StateSince, s.Agent}
	old, had := x.agents[s.Agent]
	if had && len(filed) > 0 && old.since == key.since && slices.Equal(x.lists[old.list], filed) {
		return
	}
	if had {
		for _, sk := range x.lists[old.list] {
			x.sets[sk].remove(idleKey{old.since, s.Agent})
		}
		delete(x.agents, s.Agent)
	}
	if len(filed) == 0 {
		return
	}
	for _, sk := range filed {
		set := x.sets[sk]
		if set == nil {
			set = &idleSet{}
			x.sets[sk] = set
		}
		set.add(key)
	}
	x.agents[s.Agent] = idleAgent{since: key.since, list: x.intern(filed)}
}

// intern returns the index of the list equal to l in x.lists, adding a copy of
// l if there is none.
func (x *idleIndex) intern(l []int) uint32 {
	k := x.key[:0]
	for _, sk := range l {
		k = binary.AppendVarint(k, int64(sk))
	}
	x.key = k
	if i, ok := x.listOf[string(k)]; ok {
		return i
	}
	i := uint32(len(x.lists))
	x.lists = append(x.lists, slices.Clone(l))
	x.listOf[string(k)] = i
	return i
}

// idleSet is a set of idleKeys in ascending order, in a slice whose members
// start at head, so that taking the first (the common case) moves nothing.
type idleSet struct {
	keys []idleKey // keys[head:] are the members
	head int
}

func (s *idleSet) members() []idleKey { return s.keys[s.head:] }

// search returns where k is or would be among the members.
func (s *idleSet) search(k idleKey) int {
	m := s.members()
	return sort.Search(len(m), func(i int) bool { return !m[i].less(k) })
}

func (s *idleSet) add(k idleKey) {
	i := s.search(k)
	m := s.members()
	if i < len(m) && m[i] == k {
		return
	}
	if s.head > 0 && i < len(m)/2 { // shift the front one place left
		copy(s.keys[s.head-1:], s.keys[s.head:s.head+i])
		s.head--
		s.keys[s.head+i] = k
		return
	}
	if s.head > 32 && s.head >= len(s.keys)/2 { // reclaim the space before head
		n := copy(s.keys, s.keys[s.head:])
		s.keys = s.keys[:n]
		s.head = 0
	}
	s.keys = append(s.keys, idleKey{})
	copy(s.keys[s.head+i+1:], s.keys[s.head+i:])
	s.keys[s.head+i] = k
}

func (s *idleSet) remove(k idleKey) {
	i := s.search(k)
	m := s.members()
	if i == len(m) || m[i] != k {
		return
	}
	if i < len(m)/2 { // shift the front one place right
		copy(s.keys[s.head+1:], s.keys[s.head:s.head+i])
		s.head++
		return
	}
	copy(s.keys[s.head+i:], s.keys[s.head+i+1:])
	s.keys = s.keys[:len(s.keys)-1]
}

// syncIdle brings the idle index up to date with the changes reported since it
// was last, and reports whether the index is in use. e.mu must be held.
func (e *Engine) syncIdle() bool {
	e.pendMu.Lock()
	use := e.reported && !e.scanOnly
	fresh := e.pending[e.applied:]
	e.applied = len(e.pending)
	e.pendMu.Unlock()
	if !use {
		return false
	}
	for i := range fresh {
		e.idle.set(&fresh[i])
	}
	return true
}

// longestIdleIndexed is longestIdle from the index. e.mu must be held and
// syncIdle just called.
func (e *Engine) longestIdleIndexed(skill int, exclude ccgw.AgentID) (ccgw.AgentID, bool) {
	if !e.idle.tracked[skill] {
		e.idle.track(skill)
		for _, s := range e.cfg.Sessions.BySkill(context.Background(), skill) {
			e.idle.set(&s)
		}
		// Then every change reported but not drained, in order, so that the last
		// word on an agent is its latest report.
		e.pendMu.Lock()
		fresh := e.pending
		e.pendMu.Unlock()
		for i := range fresh {
			e.idle.set(&fresh[i])
		}
	}
	set := e.idle.sets[skill]
	if set == nil {
		return 0, false
	}
	for _, k := range set.members() {
		if e.busy(k.id) || k.id == exclude {
			continue
		}
		// A change another goroutine made may not be reported yet: take the
		// agent only if its session still says idle (one lookup per pick).
		if s, ok := e.cfg.Sessions.Lookup(context.Background(), k.id); ok && s.State == ccgw.StateIdle && s.TalkRight && slices.Contains(s.Skills, skill) {
			return k.id, true
		}
	}
	return 0, false
}
