package session

import (
	"context"
	"slices"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/pick"
)

// Clients returns the agents with a live session signed in by a client (the
// simulated call centre's own agents left out), in work-number order. It visits
// every session, shard by shard, each under its read lock only.
func (m *Manager) Clients() []ccgw.AgentID {
	var ids []ccgw.AgentID
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.RLock()
		for id, e := range sh.live {
			if !e.s.Simulated && !e.pending {
				ids = append(ids, id)
			}
		}
		sh.mu.RUnlock()
	}
	slices.Sort(ids)
	return ids
}

// Agents returns the live sessions (client and simulated) with work numbers
// above after, in work-number order, up to limit of them, and whether more
// follow. It visits every session once, shard by shard under its read lock, and
// keeps only the page's work numbers (O(n log limit), no copy of the table);
// then it copies the page's sessions. A session that ends in between is left
// out of the page.
func (m *Manager) Agents(ctx context.Context, after ccgw.AgentID, limit int) ([]ccgw.LiveSession, bool) {
	low := pick.NewLowest[ccgw.AgentID](limit + 1) // one more: whether more follow
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.RLock()
		for id, e := range sh.live {
			if id > after && !e.pending {
				low.Offer(id)
			}
		}
		sh.mu.RUnlock()
	}
	ids := low.Sorted()
	more := len(ids) > limit
	if more {
		ids = ids[:limit]
	}
	out := make([]ccgw.LiveSession, 0, len(ids))
	for _, id := range ids {
		if info, ok := m.agentInfo(id); ok {
			out = append(out, info)
		}
	}
	return out, more
}

// agentInfo returns agent id's live session as a ccgw.LiveSession, and false if it has
// none.
func (m *Manager) agentInfo(id ccgw.AgentID) (ccgw.LiveSession, bool) {
	sh := m.shard(id)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	e := sh.live[id]
	if e == nil || e.pending {
		return ccgw.LiveSession{}, false
	}
	info := ccgw.LiveSession{Session: e.s, LastSeen: time.Unix(0, e.hot.seen.Load())}
	info.Session.Skills = slices.Clone(e.s.Skills)
	if e.q != nil {
		info.Queued = e.q.Len()
	}
	return info, true
}
