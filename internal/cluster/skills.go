package cluster

import (
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
func (s *Sessions) EachInSkill(ctx context.Context, skill int, after ccgw.AgentID, fn func(ccgw.Session) bool) {
	if s.up() != nil {
		return
	}
	members, err := s.db.SkillMembers(ctx, skill)
	if err != nil {
		return
	}
	ids := slices.DeleteFunc(members, func(id ccgw.AgentID) bool { return id <= after })
	slices.Sort(ids)
	for len(ids) > 0 {
		batch := ids[:min(skillBatch, len(ids))]
		ids = ids[len(batch):]
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
func (s *Sessions) BySkill(ctx context.Context, skill int) []ccgw.Session {
	var out []ccgw.Session
	s.EachInSkill(ctx, skill, 0, func(sess ccgw.Session) bool {
		out = append(out, sess)
		return true
	})
	return out
}
