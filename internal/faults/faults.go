// Package faults owns the faults injected on demand to test a client's
// resilience: each of a Kind, scoped to agents and interfaces, and timed on the
// gateway's clock (virtual time included). The API layer asks a Set about each
// request and the session layer about each event; with no fault held, either
// question costs one atomic load.
package faults

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
)

// Kind is what a fault does.
type Kind string

// The kinds of fault.
const (
	// DRSwitchover answers the requests in scope 000-004 ("the agent is being
	// switched over") while it lasts, doing nothing else.
	DRSwitchover Kind = "dr-switchover"
	// Unavailable answers them 100-007 (an exception on the gateway).
	Unavailable Kind = "unavailable"
	// GUIDExpiry refuses every GUID of a session signed in before the fault
	// started with 000-003, as if it had expired; signing in again gives one
	// that works.
	GUIDExpiry Kind = "guid-expiry"
	// Slow delays each answer by the fault's Delay.
	Slow Kind = "slow"
	// ForceSignOut signs the agents in scope out at its start, as a supervisor
	// does: their clients are told AgentOther_ShutdownService.
	ForceSignOut Kind = "force-signout"
	// DropEvents drops the events made for the agents in scope, counted as
	// ccgw.DropFault.
	DropEvents Kind = "drop-events"
)

// Kinds lists every kind, in a stable order.
var Kinds = []Kind{DRSwitchover, Unavailable, GUIDExpiry, Slow, ForceSignOut, DropEvents}

// Limits of a fault.
const (
	MaxHeld     = 100              // faults held (waiting to start or on) at once
	MaxDelay    = 30 * time.Second // a slow fault's delay
	MaxAgents   = 1000             // agents named by one fault
	MaxDuration = 24 * time.Hour   // a fault's duration; none: until removed
)

// ErrFull is wrapped by the error of an Add beyond MaxHeld.
var ErrFull = errors.New("faults: too many held")

// Spec says what fault to inject.
type Spec struct {
	Kind Kind
	// Agents are the agents in scope; none: every agent.
	Agents []ccgw.AgentID
	// Interfaces are the vendor method names in scope ("handShake"); none:
	// every interface. Only the kinds that answer requests have them.
	Interfaces []string
	// Start is when it starts on the gateway's clock; zero or past: now.
	Start time.Time
	// Duration is how long it lasts; 0: until removed.
	Duration time.Duration
	// Delay is a slow fault's delay per answer (1ms to MaxDelay, served to the
	// millisecond); other kinds have none.
	Delay time.Duration
}

// Fault is a fault held by a Set.
type Fault struct {
	ID string
	Spec
	End time.Time // zero: until removed
}

// Config configures a Set. Zero values mean the defaults given.
type Config struct {
	Clock ccgw.Clock // the gateway's; real
	// Interfaces are the vendor method names a fault may name; nil: any.
	Interfaces []string
	// Kick signs an agent out as a supervisor does; nil: ForceSignOut faults
	// are refused.
	Kick func(id ccgw.AgentID) error
	// Clients returns the agents signed in by clients, for a ForceSignOut of
	// every agent; nil: such a fault must name its agents.
	Clients func() []ccgw.AgentID
	// DropEvents says the session layer asks DropEvent about every event; false:
	// DropEvents faults are refused.
	DropEvents bool
	Log        *slog.Logger // discards
}

// Set holds the faults. It is safe for concurrent use.
type Set struct {
	cfg    Config
	ifaces map[string]bool // nil: any

	held atomic.Int32 // len(faults): 0 lets every question return at once
	mu   sync.RWMutex // guards faults and seq; never held across Kick, a log line or the clock
	// faults are the held faults, in the order they were added.
	faults []*fault
	seq    uint64
}

type fault struct {
	Fault
	agents map[ccgw.AgentID]bool // nil: every agent
	ifaces map[string]bool       // nil: every interface
	timers []ccgw.Timer          // its start and end, stopped when it is removed
}

// New returns a Set holding no fault.
func New(cfg Config) *Set {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Set{cfg: cfg}
	if cfg.Interfaces != nil {
		s.ifaces = make(map[string]bool, len(cfg.Interfaces))
		for _, n := range cfg.Interfaces {
			s.ifaces[n] = true
		}
	}
	return s
}

