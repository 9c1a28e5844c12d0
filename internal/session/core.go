// Package session serves the agent sessions: the one implementation of
// ccgw.SessionService, on one node or on several. Its sessions live in a
// ccgw.SharedStore: on one node mem.Shared (Config.Local), kept in the bbolt
// file; on several, Redis, shared so that any node serves any agent. It
// applies the session rules (ccgw.SignIn, ccgw.EndingOf, ccgw.CheckSignOut,
// Session.HasGUID, Session.RestTimedOut) and hands the store their outcome,
// written only if the session is still as it was read (compare-and-set): the
// store is the commit point, so a session that misses its heartbeats is
// signed out exactly once however many nodes sweep. A heartbeat normally
// costs no round trip and no lock: each node keeps the agents' auth facts in
// a cache that every change invalidates (cache.go), and writes the renewals
// it answered once per tick (flush.go).
package session

import (
	"context"
	"encoding/json"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/guard"
	"github.com/ccgw/ccgw/internal/push"
)

// Config configures Service: the settings both session services take
// (ccgw.SessionSettings; Clock defaults to clock.Real, and Lockouts to a
// MemLockouts, this node's counts only: give the shared store's, so that a
// lockout holds on every node; the
// hooks OnChange and Tap hear of the changes any node commits, from the feed,
// in the order the store committed them, unless Local; OnSignOut and the
// drop-events faults of DropEvent are this node's), and what a cluster's node
// alone has. Zero values mean the defaults given.
type Config struct {
	ccgw.SessionSettings
	Store     ccgw.SharedStore // required
	PushLease time.Duration    // how long a node's push claim on an agent lasts; 15s
	// Local says the store is this process's alone (one node, mem.Shared):
	// OnChange and Tap are then called at once after each change, in the
	// store's order, instead of from the feed's reader a moment later: by
	// the goroutine that made the change, before its call returns, unless
	// another goroutine is delivering, which then delivers it too (see
	// committed). So a scenario under a virtual clock replays the same way
	// every run.
	Local bool
}

// Service is ccgw.SessionService on a ccgw.SharedStore. It is safe for
// concurrent use.
type Service struct {
	cfg   Config
	guard guard.Guard
	db    ccgw.SharedStore

	ready    atomic.Bool
	cache    authCache                          // cache.go; used only while cacheOn and ready
	cacheOn  atomic.Bool                        // the invalidations' subscription is up
	authSubs atomic.Uint64                      // how often it was (re)confirmed
	authStop atomic.Pointer[context.CancelFunc] // ends that subscription, to restart it
	guidKey  atomic.Pointer[[]byte]             // derives rotated GUIDs (guids.go); nil until read
	batch    batch                              // flush.go: what the next tick writes

	feed    feedState         // feed.go
	lag     ccgw.LagHistogram // how late after its deadline each expiry came
	waitMu  sync.Mutex        // guards waiters
	waiters map[ccgw.AgentID]map[chan struct{}]struct{}
	heldMu  sync.Mutex // guards held
	held    map[ccgw.AgentID]int

	heartbeats atomic.Uint64
	polls      atomic.Uint64
	polled     atomic.Uint64

	beforeCAS func(op string) // tests: called between a sign-in's or sign-out's read and its write
	watchLost func()          // tests: called when the events' subscription was lost, before it is renewed
}

var _ ccgw.SessionService = (*Service)(nil)
var _ push.Source = (*Service)(nil)

// New returns the sessions of cfg.Store; it does not fail if the store is
// unreachable (Ready reports false until it is back).
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Directory == nil {
		return nil, errors.New("cluster: Config.Store and Config.Directory are required")
	}
	cfg.Defaults()
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.WaitClock == nil {
		cfg.WaitClock = cfg.Clock
	}
	if cfg.Lockouts == nil {
		cfg.Lockouts = guard.NewMemLockouts()
	}
	if cfg.PushLease <= 0 {
		cfg.PushLease = 15 * time.Second
	}
	s := &Service{cfg: cfg, db: cfg.Store,
		waiters: make(map[ccgw.AgentID]map[chan struct{}]struct{}), held: make(map[ccgw.AgentID]int)}
	s.cache.seed = maphash.MakeSeed()
	s.batch.init(&s.cache)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s.ready.Store(s.db.Ping(ctx) == nil && s.loadGUIDKey(ctx) == nil)
	if s.ready.Load() {
		s.startFeed(ctx) // if this fails, the first read starts it
	}
	s.guard = guard.Guard{Directory: cfg.Directory, Policy: cfg.Lockout, Store: cfg.Lockouts, Clock: cfg.Clock, Log: cfg.Log}
	return s, nil
}

// Ready reports whether the store answered the last health check.
func (s *Service) Ready() bool { return s.ready.Load() }

// Close writes the renewals this node answered and has not written yet (best
// effort: a second at most). It does not close the store.
func (s *Service) Close() error {
	if s.ready.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s.flush(ctx, s.cfg.Clock.Now())
		cancel()
	}
	return nil
}

// errDown is every store call's answer while the store cannot be reached.
var errDown = unavailable(errors.New("shared store unreachable"))

// up fails with RetInternal while the store cannot be reached, so that a
// request fails at once instead of waiting for a connection.
func (s *Service) up() error {
	if !s.ready.Load() {
		return errDown
	}
	return nil
}

// unavailable is the retcode of every request while the store cannot be
// reached: a system error (100-007), never a sign-out.
func unavailable(err error) error {
	var e *ccgw.Error
	if errors.As(err, &e) {
		return err
	}
	return &ccgw.Error{Code: ccgw.RetInternal, Err: err}
}

func (s *Service) ms(t time.Time) int64 { return ccgw.Millis(t) }

// seen returns when a session in mode whose deadline is dl (ms) was last
// renewed: deadline's inverse.
func (s *Service) seen(dl int64, mode ccgw.Mode) time.Time {
	if s.cfg.NoExpiry {
		return time.UnixMilli(dl).AddDate(-100, 0, 0)
	}
	return time.UnixMilli(dl).Add(-s.cfg.TimeoutOf(mode))
}

// keepFor is how long an ended session's tombstone keys outlive a cluster
// that sweeps nothing.
func (s *Service) keepFor() time.Duration { return s.cfg.Timeout }

func (s *Service) ttl() int64 { return s.cfg.Timeout.Milliseconds() }

func decodeSession(raw string) (ccgw.Session, error) {
	var sess ccgw.Session
	err := json.Unmarshal([]byte(raw), &sess)
	return sess, err
}
