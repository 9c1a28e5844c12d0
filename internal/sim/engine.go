// Package sim owns the simulated call centre behind the gateway: skill queues of
// waiting calls, the ACD that offers each call to the longest-idle agent with the
// skill, ringing, answer, talk, hold, transfer, release and wrap-up, outbound
// calls, callers who abandon, and simulated agents. Everything runs on the
// injected clock and a seeded random source, so that under a virtual clock the
// same scenario and seed give the same event stream.
package sim

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/clock"
)

// Config configures an Engine. Zero values mean the defaults given.
type Config struct {
	Sessions    ccgw.SessionService // required
	Directory   *agent.Directory    // required
	Clock       ccgw.Clock          // clock.Real
	Log         *slog.Logger        // discards
	Seed        uint64              // random seed; 1
	RingTimeout time.Duration       // an unanswered call returns to its queue after this; 20s
	// TransferTimeout bounds a success-mode transfer's wait for its target; 20s.
	TransferTimeout time.Duration
	// IVRReturn is how long a hang-up transfer to IVR takes to come back; 5s.
	IVRReturn time.Duration
	// CalleeAnswer is how long a called customer rings before answering; 3s.
	CalleeAnswer time.Duration
	// AccessCode is the number inbound callers dial ("called"); "10086".
	AccessCode string
	// MaxCalls bounds the live calls: an injection beyond it fails with
	// ErrTooManyCalls and a random arrival is dropped (counted, logged once per
	// time the limit is reached); DefaultMaxCalls.
	MaxCalls int
	// Remote, if set, is the call centre another node runs (a cluster): while a
	// node serves it, the clients' call control and call-data queries go there
	// (remote.go), and this engine answers them only while none does.
	Remote Remote
}

// Engine is the simulated call centre. It is safe for concurrent use: HTTP
// handlers, timers and the session hook all enter it through one lock, and the
// work each does runs to completion before the next starts.
type Engine struct {
	cfg Config

	mu       sync.Mutex // guards everything below; never held across network or store I/O
	rnd      *rand.Rand
	calls    map[string]*Call
	queues   map[int]*queue
	legs     map[ccgw.AgentID]*legs // the calls of each agent who has or had one
	simAgent map[ccgw.AgentID]SimAgent
	wrapUp   map[ccgw.AgentID]ccgw.Timer
	n        uint64 // calls made so far
	refused  uint64 // calls not made because MaxCalls were live
	full     bool   // the last call attempted found MaxCalls live
	stats    map[int]*QueueStats
	rates    map[int]*arrival
	idle     *idleIndex // idle agents by skill (idle.go)
	scanOnly bool       // tests: never use idle, always scan Sessions.BySkill
	finish   []func()   // sessions' store writes left for after the lock (updateSession)

	pendMu   sync.Mutex     // guards pending, applied and reported
	pending  []ccgw.Session // changes reported and not yet drained, in order
	applied  int            // how many of pending idle has seen
	reported bool           // Sessions has reported a change (idle.go)
}

// New returns an Engine; wire Sessions' OnChange to its AgentChanged.
func New(cfg Config) *Engine {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.RingTimeout <= 0 {
		cfg.RingTimeout = 20 * time.Second
	}
	if cfg.TransferTimeout <= 0 {
		cfg.TransferTimeout = 20 * time.Second
	}
	if cfg.IVRReturn <= 0 {
		cfg.IVRReturn = 5 * time.Second
	}
	if cfg.CalleeAnswer <= 0 {
		cfg.CalleeAnswer = 3 * time.Second
	}
	if cfg.AccessCode == "" {
		cfg.AccessCode = "10086"
	}
	if cfg.MaxCalls <= 0 {
		cfg.MaxCalls = DefaultMaxCalls
	}
	return &Engine{
		cfg:      cfg,
		rnd:      rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		calls:    make(map[string]*Call),
		queues:   make(map[int]*queue),
		legs:     make(map[ccgw.AgentID]*legs),
		simAgent: make(map[ccgw.AgentID]SimAgent),
		wrapUp:   make(map[ccgw.AgentID]ccgw.Timer),
		stats:    make(map[int]*QueueStats),
		rates:    make(map[int]*arrival),
		idle:     newIdleIndex(),
	}
}

// lock enters the engine.
func (e *Engine) lock() { e.mu.Lock() }

// unlock handles the agent changes reported meanwhile, then leaves the engine.
func (e *Engine) unlock() {
	for {
		e.drain()
		finish := e.finish
		e.finish = nil
		e.mu.Unlock()
		for _, f := range finish {
			f() // store writes and the OnChange reports: may add to pending
		}
		e.pendMu.Lock()
		more := len(e.pending) > 0
		e.pendMu.Unlock()
		if !more || !e.mu.TryLock() {
			return
		}
	}
}

