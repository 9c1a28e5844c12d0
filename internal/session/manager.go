// Package session owns live agent sessions: sign-in and sign-out, GUID checks and
// rotation, the heartbeat, the deadline wheel and its sweep that signs out each
// silent agent exactly once, and the restore of persisted sessions after a restart.
package session

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/event"
	"github.com/ccgw/ccgw/internal/guard"
	"github.com/ccgw/ccgw/internal/guid"
)

// Config configures a Manager: the settings both session services take
// (ccgw.SessionSettings; Clock defaults to clock.Real, Lockouts to a
// MemLockouts; Tap and DropEvent run while the agent's lock is held, and
// MaxExpiries bounds one sweep's work, not the rate of sign-outs: the rest
// are left to the next sweep, which Run starts at once), and what a Manager
// alone has. Zero values mean the defaults given.
type Config struct {
	ccgw.SessionSettings
	Store ccgw.SessionStore // required
	// Events, if set, persists undelivered events; nil keeps them in memory only.
	Events ccgw.EventStore
	// GUIDKey derives rotated GUIDs (guid.go), so that rotating writes nothing;
	// a rotated GUID is recognised after a restart only with the same key. Empty
	// means a fresh random key.
	GUIDKey []byte
	// SignOutBatch bounds the sign-outs of a sweep written in one store
	// commit (DeleteSessions); 5000. 1 writes each in a commit of its own
	// (kept to measure batching against).
	SignOutBatch int
}

const shardCount = 64

// Manager holds the live sessions. It is safe for concurrent use.
type Manager struct {
	cfg   Config
	guard guard.Guard
	wheel *wheel
	gen   atomic.Uint64
	live  atomic.Int64

	shards [shardCount]shard
	hot    hotTable
	stats  stats
	acks   ackBuffer
	skills skillIndex
	queues queueConfigs

	skillLists skillLists

	onWriteWait func() // tests: called (under a shard's wmu) when a write waits its turn
}

// shard is one part of the session table, chosen by agent ID.
type shard struct {
	// mu guards live, tombs and every entry's s and pending; it is held only for
	// memory work and event queueing, never across store or network I/O.
	mu    sync.RWMutex
	live  map[ccgw.AgentID]*entry
	tombs map[ccgw.AgentID]*tomb

	// wmu guards every entry's wDone; wcond (on wmu) wakes writers waiting for
	// their turn (see ordered).
	wmu   sync.Mutex
	wcond *sync.Cond
}

// entry is a live session. Its fields are ordered to pack into 320 bytes
// (TestEntrySize).
type entry struct {
	s   ccgw.Session
	hot *hotRec // last seen and GUID bits, in the dense table
	q   *event.Queue
	// guidN is the rotation number of s.GUID (0: the sign-in's); -1 until known
	// for a restored session (see guidN).
	guidN   int64
	polling atomic.Int32 // polls in progress; a held poll keeps the session alive
	// Write tickets: a snapshot of s taken under sh.mu takes the next ticket
	// (wTaken, guarded by sh.mu), and snapshots reach the store in ticket order
	// (wDone, guarded by sh.wmu), so the stored session is never an older one
	// than the last written.
	wTaken, wDone uint32
	pending       bool // a sign-in or sign-out is being persisted
}

// tomb keeps an ended session's last events for its client to collect with its
// old GUID until until.
type tomb struct {
	guid  string
	gen   uint64
	q     *event.Queue
	until time.Time
	push  *ccgw.Session // the ended session, if it was in push mode
	// loggedOut: the agent signed out itself; signing out again with the GUID
	// is RetAlreadySignedOut (after any other end, every call is RetNotSignedIn).
	loggedOut bool
}

// New returns a Manager with no sessions; call Restore to load the stored ones.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil || cfg.Directory == nil {
		return nil, errors.New("session: Config.Store and Config.Directory are required")
	}
	cfg.Defaults()
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.WaitClock == nil {
		cfg.WaitClock = cfg.Clock
	}
	if len(cfg.GUIDKey) == 0 {
		cfg.GUIDKey = guid.NewKey()
	}
	if cfg.SignOutBatch <= 0 {
		cfg.SignOutBatch = 5000
	}
	if cfg.Lockouts == nil {
		cfg.Lockouts = guard.NewMemLockouts()
	}
	m := &Manager{cfg: cfg}
	m.guard = guard.Guard{Directory: cfg.Directory, Policy: cfg.Lockout, Store: cfg.Lockouts, Clock: cfg.Clock, Log: cfg.Log}
	m.wheel = newWheel(cfg.Tick, cfg.Clock.Now())
	for i := range m.shards {
		m.shards[i].live = make(map[ccgw.AgentID]*entry)
		m.shards[i].tombs = make(map[ccgw.AgentID]*tomb)
		m.shards[i].wcond = sync.NewCond(&m.shards[i].wmu)
	}
	m.stats.init()
	m.initQueues()
	m.acks.pending = make(map[ackKey]uint64)
	return m, nil
}

// tickFor returns the sweep granularity for timeout (ccgw.TickFor).
func tickFor(timeout time.Duration) time.Duration { return ccgw.TickFor(timeout) }

// deadline returns when a session last seen at seen expires.
func deadline(seen time.Time, timeout time.Duration) time.Time { return seen.Add(timeout) }

func (m *Manager) shard(id ccgw.AgentID) *shard { return &m.shards[uint32(id)%shardCount] }

// Timeout returns the heartbeat timeout.
func (m *Manager) Timeout() time.Duration { return m.cfg.Timeout }

// timeout returns the timeout of a session in mode.
func (m *Manager) timeout(mode ccgw.Mode) time.Duration {
	if mode == ccgw.ModePush {
		return m.cfg.PushTimeout
	}
	return m.cfg.PollTimeout
}

func (m *Manager) changed(s ccgw.Session) {
	if m.cfg.OnChange != nil {
		m.cfg.OnChange(s)
	}
}

func (m *Manager) dropped(ev ccgw.Event, reason ccgw.DropReason) {
	m.stats.drop(reason)
	m.cfg.Log.Warn("event dropped", "agent", ev.WorkNo, "event", ev.Type, "seq", ev.Seq, "reason", string(reason))
}

func (m *Manager) notify(s *ccgw.Session) {
	if s.Mode == ccgw.ModePush && m.cfg.Notify != nil {
		m.cfg.Notify(s.Agent)
	}
}

// Live returns the number of live sessions.
func (m *Manager) Live() int { return int(m.live.Load()) }

// shortGUID returns a prefix of g that identifies it in logs without revealing it.
func shortGUID(g string) string {
	if len(g) > 8 {
		return g[:8] + "…"
	}
	return g
}
