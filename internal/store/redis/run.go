package redis

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/session"
	goredis "github.com/redis/go-redis/v9"
)

// Stats implements session.Service: cluster-wide counts from Redis, and this
// node's heartbeats and polls. While Redis cannot be read, the cluster-wide
// counts are zero and Partial is set.
func (s *Store) Stats() session.Stats {
	st := session.Stats{
		Heartbeats: s.heartbeats.Load(), Polls: s.polls.Load(), Polled: s.polled.Load(),
		SignOuts: map[ccgw.SignOutCause]uint64{}, Drops: map[ccgw.DropReason]uint64{},
	}
	if !s.ready.Load() {
		st.Partial = true
		return st
	}
	ctx := context.Background()
	n, err := s.rdb.ZCard(ctx, s.key+"dl").Result()
	if err != nil {
		st.Partial = true
		return st
	}
	st.Live = int(n)
	h, err := s.rdb.HGetAll(ctx, s.key+"stats").Result()
	if err != nil {
		return session.Stats{Partial: true, Heartbeats: st.Heartbeats, Polls: st.Polls, Polled: st.Polled,
			SignOuts: st.SignOuts, Drops: st.Drops}
	}
	for k, v := range h {
		n, _ := strconv.ParseUint(v, 10, 64)
		switch {
		case k == "signin":
			st.SignIns = n
		case k == "expiries":
			st.Expiries = n
		case k == "queued":
			st.Queued = n
		case strings.HasPrefix(k, "signout:"):
			st.SignOuts[ccgw.SignOutCause(strings.TrimPrefix(k, "signout:"))] = n
		case strings.HasPrefix(k, "drop:"):
			st.Drops[ccgw.DropReason(strings.TrimPrefix(k, "drop:"))] = n
		}
	}
	return st
}

// Run watches Redis's health, wakes held polls on events, renews held polls'
// deadlines, sweeps expired sessions and hands pending push work to the pusher,
// until ctx ends.
func (s *Store) Run(ctx context.Context) error {
	subscribed := make(chan struct{})
	go func() {
		defer close(subscribed)
		s.subscribe(ctx)
	}()
	for {
		t := s.cfg.Clock.NewTimer(s.cfg.Tick)
		select {
		case <-ctx.Done():
			t.Stop()
			<-subscribed
			return ctx.Err()
		case <-t.C():
		}
		s.tick(ctx)
	}
}

// subscribe wakes local polls when any node queues an event.
func (s *Store) subscribe(ctx context.Context) {
	for ctx.Err() == nil {
		sub := s.rdb.Subscribe(ctx, s.key+"ev")
		stop := context.AfterFunc(ctx, func() { sub.Close() })
		ch := sub.Channel()
		for msg := range ch {
			if n, err := strconv.ParseUint(msg.Payload, 10, 32); err == nil {
				s.wake(ccgw.AgentID(n))
			}
		}
		stop()
		sub.Close()
		if ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond) // reconnect pacing, not synchronisation
		}
	}
}

// tick is one round of Run's work.
func (s *Store) tick(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	err := s.rdb.Ping(pctx).Err()
	cancel()
	if err != nil {
		if s.ready.Swap(false) {
			s.cfg.Log.Error("redis unreachable: not ready, signing nobody out", "err", err)
		}
		return
	}
	if !s.ready.Swap(true) {
		s.cfg.Log.Info("redis reachable again")
		s.wakeAll()
	}
	now := s.cfg.Clock.Now()
	s.heldMu.Lock()
	ids := make([]ccgw.AgentID, 0, len(s.held))
	for id := range s.held {
		ids = append(ids, id)
	}
	s.heldMu.Unlock()
	s.renew(ids, now)
	s.Sweep(now)
	s.pushPending(ctx)
}

// Sweep signs out the sessions whose deadline passed by now, in one script:
// each is signed out by exactly one node. Before that, if nobody swept for a
// while (Redis or every node was down), every deadline is moved on by that gap.
// It returns how many sessions this call signed out.
func (s *Store) Sweep(now time.Time) int {
	grace := 10 * s.cfg.Tick
	if grace < time.Second {
		grace = time.Second
	}
	res, err := s.run(context.Background(), expireScript, s.ms(now), s.cfg.MaxExpiries, s.ttl(), s.cfg.QueueSize, grace.Milliseconds())
	if err != nil {
		s.cfg.Log.Warn("sweep failed", "err", err)
		return 0
	}
	arr, _ := res.([]any)
	for _, v := range arr {
		if raw, ok := v.(string); ok {
			if sess, err := decodeSession(raw); err == nil {
				s.ended(sess, ccgw.CauseTimeout)
			}
		}
	}
	s.restsDue(now)
	return len(arr)
}

// scheduleRest files the end of sess's current rest in the rest set.
func (s *Store) scheduleRest(id ccgw.AgentID, sess *ccgw.Session) {
	member := id.String() + ":" + strconv.FormatUint(sess.RestSeq, 10)
	if err := s.rdb.ZAdd(context.Background(), s.key+"rest", goredis.Z{Score: float64(sess.RestUntil), Member: member}).Err(); err != nil {
		s.cfg.Log.Warn("rest timer not filed", "agent", id.String(), "err", err)
	}
}

// restsDue tells the agents whose rest ran out by now: AgentState_Rest_Timeout
// (and idle with RestTimeoutIdle). A script claims each due rest, so exactly one
// node tells it.
func (s *Store) restsDue(now time.Time) {
	res, err := s.run(context.Background(), restDueScript, s.ms(now), s.cfg.MaxExpiries)
	if err != nil {
		return
	}
	arr, _ := res.([]any)
	for _, v := range arr {
		member, _ := v.(string)
		idStr, seqStr, ok := strings.Cut(member, ":")
		id, err1 := ccgw.ParseAgentID(idStr)
		seq, err2 := strconv.ParseUint(seqStr, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			continue
		}
		s.Update(id, "*", func(x *ccgw.Session, now time.Time) ([]session.Emit, error) {
			if x.State != ccgw.StateRest || x.RestSeq != seq || x.RestUntil == 0 || time.UnixMilli(x.RestUntil).After(now) {
				return nil, nil
			}
			x.RestUntil = 0
			evs := []session.Emit{{Type: ccgw.EvRestTimeout}}
			if s.cfg.RestTimeoutIdle {
				x.State, x.StateReason, x.StateSince = ccgw.StateIdle, 0, ccgw.Millis(now)
				evs = append(evs, session.Emit{Type: ccgw.EvReady})
			}
			return evs, nil
		})
	}
}
