package redis

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/ccgw/ccgw"
	goredis "github.com/redis/go-redis/v9"
)

// The live index: the sorted set live holds every live session's work
// number, scored by it, so that the agents list pages through the sessions in
// work-number order without a scan. The sign-in script adds to it and finish
// (every way out) removes from it, in the same scripts that write the session.
// An earlier version kept no index: Prepare builds it once per store.

// buildBatch is how many work numbers Prepare moves, and Clients reads, at a
// time.
const buildBatch = 10000

// SkillMembers implements ccgw.SharedStore with one SMEMBERS.
func (s *Store) SkillMembers(ctx context.Context, skill int) ([]ccgw.AgentID, error) {
	members, err := s.rdb.SMembers(ctx, s.key+"sk:"+strconv.Itoa(skill)).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	return parseIDs(members), nil
}

// Live implements ccgw.SharedStore: one ZRANGEBYSCORE of the live index for
// the page, then one pipeline reading its sessions, deadlines and queue
// lengths. A session that ended in between is left out of the page.
func (s *Store) Live(ctx context.Context, after ccgw.AgentID, limit int) ([]ccgw.SharedLive, bool, error) {
	if limit <= 0 {
		return nil, false, nil
	}
	ids, err := s.rdb.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: s.key + "live", ByScore: true,
		Start: "(" + after.String(), Stop: "+inf", Count: int64(limit) + 1}).Result()
	if err != nil {
		return nil, false, unavailable(err)
	}
	if len(ids) == 0 {
		return nil, false, nil
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
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, false, unavailable(err)
	}
	offset, err := off.Int64()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, false, unavailable(err)
	}
	out := make([]ccgw.SharedLive, 0, len(ids))
	for i := range ids {
		raw, err := raws[i].Result()
		if errors.Is(err, goredis.Nil) {
			continue // ended in between
		}
		if err != nil {
			return nil, false, unavailable(err)
		}
		x := ccgw.SharedLive{Record: raw}
		if dl, err := dls[i].Result(); err == nil {
			x.Deadline = int64(dl) + offset
		}
		if n, err := lens[i].Result(); err == nil {
			x.Queued = int(n)
		}
		out = append(out, x)
	}
	return out, more, nil
}

// Clients implements ccgw.SharedStore from the live index alone: a
// ZRANGEBYSCORE per buildBatch sessions and one SMEMBERS, no session read.
func (s *Store) Clients(ctx context.Context) ([]ccgw.AgentID, error) {
	return s.clients(ctx, buildBatch)
}

// clients is Clients reading batch work numbers at a time.
func (s *Store) clients(ctx context.Context, batch int) ([]ccgw.AgentID, error) {
	sim, err := s.rdb.SMembers(ctx, s.key+"sim").Result()
	if err != nil {
		return nil, unavailable(err)
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
			return nil, unavailable(err)
		}
		for _, id := range ids {
			if n, ok := parseID(id); ok && !skip[id] {
				out = append(out, n)
			}
		}
		if len(ids) < batch {
			return out, nil
		}
		after = "(" + ids[len(ids)-1]
	}
}

// Prepare implements ccgw.SharedStore: it fills the live index from the
// deadline set and the simulated agents' set, then marks it built
// (livebuilt), so that a second call, on any node, does nothing.
func (s *Store) Prepare(ctx context.Context) error {
	if err := s.prepare(ctx); err != nil {
		return unavailable(err)
	}
	return nil
}

func (s *Store) prepare(ctx context.Context) error {
	done, err := s.rdb.Exists(ctx, s.key+"livebuilt").Result()
	if err != nil || done == 1 {
		return err
	}
	add := func(ids []string) error {
		zs := make([]goredis.Z, 0, len(ids))
		for _, id := range ids {
			if n, ok := parseID(id); ok {
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

// Counts implements ccgw.SharedStore: Live is the members of the deadline
// sets and the simulated agents' set, the rest the hash stats the scripts
// count in. SignOuts and Drops are never nil.
func (s *Store) Counts(ctx context.Context) (ccgw.SessionStats, error) {
	var live, claimed, sim *goredis.IntCmd
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		live, claimed, sim = p.ZCard(ctx, s.key+"dl"), p.ZCard(ctx, s.key+"dlc"), p.SCard(ctx, s.key+"sim")
		return nil
	})
	if err != nil {
		return ccgw.SessionStats{}, unavailable(err)
	}
	h, err := s.rdb.HGetAll(ctx, s.key+"stats").Result()
	if err != nil {
		return ccgw.SessionStats{}, unavailable(err)
	}
	st := ccgw.SessionStats{
		Live:     int(live.Val() + claimed.Val() + sim.Val()), // simulated sessions are not in the deadline sets
		SignOuts: map[ccgw.SignOutCause]uint64{}, Drops: map[ccgw.DropReason]uint64{},
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
	return st, nil
}
