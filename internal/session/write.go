package session

import (
	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/event"
)

// persist stores events just queued for a session; they are durable when it
// returns. A failure is logged: the events stay queued in memory.
func (m *Manager) persist(s *ccgw.Session, evs []ccgw.Event) {
	id, gen := s.Agent, s.Gen
	if m.cfg.Events == nil || len(evs) == 0 || s.Simulated {
		return
	}
	if err := m.cfg.Events.AppendEvents(id, gen, evs); err != nil {
		m.cfg.Log.Error("event store append failed", "agent", id.String(), "err", err)
	}
}

// sessionEventsStore is a store that keeps sessions and events and can write
// both in one commit (bolt.Store).
type sessionEventsStore interface {
	PutSessionEvents(s *ccgw.Session, evs []ccgw.Event) error
}

// putWithEvents stores s and then the events its change queued (as put and
// persist do), in one commit where the store can. Failures are logged: the
// session and events stay live in memory.
func (m *Manager) putWithEvents(s *ccgw.Session, evs []ccgw.Event) {
	if s.Simulated {
		return
	}
	if both, ok := m.cfg.Store.(sessionEventsStore); ok && len(evs) > 0 && m.cfg.Events != nil && any(m.cfg.Events) == any(m.cfg.Store) {
		if err := both.PutSessionEvents(s, evs); err != nil {
			m.cfg.Log.Error("store put failed", "agent", s.Agent.String(), "events", len(evs), "err", err)
		}
		return
	}
	if err := m.put(s); err != nil {
		m.cfg.Log.Error("store put failed", "agent", s.Agent.String(), "err", err)
	}
	m.persist(s, evs)
}

// delivered records that a session's events up to seq reached the client.
func (m *Manager) delivered(id ccgw.AgentID, gen, seq uint64) {
	if m.cfg.Events != nil {
		m.acks.add(id, gen, seq)
	}
}

// FlushAcks writes the acknowledgements gathered since the last flush in one
// store call. Run calls it every tick; call it once more after Run returns.
func (m *Manager) FlushAcks() {
	if m.cfg.Events == nil {
		return
	}
	acks := m.acks.take()
	if len(acks) == 0 {
		return
	}
	if err := m.cfg.Events.AckEvents(acks); err != nil {
		m.cfg.Log.Error("event store ack failed", "acks", len(acks), "err", err)
	}
}

func (m *Manager) newQueue(id ccgw.AgentID) *event.Queue {
	return m.queueFor(id, false)
}

// ticketLocked takes e's next write ticket; sh.mu must be held for writing, and
// the caller must then call ordered with it, whatever happens.
func ticketLocked(e *entry) uint32 {
	e.wTaken++
	return e.wTaken
}

// ordered runs write, e's snapshot with ticket t going to the store, once every
// earlier ticket's write has returned. Two changes of one session racing to the
// store thus land in the order they were made; waiting is rare (concurrent
// changes of one agent) and holds no lock.
func (m *Manager) ordered(sh *shard, e *entry, t uint32, write func()) {
	m.awaitTurn(sh, e, t)
	write()
	m.turnDone(sh, e, t)
}

// awaitTurn returns once every write of e's tickets before t has returned;
// the caller then writes and calls turnDone.
func (m *Manager) awaitTurn(sh *shard, e *entry, t uint32) {
	sh.wmu.Lock()
	if e.wDone != t-1 && m.onWriteWait != nil {
		m.onWriteWait()
	}
	for e.wDone != t-1 {
		sh.wcond.Wait()
	}
	sh.wmu.Unlock()
}

// turnDone records that the write of e's ticket t returned.
func (m *Manager) turnDone(sh *shard, e *entry, t uint32) {
	sh.wmu.Lock()
	e.wDone = t
	sh.wcond.Broadcast()
	sh.wmu.Unlock()
}

// put stores s, unless it is simulated: the simulated call centre signs its
// agents in again when it starts, and its calls do not outlive the process, so
// storing their every state change would only serialise the simulation on the
// store's commits.
func (m *Manager) put(s *ccgw.Session) error {
	if s.Simulated {
		return nil
	}
	return m.cfg.Store.PutSession(s)
}
