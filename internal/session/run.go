package session

import (
	"context"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ccgw/ccgw"
)

// Stats implements ccgw.SessionService: cluster-wide counts from the store, and
// this node's heartbeats and polls. While the store cannot be read, the cluster-wide
// counts are zero and Partial is set.
func (s *Service) Stats(ctx context.Context) ccgw.SessionStats {
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
	c, err := s.db.Counts(ctx)
	if err != nil {
		st.Partial = true
		return st
	}
	st.Live, st.SignIns, st.Expiries, st.Queued = c.Live, c.SignIns, c.Expiries, c.Queued
	maps.Copy(st.SignOuts, c.SignOuts)
	maps.Copy(st.Drops, c.Drops)
	return st
}

// Run watches Redis's health, wakes held polls on events, keeps the auth cache
// coherent (cache.go), and every tick writes the batched renewals, sweeps
// expired sessions and hands pending push work to the pusher, until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { s.subscribe(ctx) })
	wg.Go(func() { s.watchAuth(ctx) })
	if !s.cfg.Local {
		wg.Go(func() { s.follow(ctx) }) // Config.OnChange and Tap, from the feed
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			err := s.db.Prepare(ctx) // once per store: the agents list of an earlier ccgw's sessions
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

// subscribe wakes local polls when any node queues an event. Each time the
// subscription is (re)confirmed it wakes every held poll: one may have missed
// its wake-up while the node was not subscribed.
func (s *Service) subscribe(ctx context.Context) {
	for ctx.Err() == nil {
		s.db.WatchEvents(ctx, s.wakeAll, s.wake)
		if s.watchLost != nil && ctx.Err() == nil {
			s.watchLost()
		}
		if ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond) // reconnect pacing, not synchronisation
		}
	}
}

// tick is one round of Run's work. The store's Tick is the health check:
// while it fails the node is not ready, and it pings until the store answers.
func (s *Service) tick(ctx context.Context) {
	if !s.ready.Load() {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := s.db.Ping(pctx)
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
func (s *Service) Sweep(now time.Time) int {
	n, err := s.sweep(context.Background(), now)
	if err != nil {
		s.cfg.Log.Warn("sweep failed", "err", err)
	}
	return n
}

// sweep is Sweep in Ticks of expiryBatch sessions at most, up to
// MaxExpiries; each call writes what the batch holds then, so that renewals
// wait no longer than one call. The post-sign-out work of each call is done
// before the next, without a lock; one line is logged for all.
func (s *Service) sweep(ctx context.Context, now time.Time) (int, error) {
	s.heldMu.Lock()
	for id := range s.held { // only polling-mode sessions hold polls
		s.batch.renew(id, s.cfg.Deadline(now, ccgw.ModePoll))
	}
	s.heldMu.Unlock()
	total, lagMax := 0, time.Duration(0)
	var rests []ccgw.SharedRest
	var pending []ccgw.AgentID
	for first := true; ; first = false {
		limit := min(expiryBatch, s.cfg.MaxExpiries-total)
		r, err := s.tickOnce(ctx, now, limit, first)
		if err != nil {
			return total, err
		}
		if first {
			rests, pending = r.Rests, r.Pending
		}
		n, lag, err := s.expire(ctx, now, r.Claimed)
		if err != nil {
			return total, err
		}
		total, lagMax = total+n, max(lagMax, lag)
		if len(r.Claimed) < limit || total >= s.cfg.MaxExpiries {
			break
		}
	}
	if total > 0 {
		s.cfg.Log.Info("sessions expired", "count", total, "lag_max", lagMax)
	}
	s.restsDue(ctx, rests)
	for _, id := range pending {
		s.cfg.Notify(id)
	}
	return total, nil
}

// expire signs out the sessions a tick claimed, each as ccgw.EndingOf
// decides for a timeout, in one call of the store's Expire, and announces
// those it signed out. It returns how many, and the latest of them after its
// deadline.
func (s *Service) expire(ctx context.Context, now time.Time, claimed []ccgw.SharedClaim) (int, time.Duration, error) {
	if len(claimed) == 0 {
		return 0, 0, nil
	}
	ends := make([]ccgw.SharedEnd, 0, len(claimed))
	claims := make(map[ccgw.AgentID]*claim, len(claimed))
	for _, x := range claimed {
		sess, err := decodeSession(x.Record)
		if err != nil {
			continue
		}
		claims[sess.Agent] = &claim{raw: x.Record, sess: sess, deadline: x.Deadline}
		ends = append(ends, ccgw.SharedEnd{ID: sess.Agent, Gen: sess.Gen, Cause: ccgw.CauseTimeout, KeepFor: s.keepFor(),
			Ending: s.ending(&sess, ccgw.CauseTimeout, now)})
	}
	if err := s.up(); err != nil {
		return 0, 0, err
	}
	ended, err := s.db.Expire(ctx, ends)
	if err != nil {
		return 0, 0, unavailable(err)
	}
	s.committed()
	lagMax := time.Duration(0)
	level := slog.LevelInfo
	if len(ended) > bulkSignOuts {
		level = slog.LevelDebug
	}
	for _, raw := range ended {
		c := claimOf(claims, raw)
		if c == nil {
			continue
		}
		sess := c.sess
		lag := now.Sub(time.UnixMilli(c.deadline))
		lagMax = max(lagMax, lag)
		s.expired(sess, lag, level)
	}
	return len(ended), lagMax, nil
}

// claim is a session a tick claimed, decoded.
type claim struct {
	raw      string
	sess     ccgw.Session
	deadline int64 // ms
}

// claimOf returns the claim an ended record raw is of: found by its work
// number and compared whole, so that the record is decoded once (nil if raw
// is none of them).
func claimOf(claims map[ccgw.AgentID]*claim, raw string) *claim {
	if id, ok := agentOf(raw); ok {
		if c := claims[id]; c != nil && c.raw == raw {
			return c
		}
	}
	sess, err := decodeSession(raw)
	if err != nil || claims[sess.Agent] == nil {
		return nil
	}
	c := *claims[sess.Agent]
	c.sess = sess
	return &c
}

// agentOf returns the work number at the head of a session record
// (`{"agent":1001,`, as encoding/json writes ccgw.Session), without
// decoding the rest.
func agentOf(raw string) (ccgw.AgentID, bool) {
	const head = `{"agent":`
	if !strings.HasPrefix(raw, head) {
		return 0, false
	}
	rest := raw[len(head):]
	end := strings.IndexByte(rest, ',')
	if end < 0 {
		return 0, false
	}
	n, err := strconv.ParseUint(rest[:end], 10, 32)
	if err != nil {
		return 0, false
	}
	return ccgw.AgentID(n), true
}

// scheduleRest files the end of sess's current rest for a tick to claim.
func (s *Service) scheduleRest(ctx context.Context, id ccgw.AgentID, sess *ccgw.Session) {
	if err := s.db.FileRest(ctx, id, sess.RestSeq, sess.RestUntil); err != nil {
		s.cfg.Log.Warn("rest timer not filed", "agent", id.String(), "err", err)
	}
}

// restsDue tells the agents whose rest ran out (the rests a tick claimed, so
// that exactly one node tells each), as ccgw.Session.RestTimedOut decides.
func (s *Service) restsDue(ctx context.Context, rests []ccgw.SharedRest) {
	for _, r := range rests {
		s.updateWith(ctx, r.ID, "", false, func(x *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
			evs, _ := x.RestTimedOut(r.RestSeq, now, s.cfg.RestTimeoutIdle)
			return evs, nil
		})
	}
}
