package session

import (
	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/push"
)

// PushTarget implements push.Source: the push target of agent id's ended
// push-mode session while its last events wait (so that a session replaced by a
// forced sign-in is told AgentOther_ShutdownService before the new one's events
// go out), else of its live push-mode session.
func (m *Manager) PushTarget(id ccgw.AgentID) (push.Target, bool) {
	sh := m.shard(id)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	t := sh.tombs[id]
	if t != nil && t.push != nil && t.q.Len() > 0 {
		return tombTarget(id, t), true
	}
	if e := sh.live[id]; e != nil && e.s.Mode == ccgw.ModePush && !e.pending {
		return push.Target{Agent: id, Gen: e.s.Gen, URL: e.s.CallbackURI, Token: e.s.ServiceToken, GUID: e.s.GUID,
			Legacy: e.s.LegacyPush, Queue: e.q}, true
	}
	if t != nil && t.push != nil {
		return tombTarget(id, t), true
	}
	return push.Target{}, false
}

func tombTarget(id ccgw.AgentID, t *tomb) push.Target {
	return push.Target{Agent: id, Gen: t.gen, URL: t.push.CallbackURI, Token: t.push.ServiceToken, GUID: t.guid,
		Legacy: t.push.LegacyPush, Ended: true, Queue: t.q}
}

// PushFailed implements push.Source: it signs sign-in gen of agent id out with
// CausePushFailed, unless that sign-in already ended.
func (m *Manager) PushFailed(id ccgw.AgentID, gen uint64) { m.kick(id, gen, ccgw.CausePushFailed) }

// Delivered implements push.Source.
func (m *Manager) Delivered(id ccgw.AgentID, gen, seq uint64) { m.delivered(id, gen, seq) }

// NotifyAll calls Config.Notify for every live push-mode session with queued
// events: after Restore, so that events restored from the store are pushed. It
// visits every session, once.
func (m *Manager) NotifyAll() {
	if m.cfg.Notify == nil {
		return
	}
	var ids []ccgw.AgentID
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.RLock()
		for id, e := range sh.live {
			if e.s.Mode == ccgw.ModePush && e.q.Len() > 0 {
				ids = append(ids, id)
			}
		}
		sh.mu.RUnlock()
	}
	for _, id := range ids {
		m.cfg.Notify(id)
	}
}
