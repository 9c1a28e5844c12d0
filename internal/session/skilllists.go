package session

import (
	"encoding/binary"
	"slices"
	"sync"

	"github.com/ccgw/ccgw"
)

// skillLists keeps one copy of each distinct list of skill IDs that sessions
// were signed in or restored with. Most agents have the same skills, so a
// million sessions share one slice instead of holding a copy each (16 bytes
// for two skills; docs/benchmarks.md, "RSS per session"). A list is clipped
// (its capacity is its length), so appending to a session's Skills makes a new
// array, and nothing writes a live session's Skills in place: UpdateLater
// hands fn a copy. Lists are never dropped: there are as many as distinct
// combinations of skills, not sessions.
type skillLists struct {
	mu sync.Mutex // guards by
	by map[string][]int
}

// of returns the shared list of the IDs of skills.
func (l *skillLists) of(skills []ccgw.Skill) []int {
	if len(skills) == 0 {
		return nil
	}
	var buf [8]int
	ids := buf[:0]
	for _, sk := range skills {
		ids = append(ids, sk.ID)
	}
	return l.intern(ids)
}

// intern returns the shared list equal to ids (ids itself if it is empty).
func (l *skillLists) intern(ids []int) []int {
	if len(ids) == 0 {
		return ids
	}
	var buf [64]byte
	k := buf[:0]
	for _, id := range ids {
		k = binary.AppendVarint(k, int64(id))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.by[string(k)]; ok {
		return s
	}
	if l.by == nil {
		l.by = make(map[string][]int)
	}
	s := slices.Clip(slices.Clone(ids))
	l.by[string(k)] = s
	return s
}
