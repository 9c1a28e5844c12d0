// Package session owns live agent sessions: sign-in and sign-out, GUID checks and
// rotation, the heartbeat, the deadline wheel and its sweep that signs out each
// silent agent exactly once, and the restore of persisted sessions after a restart.
package session

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/event"
	"github.com/ccgw/ccgw/internal/push"
)

// AuthMode is the GUID authentication mode (README §3).
type AuthMode int

// Authentication modes, numbered as the vendor's AUTHMODE setting.
const (
	AuthStatic  AuthMode = 1 // the GUID of sign-in lasts for the session
	AuthDynamic AuthMode = 2 // the GUID rotates every GUIDInterval
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
	AuthMode     AuthMode          // AuthStatic
	GUIDInterval time.Duration     // dynamic GUID refresh period; 60s
	GUIDTimeout  time.Duration     // how long a superseded GUID is accepted; 120s
	// GUIDKey derives rotated GUIDs (guid.go), so that rotating writes nothing;
	// a rotated GUID is recognised after a restart only with the same key. Empty
	// means a fresh random key.
	GUIDKey     []byte
	QueueSize   int           // events kept per agent; 1000
	Tick        time.Duration // sweep granularity; Timeout/120 within [10ms, 1s]
	MaxExpiries int           // sign-outs per sweep, the rest wait a tick; 10000
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
	guard Guard
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
		cfg.AuthMode = AuthStatic
	}
	if cfg.GUIDInterval <= 0 {
		cfg.GUIDInterval = 60 * time.Second
	}
	if cfg.GUIDTimeout <= 0 {
		cfg.GUIDTimeout = 120 * time.Second
	}
	if len(cfg.GUIDKey) == 0 {
		cfg.GUIDKey = NewGUIDKey()
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
	if cfg.Lockouts == nil {
		cfg.Lockouts = NewMemLockouts()
	}
	m := &Manager{cfg: cfg}
	m.guard = Guard{Directory: cfg.Directory, Policy: cfg.Lockout, Store: cfg.Lockouts, Clock: cfg.Clock, Log: cfg.Log}
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

// TickFor returns the sweep granularity for timeout: a 120th of it, 10ms to 1s.
func TickFor(timeout time.Duration) time.Duration { return tickFor(timeout) }

// tickFor returns the sweep granularity for timeout: a 120th of it, 10ms to 1s.
func tickFor(timeout time.Duration) time.Duration {
	t := timeout / 120
	if t < 10*time.Millisecond {
		t = 10 * time.Millisecond
	}
	if t > time.Second {
		t = time.Second
	}
	return t
}

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

// Restore loads every stored session and makes it live with a full timeout counted
// from now, so that nobody is signed out because the gateway was down. It returns
// how many it restored. Call it once, before serving.
func (m *Manager) Restore() (int, error) {
	now := m.cfg.Clock.Now()
	n := 0
	var maxGen uint64
	var simulated []ccgw.Session
	err := m.cfg.Store.LoadSessions(func(s *ccgw.Session) error {
		if s.Simulated {
			// Stored by an earlier ccgw; the simulator signs its agents in anew.
			simulated = append(simulated, ccgw.Session{Agent: s.Agent, Gen: s.Gen})
			return nil
		}
		e := &entry{s: *s, q: m.queueFor(s.Agent, s.Simulated), hot: m.hot.get(s.Agent), guidN: -1}
		e.s.Skills = m.skillLists.intern(s.Skills)
		e.hot.seen.Store(now.UnixNano())
		e.hot.setGUID(s.GUID, m.cfg.NodeName)
		sh := m.shard(s.Agent)
		sh.mu.Lock()
		sh.live[s.Agent] = e
		sh.mu.Unlock()
		if s.Gen > maxGen {
			maxGen = s.Gen
		}
		// Filed at once (not gathered first): even after an error, the sessions
		// already loaded are live and must expire.
		m.wheel.add(deadline(now, m.timeout(s.Mode)), wheelEntry{id: s.Agent, gen: s.Gen})
		if s.State == ccgw.StateRest && s.RestUntil != 0 {
			m.wheel.add(time.UnixMilli(s.RestUntil), wheelEntry{id: s.Agent, gen: s.Gen, rest: s.RestSeq})
		}
		if m.cfg.AuthMode == AuthDynamic {
			m.wheel.add(m.rotationDue(s), wheelEntry{id: s.Agent, gen: s.Gen, rotate: true})
		}
		m.skills.set(s.Agent, nil, s.Skills)
		n++
		return nil
	})
	for _, s := range simulated {
		if derr := m.cfg.Store.DeleteSession(s.Agent, s.Gen); derr != nil && err == nil {
			err = derr
		}
	}
	if err == nil {
		err = m.restoreEvents()
	}
	// Even after an error, the sessions already loaded are live: count them and
	// keep new generations above theirs.
	for {
		cur := m.gen.Load()
		if cur >= maxGen || m.gen.CompareAndSwap(cur, maxGen) {
			break
		}
	}
	m.live.Add(int64(n))
	return n, err
}

// restoreEvents puts each restored session's undelivered events back in its queue,
// and drops (counted) those of sign-ins that no longer exist.
func (m *Manager) restoreEvents() error {
	if m.cfg.Events == nil {
		return nil
	}
	var stale []ccgw.EventAck
	err := m.cfg.Events.LoadEvents(func(id ccgw.AgentID, gen, acked uint64, evs []ccgw.Event) error {
		sh := m.shard(id)
		sh.mu.RLock()
		e := sh.live[id]
		sh.mu.RUnlock()
		if e == nil || e.s.Gen != gen {
			for _, ev := range evs {
				m.dropped(ev, ccgw.DropSessionEnded)
			}
			stale = append(stale, ccgw.EventAck{Agent: id, Gen: gen})
			return nil
		}
		e.q.RestoreFrom(acked, evs)
		return nil
	})
	if bd, ok := m.cfg.Events.(signInsDropper); ok {
		if derr := bd.DropSignIns(stale); derr != nil && err == nil {
			err = derr
		}
		return err
	}
	for _, a := range stale {
		if derr := m.cfg.Events.DropEvents(a.Agent, a.Gen); derr != nil && err == nil {
			err = derr
		}
	}
	return err
}

// signInsDropper is an event store that drops many sign-ins' events in one
// commit (bolt.Store).
type signInsDropper interface {
	DropSignIns(signIns []ccgw.EventAck) error
}

// persist stores events just queued for a session; they are durable when it
// returns. A failure is logged: the events stay queued in memory.
func (m *Manager) persist(s *ccgw.Session, evs []ccgw.Event) {
	id, gen := s.Agent, s.Gen
	if m.cfg.Events == nil || len(evs) == 0 || s.Simulated {
		return
	}
	if err := m.cfg.Events.AppendEvents(id, gen, evs); err != nil {
		m.cfg.Log.Error("event store append failed", "agent", id.String(), "err", err)
	}
}

// sessionEventsStore is a store that keeps sessions and events and can write
// both in one commit (bolt.Store).
type sessionEventsStore interface {
	PutSessionEvents(s *ccgw.Session, evs []ccgw.Event) error
}

// putWithEvents stores s and then the events its change queued (as put and
// persist do), in one commit where the store can. Failures are logged: the
// session and events stay live in memory.
func (m *Manager) putWithEvents(s *ccgw.Session, evs []ccgw.Event) {
	if s.Simulated {
		return
	}
	if both, ok := m.cfg.Store.(sessionEventsStore); ok && len(evs) > 0 && m.cfg.Events != nil && any(m.cfg.Events) == any(m.cfg.Store) {
		if err := both.PutSessionEvents(s, evs); err != nil {
			m.cfg.Log.Error("store put failed", "agent", s.Agent.String(), "events", len(evs), "err", err)
		}
		return
	}
	if err := m.put(s); err != nil {
		m.cfg.Log.Error("store put failed", "agent", s.Agent.String(), "err", err)
	}
	m.persist(s, evs)
}

// delivered records that a session's events up to seq reached the client.
func (m *Manager) delivered(id ccgw.AgentID, gen, seq uint64) {
	if m.cfg.Events != nil {
		m.acks.add(id, gen, seq)
	}
}

// FlushAcks writes the acknowledgements gathered since the last flush in one
// store call. Run calls it every tick; call it once more after Run returns.
func (m *Manager) FlushAcks() {
	if m.cfg.Events == nil {
		return
	}
	acks := m.acks.take()
	if len(acks) == 0 {
		return
	}
	if err := m.cfg.Events.AckEvents(acks); err != nil {
		m.cfg.Log.Error("event store ack failed", "acks", len(acks), "err", err)
	}
}

func (m *Manager) newQueue(id ccgw.AgentID) *event.Queue {
	return m.queueFor(id, false)
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

// SignIn is a validated sign-in request.
type SignIn struct {
	Op       string // login, forceLogin or loginEx (for logs and errors)
	Force    bool   // replace a session the agent already has
	Password string
	// SkipPassword signs in without a password check: the simulated call
	// centre's own agents. Never set for a sign-in over HTTP.
	SkipPassword bool
	Status       ccgw.AgentState // StateIdle, StateBusy or StateWork
	// Session carries the agent ID and the client's options; the Manager fills in
	// Gen, GUID, LoginTime, State and Skills.
	Session ccgw.Session
}

// SignIn signs an agent in and returns its new session. It fails with
// RetBadPassword for a wrong password or unknown agent, RetAccountLocked if too
// many wrong passwords locked the agent out (Config.Lockout; see Guard.Check),
// RetAlreadySignedIn if the
// agent is signed in and Force is false, RetSigningIn while another sign-in or
// sign-out of the agent is in flight, and RetInternal if the store fails. A forced
// sign-in ends the earlier session (its client is told AgentOther_ShutdownService).
func (m *Manager) SignIn(req SignIn) (ccgw.Session, error) {
	id := req.Session.Agent
	if !req.SkipPassword {
		if err := m.guard.Check(req.Op, id, req.Password); err != nil {
			return ccgw.Session{}, err
		}
	}
	agent, ok := m.cfg.Directory.Agent(id)
	if !ok {
		return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetBadPassword, Op: req.Op}
	}
	now := m.cfg.Clock.Now()
	s := req.Session
	s.Gen = m.gen.Add(1)
	s.GUID = newGUID(m.cfg.NodeName)
	s.GUIDIssued = ccgw.Millis(now)
	s.LoginTime = ccgw.Millis(now)
	s.Op = req.Op
	s.State = req.Status
	s.StateSince = ccgw.Millis(now)
	s.TalkRight = true
	s.Skills = m.skillLists.of(agent.Skills)
	e := &entry{s: s, pending: true, q: m.queueFor(id, s.Simulated), hot: m.hot.get(id)} // guidN 0: the sign-in's GUID

	sh := m.shard(id)
	sh.mu.Lock()
	old := sh.live[id]
	if old != nil {
		switch {
		case old.pending:
			sh.mu.Unlock()
			return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetSigningIn, Op: req.Op}
		case !req.Force:
			sh.mu.Unlock()
			return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetAlreadySignedIn, Op: req.Op}
		}
		m.endLocked(sh, old, ccgw.CauseReplaced, now)
	}
	sh.live[id] = e
	e.hot.seen.Store(now.UnixNano())
	sh.mu.Unlock()

	if old != nil {
		m.ended(old.s, ccgw.CauseReplaced)
	}
	if err := m.put(&s); err != nil {
		sh.mu.Lock()
		if sh.live[id] == e {
			delete(sh.live, id)
		}
		sh.mu.Unlock()
		e.q.Discard(ccgw.DropSessionEnded)
		return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetInternal, Op: req.Op, Err: err}
	}
	now = m.cfg.Clock.Now() // the timeout counts from the answer, not from before the write
	sh.mu.Lock()
	e.pending = false
	e.hot.seen.Store(now.UnixNano())
	e.hot.setGUID(s.GUID, m.cfg.NodeName)
	evs := []ccgw.Event{e.q.Add(ccgw.EvInService, nil, now), e.q.Add(ccgw.EvReady, nil, now)}
	switch req.Status {
	case ccgw.StateBusy:
		evs = append(evs, e.q.Add(ccgw.EvSetNotReadySuccess, ccgw.Content(map[string]string{"reason": "0"}), now))
	case ccgw.StateWork:
		evs = append(evs, e.q.Add(ccgw.EvWork, nil, now))
	}
	sh.mu.Unlock()
	m.persist(&s, evs)
	m.skills.set(id, nil, s.Skills)
	m.wheel.add(deadline(now, m.timeout(s.Mode)), wheelEntry{id: id, gen: s.Gen})
	if m.cfg.AuthMode == AuthDynamic {
		m.wheel.add(m.rotationDue(&s), wheelEntry{id: id, gen: s.Gen, rotate: true})
	}
	m.live.Add(1)
	m.stats.signIn()
	m.notify(&s)
	m.changed(s)
	return s, nil
}