func badParam(format string, a ...any) error { return ccgw.Errorf(ccgw.RetBadParam, format, a...) }

// ValidateSpec checks what of sp does not depend on a Set (kind, agents,
// which kinds have interfaces and a delay, limits) and returns sp normalised:
// agents sorted and unique. Its errors are *ccgw.Error with ccgw.RetBadParam,
// their cause naming the field: `delay: 31s is not within 1ms and 30s`.
func ValidateSpec(sp Spec) (Spec, error) {
	if !slices.Contains(Kinds, sp.Kind) {
		return sp, badParam("kind: %q is not one of %v", sp.Kind, Kinds)
	}
	if len(sp.Agents) > MaxAgents {
		return sp, badParam("agents: %d of them, at most %d", len(sp.Agents), MaxAgents)
	}
	for i, id := range sp.Agents {
		if id < ccgw.MinAgentID || id > ccgw.MaxAgentID {
			return sp, badParam("agents[%d]: %d is not a work number", i, id)
		}
	}
	sp.Agents = slices.Compact(slices.Sorted(slices.Values(sp.Agents)))
	if len(sp.Interfaces) > 0 && (sp.Kind == ForceSignOut || sp.Kind == DropEvents) {
		return sp, badParam("interfaces: a %s fault acts on agents, not on interfaces", sp.Kind)
	}
	switch {
	case sp.Duration < 0 || sp.Duration > MaxDuration:
		return sp, badParam("duration: %s is not within 0 (until removed) and %s", sp.Duration, MaxDuration)
	case sp.Kind == Slow && (sp.Delay < time.Millisecond || sp.Delay > MaxDelay):
		return sp, badParam("delay: %s is not within 1ms and %s", sp.Delay, MaxDelay)
	case sp.Kind != Slow && sp.Delay != 0:
		return sp, badParam("delay: only a slow fault has one")
	}
	return sp, nil
}

// Validate checks sp as Add does: ValidateSpec, then what this Set allows
// (its interface names, whether it can sign agents out or drop events).
func (s *Set) Validate(sp Spec) (Spec, error) {
	sp, err := ValidateSpec(sp)
	if err != nil {
		return sp, err
	}
	for i, n := range sp.Interfaces {
		if s.ifaces != nil && !s.ifaces[n] {
			return sp, badParam("interfaces[%d]: %q is not an interface (a vendor method name such as handShake)", i, n)
		}
	}
	switch {
	case sp.Kind == ForceSignOut && s.cfg.Kick == nil:
		return sp, badParam("kind: force-signout is not available here")
	case sp.Kind == ForceSignOut && len(sp.Agents) == 0 && s.cfg.Clients == nil:
		return sp, badParam("agents: this store cannot list every agent; name them")
	case sp.Kind == DropEvents && !s.cfg.DropEvents:
		return sp, badParam("kind: drop-events is not available with this store")
	}
	return sp, nil
}

