package redis

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ccgw/ccgw"
	goredis "github.com/redis/go-redis/v9"
)

// Stats implements ccgw.SessionService: cluster-wide counts from Redis, and this
// node's heartbeats and polls. While Redis cannot be read, the cluster-wide
// counts are zero and Partial is set.
func (s *Store) Stats(ctx context.Context) ccgw.SessionStats {
	st := ccgw.SessionStats{
		Heartbeats: s.heartbeats.Load(), Polls: s.polls.Load(), Polled: s.polled.Load(),
		SignOuts: map[ccgw.SignOutCause]uint64{}, Drops: map[ccgw.DropReason]uint64{},
	}
	lag := s.lag.Snapshot()
	st.SignOutLag = &lag
	if !s.ready.Load() {
		st.Partial = true
		return st
	}
	var live, claimed, sim *goredis.IntCmd
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		live, claimed, sim = p.ZCard(ctx, s.key+"dl"), p.ZCard(ctx, s.key+"dlc"), p.SCard(ctx, s.key+"sim")
		return nil
	})
	if err != nil {
		st.Partial = true
		return st
	}
	st.Live = int(live.Val() + claimed.Val() + sim.Val()) // simulated sessions are not in the deadline sets
	h, err := s.rdb.HGetAll(ctx, s.key+"stats").Result()
	if err != nil {
		return ccgw.SessionStats{Partial: true, Heartbeats: st.Heartbeats, Polls: st.Polls, Polled: st.Polled,
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
	wg.Go(func() {
		for ctx.Err() == nil {
			err := s.buildLive(ctx) // once per Redis: the agents list of an earlier ccgw's sessions
			if err == nil {
				return
			}
			s.cfg.Log.Debug("live index not built yet", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second): // Redis away: try again (pacing, not synchronisation)
			}
		}
	})
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
		n, lag, err := s.expire(ctx, now, r.claimed)
		if err != nil {
			return total, err
		}
		total, lagMax = total+n, max(lagMax, lag)
		if len(r.claimed) < limit || total >= s.cfg.MaxExpiries {
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

// expire signs out the sessions a tick claimed, each as ccgw.EndingOf
// decides for a timeout, in one script call (expireScript), and announces
// those it signed out. It returns how many, and the latest of them after its
// deadline.
func (s *Store) expire(ctx context.Context, now time.Time, claimed []expiredSession) (int, time.Duration, error) {
	if len(claimed) == 0 {
		return 0, 0, nil
	}
	args := make([]any, 0, 1+7*len(claimed))
	args = append(args, s.ttl())
	deadlines := make(map[ccgw.AgentID]int64, len(claimed))
	for _, x := range claimed {
		sess, err := decodeSession(x.raw)
		if err != nil {
			continue
		}
		deadlines[sess.Agent] = x.deadline
		args = append(args, sess.Agent.String(), strconv.FormatUint(sess.Gen, 10))
		args = append(args, s.endArgs(&sess, ccgw.CauseTimeout, now)...)
	}
	res, err := s.run(ctx, expireScript, args...)
	if err != nil {
		return 0, 0, err
	}
	ended, lagMax := strs(res), time.Duration(0)
	level := slog.LevelInfo
	if len(ended) > bulkSignOuts {
		level = slog.LevelDebug
	}
	for _, raw := range ended {
		sess, err := decodeSession(raw)
		if err != nil {
			continue
		}
		lag := now.Sub(time.UnixMilli(deadlines[sess.Agent]))
		lagMax = max(lagMax, lag)
		s.expired(sess, lag, level)
	}
	return len(ended), lagMax, nil
}

// scheduleRest files the end of sess's current rest in the rest set.
func (s *Store) scheduleRest(ctx context.Context, id ccgw.AgentID, sess *ccgw.Session) {
	member := id.String() + ":" + strconv.FormatUint(sess.RestSeq, 10)
	if err := s.rdb.ZAdd(ctx, s.key+"rest", goredis.Z{Score: float64(sess.RestUntil), Member: member}).Err(); err != nil {
		s.cfg.Log.Warn("rest timer not filed", "agent", id.String(), "err", err)
	}
}

// restsDue tells the agents whose rest ran out (members "id:restSeq" the tick
// script claimed, so that exactly one node tells each), as
// ccgw.Session.RestTimedOut decides.
func (s *Store) restsDue(ctx context.Context, members []string) {
	for _, member := range members {
		idStr, seqStr, ok := strings.Cut(member, ":")
		id, err1 := ccgw.ParseAgentID(idStr)
		seq, err2 := strconv.ParseUint(seqStr, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			continue
		}
		s.updateWith(ctx, id, "", false, func(x *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
			evs, _ := x.RestTimedOut(seq, now, s.cfg.RestTimeoutIdle)
			return evs, nil
		})
	}
}
