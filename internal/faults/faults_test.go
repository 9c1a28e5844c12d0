package faults

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
)

var tStart = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// tKicks records the agents a Set signs out.
type tKicks struct {
	mu  sync.Mutex
	ids []ccgw.AgentID
}

func (k *tKicks) kick(id ccgw.AgentID) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.ids = append(k.ids, id)
	return nil
}

func (k *tKicks) list() []ccgw.AgentID {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.ids)
}

func testSet(tb testing.TB) (*Set, *clock.Virtual, *tKicks) {
	fc := clock.NewVirtual(tStart)
	k := &tKicks{}
	s := New(Config{Clock: fc, Interfaces: []string{"handShake", "getAgentEvent", "login", "sayBusy"},
		Kick: k.kick, Clients: func() []ccgw.AgentID { return []ccgw.AgentID{1001, 1002, 1003} }, DropEvents: true})
	return s, fc, k
}

func mustAdd(tb testing.TB, s *Set, sp Spec) Fault {
	tb.Helper()
	f, err := s.Add(sp)
	if err != nil {
		tb.Fatalf("Add(%+v): %v", sp, err)
	}
	return f
}

// TestAnswerKinds: dr-switchover and unavailable answer their retcode in scope
// (agent and interface), only while on, and nothing outside it.
func TestAnswerKinds(t *testing.T) {
	for _, tc := range []struct {
		kind Kind
		code ccgw.Retcode
	}{{DRSwitchover, ccgw.RetSwitchingOver}, {Unavailable, ccgw.RetInternal}} {
		t.Run(string(tc.kind), func(t *testing.T) {
			s, fc, _ := testSet(t)
			if s.Held() {
				t.Fatal("held before any Add")
			}
			f := mustAdd(t, s, Spec{Kind: tc.kind, Agents: []ccgw.AgentID{1001}, Interfaces: []string{"handShake"},
				Start: tStart.Add(10 * time.Second), Duration: 30 * time.Second})
			if f.ID != "f1" || !f.Start.Equal(tStart.Add(10*time.Second)) || !f.End.Equal(tStart.Add(40*time.Second)) {
				t.Fatalf("fault %+v", f)
			}
			check := func(when string, id ccgw.AgentID, method string, want ccgw.Retcode) {
				t.Helper()
				if got := s.Check(id, method).Code; got != want {
					t.Errorf("%s: Check(%d, %s) = %q, want %q", when, id, method, got, want)
				}
			}
			check("before its start", 1001, "handShake", "")
			fc.Advance(10 * time.Second)
			check("on", 1001, "handShake", tc.code)
			check("another agent", 1002, "handShake", "")
			check("another interface", 1001, "getAgentEvent", "")
			if a := s.Active(); a[tc.kind] != 1 || len(a) != len(Kinds) {
				t.Errorf("Active() = %v", a)
			}
			fc.Advance(30 * time.Second)
			check("after its end", 1001, "handShake", "")
			if s.Held() || len(s.List()) != 0 {
				t.Errorf("still held after its end: %v", s.List())
			}
		})
	}
}

// TestGUIDExpiryAndSlow: a guid-expiry fault tells when the sessions it
// expires were signed in; slow faults delay by the longest on; with no scope,
// every agent and interface.
func TestGUIDExpiryAndSlow(t *testing.T) {
	s, fc, _ := testSet(t)
	mustAdd(t, s, Spec{Kind: GUIDExpiry})
	fc.Advance(time.Second)
	mustAdd(t, s, Spec{Kind: Slow, Delay: 2 * time.Second})
	mustAdd(t, s, Spec{Kind: Slow, Delay: 5 * time.Second, Agents: []ccgw.AgentID{1002}})
	e := s.Check(1001, "sayBusy")
	if !e.SignedInBefore.Equal(tStart) || e.Delay != 2*time.Second || e.Code != "" {
		t.Errorf("1001: %+v", e)
	}
	if e := s.Check(1002, "handShake"); e.Delay != 5*time.Second {
		t.Errorf("1002: %+v", e)
	}
	if !s.Remove("f1") || s.Remove("f1") || s.Remove("f9") {
		t.Error("Remove: want true once for a held fault, false after and for an unknown one")
	}
	if e := s.Check(1001, "sayBusy"); !e.SignedInBefore.IsZero() {
		t.Errorf("after removing guid-expiry: %+v", e)
	}
}

// TestForceSignOut: the agents named are signed out once, at its start; with
// none named, every client's; a fault removed before its start signs nobody out.
func TestForceSignOut(t *testing.T) {
	s, fc, k := testSet(t)
	mustAdd(t, s, Spec{Kind: ForceSignOut, Agents: []ccgw.AgentID{1002, 1001, 1002}, Start: tStart.Add(time.Minute)})
	if len(k.list()) != 0 {
		t.Fatalf("kicked before its start: %v", k.list())
	}
	fc.Advance(time.Minute)
	if got := k.list(); !slices.Equal(got, []ccgw.AgentID{1001, 1002}) {
		t.Fatalf("kicked %v, want 1001 1002", got)
	}
	fc.Advance(time.Hour)
	if got := k.list(); len(got) != 2 {
		t.Fatalf("kicked again: %v", got)
	}
	f := mustAdd(t, s, Spec{Kind: ForceSignOut, Start: fc.Now().Add(time.Second)})
	s.Remove(f.ID)
	fc.Advance(time.Second)
	if got := k.list(); len(got) != 2 {
		t.Fatalf("a removed fault kicked: %v", got)
	}
	mustAdd(t, s, Spec{Kind: ForceSignOut}) // now: before Add returns
	if got := k.list(); !slices.Equal(got[2:], []ccgw.AgentID{1001, 1002, 1003}) {
		t.Fatalf("kicked %v, want every client", got)
	}
}

