// Package session owns live agent sessions: sign-in and sign-out, GUID checks and
// rotation, the heartbeat, the deadline wheel and its sweep that signs out each
// silent agent exactly once, and the restore of persisted sessions after a restart.
package session

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/event"
	"github.com/ccgw/ccgw/internal/guard"
	"github.com/ccgw/ccgw/internal/guid"
)

// Config configures a Manager. Zero values mean the defaults given.
type Config struct {
	Timeout time.Duration // no heartbeat or poll for this long signs out; 2m
	// PollTimeout and PushTimeout replace Timeout for sessions in that mode
	// (the vendor's MAXTIME and EVENT_PUSH_HANDSHAKE_MAXTIME); 0 means Timeout.
	PollTimeout, PushTimeout time.Duration
	// NoExpiry turns timeout detection off (TIMEOUT_FLAG=OFF): nobody is signed
	// out for silence.
	NoExpiry     bool
	Clock        ccgw.Clock        // clock.Real
	WaitClock    ccgw.Clock        // times how long a poll is held; Clock
	Store        ccgw.SessionStore // required
	Directory    ccgw.Directory    // required
	Log          *slog.Logger      // discards
	NodeName     string            // GUID suffix; "AgentGateway0"
	AuthMode     ccgw.AuthMode     // ccgw.AuthStatic
	GUIDInterval time.Duration     // dynamic GUID refresh period; 60s
	GUIDTimeout  time.Duration     // how long a superseded GUID is accepted; 120s
	// GUIDKey derives rotated GUIDs (guid.go), so that rotating writes nothing;
	// a rotated GUID is recognised after a restart only with the same key. Empty
	// means a fresh random key.
	GUIDKey   []byte
	QueueSize int           // events kept per agent; 1000
	Tick      time.Duration // sweep granularity; Timeout/120 within [10ms, 1s]
	// MaxExpiries bounds the sign-outs of one sweep; 10000. The rest are
	// left over for the next sweep, which Run starts at once, not a tick
	// later: it bounds one sweep's work, not the rate of sign-outs.
	MaxExpiries int
	// SignOutBatch bounds the sign-outs of a sweep written in one store
	// commit (DeleteSessions); 5000. 1 writes each in a commit of its own
	// (kept to measure batching against).
	SignOutBatch int
	// Notify, if set, is called (outside every lock) after events were queued for
	// a push-mode session.
	Notify func(id ccgw.AgentID)
	// Tap, if set, sees every event queued for any agent, in order per agent,
	// while the agent's lock is held: it must be quick and must not call the
	// Manager.
	Tap func(ccgw.Event)
	// OnChange, if set, is called (outside every lock) after a sign-in, a state
	// change by Update or the sweep, and a sign-out (the session with State
	// StateSignedOut).
	OnChange func(s ccgw.Session)
	// OnSignOut, if set, is told of every sign-out with its cause, once, after
	// the session left the table (outside every lock).
	OnSignOut func(id ccgw.AgentID, cause ccgw.SignOutCause)
	// DropEvent, if set, is asked about every event queued for a client's
	// session; one it reports true for is dropped and counted as
	// ccgw.DropFault (a drop-events fault). It runs with the agent's queue
	// locked: it must be quick and must not call the Manager.
	DropEvent func(id ccgw.AgentID, ev ccgw.Event) bool
	// Events, if set, persists undelivered events; nil keeps them in memory only.
	Events ccgw.EventStore
	// RestTimeoutIdle makes an agent whose rest time ran out idle; by default it
	// stays in rest and is only reminded (AgentState_Rest_Timeout), as the spec says.
	RestTimeoutIdle bool
	// Lockout locks an agent out of signing in after wrong passwords (Guard);
	// the zero policy never does. Lockouts keeps the counts; nil: a MemLockouts.
	Lockout  ccgw.LockoutPolicy
	Lockouts ccgw.LockoutStore
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
	if len(cfg.GUIDKey) == 0 {
		cfg.GUIDKey = guid.NewKey()
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 1000
	}
	if cfg.Tick <= 0 {
		cfg.Tick = tickFor(min(cfg.PollTimeout, cfg.PushTimeout))
	}
	if cfg.MaxExpiries <= 0 {
		cfg.MaxExpiries = 10000
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