// endLocked takes e out of the live table and keeps its queue, with
// AgentOther_ShutdownService added unless the agent signed out itself (then
// emptied), as a tombstone for its client: its old GUID collects what is left,
// and after a voluntary sign-out a second one with it is told
// RetAlreadySignedOut. sh.mu must be held.
func (m *Manager) endLocked(sh *shard, e *entry, cause ccgw.SignOutCause, now time.Time) {
	delete(sh.live, e.s.Agent)
	e.hot.disarm()
	if cause.ByAgent() {
		e.q.Discard(ccgw.DropSessionEnded)
	} else {
		if cause == ccgw.CausePushFailed {
			// What its receiver never took is given up, so that the one
			// attempt left goes to AgentOther_ShutdownService.
			e.q.DropHead(math.MaxUint64, ccgw.DropPushFailed)
		}
		e.q.Add(ccgw.EvShutdownService, shutdownContent(e.s.LoginTime), now)
		e.q.Close()
	}
	if t := sh.tombs[e.s.Agent]; t != nil {
		t.q.Discard(ccgw.DropSessionEnded)
	}
	until := now.Add(m.cfg.Timeout)
	t := &tomb{guid: e.s.GUID, gen: e.s.Gen, q: e.q, until: until, loggedOut: cause.ByAgent()}
	if e.s.Mode == ccgw.ModePush && !cause.ByAgent() {
		s := e.s
		t.push = &s
	}
	sh.tombs[e.s.Agent] = t
	m.wheel.add(until, wheelEntry{id: e.s.Agent, gen: e.s.Gen, tomb: true})
}

