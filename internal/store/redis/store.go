// Package redis implements the agent sessions on Redis, for several gateway nodes
// that share them: any node serves any agent, each transition is one Lua script
// (Redis is the commit point, so a session that misses its heartbeats is signed
// out exactly once however many nodes sweep), event queues are Redis lists
// whose long polls are woken over pub/sub, and push work is claimed per agent.
// A heartbeat normally costs no round trip: each node keeps the agents' auth
// facts in a cache that every change invalidates over pub/sub (cache.go), and
// writes the renewals it answered once per tick (flush.go).
package redis

import (
	"context"
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
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/guard"
	"github.com/ccgw/ccgw/internal/push"
	goredis "github.com/redis/go-redis/v9"
)

// Config configures a Store. Zero values mean the defaults given.
type Config struct {
	URL     string        // redis://HOST:PORT/DB; required
	Prefix  string        // key prefix, with a hash tag; "{ccgw}:"
	Timeout time.Duration // heartbeat timeout; 2m
	// PollTimeout, PushTimeout and NoExpiry are as session.Config's.
	PollTimeout, PushTimeout time.Duration
	NoExpiry                 bool
	Clock                    ccgw.Clock         // clock.Real
	WaitClock                ccgw.Clock         // times held polls; Clock
	Directory                ccgw.Directory     // required
	Log                      *slog.Logger       // discards
	NodeName                 string             // GUID suffix and push-claim owner; "AgentGateway0"
	AuthMode                 ccgw.AuthMode      // AuthStatic
	GUIDInterval             time.Duration      // 60s
	GUIDTimeout              time.Duration      // 120s
	QueueSize                int                // events kept per agent; 1000
	Tick                     time.Duration      // sweep period; ccgw.TickFor(Timeout)
	MaxExpiries              int                // sign-outs per sweep; 10000
	PushLease                time.Duration      // how long a node's push claim on an agent lasts; 15s
	Notify                   func(ccgw.AgentID) // told after events were queued for a push-mode session
	// OnSignOut, if set, is told of every sign-out this node commits, with its
	// cause (as session.Config's).
	OnSignOut func(id ccgw.AgentID, cause ccgw.SignOutCause)
	// RestTimeoutIdle makes an agent whose rest ran out idle (as session.Config).
	RestTimeoutIdle bool
	// Lockout locks an agent out after wrong passwords (guard.Guard), counted
	// in this Redis (lockout.go) so that it holds on every node; zero: never.
	Lockout ccgw.LockoutPolicy
	// CacheSize bounds how many agents' auth facts the node keeps (cache.go);
	// 1<<20, more than there are work numbers.
	CacheSize int
	// OnChange and Tap are session.Config's, for changes any node commits: Run
	// reads them from the feed (feed.go) and calls them from one goroutine, in
	// the order Redis committed them; Deliver does so on demand.
	OnChange func(s ccgw.Session)
	Tap      func(ccgw.Event)
	// DropEvent is session.Config's: asked about every event this node makes
	// for a client's session; one it reports true for is dropped and counted
	// as ccgw.DropFault (a drop-events fault on this node).
	DropEvent func(id ccgw.AgentID, ev ccgw.Event) bool
}

// Store is ccgw.SessionService on Redis. It is safe for concurrent use.
type Store struct {
	cfg   Config
	guard guard.Guard
	rdb   *goredis.Client
	key   string // the prefix

	ready    atomic.Bool
	cache    authCache                      // cache.go; used only while cacheOn and ready
	cacheOn  atomic.Bool                    // the invalidations' subscription is up
	authSubs atomic.Uint64                  // how often it was (re)confirmed
	authSub  atomic.Pointer[goredis.PubSub] // that subscription, closed to restart it
	guidKey  atomic.Pointer[[]byte]         // derives rotated GUIDs (guids.go); nil until read
	batch    batch                          // flush.go: what the next tick writes

	feed    feedState         // feed.go
	centre  centre            // centre.go
	sent    atomic.Uint64     // commands sent to Redis (Commands)
	lag     ccgw.LagHistogram // how late after its deadline each expiry came
	waitMu  sync.Mutex        // guards waiters
	waiters map[ccgw.AgentID]map[chan struct{}]struct{}
	heldMu  sync.Mutex // guards held
	held    map[ccgw.AgentID]int

	heartbeats atomic.Uint64
	polls      atomic.Uint64
	polled     atomic.Uint64

	beforeCAS func(op string) // tests: called between a sign-in's or sign-out's read and its script
}

var _ ccgw.SessionService = (*Store)(nil)
var _ push.Source = (*Store)(nil)

