package redis

import (
	"context"
	"encoding/json"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/push"
)

// PushTarget implements push.Source: it claims agent id's push work for this
// node (or keeps its claim) and returns the target; another node's claim means
// no target here.
func (s *Store) PushTarget(id ccgw.AgentID) (push.Target, bool) {
	ctx := context.Background()
	res, err := s.run(ctx, claimScript, id.String(), s.cfg.NodeName, s.cfg.PushLease.Milliseconds())
	if err != nil || res != int64(1) {
		return push.Target{}, false
	}
	// An ended session's last events (AgentOther_ShutdownService) go before a
	// new sign-in's, as on one node.
	raw, err := s.rdb.Get(ctx, s.key+"t:"+id.String()).Result()
	pendingTomb := err == nil && s.rdb.LLen(ctx, s.key+"tq:"+id.String()).Val() > 0
	if !pendingTomb {
		if sess, ok := s.lookup(ctx, id); ok && sess.Mode == ccgw.ModePush {
			guid := sess.GUID
			if e := s.cache.get(id); e != nil && e.gen == sess.Gen { // a rotation this node has not recorded yet
				guid = e.guid
			}
			return push.Target{Agent: id, Gen: sess.Gen, URL: sess.CallbackURI, Token: sess.ServiceToken, GUID: guid,
				Legacy: sess.LegacyPush, Queue: &queue{s: s, id: id}}, true
		}
	}
	if err != nil {
		s.Release(id)
		return push.Target{}, false
	}
	var t tombRec
	if json.Unmarshal([]byte(raw), &t) != nil || t.Mode != ccgw.ModePush {
		s.Release(id)
		return push.Target{}, false
	}
	return push.Target{Agent: id, Gen: t.Gen, URL: t.URI, Token: t.Token, GUID: t.GUID, Legacy: t.Legacy, Ended: true,
		Queue: &queue{s: s, id: id, tomb: true}}, true
}

// Delivered implements push.Source; the queue's Ack already removed the events.
func (s *Store) Delivered(ccgw.AgentID, uint64, uint64) {}

// Release implements push.Releaser.
func (s *Store) Release(id ccgw.AgentID) {
	s.run(context.Background(), releaseScript, id.String(), s.cfg.NodeName)
}

// queue is an agent's Redis event list as an push.Queue.
type queue struct {
	s    *Store
	id   ccgw.AgentID
	tomb bool
}

func (q *queue) list() string {
	if q.tomb {
		return q.s.key + "tq:" + q.id.String()
	}
	return q.s.key + "q:" + q.id.String()
}

// Peek implements push.Queue.
func (q *queue) Peek(max int) []ccgw.Event {
	vals, err := q.s.rdb.LRange(context.Background(), q.list(), 0, int64(max)-1).Result()
	if err != nil {
		return nil
	}
	out := make([]ccgw.Event, 0, len(vals))
	for _, v := range vals {
		if ev, ok := parseQueued(v); ok {
			out = append(out, ev)
		}
	}
	return out
}

// Ack implements push.Queue.
func (q *queue) Ack(seq uint64) {
	q.s.run(context.Background(), ackScript, q.id.String(), boolArg(q.tomb), seq, "")
}

// DropHead implements push.Queue.
func (q *queue) DropHead(seq uint64, reason ccgw.DropReason) int {
	res, err := q.s.run(context.Background(), ackScript, q.id.String(), boolArg(q.tomb), seq, string(reason))
	if err != nil {
		return 0
	}
	n, _ := res.(int64)
	return int(n)
}