func shutdownContent(loginTime int64) json.RawMessage {
	return ccgw.Content(map[string]string{"loginTime": itoa(loginTime)})
}

// ended does the work after a session left the table: store, counts, log.
func (m *Manager) ended(s ccgw.Session, cause ccgw.SignOutCause) {
	m.live.Add(-1)
	m.stats.signOut(cause)
	m.skills.set(s.Agent, s.Skills, nil)
	if err := m.cfg.Store.DeleteSession(s.Agent, s.Gen); err != nil {
		m.cfg.Log.Error("store delete failed", "agent", s.Agent.String(), "err", err)
	}
	if m.cfg.Events != nil {
		if err := m.cfg.Events.DropEvents(s.Agent, s.Gen); err != nil {
			m.cfg.Log.Error("event store drop failed", "agent", s.Agent.String(), "err", err)
		}
	}
	if !cause.ByAgent() {
		m.notify(&s)
	}
	out := s
	out.State = ccgw.StateSignedOut
	m.changed(out)
	if m.cfg.OnSignOut != nil {
		m.cfg.OnSignOut(s.Agent, cause)
	}
	m.cfg.Log.Info("signed out", "agent", s.Agent.String(), "cause", string(cause), "guid", shortGUID(s.GUID))
}

// ticketLocked takes e's next write ticket; sh.mu must be held for writing, and
// the caller must then call ordered with it, whatever happens.
func ticketLocked(e *entry) uint32 {
	e.wTaken++
	return e.wTaken
}

