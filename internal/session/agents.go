package session

import (
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

// AgentInfo is a live session as the admin API's agents list shows it.
type AgentInfo struct {
	// Session is a copy of the session (its Skills too). It holds the GUIDs:
	// whoever shows it must leave them out.
	Session ccgw.Session
	// LastSeen is the session's last heartbeat, poll or other authenticated
	// request (its sign-in or restore before any), on the sessions' clock.
	LastSeen time.Time
	// Queued is how many of its events wait for delivery.
	Queued int
}

// Agents returns the live sessions (client and simulated) with work numbers
// above after, in work-number order, up to limit of them, and whether more
// follow. It visits every session once, shard by shard under its read lock, and
// keeps only the page's work numbers (O(n log limit), no copy of the table);
// then it copies the page's sessions. A session that ends in between is left
// out of the page.
func (m *Manager) Agents(after ccgw.AgentID, limit int) ([]AgentInfo, bool) {
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
	out := make([]AgentInfo, 0, len(ids))
	for _, id := range ids {
		if info, ok := m.agentInfo(id); ok {
			out = append(out, info)
		}
	}
	return out, more
}

// agentInfo returns agent id's live session as AgentInfo, and false if it has
// none.
func (m *Manager) agentInfo(id ccgw.AgentID) (AgentInfo, bool) {
	sh := m.shard(id)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	e := sh.live[id]
	if e == nil || e.pending {
		return AgentInfo{}, false
	}
	info := AgentInfo{Session: e.s, LastSeen: time.Unix(0, e.hot.seen.Load())}
	info.Session.Skills = slices.Clone(e.s.Skills)
	if e.q != nil {
		info.Queued = e.q.Len()
	}
	return info, true
}
