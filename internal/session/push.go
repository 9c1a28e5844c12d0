package session

import (
	"context"
	"encoding/json"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/push"
)

// PushTarget implements push.Source: it claims agent id's push work for this
// node (or keeps its claim) and returns the target; another node's claim means
// no target here.
func (s *Service) PushTarget(id ccgw.AgentID) (push.Target, bool) {
	ctx := context.Background()
	if s.up() != nil {
		return push.Target{}, false
	}
	if ok, err := s.db.ClaimPush(ctx, id, s.cfg.NodeName, s.cfg.PushLease); err != nil || !ok {
		return push.Target{}, false
	}
	// An ended session's last events (AgentOther_ShutdownService) go before a
	// new sign-in's, as on one node.
	raw, tomb, err := s.db.Read(ctx, id)
	pendingTomb := false
	if err == nil && tomb != "" {
		n, _ := s.db.Queued(ctx, id, true)
		pendingTomb = n > 0
	}
	if !pendingTomb && err == nil && raw != "" {
		if sess, err := decodeSession(raw); err == nil && sess.Mode == ccgw.ModePush {
			guid := sess.GUID
			if e := s.cache.get(id); e != nil && e.gen == sess.Gen { // a rotation this node has not recorded yet
				guid = e.guid
			}
			return push.Target{Agent: id, Gen: sess.Gen, URL: sess.CallbackURI, Token: sess.ServiceToken, GUID: guid,
				Legacy: sess.LegacyPush, Queue: &queue{s: s, id: id, gen: sess.Gen}}, true
		}
	}
	var t tombRec
	if err != nil || tomb == "" || json.Unmarshal([]byte(tomb), &t) != nil || t.Mode != ccgw.ModePush {
		s.Release(id)
		return push.Target{}, false
	}
	return push.Target{Agent: id, Gen: t.Gen, URL: t.URI, Token: t.Token, GUID: t.GUID, Legacy: t.Legacy, Ended: true,
		Queue: &queue{s: s, id: id, gen: t.Gen, tomb: true}}, true
}

// Delivered implements push.Source; the queue's Ack already removed the events.
func (s *Service) Delivered(ccgw.AgentID, uint64, uint64) {}

// Release implements push.Releaser.
func (s *Service) Release(id ccgw.AgentID) {
	if s.up() != nil {
		return // the claim lapses by itself
	}
	s.db.ReleasePush(context.Background(), id, s.cfg.NodeName)
}

// queue is the stored event queue of an agent's sign-in gen (its ended
// session's, with tomb) as a push.Queue. Its Ack and DropHead find the queue
// by gen: a session that ends while a push of its events is under way has
// taken them to its tombstone's queue, where they are acknowledged, and a
// later sign-in's events are left alone.
type queue struct {
	s    *Service
	id   ccgw.AgentID
	gen  uint64
	tomb bool
}

// Peek implements push.Queue.
func (q *queue) Peek(max int) []ccgw.Event {
	if q.s.up() != nil {
		return nil
	}
	evs, _ := q.s.db.Peek(context.Background(), q.id, q.tomb, max)
	return evs
}

// Ack implements push.Queue.
func (q *queue) Ack(seq uint64) {
	if q.s.up() != nil {
		return // delivered again once the store is back: pushes are at least once
	}
	q.s.db.Ack(context.Background(), q.id, q.gen, seq, "")
}

// DropHead implements push.Queue.
func (q *queue) DropHead(seq uint64, reason ccgw.DropReason) int {
	if q.s.up() != nil {
		return 0
	}
	n, _ := q.s.db.Ack(context.Background(), q.id, q.gen, seq, reason)
	return n
}