// ordered runs write, e's snapshot with ticket t going to the store, once every
// earlier ticket's write has returned. Two changes of one session racing to the
// store thus land in the order they were made; waiting is rare (concurrent
// changes of one agent) and holds no lock.
func (m *Manager) ordered(sh *shard, e *entry, t uint32, write func()) {
	sh.wmu.Lock()
	if e.wDone != t-1 && m.onWriteWait != nil {
		m.onWriteWait()
	}
	for e.wDone != t-1 {
		sh.wcond.Wait()
	}
	sh.wmu.Unlock()
	write()
	sh.wmu.Lock()
	e.wDone = t
	sh.wcond.Broadcast()
	sh.wmu.Unlock()
}

// put stores s, unless it is simulated: the simulated call centre signs its
// agents in again when it starts, and its calls do not outlive the process, so
// storing their every state change would only serialise the simulation on the
// store's commits.
func (m *Manager) put(s *ccgw.Session) error {
	if s.Simulated {
		return nil
	}
	return m.cfg.Store.PutSession(s)
}

func (m *Manager) notify(s *ccgw.Session) {
	if s.Mode == ccgw.ModePush && m.cfg.Notify != nil {
		m.cfg.Notify(s.Agent)
	}
}

// authedLocked returns agent id's live session if guid authenticates it: else
// RetNotSignedIn (no session) or RetNoPermission. sh.mu must be held for writing.
func (m *Manager) authedLocked(sh *shard, id ccgw.AgentID, guid string, now time.Time) (*entry, error) {
	e := sh.live[id]
	if e == nil {
		return nil, ccgw.Fail(ccgw.RetNotSignedIn)
	}
	if err := m.authLocked(e, guid, now, true); err != nil {
		return nil, err
	}
	return e, nil
}

// errUpgrade is authLocked's answer under a read lock to a GUID that must be
// adopted first: the caller lets go, calls adoptGUID and starts again.
var errUpgrade = errors.New("session: GUID to adopt")

// authLocked checks guid against e; sh.mu must be held, for writing if write.
// A rotated GUID of e's sign-in newer than e's (one issued before a crash and
// never stored; guid.go) is adopted as e's current GUID: at once if write, else
// the answer is errUpgrade. A request that authenticates is activity: it
// renews the session's timeout, as the vendor's "if an agent does not send a
// request to the server within the timeout interval" has it.
func (m *Manager) authLocked(e *entry, guid string, now time.Time, write bool) error {
	err := m.checkGUIDLocked(e, guid, now, write)
	if err == nil {
		e.hot.seen.Store(now.UnixNano())
	}
	return err
}

// checkGUIDLocked is authLocked without the renewal.
func (m *Manager) checkGUIDLocked(e *entry, guid string, now time.Time, write bool) error {
	if guid == "" {
		return ccgw.Fail(ccgw.RetNoPermission)
	}
	if guid == e.s.GUID {
		return nil
	}
	if guid == e.s.PrevGUID && ccgw.Millis(now) < e.s.PrevUntil {
		return nil
	}
	if m.cfg.AuthMode == AuthDynamic {
		if n, ok := derivedN(m.cfg.GUIDKey, &e.s, guid, m.cfg.NodeName); ok && int64(n) > m.guidN(e, write) {
			if !write {
				return errUpgrade
			}
			m.adoptLocked(e, n, guid, now)
			return nil
		}
	}
	if t := m.shard(e.s.Agent).tombs[e.s.Agent]; t != nil && t.guid == guid {
		// The GUID of the sign-in this one replaced: its client is signed out.
		return ccgw.Fail(ccgw.RetNotSignedIn)
	}
	return ccgw.Fail(ccgw.RetNoPermission)
}

// guidN returns the rotation number of e's current GUID; sh.mu must be held, for
// writing if write (it is then kept).
func (m *Manager) guidN(e *entry, write bool) int64 {
	if e.guidN >= 0 {
		return e.guidN
	}
	n, ok := derivedN(m.cfg.GUIDKey, &e.s, e.s.GUID, m.cfg.NodeName)
	if !ok {
		n = 0 // the sign-in's GUID
	}
	if write {
		e.guidN = int64(n)
	}
	return int64(n)
}

// adoptLocked makes guid, rotation n of e's sign-in, e's current GUID, with the
// one before it accepted for GUIDTimeout; sh.mu must be held for writing.
func (m *Manager) adoptLocked(e *entry, n uint32, guid string, now time.Time) {
	prev := e.s.GUID
	if int64(n)-1 > m.guidN(e, true) {
		prev = deriveGUID(m.cfg.GUIDKey, &e.s, n-1, m.cfg.NodeName)
	}
	e.s.PrevGUID = prev
	e.s.PrevUntil = ccgw.Millis(now.Add(m.cfg.GUIDTimeout))
	e.s.GUID = guid
	e.s.GUIDIssued = ccgw.Millis(now)
	e.guidN = int64(n)
	e.hot.setGUID(guid, m.cfg.NodeName)
	m.wheel.add(m.rotationDue(&e.s), wheelEntry{id: e.s.Agent, gen: e.s.Gen, rotate: true})
	m.cfg.Log.Info("rotated GUID recovered", "agent", e.s.Agent.String(), "rotation", n)
}

// adoptGUID adopts guid for agent id's session (see authLocked); the caller then
// starts again.
func (m *Manager) adoptGUID(id ccgw.AgentID, guid string) {
	now := m.cfg.Clock.Now()
	sh := m.shard(id)
	sh.mu.Lock()
	if e := sh.live[id]; e != nil {
		_ = m.authLocked(e, guid, now, true) // the caller's retry gives the verdict
	}
	sh.mu.Unlock()
}

