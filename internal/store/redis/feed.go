package redis

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ccgw/ccgw"
	goredis "github.com/redis/go-redis/v9"
)

// The feed tells every node of the changes any node commits, for
// Config.OnChange and Config.Tap (the simulated call centre's view of its
// agents, the event journal). Every script that signs an agent in, changes a
// session or ends one, and every event queued, appends one record to a capped
// Redis stream, {prefix}feed, in the same script as the change: the feed has
// every change, in the order Redis committed them. A record is
//
//	k=e a=<agent> v=<seq> <event JSON>   an event queued (as in the agent's queue)
//	k=s a=<agent> v=<session JSON>       a sign-in or an Update committed
//	k=o a=<agent> v=<session JSON>       the session ended (signed out)
//
// A node reads it with XREAD from the last record it delivered, so a node that
// lost Redis for a while catches up when it is back (pub/sub would lose what
// was published meanwhile), unless the stream was trimmed past it meanwhile:
// it keeps about feedLen records, and the node then logs that it fell behind.
// Heartbeats and polls change no session and append nothing.

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

// feedBatch is how many records one read takes at most.
const feedBatch = 512

// feedState is where this node is in the feed.
type feedState struct {
	// mu guards last. It is held across a read and the hook calls of its
	// records, which it keeps in the feed's order: one reader at a time.
	mu   sync.Mutex
	last string // the ID of the last record delivered; "" until known
}

// hooked reports whether anything on this node reads the feed.
func (s *Store) hooked() bool { return s.cfg.OnChange != nil || s.cfg.Tap != nil }

// startFeed sets where this node starts reading: after the last record that
// exists now, so that it delivers the changes made from now on. Open calls it;
// while Redis cannot be reached the first read does.
func (s *Store) startFeed(ctx context.Context) error {
	if !s.hooked() {
		return nil
	}
	s.feed.mu.Lock()
	defer s.feed.mu.Unlock()
	return s.startFeedLocked(ctx)
}

func (s *Store) startFeedLocked(ctx context.Context) error {
	if s.feed.last != "" {
		return nil
	}
	msgs, err := s.rdb.XRevRangeN(ctx, s.key+"feed", "+", "-", 1).Result()
	if err != nil {
		return err
	}
	s.feed.last = "0-0"
	if len(msgs) > 0 {
		s.feed.last = msgs[0].ID
	}
	return nil
}

// Deliver calls Config.OnChange and Tap with every record committed (by any
// node) since the last one delivered, in order, and returns how many records
// it read. Run does this all the time; Deliver is for a Store that does not
// Run (tests) and to make sure a change made elsewhere has been seen.
func (s *Store) Deliver() int {
	total := 0
	for {
		n, err := s.deliver(context.Background(), 0)
		total += n
		if err != nil || n == 0 {
			return total
		}
	}
}

// deliver reads up to feedBatch records, waiting up to block for the first if
// block > 0, and calls the hooks with them.
func (s *Store) deliver(ctx context.Context, block time.Duration) (int, error) {
	if !s.hooked() {
		return 0, nil
	}
	s.feed.mu.Lock()
	defer s.feed.mu.Unlock()
	if err := s.startFeedLocked(ctx); err != nil {
		return 0, err
	}
	args := &goredis.XReadArgs{Streams: []string{s.key + "feed", s.feed.last}, Count: feedBatch, Block: -1}
	if block > 0 {
		args.Block = block
	}
	res, err := s.rdb.XRead(ctx, args).Result()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, st := range res {
		for _, m := range st.Messages {
			s.apply(m.Values)
			s.feed.last = m.ID
			n++
		}
	}
	return n, nil
}

// apply calls the hook a record is for.
func (s *Store) apply(rec map[string]any) {
	k, _ := rec["k"].(string)
	v, _ := rec["v"].(string)
	switch k {
	case "e":
		if s.cfg.Tap == nil {
			return
		}
		if ev, ok := parseQueued(v); ok {
			s.cfg.Tap(ev)
		}
	case "s", "o":
		if s.cfg.OnChange == nil {
			return
		}
		sess, err := decodeSession(v)
		if err != nil {
			return
		}
		if k == "o" {
			sess.State = ccgw.StateSignedOut
		}
		s.cfg.OnChange(sess)
	}
}

// follow delivers the feed as it grows until ctx ends. After a failed read it
// tries again every 100ms, and once Redis answers it says whether records were
// trimmed before this node read them.
func (s *Store) follow(ctx context.Context) {
	if !s.hooked() {
		return
	}
	broken := false
	for ctx.Err() == nil {
		if broken {
			if s.checkFeedGap(ctx) != nil {
				time.Sleep(100 * time.Millisecond) // reconnect pacing, not synchronisation
				continue
			}
			broken = false
		}
		if _, err := s.deliver(ctx, time.Second); err != nil && ctx.Err() == nil {
			s.cfg.Log.Warn("redis feed read failed; catching up once Redis is back", "err", err)
			broken = true
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// checkFeedGap logs an error if the feed lost records this node had not read:
// Redis trimmed them while this node could not read.
func (s *Store) checkFeedGap(ctx context.Context) error {
	info, err := s.rdb.XInfoStream(ctx, s.key+"feed").Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return nil
		}
		return err
	}
	s.feed.mu.Lock()
	last := s.feed.last
	s.feed.mu.Unlock()
	if last != "" && feedIDLess(last, info.MaxDeletedEntryID) {
		s.cfg.Log.Error("redis feed: records were trimmed before this node read them; the journal and the simulator missed some changes",
			"last_read", last, "trimmed_to", info.MaxDeletedEntryID, "feed_len", feedLen)
	}
	return nil
}

// feedIDLess reports whether stream ID a ("ms-seq") is before b.
func feedIDLess(a, b string) bool {
	am, as := splitFeedID(a)
	bm, bs := splitFeedID(b)
	return am < bm || (am == bm && as < bs)
}

func splitFeedID(id string) (uint64, uint64) {
	ms, seq, _ := strings.Cut(id, "-")
	m, _ := strconv.ParseUint(ms, 10, 64)
	n, _ := strconv.ParseUint(seq, 10, 64)
	return m, n
}
