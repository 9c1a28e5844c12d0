package redis

import (
	"context"
	"strconv"
	"time"

	"github.com/ccgw/ccgw"
	goredis "github.com/redis/go-redis/v9"
)

// The live index: the sorted set {ccgw}:live holds every live session's work
// number, scored by it, so that the admin API's agents list pages through the
// sessions in work-number order without a scan. The sign-in script adds to
// it and finish (every way out) removes from it, in the same scripts that
// write the session.

// buildBatch is how many work numbers buildLive moves at a time.
const buildBatch = 10000

// Agents returns the live sessions (client and simulated) with work numbers
// above after, in work-number order, up to limit of them, and whether more
// follow: one ZRANGEBYSCORE for the page's work numbers, then one pipeline
// reading their sessions, deadlines and queue lengths. LastSeen is the
// deadline less the session's timeout: this node's renewals reach Redis once
// a tick, so it may be a tick old (a simulated session, which never expires,
// shows its sign-in). A session that ends in between is left out of the page.
// It returns none if Redis cannot be read.
func (s *Store) Agents(ctx context.Context, after ccgw.AgentID, limit int) ([]ccgw.LiveSession, bool) {
	if !s.ready.Load() || limit <= 0 {
		return nil, false
	}
	ids, err := s.rdb.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: s.key + "live", ByScore: true,
		Start: "(" + after.String(), Stop: "+inf", Count: int64(limit) + 1}).Result()
	if err != nil || len(ids) == 0 {
		return nil, false
	}
	more := len(ids) > limit
	if more {
		ids = ids[:limit]
	}
	var off *goredis.StringCmd
	raws := make([]*goredis.StringCmd, len(ids))
	dls := make([]*goredis.FloatCmd, len(ids))
	lens := make([]*goredis.IntCmd, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		off = p.Get(ctx, s.key+"off")
		for i, id := range ids {
			raws[i] = p.Get(ctx, s.key+"s:"+id)
			dls[i] = p.ZScore(ctx, s.key+"dl", id)
			lens[i] = p.LLen(ctx, s.key+"q:"+id)
		}
		return nil
	})
	if err != nil && err != goredis.Nil {
		return nil, false
	}
	offset, _ := off.Int64() // none: 0
	out := make([]ccgw.LiveSession, 0, len(ids))
	for i := range ids {
		raw, err := raws[i].Result()
		if err != nil {
			continue // ended in between
		}
		sess, err := decodeSession(raw)
		if err != nil {
			continue
		}
		info := ccgw.LiveSession{Session: sess, LastSeen: time.UnixMilli(sess.LoginTime)}
		if dl, err := dls[i].Result(); err == nil {
			info.LastSeen = s.seen(int64(dl)+offset, sess.Mode)
		}
		if n, err := lens[i].Result(); err == nil {
			info.Queued = int(n)
		}
		out = append(out, info)
	}
	return out, more
}

// Clients returns the work numbers of every live session signed in by a
// client (the simulated call centre's own left out), in work-number order,
// from the live index alone: a ZRANGEBYSCORE per buildBatch sessions and one
// SMEMBERS, no session read. What Redis did not answer is left out.
func (s *Store) Clients(ctx context.Context) []ccgw.AgentID { return s.clients(ctx, buildBatch) }

// clients is Clients reading batch work numbers at a time.
func (s *Store) clients(ctx context.Context, batch int) []ccgw.AgentID {
	sim, err := s.rdb.SMembers(ctx, s.key+"sim").Result()
	if err != nil {
		return nil
	}
	skip := make(map[string]bool, len(sim))
	for _, id := range sim {
		skip[id] = true
	}
	var out []ccgw.AgentID
	after := "-inf"
	for {
		ids, err := s.rdb.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: s.key + "live", ByScore: true,
			Start: after, Stop: "+inf", Count: int64(batch)}).Result()
		if err != nil {
			return out
		}
		for _, id := range ids {
			if n, err := strconv.ParseUint(id, 10, 32); err == nil && !skip[id] {
				out = append(out, ccgw.AgentID(n))
			}
		}
		if len(ids) < batch {
			return out
		}
		after = "(" + ids[len(ids)-1]
	}
}

// buildLive fills the live index from the deadline set and the simulated
// agents' set, once per Redis: for the sessions an earlier ccgw signed in,
// which kept no index. It runs in the background of Run; until it is done
// such sessions are missing from the agents list, never shown twice.
func (s *Store) buildLive(ctx context.Context) error {
	done, err := s.rdb.Exists(ctx, s.key+"livebuilt").Result()
	if err != nil || done == 1 {
		return err
	}
	add := func(ids []string) error {
		zs := make([]goredis.Z, 0, len(ids))
		for _, id := range ids {
			if n, err := strconv.ParseUint(id, 10, 32); err == nil {
				zs = append(zs, goredis.Z{Score: float64(n), Member: id})
			}
		}
		if len(zs) == 0 {
			return nil
		}
		return s.rdb.ZAdd(ctx, s.key+"live", zs...).Err()
	}
	for start := int64(0); ; start += buildBatch {
		ids, err := s.rdb.ZRange(ctx, s.key+"dl", start, start+buildBatch-1).Result()
		if err != nil {
			return err
		}
		if err := add(ids); err != nil {
			return err
		}
		if len(ids) < buildBatch {
			break
		}
	}
	sim, err := s.rdb.SMembers(ctx, s.key+"sim").Result()
	if err != nil {
		return err
	}
	if err := add(sim); err != nil {
		return err
	}
	return s.rdb.Set(ctx, s.key+"livebuilt", "1", 0).Err()
}