// Heartbeat renews agent id's session if guid is its GUID (or the previous one,
// within its grace time). A non-empty token replaces the session's service token.
// It returns the GUID the client should switch to, or "" if it already has it. It
// fails with RetNotSignedIn if the agent has no session and RetNoPermission if guid
// is not the session's. Without a token change it does no I/O.
func (m *Manager) Heartbeat(id ccgw.AgentID, guid, token string) (string, error) {
	now := m.cfg.Clock.Now()
	if token == "" && id <= ccgw.MaxAgentID {
		// The fast path: the current GUID, no rotation due, no token to store.
		if g0, g1, ok := guidBits(guid, m.cfg.NodeName); ok {
			if h := m.hot.get(id); h.matches(g0, g1) {
				h.seen.Store(now.UnixNano())
				m.stats.heartbeats.Add(1)
				return "", nil
			}
		}
	}
	sh := m.shard(id)
	sh.mu.RLock()
	e := sh.live[id]
	if e == nil {
		sh.mu.RUnlock()
		return "", ccgw.Fail(ccgw.RetNotSignedIn)
	}
	if err := m.authLocked(e, guid, now, false); err != nil {
		sh.mu.RUnlock()
		if err == errUpgrade {
			m.adoptGUID(id, guid)
			return m.Heartbeat(id, guid, token)
		}
		return "", err
	}
	e.hot.seen.Store(now.UnixNano())
	m.stats.heartbeats.Add(1)
	current := e.s.GUID
	rotate := m.rotationDueLocked(e, guid, now)
	retoken := token != "" && token != e.s.ServiceToken
	sh.mu.RUnlock()
	if rotate || retoken {
		g, err := m.refresh(id, e, token, rotate, now)
		if err != nil || g == guid {
			return "", err // a token change alone leaves the GUID as the client has it
		}
		return g, nil
	}
	if guid != current {
		return current, nil
	}
	return "", nil
}

// refresh rotates e's GUID and/or replaces its token. A new token is persisted; a
// rotation alone is not (guid.go).
func (m *Manager) refresh(id ccgw.AgentID, e *entry, token string, rotate bool, now time.Time) (string, error) {
	sh := m.shard(id)
	sh.mu.Lock()
	if sh.live[id] != e {
		sh.mu.Unlock()
		return "", ccgw.Fail(ccgw.RetNotSignedIn)
	}
	if rotate && now.Sub(time.UnixMilli(e.s.GUIDIssued)) >= m.cfg.GUIDInterval {
		m.rotateLocked(e, now)
	}
	if token == "" {
		g := e.s.GUID
		sh.mu.Unlock()
		return g, nil
	}
	e.s.ServiceToken = token
	s := e.s
	t := ticketLocked(e)
	sh.mu.Unlock()
	m.ordered(sh, e, t, func() {
		if err := m.cfg.Store.PutSession(&s); err != nil {
			m.cfg.Log.Error("store put failed", "agent", id.String(), "err", err)
		}
	})
	return s.GUID, nil
}

// rotateLocked gives e the next rotation of its GUID; sh.mu must be held for writing.
func (m *Manager) rotateLocked(e *entry, now time.Time) {
	n := m.guidN(e, true) + 1
	e.s.PrevGUID = e.s.GUID
	e.s.PrevUntil = ccgw.Millis(now.Add(m.cfg.GUIDTimeout))
	e.s.GUID = deriveGUID(m.cfg.GUIDKey, &e.s, uint32(n), m.cfg.NodeName)
	e.guidN = n
	e.s.GUIDIssued = ccgw.Millis(now)
	e.hot.setGUID(e.s.GUID, m.cfg.NodeName)
	if m.cfg.AuthMode == AuthDynamic {
		m.wheel.add(m.rotationDue(&e.s), wheelEntry{id: e.s.Agent, gen: e.s.Gen, rotate: true})
	}
}

// rotationDueLocked reports whether a poll or handshake that authenticated
// with guid at now rotates e's GUID (dynamic mode): only a request with the
// current GUID does, once GUIDInterval has passed since it was minted. A client
// still sending the superseded GUID has not caught up: rotating again would
// drop the GUID it holds one GUIDInterval after it was superseded, not
// GUIDTimeout after. sh.mu must be held.
func (m *Manager) rotationDueLocked(e *entry, guid string, now time.Time) bool {
	return m.cfg.AuthMode == AuthDynamic && guid == e.s.GUID && now.Sub(time.UnixMilli(e.s.GUIDIssued)) >= m.cfg.GUIDInterval
}

// rotationDue returns when session s's GUID is due for rotation (dynamic mode).
func (m *Manager) rotationDue(s *ccgw.Session) time.Time {
	return time.UnixMilli(s.GUIDIssued).Add(m.cfg.GUIDInterval)
}

// UpdateGUID gives agent id's session a fresh GUID at once (updateGuid); the old
// one stays valid for GUIDTimeout. It fails as Heartbeat does.
func (m *Manager) UpdateGUID(id ccgw.AgentID, guid string) (string, error) {
	now := m.cfg.Clock.Now()
	sh := m.shard(id)
	sh.mu.Lock()
	e, err := m.authedLocked(sh, id, guid, now)
	if err != nil {
		sh.mu.Unlock()
		return "", err
	}
	e.hot.seen.Store(now.UnixNano())
	m.rotateLocked(e, now)
	s := e.s
	t := ticketLocked(e)
	sh.mu.Unlock()
	var werr error
	m.ordered(sh, e, t, func() { werr = m.cfg.Store.PutSession(&s) })
	if werr != nil {
		return "", &ccgw.Error{Code: ccgw.RetInternal, Err: werr}
	}
	return s.GUID, nil
}

