package session

import (
	"container/heap"
	"context"
	"slices"

	"github.com/ccgw/ccgw"
)

// skillBatch is how many sessions EachInSkill reads from Redis at a time.
const skillBatch = 100

// EachInSkill implements ccgw.SessionService. It reads the skill's members in
// one call (a few bytes each: the store keeps them in no order to stop early
// in) and then the sessions skillBatch at a time, so a caller that stops early
// fetches and decodes only the sessions it saw.
func (s *Service) EachInSkill(ctx context.Context, skill int, after ccgw.AgentID, fn func(ccgw.Session) bool) {
	if s.up() != nil {
		return
	}
	members, err := s.db.SkillMembers(ctx, skill)
	if err != nil {
		return
	}
	// The members in order, skillBatch at a time, from a heap: a caller that
	// stops after a page costs O(n), not a sort of every member.
	ids := idHeap(slices.DeleteFunc(members, func(id ccgw.AgentID) bool { return id <= after }))
	heap.Init(&ids)
	batch := make([]ccgw.AgentID, 0, skillBatch)
	for ids.Len() > 0 {
		batch = batch[:0]
		for ids.Len() > 0 && len(batch) < skillBatch {
			batch = append(batch, heap.Pop(&ids).(ccgw.AgentID))
		}
		recs, err := s.db.Records(ctx, batch)
		if err != nil {
			return
		}
		for _, rec := range recs {
			if rec == "" {
				continue // signed out since the members were read
			}
			if sess, err := decodeSession(rec); err == nil && !fn(sess) {
				return
			}
		}
	}
}

// BySkill implements ccgw.SessionService.
func (s *Service) BySkill(ctx context.Context, skill int) []ccgw.Session {
	var out []ccgw.Session
	s.EachInSkill(ctx, skill, 0, func(sess ccgw.Session) bool {
		out = append(out, sess)
		return true
	})
	return out
}

// idHeap is a min-heap of work numbers (container/heap).
type idHeap []ccgw.AgentID

func (h idHeap) Len() int           { return len(h) }
func (h idHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h idHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *idHeap) Push(x any)        { *h = append(*h, x.(ccgw.AgentID)) }
func (h *idHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
