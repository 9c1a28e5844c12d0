package session

import (
	"slices"

	"github.com/ccgw/ccgw"
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