// SignOut ends agent id's session on its own request: cause CauseLogout (logout;
// refused with RetLogoutStateError while the agent talks) or CauseForceLogout. It
// fails with RetNotSignedIn, RetNoPermission, RetRepeated (a sign-in or sign-out in
// flight) or RetInternal.
func (m *Manager) SignOut(id ccgw.AgentID, guid string, cause ccgw.SignOutCause) error {
	now := m.cfg.Clock.Now()
	sh := m.shard(id)
	sh.mu.Lock()
	e, err := m.authedLocked(sh, id, guid, now)
	if err != nil {
		if t := sh.tombs[id]; t != nil && t.loggedOut && guid != "" && t.guid == guid {
			err = ccgw.Fail(ccgw.RetAlreadySignedOut) // a second sign-out
		}
		sh.mu.Unlock()
		return err
	}
	if e.pending {
		sh.mu.Unlock()
		return ccgw.Fail(ccgw.RetRepeated)
	}
	if cause == ccgw.CauseLogout && e.s.State == ccgw.StateTalking {
		sh.mu.Unlock()
		return ccgw.Fail(ccgw.RetLogoutStateError)
	}
	m.endLocked(sh, e, cause, now)
	sh.mu.Unlock()
	m.ended(e.s, cause)
	return nil
}

// Kick ends agent id's session whatever its GUID (a supervisor's forced sign-out).
// It fails with RetNotSignedIn if the agent has no session.
func (m *Manager) Kick(id ccgw.AgentID, cause ccgw.SignOutCause) error { return m.kick(id, 0, cause) }

// kick ends agent id's session whatever its GUID, if it is sign-in gen (0: any).
func (m *Manager) kick(id ccgw.AgentID, gen uint64, cause ccgw.SignOutCause) error {
	now := m.cfg.Clock.Now()
	sh := m.shard(id)
	sh.mu.Lock()
	e := sh.live[id]
	if e == nil || e.pending || (gen != 0 && e.s.Gen != gen) {
		sh.mu.Unlock()
		return ccgw.Fail(ccgw.RetNotSignedIn)
	}
	m.endLocked(sh, e, cause, now)
	sh.mu.Unlock()
	m.ended(e.s, cause)
	return nil
}

// Poll takes agent id's next event, waiting up to wait for one (getAgentEvent).
// The poll is a heartbeat, and a poll in progress keeps the session alive. A client
// whose session ended can still collect its last events (AgentOther_ShutdownService)
// with its old GUID; after that it gets RetNotSignedIn (RetNoPermission if the
// agent signed in again). It returns the event (nil after wait with none), the GUID
// the client should switch to ("" if none), or RetWrongEventMethod for a push-mode
// session.
func (m *Manager) Poll(ctx context.Context, id ccgw.AgentID, guid string, wait time.Duration) (*ccgw.Event, string, error) {
	now := m.cfg.Clock.Now()
	sh := m.shard(id)
	sh.mu.RLock()
	e := sh.live[id]
	if e != nil {
		if err := m.authLocked(e, guid, now, false); err == errUpgrade {
			sh.mu.RUnlock()
			m.adoptGUID(id, guid)
			return m.Poll(ctx, id, guid, wait)
		} else if err != nil {
			e = nil
		}
	}
	if e == nil {
		live := sh.live[id] != nil
		sh.mu.RUnlock()
		return m.pollTomb(id, guid, live)
	}
	if e.s.Mode == ccgw.ModePush {
		sh.mu.RUnlock()
		return nil, "", ccgw.Fail(ccgw.RetWrongEventMethod)
	}
	rotate := m.rotationDueLocked(e, guid, now)
	current := e.s.GUID
	e.polling.Add(1)
	e.hot.seen.Store(now.UnixNano())
	sh.mu.RUnlock()
	m.stats.polls.Add(1)

	setGUID := ""
	if rotate {
		g, err := m.refresh(id, e, "", true, now)
		if err != nil {
			e.polling.Add(-1)
			return nil, "", err
		}
		setGUID = g
	} else if guid != current {
		setGUID = current
	}

	t := m.cfg.WaitClock.NewTimer(wait)
	ev, ok := e.q.Next(ctx, t.C())
	t.Stop()
	e.hot.seen.Store(m.cfg.Clock.Now().UnixNano())
	e.polling.Add(-1)
	if !ok {
		return nil, setGUID, nil
	}
	m.stats.polled.Add(1)
	m.delivered(id, e.s.Gen, ev.Seq)
	return &ev, setGUID, nil
}

// pollTomb serves a poll whose GUID is not the live session's.
func (m *Manager) pollTomb(id ccgw.AgentID, guid string, live bool) (*ccgw.Event, string, error) {
	sh := m.shard(id)
	sh.mu.Lock()
	t := sh.tombs[id]
	if t == nil || guid == "" || t.guid != guid {
		sh.mu.Unlock()
		if live {
			return nil, "", ccgw.Fail(ccgw.RetNoPermission)
		}
		return nil, "", ccgw.Fail(ccgw.RetNotSignedIn)
	}
	ev, ok := t.q.Pop() // the sweep purges the tombstone when its time is up
	sh.mu.Unlock()
	if !ok {
		// The client of an ended sign-in is signed out, also when the agent
		// signed in again elsewhere: clients stop polling only on 100-006.
		return nil, "", ccgw.Fail(ccgw.RetNotSignedIn)
	}
	return &ev, "", nil
}

