package redis

import (
	"context"
	"strconv"
	"strings"
	"sync"
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
	lag := s.lag.Snapshot()
	st.SignOutLag = &lag
	if !s.ready.Load() {
		st.Partial = true
		return st
	}
	ctx := context.Background()
	var live, sim *goredis.IntCmd
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		live, sim = p.ZCard(ctx, s.key+"dl"), p.SCard(ctx, s.key+"sim")
		return nil
	})
	if err != nil {
		st.Partial = true
		return st
	}
	st.Live = int(live.Val() + sim.Val()) // simulated sessions are not in the deadline set
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

// Run watches Redis's health, wakes held polls on events, keeps the auth cache
// coherent (cache.go), and every tick writes the batched renewals, sweeps
// expired sessions and hands pending push work to the pusher, until ctx ends.
func (s *Store) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { s.subscribe(ctx) })
	wg.Go(func() { s.watchAuth(ctx) })
	wg.Go(func() { s.follow(ctx) }) // Config.OnChange and Tap, from the feed
	for {
		t := s.cfg.Clock.NewTimer(s.cfg.Tick)
		select {
		case <-ctx.Done():
			t.Stop()
			wg.Wait()
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

// tick is one round of Run's work. The tick script is the health check:
// while it fails the node is not ready, and it PINGs until Redis answers.
func (s *Store) tick(ctx context.Context) {
	if !s.ready.Load() {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := s.rdb.Ping(pctx).Err()
		if err == nil {
			err = s.loadGUIDKey(pctx)
		}
		cancel()
		if err != nil {
			return
		}
		s.ready.Store(true)
		s.cfg.Log.Info("redis reachable again")
		s.wakeAll()
	}
	if _, err := s.sweep(ctx, s.cfg.Clock.Now()); err != nil && ctx.Err() == nil {
		if s.ready.Swap(false) {
			s.cfg.Log.Error("redis unreachable: not ready, signing nobody out", "err", err)
		}
		s.resetAuth() // it may have missed invalidations
	}
}

// Sweep writes the node's batched renewals and signs out the sessions whose
// deadline passed a tick before now: each is signed out by exactly one node.
// Before that, if nobody swept for a while (Redis or every node was down),
// every deadline is moved on by that gap, in O(1). It returns how many
// sessions this call signed out.
func (s *Store) Sweep(now time.Time) int {
	n, err := s.sweep(context.Background(), now)
	if err != nil {
		s.cfg.Log.Warn("sweep failed", "err", err)
	}
	return n
}

// sweep is Sweep in script calls of expiryBatch sessions at most, up to
// MaxExpiries; each call writes what the batch holds then, so that renewals
// wait no longer than one call. The post-sign-out work of each call is done
// before the next, without a lock; one line is logged for all.
func (s *Store) sweep(ctx context.Context, now time.Time) (int, error) {
	s.heldMu.Lock()
	for id := range s.held { // only polling-mode sessions hold polls
		s.batch.renew(id, s.deadline(now, ccgw.ModePoll))
	}
	s.heldMu.Unlock()
	total, lagMax := 0, time.Duration(0)
	var rests, pending []string
	for first := true; ; first = false {
		limit := min(expiryBatch, s.cfg.MaxExpiries-total)
		r, err := s.tickOnce(ctx, now, limit, first)
		if err != nil {
			return total, err
		}
		if first {
			rests, pending = r.rests, r.pending
		}
		for _, x := range r.ended {
			sess, err := decodeSession(x.raw)
			if err != nil {
				continue
			}
			lag := now.Sub(time.UnixMilli(x.deadline))
			lagMax = max(lagMax, lag)
			s.expired(sess, lag)
		}
		total += len(r.ended)
		if len(r.ended) < limit || total >= s.cfg.MaxExpiries {
			break
		}
	}
	if total > 0 {
		s.cfg.Log.Info("sessions expired", "count", total, "lag_max", lagMax)
	}
	s.restsDue(ctx, rests)
	for _, id := range parseIDs(pending) {
		s.cfg.Notify(id)
	}
	return total, nil
}

// scheduleRest files the end of sess's current rest in the rest set.
func (s *Store) scheduleRest(ctx context.Context, id ccgw.AgentID, sess *ccgw.Session) {
	member := id.String() + ":" + strconv.FormatUint(sess.RestSeq, 10)
	if err := s.rdb.ZAdd(ctx, s.key+"rest", goredis.Z{Score: float64(sess.RestUntil), Member: member}).Err(); err != nil {
		s.cfg.Log.Warn("rest timer not filed", "agent", id.String(), "err", err)
	}
}

// restsDue tells the agents whose rest ran out (members "id:restSeq" the tick
// script claimed, so that exactly one node tells each):
// AgentState_Rest_Timeout (and idle with RestTimeoutIdle).
func (s *Store) restsDue(ctx context.Context, members []string) {
	for _, member := range members {
		idStr, seqStr, ok := strings.Cut(member, ":")
		id, err1 := ccgw.ParseAgentID(idStr)
		seq, err2 := strconv.ParseUint(seqStr, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			continue
		}
		s.updateWith(ctx, id, "", false, func(x *ccgw.Session, now time.Time) ([]session.Emit, error) {
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