// Add holds a new fault for sp and returns it. It starts at sp.Start (now if
// that is zero or past) and ends after sp.Duration, or when removed. A
// ForceSignOut due now signs its agents out before Add returns. Add fails
// with the errors of Validate, and with one wrapping ErrFull while MaxHeld
// faults are held.
func (s *Set) Add(sp Spec) (Fault, error) {
	sp, err := s.Validate(sp)
	if err != nil {
		return Fault{}, err
	}
	now := s.cfg.Clock.Now()
	if sp.Start.Before(now) {
		sp.Start = now
	}
	f := &fault{Fault: Fault{Spec: sp}}
	if sp.Duration > 0 {
		f.End = sp.Start.Add(sp.Duration)
	}
	if len(sp.Agents) > 0 {
		f.agents = make(map[ccgw.AgentID]bool, len(sp.Agents))
		for _, id := range sp.Agents {
			f.agents[id] = true
		}
	}
	if len(sp.Interfaces) > 0 {
		f.ifaces = make(map[string]bool, len(sp.Interfaces))
		for _, n := range sp.Interfaces {
			f.ifaces[n] = true
		}
	}
	s.mu.Lock()
	if len(s.faults) >= MaxHeld {
		s.mu.Unlock()
		return Fault{}, &ccgw.Error{Code: ccgw.RetBadParam, Err: fmt.Errorf("%w: at most %d", ErrFull, MaxHeld)}
	}
	s.seq++
	f.ID = "f" + strconv.FormatUint(s.seq, 10)
	s.faults = append(s.faults, f)
	s.held.Store(int32(len(s.faults)))
	out := f.copy()
	s.mu.Unlock()

	s.cfg.Log.Info("fault added", "id", out.ID, "kind", string(out.Kind), "agents", len(out.Agents),
		"interfaces", len(out.Interfaces), "start", out.Start, "duration", out.Duration.String())
	// Timers are armed after the fault is in the list, outside the lock: a
	// fake clock may fire them at once, from here.
	var timers []ccgw.Timer
	if !f.End.IsZero() {
		timers = append(timers, s.cfg.Clock.AfterFunc(f.End.Sub(now), func() { s.end(f.ID) }))
	}
	if sp.Kind == ForceSignOut {
		if wait := sp.Start.Sub(now); wait > 0 {
			timers = append(timers, s.cfg.Clock.AfterFunc(wait, func() { s.kick(f) }))
		} else {
			s.kick(f)
		}
	}
	s.mu.Lock()
	f.timers = timers
	s.mu.Unlock()
	return out, nil
}

// copy returns f's Fault with its slices copied; the Set's lock must be held.
func (f *fault) copy() Fault {
	out := f.Fault
	out.Agents = slices.Clone(f.Agents)
	out.Interfaces = slices.Clone(f.Interfaces)
	return out
}

// kick signs out f's agents (every client's without a list) if f is still held.
func (s *Set) kick(f *fault) {
	s.mu.RLock()
	held := slices.Contains(s.faults, f)
	s.mu.RUnlock()
	if !held {
		return
	}
	ids := f.Agents
	if len(ids) == 0 {
		ids = s.cfg.Clients()
	}
	n := 0
	for _, id := range ids {
		if err := s.cfg.Kick(id); err == nil {
			n++
		}
	}
	s.cfg.Log.Info("fault signed agents out", "id", f.ID, "agents", n)
}

// end removes fault id at its end.
func (s *Set) end(id string) {
	if s.remove(id) {
		s.cfg.Log.Info("fault ended", "id", id)
	}
}

// Remove removes fault id, and reports whether it was held.
func (s *Set) Remove(id string) bool {
	ok := s.remove(id)
	if ok {
		s.cfg.Log.Info("fault removed", "id", id)
	}
	return ok
}

func (s *Set) remove(id string) bool {
	s.mu.Lock()
	i := slices.IndexFunc(s.faults, func(f *fault) bool { return f.ID == id })
	if i < 0 {
		s.mu.Unlock()
		return false
	}
	f := s.faults[i]
	s.faults = slices.Delete(s.faults, i, i+1)
	s.held.Store(int32(len(s.faults)))
	timers := f.timers
	f.timers = nil
	s.mu.Unlock()
	for _, t := range timers {
		t.Stop()
	}
	return true
}

// List returns the faults held, in the order they were added.
func (s *Set) List() []Fault {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Fault, 0, len(s.faults))
	for _, f := range s.faults {
		out = append(out, f.copy())
	}
	return out
}

// Active returns how many faults of each kind are on now (started, not
// ended), every kind listed.
func (s *Set) Active() map[Kind]int {
	out := make(map[Kind]int, len(Kinds))
	for _, k := range Kinds {
		out[k] = 0
	}
	if s.held.Load() == 0 {
		return out
	}
	now := s.cfg.Clock.Now()
	s.mu.RLock()
	for _, f := range s.faults {
		if f.on(now) {
			out[f.Kind]++
		}
	}
	s.mu.RUnlock()
	return out
}

// on reports whether f is on at now.
func (f *fault) on(now time.Time) bool {
	return !now.Before(f.Start) && (f.End.IsZero() || now.Before(f.End))
}

func (f *fault) covers(id ccgw.AgentID) bool { return f.agents == nil || f.agents[id] }