// TestDropEvents: events of agents in scope are dropped while it is on.
func TestDropEvents(t *testing.T) {
	s, fc, _ := testSet(t)
	ev := ccgw.Event{Type: ccgw.EvReady}
	if s.DropEvent(1001, ev) {
		t.Fatal("dropped with no fault")
	}
	mustAdd(t, s, Spec{Kind: DropEvents, Agents: []ccgw.AgentID{1001}, Duration: time.Minute})
	mustAdd(t, s, Spec{Kind: Slow, Delay: time.Second}) // another kind drops nothing
	if !s.DropEvent(1001, ev) || s.DropEvent(1002, ev) {
		t.Error("want 1001's event dropped, 1002's kept")
	}
	if e := s.Check(1001, "getAgentEvent"); e.Code != "" {
		t.Errorf("drop-events answered a request: %+v", e)
	}
	fc.Advance(time.Minute)
	if s.DropEvent(1001, ev) {
		t.Error("dropped after its end")
	}
}

// TestValidate: every bad spec is 000-002 with an error naming the field.
func TestValidate(t *testing.T) {
	s, _, _ := testSet(t)
	many := make([]ccgw.AgentID, MaxAgents+1)
	for i := range many {
		many[i] = ccgw.AgentID(1001 + i)
	}
	for _, tc := range []struct {
		sp    Spec
		field string
	}{
		{Spec{Kind: "meltdown"}, "kind"},
		{Spec{Kind: Slow}, "delay"},
		{Spec{Kind: Slow, Delay: 31 * time.Second}, "delay"},
		{Spec{Kind: Unavailable, Delay: time.Second}, "delay"},
		{Spec{Kind: Unavailable, Agents: []ccgw.AgentID{1001, 7}}, "agents[1]"},
		{Spec{Kind: Unavailable, Agents: many}, "agents"},
		{Spec{Kind: Unavailable, Interfaces: []string{"handShake", "handshake"}}, "interfaces[1]"},
		{Spec{Kind: DropEvents, Interfaces: []string{"getAgentEvent"}}, "interfaces"},
		{Spec{Kind: ForceSignOut, Interfaces: []string{"handShake"}}, "interfaces"},
		{Spec{Kind: Unavailable, Duration: -time.Second}, "duration"},
		{Spec{Kind: Unavailable, Duration: 25 * time.Hour}, "duration"},
	} {
		_, err := s.Add(tc.sp)
		if ccgw.CodeOf(err) != ccgw.RetBadParam || !strings.HasPrefix(errors.Unwrap(err).Error(), tc.field+":") {
			t.Errorf("Add(%+v) = %v, want 000-002 about %s", tc.sp, err, tc.field)
		}
	}
	bare := New(Config{Clock: clock.NewVirtual(tStart)})
	for _, sp := range []Spec{{Kind: ForceSignOut}, {Kind: DropEvents}} {
		if _, err := bare.Add(sp); ccgw.CodeOf(err) != ccgw.RetBadParam {
			t.Errorf("%s without its hooks: %v", sp.Kind, err)
		}
	}
	if s.Held() {
		t.Fatal("a refused spec is held")
	}
}

// TestMaxHeld: at most MaxHeld faults; the next is refused with ErrFull until
// one is removed.
func TestMaxHeld(t *testing.T) {
	s, _, _ := testSet(t)
	for range MaxHeld {
		mustAdd(t, s, Spec{Kind: Unavailable, Agents: []ccgw.AgentID{1001}})
	}
	if _, err := s.Add(Spec{Kind: Unavailable}); !errors.Is(err, ErrFull) || ccgw.CodeOf(err) != ccgw.RetBadParam {
		t.Fatalf("Add beyond MaxHeld: %v", err)
	}
	s.Remove("f50")
	if f := mustAdd(t, s, Spec{Kind: Unavailable}); f.ID != "f101" {
		t.Fatalf("next fault %s, want f101", f.ID)
	}
	if n := len(s.List()); n != MaxHeld {
		t.Fatalf("%d held", n)
	}
}

// TestNothingHeldAllocs: with no fault held, the questions allocate nothing.
func TestNothingHeldAllocs(t *testing.T) {
	s, _, _ := testSet(t)
	ev := ccgw.Event{Type: ccgw.EvReady}
	if n := testing.AllocsPerRun(100, func() {
		if s.Held() || s.Check(1001, "handShake") != (Effect{}) || s.DropEvent(1001, ev) {
			t.Fatal("effect with nothing held")
		}
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
