package redis

import (
	"context"
	"slices"
	"strconv"

	"github.com/ccgw/ccgw"
)

// skillBatch is how many sessions EachInSkill reads from Redis at a time.
const skillBatch = 100

// EachInSkill implements ccgw.SessionService. It reads the skill's member IDs in one
// SMEMBERS (a few bytes each: a Redis set keeps no order to stop early in) and
// then the sessions skillBatch at a time, so a caller that stops early fetches
// and decodes only the sessions it saw.
func (s *Store) EachInSkill(ctx context.Context, skill int, after ccgw.AgentID, fn func(ccgw.Session) bool) {
	if !s.ready.Load() {
		return
	}
	members, err := s.rdb.SMembers(ctx, s.key+"sk:"+strconv.Itoa(skill)).Result()
	if err != nil || len(members) == 0 {
		return
	}
	ids := make([]ccgw.AgentID, 0, len(members))
	for _, m := range members {
		if n, err := strconv.ParseUint(m, 10, 32); err == nil && ccgw.AgentID(n) > after {
			ids = append(ids, ccgw.AgentID(n))
		}
	}
	members = nil
	slices.Sort(ids)
	keys := make([]string, 0, skillBatch)
	for len(ids) > 0 {
		batch := ids[:min(skillBatch, len(ids))]
		ids = ids[len(batch):]
		keys = keys[:0]
		for _, id := range batch {
			keys = append(keys, s.key+"s:"+id.String())
		}
		vals, err := s.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return
		}
		for _, v := range vals {
			str, ok := v.(string)
			if !ok {
				continue // signed out since SMEMBERS
			}
			if sess, err := decodeSession(str); err == nil && !fn(sess) {
				return
			}
		}
	}
}

// BySkill implements ccgw.SessionService.
func (s *Store) BySkill(ctx context.Context, skill int) []ccgw.Session {
	var out []ccgw.Session
	s.EachInSkill(ctx, skill, 0, func(sess ccgw.Session) bool {
		out = append(out, sess)
		return true
	})
	return out
}
