package session

import (
	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/event"
)

// queueConfigs are the event.Configs the event queues of a Manager share, one
// for client sessions and one for simulated agents, so that a queue carries
// one pointer to them instead of its own copy (docs/benchmarks.md, "RSS per
// session"). Set by New, read-only after.
type queueConfigs struct {
	client, sim event.Config
}

// initQueues sets up m.queues from m.cfg.
func (m *Manager) initQueues() {
	c := event.Config{Max: m.cfg.QueueSize, OnDrop: m.dropped, Counter: &m.stats.queued}
	m.queues.client, m.queues.sim = c, c
	m.queues.client.Tap = m.cfg.Tap
	m.queues.client.Filter = m.cfg.DropEvent
	// A simulated agent's events only go to the tap.
	m.queues.sim.Tap, m.queues.sim.TapOnly = m.cfg.Tap, true
	if m.queues.sim.Tap == nil {
		m.queues.sim.Tap = func(ccgw.Event) {}
	}
}

// queueFor returns a new queue for agent id; a simulated agent's events only go
// to the tap.
func (m *Manager) queueFor(id ccgw.AgentID, simulated bool) *event.Queue {
	if simulated {
		return event.New(id, &m.queues.sim)
	}
	return event.New(id, &m.queues.client)
}