// AgentChanged is the session service's OnChange hook: an agent signed in,
// changed state or signed out. An agent that became idle may take a waiting call.
func (e *Engine) AgentChanged(s ccgw.Session) {
	e.pendMu.Lock()
	e.pending = append(e.pending, s)
	e.reported = true
	e.pendMu.Unlock()
	if e.mu.TryLock() {
		e.unlock()
	}
}

// drain handles reported agent changes; e.mu must be held.
func (e *Engine) drain() {
	for {
		e.pendMu.Lock()
		batch, seen := e.pending, e.applied
		e.pending, e.applied = nil, 0
		e.pendMu.Unlock()
		if len(batch) == 0 {
			return
		}
		for i := range batch[seen:] {
			e.idle.set(&batch[seen+i])
		}
		route := false
		for _, s := range batch {
			switch s.State {
			case ccgw.StateSignedOut:
				e.agentGone(s.Agent)
			case ccgw.StateWork:
				if s.Simulated {
					e.scheduleWrapUp(s.Agent)
				}
			case ccgw.StateIdle:
				route = true
			}
		}
		if route {
			e.dispatch()
		}
	}
}

// agentGone ends the calls of an agent who signed out; a call still ringing
// goes back to its queue.
func (e *Engine) agentGone(id ccgw.AgentID) {
	if t := e.wrapUp[id]; t != nil {
		t.Stop()
		delete(e.wrapUp, id)
	}
	l := e.legs[id]
	if l == nil {
		return
	}
	delete(e.legs, id)
	if c := l.active; c != nil {
		e.stopTimer(c)
		switch {
		case c.parent != nil:
			e.transferFailed(c)
		case c.State == Ringing:
			e.requeue(c, id)
		default:
			e.end(c)
		}
	}
	for _, c := range l.held {
		e.end(c)
	}
}

func (e *Engine) now() time.Time { return e.cfg.Clock.Now() }

func (e *Engine) statsOf(skill int) *QueueStats {
	st := e.stats[skill]
	if st == nil {
		st = &QueueStats{Skill: skill}
		e.stats[skill] = st
	}
	return st
}

// newCallID returns the next call ID: "<unix seconds of now>-<n>".
func (e *Engine) newCallID() string {
	e.n++
	return strconv.FormatInt(e.now().Unix(), 10) + "-" + strconv.FormatUint(e.n, 10)
}

// after runs f in the engine after d. A d of zero or less waits 1ns: a
// clock.Virtual then fires f in order on its next Advance instead of at once in a
// goroutine of its own, which would make the run depend on scheduling.
func (e *Engine) after(d time.Duration, f func()) ccgw.Timer {
	if d <= 0 {
		d = time.Nanosecond
	}
	return e.cfg.Clock.AfterFunc(d, func() {
		e.lock()
		defer e.unlock()
		f()
	})
}

// At runs f once the engine's clock has moved on by d, or at once, before At
// returns, if d <= 0. f runs outside the engine's lock, so it may call the
// Engine's methods. Under a clock.Virtual it runs inside Advance, in deadline order
// with the engine's own timers, ties in the order they were set.
func (e *Engine) At(d time.Duration, f func()) {
	if d <= 0 {
		f()
		return
	}
	e.cfg.Clock.AfterFunc(d, f)
}

func (e *Engine) stopTimer(c *Call) {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

// update changes agent id's session in the engine's name and queues events.
func (e *Engine) update(id ccgw.AgentID, fn func(s *ccgw.Session, now time.Time) []ccgw.Emit) error {
	_, err := e.updateSession(id, func(s *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
		return fn(s, now), nil
	})
	return err
}

// laterUpdater is a ccgw.SessionService whose Update can leave its store write to
// later (internal/session's Service).
type laterUpdater interface {
	UpdateAnyLater(id ccgw.AgentID, fn func(s *ccgw.Session, now time.Time) ([]ccgw.Emit, error)) (ccgw.Session, func(), error)
}

// updateSession runs Sessions.Update on any session of agent id; e.mu must be
// held. Where the service allows it, the store write waits for unlock, so that
// the engine's lock is never held across it.
func (e *Engine) updateSession(id ccgw.AgentID, fn func(s *ccgw.Session, now time.Time) ([]ccgw.Emit, error)) (ccgw.Session, error) {
	u, ok := e.cfg.Sessions.(laterUpdater)
	if !ok {
		return e.cfg.Sessions.UpdateAny(context.Background(), id, fn)
	}
	s, finish, err := u.UpdateAnyLater(id, fn)
	if err == nil {
		e.finish = append(e.finish, finish)
	}
	return s, err
}
