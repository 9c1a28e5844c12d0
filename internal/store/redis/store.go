// Package redis is the storage a cluster of gateway nodes shares, on Redis:
// ccgw.SharedStore (sessions, deadlines, event queues, the feed of changes,
// the nodes' notifications), ccgw.LockoutStore, ccgw.PasswordStore and the
// relay to the node that runs the simulated call centre. Each state change is
// one Lua script (scripts.go), atomic in Redis, so that Redis is the commit
// point of the cluster. It decides nothing: internal/session applies the
// session rules and hands this package their outcome.
//
// Its keys, all under the prefix (whose hash tag keeps them in one slot of a
// Redis Cluster):
//
//	s:<id> t:<id>            a session's record; its last ended session's tombstone
//	q:<id> tq:<id> seq:<id>  its event queue; the ended session's; its last seq
//	live livebuilt           the live index (agents.go)
//	dl dlc off swept         deadlines; claimed ones; their offset; the last tick (tick.go)
//	sim sk:<skill>           simulated agents; the agents signed in to a skill
//	rest tombs               rests and tombstones, by when they run out
//	pushpending pl:<id>      agents with push work; a node's claim on it
//	stats feed               cluster-wide counts; the changes (feed.go)
//	ev auth                  pub/sub channels (watch.go)
//	guidkey pw lk:<id>       the GUID key; passwords; lockout records
//	cc:*                     the call-centre relay (centre.go)
package redis

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccgw/ccgw"
	goredis "github.com/redis/go-redis/v9"
)

// Config configures a Store. Zero values mean the defaults given.
type Config struct {
	URL      string       // redis://HOST:PORT/DB; required
	Prefix   string       // key prefix, with a hash tag; "{ccgw}:"
	Log      *slog.Logger // discards
	NodeName string       // names this node's call-centre claim; "AgentGateway0"
}

// Store is the storage of a cluster on Redis. It is safe for concurrent use.
type Store struct {
	cfg    Config
	rdb    *goredis.Client
	key    string        // the prefix
	sent   atomic.Uint64 // commands sent to Redis (Commands)
	centre centre        // centre.go
}

var (
	_ ccgw.SharedStore   = (*Store)(nil)
	_ ccgw.LockoutStore  = (*Store)(nil)
	_ ccgw.PasswordStore = (*Store)(nil)
)

// Open connects to Redis. It does not fail if Redis is down: every method
// fails with RetInternal until it is back.
func Open(cfg Config) (*Store, error) {
	if cfg.URL == "" {
		return nil, errors.New("redis: Config.URL is required")
	}
	opt, err := goredis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	opt.MaxRetries = -1 // a retried script could apply twice
	opt.DialTimeout = time.Second
	opt.ReadTimeout = 2 * time.Second
	opt.WriteTimeout = 2 * time.Second
	opt.PoolTimeout = 2 * time.Second
	opt.PoolSize = 256
	if cfg.Prefix == "" {
		cfg.Prefix = "{ccgw}:"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.NodeName == "" {
		cfg.NodeName = "AgentGateway0"
	}
	loggerOnce.Do(func() { goredis.SetLogger(quietLogger{cfg.Log}) })
	s := &Store{cfg: cfg, rdb: goredis.NewClient(opt), key: cfg.Prefix}
	s.rdb.AddHook(countHook{&s.sent})
	return s, nil
}

// Close closes the connections.
func (s *Store) Close() error { return s.rdb.Close() }

// Commands returns how many commands this Store has sent to Redis (a script
// call is one, whatever it does inside; a pipeline counts each of its
// commands), for tests and benchmarks.
func (s *Store) Commands() uint64 { return s.sent.Load() }

// Sync implements ccgw.SharedStore: Redis answers a write once it has it,
// as durable as its own persistence makes it.
func (s *Store) Sync(context.Context) error { return nil }

// Ping implements ccgw.SharedStore.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// GUIDKey implements ccgw.SharedStore: the first node to ask stores its fresh
// key (SETNX); every node then reads the one stored.
func (s *Store) GUIDKey(ctx context.Context, fresh []byte) ([]byte, error) {
	k := s.key + "guidkey"
	if err := s.rdb.SetNX(ctx, k, hex.EncodeToString(fresh), 0).Err(); err != nil {
		return nil, unavailable(err)
	}
	v, err := s.rdb.Get(ctx, k).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	b, err := hex.DecodeString(v)
	if err != nil || len(b) < 16 {
		return nil, unavailable(fmt.Errorf("redis: bad GUID key in %s", k))
	}
	return b, nil
}

// countHook counts the commands a client sends.
type countHook struct{ n *atomic.Uint64 }

func (h countHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h countHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h countHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		h.n.Add(uint64(len(cmds)))
		return next(ctx, cmds)
	}
}

// unavailable is the error of every method while Redis cannot be reached: a
// system error (100-007), never a sign-out.
func unavailable(err error) error { return &ccgw.Error{Code: ccgw.RetInternal, Err: err} }

// errUnexpected is a script reply of the wrong shape.
var errUnexpected = errors.New("redis: unexpected script reply")

// run evaluates script with the prefix as its key and ARGV[1]. A nil reply
// is not an error.
func (s *Store) run(ctx context.Context, script *goredis.Script, args ...any) (any, error) {
	res, err := script.Run(ctx, s.rdb, []string{s.key}, append([]any{s.key}, args...)...).Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, unavailable(err)
	}
	return res, nil
}

// pair decodes a {code, value, ...} script reply; an empty one is RetInternal.
func pair(res any) (ccgw.Retcode, []string) {
	out := strs(res)
	if len(out) == 0 {
		return ccgw.RetInternal, out
	}
	return ccgw.Retcode(out[0]), out
}

// strs returns a script's array reply as strings.
func strs(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		str, _ := x.(string)
		out = append(out, str)
	}
	return out
}

// parseIDs returns the agent IDs among vs.
func parseIDs(vs []string) []ccgw.AgentID {
	out := make([]ccgw.AgentID, 0, len(vs))
	for _, v := range vs {
		if id, ok := parseID(v); ok {
			out = append(out, id)
		}
	}
	return out
}

func parseID(v string) (ccgw.AgentID, bool) {
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
	return ccgw.AgentID(n), err == nil
}

// parseQueued reads a queued "<seq> <json>" entry.
func parseQueued(v string) (ccgw.Event, bool) {
	i := strings.IndexByte(v, ' ')
	if i < 0 {
		return ccgw.Event{}, false
	}
	seq, err := strconv.ParseUint(v[:i], 10, 64)
	if err != nil {
		return ccgw.Event{}, false
	}
	var ev ccgw.Event
	if json.Unmarshal([]byte(v[i+1:]), &ev) != nil {
		return ccgw.Event{}, false
	}
	ev.Seq = seq
	return ev, true
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return strings.Join(parts, ",")
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// quietLogger sends go-redis's own messages to slog at debug level.
type quietLogger struct{ log *slog.Logger }

func (q quietLogger) Printf(ctx context.Context, format string, v ...any) {
	q.log.Debug("redis client", "msg", fmt.Sprintf(format, v...))
}

var loggerOnce sync.Once