// Open connects to Redis; it does not fail if Redis is down (the Store reports
// not ready until it is back).
func Open(cfg Config) (*Store, error) {
	if cfg.URL == "" || cfg.Directory == nil {
		return nil, errors.New("redis: Config.URL and Config.Directory are required")
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
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if cfg.PollTimeout <= 0 {
		cfg.PollTimeout = cfg.Timeout
	}
	if cfg.PushTimeout <= 0 {
		cfg.PushTimeout = cfg.Timeout
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.WaitClock == nil {
		cfg.WaitClock = cfg.Clock
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.NodeName == "" {
		cfg.NodeName = "AgentGateway0"
	}
	if cfg.AuthMode == 0 {
		cfg.AuthMode = ccgw.AuthStatic
	}
	if cfg.GUIDInterval <= 0 {
		cfg.GUIDInterval = 60 * time.Second
	}
	if cfg.GUIDTimeout <= 0 {
		cfg.GUIDTimeout = 120 * time.Second
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 1000
	}
	if cfg.Tick <= 0 {
		cfg.Tick = ccgw.TickFor(min(cfg.PollTimeout, cfg.PushTimeout))
	}
	if cfg.MaxExpiries <= 0 {
		cfg.MaxExpiries = 10000
	}
	if cfg.PushLease <= 0 {
		cfg.PushLease = 15 * time.Second
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 1 << 20
	}
	loggerOnce.Do(func() { goredis.SetLogger(quietLogger{cfg.Log}) })
	s := &Store{cfg: cfg, rdb: goredis.NewClient(opt), key: cfg.Prefix,
		waiters: make(map[ccgw.AgentID]map[chan struct{}]struct{}), held: make(map[ccgw.AgentID]int)}
	s.cache.init(cfg.CacheSize)
	s.batch.init()
	s.rdb.AddHook(countHook{&s.sent})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s.ready.Store(s.rdb.Ping(ctx).Err() == nil && s.loadGUIDKey(ctx) == nil)
	if s.ready.Load() {
		s.startFeed(ctx) // if this fails, the first read starts it
	}
	s.guard = guard.Guard{Directory: cfg.Directory, Policy: cfg.Lockout, Store: s, Clock: cfg.Clock, Log: cfg.Log}
	return s, nil
}

// Ready reports whether Redis answered the last health check.
func (s *Store) Ready() bool { return s.ready.Load() }

// Close writes the renewals this node answered and has not written yet (best
// effort: a second at most), then closes the connections.
func (s *Store) Close() error {
	if s.ready.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s.flush(ctx, s.cfg.Clock.Now())
		cancel()
	}
	return s.rdb.Close()
}

// Commands returns how many commands this node has sent to Redis (a script
// call is one, whatever it does inside; a pipeline counts each of its
// commands), for tests and benchmarks.
func (s *Store) Commands() uint64 { return s.sent.Load() }

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

// unavailable is the retcode of every request while Redis cannot be reached: a
// system error (100-007), never a sign-out.
func unavailable(err error) error { return &ccgw.Error{Code: ccgw.RetInternal, Err: err} }

func (s *Store) ms(t time.Time) int64 { return ccgw.Millis(t) }

// deadline returns when a session of mode seen at now expires: far in the
// future with NoExpiry.
func (s *Store) deadline(now time.Time, mode ccgw.Mode) int64 {
	if s.cfg.NoExpiry {
		return s.ms(now.AddDate(100, 0, 0))
	}
	return s.ms(now.Add(s.timeout(mode)))
}

// timeout returns the heartbeat timeout of a session in mode.
func (s *Store) timeout(mode ccgw.Mode) time.Duration {
	if mode == ccgw.ModePush {
		return s.cfg.PushTimeout
	}
	return s.cfg.PollTimeout
}

// seen returns when a session in mode whose deadline is dl (ms) was last
// renewed: deadline's inverse.
func (s *Store) seen(dl int64, mode ccgw.Mode) time.Time {
	if s.cfg.NoExpiry {
		return time.UnixMilli(dl).AddDate(-100, 0, 0)
	}
	return time.UnixMilli(dl).Add(-s.timeout(mode))
}

func (s *Store) ttl() int64 { return s.cfg.Timeout.Milliseconds() }

// run evaluates script with the prefix as ARGV[1].
func (s *Store) run(ctx context.Context, script *goredis.Script, args ...any) (any, error) {
	if !s.ready.Load() {
		return nil, unavailable(errors.New("redis unavailable"))
	}
	res, err := script.Run(ctx, s.rdb, []string{s.key}, append([]any{s.key}, args...)...).Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, unavailable(err)
	}
	return res, nil
}

// pair decodes a {retcode, value, ...} script reply.
func pair(res any) (ccgw.Retcode, []string) {
	arr, _ := res.([]any)
	out := make([]string, len(arr))
	for i, v := range arr {
		out[i], _ = v.(string)
	}
	if len(out) == 0 {
		return ccgw.RetInternal, out
	}
	return ccgw.Retcode(out[0]), out
}

func decodeSession(raw string) (ccgw.Session, error) {
	var sess ccgw.Session
	err := json.Unmarshal([]byte(raw), &sess)
	return sess, err
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
