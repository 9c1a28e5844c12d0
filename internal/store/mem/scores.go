package mem

import (
	"bytes"
	"cmp"
	"strconv"
	"strings"

	"github.com/ccgw/ccgw"
)

// scores is a set of keys, each with a score, ordered as a Redis sorted set
// orders its members: by score, ties by name (memberOf). It is a binary
// min-heap that keeps each key's place, so that setting or removing a key
// and taking the lowest cost O(log n): a tick at a million sessions takes
// its due ones without looking at the others. The zero value is empty.
type scores[K comparable] struct {
	h   []scored[K]
	pos map[K]int
}

type scored[K comparable] struct {
	k K
	v int64
}

func (s *scores[K]) len() int { return len(s.h) }

// get returns k's score.
func (s *scores[K]) get(k K) (int64, bool) {
	i, ok := s.pos[k]
	if !ok {
		return 0, false
	}
	return s.h[i].v, true
}

// set gives k score v, adding it if need be.
func (s *scores[K]) set(k K, v int64) {
	if s.pos == nil {
		s.pos = map[K]int{}
	}
	if i, ok := s.pos[k]; ok {
		s.h[i].v = v
		s.fix(i)
		return
	}
	s.h = append(s.h, scored[K]{k, v})
	s.pos[k] = len(s.h) - 1
	s.up(len(s.h) - 1)
}

// del removes k, if it is there.
func (s *scores[K]) del(k K) {
	i, ok := s.pos[k]
	if !ok {
		return
	}
	last := len(s.h) - 1
	s.swap(i, last)
	s.h = s.h[:last]
	delete(s.pos, k)
	if i < last {
		s.fix(i)
	}
	if len(s.h) == 0 {
		s.h, s.pos = nil, nil // let a storm's worth of memory go
	}
}

// add adds k, not there yet, with score v, leaving the heap to be put in
// order by heapify: many adds then one heapify cost O(n), not O(n log n).
func (s *scores[K]) add(k K, v int64) {
	if s.pos == nil {
		s.pos = map[K]int{}
	}
	s.h = append(s.h, scored[K]{k, v})
	s.pos[k] = len(s.h) - 1
}

// heapify puts the keys add added in order.
func (s *scores[K]) heapify() {
	for i := len(s.h)/2 - 1; i >= 0; i-- {
		s.down(i)
	}
}

// has reports whether k is there.
func (s *scores[K]) has(k K) bool {
	_, ok := s.pos[k]
	return ok
}

// min returns the lowest key and its score, if any.
func (s *scores[K]) min() (scored[K], bool) {
	if len(s.h) == 0 {
		return scored[K]{}, false
	}
	return s.h[0], true
}

// popDue removes and returns up to limit keys scored at most upTo, lowest
// first.
func (s *scores[K]) popDue(upTo int64, limit int) []scored[K] {
	var out []scored[K]
	for len(out) < limit && len(s.h) > 0 && s.h[0].v <= upTo {
		top := s.h[0]
		s.del(top.k)
		out = append(out, top)
	}
	return out
}

func (s *scores[K]) less(i, j int) bool {
	a, b := s.h[i], s.h[j]
	if a.v != b.v {
		return a.v < b.v
	}
	return compareMembers(a.k, b.k) < 0
}

// compareMembers compares a and b as their names (memberOf) compare, without
// allocating for work numbers: sessions restored together all tie.
func compareMembers[K comparable](a, b K) int {
	if x, ok := any(a).(ccgw.AgentID); ok {
		var bx, by [20]byte
		return bytes.Compare(strconv.AppendUint(bx[:0], uint64(x), 10), strconv.AppendUint(by[:0], uint64(any(b).(ccgw.AgentID)), 10))
	}
	return strings.Compare(memberOf(a), memberOf(b))
}

func (s *scores[K]) swap(i, j int) {
	s.h[i], s.h[j] = s.h[j], s.h[i]
	s.pos[s.h[i].k] = i
	s.pos[s.h[j].k] = j
}

func (s *scores[K]) fix(i int) {
	if !s.down(i) {
		s.up(i)
	}
}

func (s *scores[K]) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !s.less(i, p) {
			return
		}
		s.swap(i, p)
		i = p
	}
}

// down moves the key at i down to its place and reports whether it moved.
func (s *scores[K]) down(i int) bool {
	start := i
	for {
		l := 2*i + 1
		if l >= len(s.h) {
			break
		}
		c := l
		if r := l + 1; r < len(s.h) && s.less(r, l) {
			c = r
		}
		if !s.less(c, i) {
			break
		}
		s.swap(i, c)
		i = c
	}
	return i > start
}

// memberOf returns k as the Redis store names it in a sorted set.
func memberOf[K comparable](k K) string {
	switch k := any(k).(type) {
	case ccgw.AgentID:
		return k.String()
	case ccgw.SharedRest:
		return k.ID.String() + ":" + strconv.FormatUint(k.RestSeq, 10)
	}
	return ""
}

// compareScored orders as scores does.
func compareScored[K comparable](a, b scored[K]) int {
	return cmp.Or(cmp.Compare(a.v, b.v), compareMembers(a.k, b.k))
}