// Session returns a copy of agent id's session if guid authenticates it.
func (m *Manager) Session(id ccgw.AgentID, guid string) (ccgw.Session, error) {
	now := m.cfg.Clock.Now()
	sh := m.shard(id)
	sh.mu.RLock()
	e := sh.live[id]
	if e == nil {
		sh.mu.RUnlock()
		return ccgw.Session{}, ccgw.Fail(ccgw.RetNotSignedIn)
	}
	if err := m.authLocked(e, guid, now, false); err != nil {
		sh.mu.RUnlock()
		if err == errUpgrade {
			m.adoptGUID(id, guid)
			return m.Session(id, guid)
		}
		return ccgw.Session{}, err
	}
	s := e.s
	s.Skills = append([]int(nil), e.s.Skills...)
	sh.mu.RUnlock()
	return s, nil
}

// Lookup returns a copy of agent id's session whatever its GUID, for queries about
// other agents.
func (m *Manager) Lookup(id ccgw.AgentID) (ccgw.Session, bool) {
	sh := m.shard(id)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	e := sh.live[id]
	if e == nil || e.pending {
		return ccgw.Session{}, false
	}
	s := e.s
	s.Skills = append([]int(nil), e.s.Skills...)
	return s, true
}

// Emit is an event an Update produces.
type Emit = ccgw.Emit

// Update runs fn on agent id's session, authenticated by guid (or on any session
// of id when guid is "*"), under the session's lock: fn changes the session and
// returns the events to queue, or an error to refuse. A change is persisted after
// the lock is released. fn must not block or do I/O.
func (m *Manager) Update(id ccgw.AgentID, guid string, fn func(s *ccgw.Session, now time.Time) ([]Emit, error)) (ccgw.Session, error) {
	s, finish, err := m.UpdateLater(id, guid, fn)
	if err != nil {
		return s, err
	}
	finish()
	return s, nil
}

// UpdateLater is Update but for the store write and the notifications after it
// (Config.Notify, OnChange), which it leaves to finish: the caller must call finish
// once, after letting go of its own locks, so that it holds none across the
// write (the simulated call centre does). Writes of one session still reach the
// store in the order of its changes, whenever finish runs.
func (m *Manager) UpdateLater(id ccgw.AgentID, guid string, fn func(s *ccgw.Session, now time.Time) ([]Emit, error)) (ccgw.Session, func(), error) {
	now := m.cfg.Clock.Now()
	sh := m.shard(id)
	sh.mu.Lock()
	e := sh.live[id]
	if e == nil || e.pending {
		sh.mu.Unlock()
		return ccgw.Session{}, nil, ccgw.Fail(ccgw.RetNotSignedIn)
	}
	if guid != "*" {
		if err := m.authLocked(e, guid, now, true); err != nil {
			sh.mu.Unlock()
			return ccgw.Session{}, nil, err
		}
	}
	before := e.s
	// fn gets a copy of the skills: the entry's may be shared (skillLists).
	e.s.Skills = append([]int(nil), before.Skills...)
	evs, err := fn(&e.s, now)
	if err != nil {
		e.s = before
		sh.mu.Unlock()
		return ccgw.Session{}, nil, err
	}
	if equalInts(before.Skills, e.s.Skills) {
		e.s.Skills = before.Skills
	}
	queued := make([]ccgw.Event, 0, len(evs))
	for _, ev := range evs {
		queued = append(queued, e.q.Add(ev.Type, ev.Content, now))
	}
	s := e.s
	s.Skills = append([]int(nil), e.s.Skills...)
	t := ticketLocked(e)
	sh.mu.Unlock()
	if s.RestSeq != before.RestSeq && s.RestUntil != 0 {
		m.wheel.add(time.UnixMilli(s.RestUntil), wheelEntry{id: id, gen: s.Gen, rest: s.RestSeq})
	}
	if !equalInts(before.Skills, s.Skills) {
		m.skills.set(id, before.Skills, s.Skills)
	}
	finish := func() {
		m.ordered(sh, e, t, func() { m.putWithEvents(&s, queued) })
		if len(queued) > 0 {
			m.notify(&s)
		}
		m.changed(s)
	}
	return s, finish, nil
}

// Run sweeps every tick until ctx ends. It returns ctx's error.
func (m *Manager) Run(ctx context.Context) error {
	for {
		t := m.cfg.Clock.NewTimer(m.cfg.Tick)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C():
			m.Sweep(m.cfg.Clock.Now())
			m.FlushAcks()
		}
	}
}

