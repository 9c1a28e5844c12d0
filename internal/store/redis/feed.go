package redis

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/ccgw/ccgw"
	goredis "github.com/redis/go-redis/v9"
)

// The feed is the changes any node commits, in the order Redis committed
// them: every script that signs an agent in, changes a session or ends one,
// and every event queued, appends one record to a capped Redis stream,
// {prefix}feed, in the same script as the change. A record is
//
//	k=e a=<agent> v=<seq> <event JSON>   an event queued (as in the agent's queue)
//	k=s a=<agent> v=<session record>     a sign-in or an Update committed
//	k=o a=<agent> v=<session record>     the session ended, as it was
//
// A node reads it from the last record it read (FeedRead), so a node that lost
// Redis for a while catches up when it is back (pub/sub would lose what was
// published meanwhile), unless the stream was trimmed past it meanwhile
// (FeedTrimmed): it keeps about feedLen records. Heartbeats and polls change
// no session and append nothing.

// feedLen is about how many records the feed keeps (XADD MAXLEN ~): what a node
// can catch up on after losing Redis. Records are a few hundred bytes.
const feedLen = "10000"

// feedLua defines feed(kind, id, v), which appends a record; scripts.go's common
// begins with it. It reads the key prefix from ARGV[1], as every script has it.
const feedLua = `
local function feed(kind, id, v)
  redis.call('XADD', ARGV[1] .. 'feed', 'MAXLEN', '~', ` + feedLen + `, '*', 'k', kind, 'a', id, 'v', v)
end
`

// FeedEnd implements ccgw.SharedStore.
func (s *Store) FeedEnd(ctx context.Context) (string, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, s.key+"feed", "+", "-", 1).Result()
	if err != nil {
		return "", unavailable(err)
	}
	if len(msgs) == 0 {
		return "0-0", nil
	}
	return msgs[0].ID, nil
}

// FeedRead implements ccgw.SharedStore with one XREAD. A record that does not
// parse is left out.
func (s *Store) FeedRead(ctx context.Context, after string, max int, block time.Duration) ([]ccgw.SharedChange, error) {
	args := &goredis.XReadArgs{Streams: []string{s.key + "feed", after}, Count: int64(max), Block: -1}
	if block > 0 {
		args.Block = block
	}
	res, err := s.rdb.XRead(ctx, args).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable(err)
	}
	var out []ccgw.SharedChange
	for _, st := range res {
		for _, m := range st.Messages {
			c, ok := changeOf(m)
			if !ok {
				c = ccgw.SharedChange{ID: m.ID} // unreadable: passed on, so that the reader moves past it
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// changeOf decodes feed record m.
func changeOf(m goredis.XMessage) (ccgw.SharedChange, bool) {
	k, _ := m.Values["k"].(string)
	v, _ := m.Values["v"].(string)
	c := ccgw.SharedChange{ID: m.ID}
	if len(k) != 1 {
		return c, false
	}
	switch c.Kind = ccgw.SharedChangeKind(k[0]); c.Kind {
	case ccgw.ChangeQueued:
		ev, ok := parseQueued(v)
		c.Event = ev
		return c, ok
	case ccgw.ChangeStored, ccgw.ChangeEnded:
		c.Record = v
		return c, true
	}
	return c, false
}

// FeedTrimmed implements ccgw.SharedStore with XINFO STREAM.
func (s *Store) FeedTrimmed(ctx context.Context) (string, error) {
	info, err := s.rdb.XInfoStream(ctx, s.key+"feed").Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return "", nil
		}
		return "", unavailable(err)
	}
	if info.MaxDeletedEntryID == "0-0" {
		return "", nil
	}
	return info.MaxDeletedEntryID, nil
}
