package redis

import (
	"context"
	"strconv"
	"time"

	"github.com/ccgw/ccgw"
)

// An agent's events are the list q:<id> of "<seq> <event JSON>" entries, in
// seq order; an ended session's last ones are tq:<id>, until its tombstone
// t:<id> ends. A node pushing an agent's events holds pl:<id>, its claim.

// Pop implements ccgw.SharedStore with popScript. An entry that does not
// parse is dropped and the next one taken.
func (s *Store) Pop(ctx context.Context, id ccgw.AgentID, gen uint64) (*ccgw.Event, error) {
	g := strconv.FormatUint(gen, 10)
	for {
		res, err := s.run(ctx, popScript, id.String(), g)
		if err != nil {
			return nil, err
		}
		code, out := pair(res)
		if code != ccgw.RetOK {
			return nil, ccgw.Fail(ccgw.RetNotSignedIn)
		}
		if len(out) < 2 || out[1] == "" {
			return nil, nil
		}
		if ev, ok := parseQueued(out[1]); ok {
			return &ev, nil
		}
	}
}

// PopTomb implements ccgw.SharedStore with popTombScript. An entry that does
// not parse is dropped and the next one taken.
func (s *Store) PopTomb(ctx context.Context, id ccgw.AgentID, gen uint64) (*ccgw.Event, error) {
	g := strconv.FormatUint(gen, 10)
	for {
		res, err := s.run(ctx, popTombScript, id.String(), g)
		if err != nil {
			return nil, err
		}
		v, _ := res.(string)
		if v == "" {
			return nil, nil
		}
		if ev, ok := parseQueued(v); ok {
			return &ev, nil
		}
	}
}

// queue returns the key of agent id's queue, or of its ended session's.
func (s *Store) queue(id ccgw.AgentID, tomb bool) string {
	if tomb {
		return s.key + "tq:" + id.String()
	}
	return s.key + "q:" + id.String()
}

// Peek implements ccgw.SharedStore; entries that do not parse are left out.
func (s *Store) Peek(ctx context.Context, id ccgw.AgentID, tomb bool, max int) ([]ccgw.Event, error) {
	if max <= 0 {
		return nil, nil
	}
	vals, err := s.rdb.LRange(ctx, s.queue(id, tomb), 0, int64(max)-1).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]ccgw.Event, 0, len(vals))
	for _, v := range vals {
		if ev, ok := parseQueued(v); ok {
			out = append(out, ev)
		}
	}
	return out, nil
}

// Queued implements ccgw.SharedStore.
func (s *Store) Queued(ctx context.Context, id ccgw.AgentID, tomb bool) (int, error) {
	n, err := s.rdb.LLen(ctx, s.queue(id, tomb)).Result()
	if err != nil {
		return 0, unavailable(err)
	}
	return int(n), nil
}

// Ack implements ccgw.SharedStore with ackScript.
func (s *Store) Ack(ctx context.Context, id ccgw.AgentID, gen uint64, seq uint64, reason ccgw.DropReason) (int, error) {
	res, err := s.run(ctx, ackScript, id.String(), strconv.FormatUint(gen, 10), seq, string(reason))
	if err != nil {
		return 0, err
	}
	n, _ := res.(int64)
	return int(n), nil
}

// ClaimPush implements ccgw.SharedStore with claimScript.
func (s *Store) ClaimPush(ctx context.Context, id ccgw.AgentID, node string, lease time.Duration) (bool, error) {
	res, err := s.run(ctx, claimScript, id.String(), node, lease.Milliseconds())
	if err != nil {
		return false, err
	}
	return res == int64(1), nil
}

// ReleasePush implements ccgw.SharedStore with releaseScript.
func (s *Store) ReleasePush(ctx context.Context, id ccgw.AgentID, node string) error {
	_, err := s.run(ctx, releaseScript, id.String(), node)
	return err
}