// Sweep signs out every session whose deadline passed by now and purges expired
// tombstones. It looks only at the wheel's due entries, never at all sessions,
// and signs out at most MaxExpiries sessions; the rest wait for the next sweep.
// It returns how many sessions it signed out.
func (m *Manager) Sweep(now time.Time) int {
	due := m.wheel.due(now)
	if len(due) == 0 {
		return 0
	}
	var refile []timedEntry
	var expired []ccgw.Session
	var rested []restDone
	for i, we := range due {
		if len(expired) >= m.cfg.MaxExpiries {
			for _, rest := range due[i:] {
				refile = append(refile, timedEntry{now.Add(m.cfg.Tick), rest})
			}
			break
		}
		sh := m.shard(we.id)
		sh.mu.Lock()
		if we.tomb {
			if t := sh.tombs[we.id]; t != nil && t.gen == we.gen && !t.until.After(now) {
				delete(sh.tombs, we.id)
				sh.mu.Unlock()
				t.q.Discard(ccgw.DropSessionEnded)
				continue
			}
			sh.mu.Unlock()
			continue
		}
		e := sh.live[we.id]
		if e == nil || e.s.Gen != we.gen {
			sh.mu.Unlock()
			continue // stale: that sign-in already ended
		}
		if we.rotate {
			// Rotation is due: send the next heartbeat to the slow path, which rotates.
			if !m.rotationDue(&e.s).After(now) {
				e.hot.disarm()
			}
			sh.mu.Unlock()
			continue
		}
		if we.rest != 0 {
			if ev, ok := m.restTimeoutLocked(e, we.rest, now); ok {
				s := e.s
				t := ticketLocked(e)
				sh.mu.Unlock()
				rested = append(rested, restDone{s, ev, sh, e, t})
				continue
			}
			sh.mu.Unlock()
			continue
		}
		var dl time.Time
		if timeout := m.timeout(e.s.Mode); m.cfg.NoExpiry || e.pending || e.polling.Load() > 0 || e.s.Simulated {
			dl = deadline(now, timeout)
		} else {
			dl = deadline(time.Unix(0, e.hot.seen.Load()), timeout)
		}
		if dl.After(now) {
			sh.mu.Unlock()
			refile = append(refile, timedEntry{dl, we})
			continue
		}
		m.endLocked(sh, e, ccgw.CauseTimeout, now) // the commit point: only this caller has e
		sh.mu.Unlock()
		expired = append(expired, e.s)
	}
	m.wheel.addAll(refile)
	for _, r := range rested {
		m.ordered(r.sh, r.e, r.ticket, func() { m.putWithEvents(&r.s, r.evs) })
		m.notify(&r.s)
		m.changed(r.s)
	}
	for _, s := range expired {
		m.stats.expiries.Add(1)
		m.ended(s, ccgw.CauseTimeout)
	}
	return len(expired)
}

type restDone struct {
	s      ccgw.Session
	evs    []ccgw.Event
	sh     *shard
	e      *entry
	ticket uint32 // e's write ticket for s
}

// restTimeoutLocked tells agent e that its rest (number seq) ran out, if it is
// still in that rest: AgentState_Rest_Timeout, and with RestTimeoutIdle the move
// to idle. sh.mu must be held.
func (m *Manager) restTimeoutLocked(e *entry, seq uint64, now time.Time) ([]ccgw.Event, bool) {
	s := &e.s
	if s.State != ccgw.StateRest || s.RestSeq != seq || s.RestUntil == 0 || time.UnixMilli(s.RestUntil).After(now) {
		return nil, false
	}
	s.RestUntil = 0
	evs := []ccgw.Event{e.q.Add(ccgw.EvRestTimeout, nil, now)}
	if m.cfg.RestTimeoutIdle {
		s.State, s.StateReason, s.StateSince = ccgw.StateIdle, 0, ccgw.Millis(now)
		evs = append(evs, e.q.Add(ccgw.EvReady, nil, now))
	}
	return evs, true
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// PushTarget implements push.Source: the push target of agent id's ended
// push-mode session while its last events wait (so that a session replaced by a
// forced sign-in is told AgentOther_ShutdownService before the new one's events
// go out), else of its live push-mode session.
func (m *Manager) PushTarget(id ccgw.AgentID) (push.Target, bool) {
	sh := m.shard(id)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	t := sh.tombs[id]
	if t != nil && t.push != nil && t.q.Len() > 0 {
		return tombTarget(id, t), true
	}
	if e := sh.live[id]; e != nil && e.s.Mode == ccgw.ModePush && !e.pending {
		return push.Target{Agent: id, Gen: e.s.Gen, URL: e.s.CallbackURI, Token: e.s.ServiceToken, GUID: e.s.GUID,
			Legacy: e.s.LegacyPush, Queue: e.q}, true
	}
	if t != nil && t.push != nil {
		return tombTarget(id, t), true
	}
	return push.Target{}, false
}

func tombTarget(id ccgw.AgentID, t *tomb) push.Target {
	return push.Target{Agent: id, Gen: t.gen, URL: t.push.CallbackURI, Token: t.push.ServiceToken, GUID: t.guid,
		Legacy: t.push.LegacyPush, Ended: true, Queue: t.q}
}

// PushFailed implements push.Source: it signs sign-in gen of agent id out with
// CausePushFailed, unless that sign-in already ended.
func (m *Manager) PushFailed(id ccgw.AgentID, gen uint64) { m.kick(id, gen, ccgw.CausePushFailed) }

// Delivered implements push.Source.
func (m *Manager) Delivered(id ccgw.AgentID, gen, seq uint64) { m.delivered(id, gen, seq) }

// NotifyAll calls Config.Notify for every live push-mode session with queued
// events: after Restore, so that events restored from the store are pushed. It
// visits every session, once.
func (m *Manager) NotifyAll() {
	if m.cfg.Notify == nil {
		return
	}
	var ids []ccgw.AgentID
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.RLock()
		for id, e := range sh.live {
			if e.s.Mode == ccgw.ModePush && e.q.Len() > 0 {
				ids = append(ids, id)
			}
		}
		sh.mu.RUnlock()
	}
	for _, id := range ids {
		m.cfg.Notify(id)
	}
}

// Live returns the number of live sessions.
func (m *Manager) Live() int { return int(m.live.Load()) }

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// shortGUID returns a prefix of g that identifies it in logs without revealing it.
func shortGUID(g string) string {
	if len(g) > 8 {
		return g[:8] + "…"
	}
	return g
}
