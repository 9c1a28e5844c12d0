package session

// Rest timers and event queues across restarts, driven with agent.Apply as
// the HTTP handlers do, on a node kept in a bbolt file as --store bolt runs.

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/store/bolt"
	"github.com/ccgw/ccgw/internal/store/mem"
)

// rtStart is where the fake clocks start: on a whole second, so that the 1s
// sweep tick of the default 2m timeout divides it.
var rtStart = time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)

// rtGateway is a node on a mem.Shared kept in a bbolt file in dir, as the
// gateway runs it; reopening dir is a restart.
type rtGateway struct {
	m     *Service
	db    *mem.Shared
	st    *bolt.Store
	clk   *clock.Virtual
	dir   string
	idle  bool // Config.RestTimeoutIdle
	mu    sync.Mutex
	taped map[ccgw.AgentID][]ccgw.Event // every event queued, per agent (Config.Tap)
}

// rtOpen starts a gateway on a new store in a fresh directory.
func rtOpen(tb testing.TB, idle bool) *rtGateway {
	tb.Helper()
	g := &rtGateway{clk: clock.NewVirtual(rtStart), dir: tb.TempDir(), idle: idle}
	g.start(tb)
	return g
}

// start opens the store in g.dir and a node on it, which restores what the
// store holds; it returns how many sessions were restored.
func (g *rtGateway) start(tb testing.TB) int {
	tb.Helper()
	st, err := bolt.Open(g.dir)
	if err != nil {
		tb.Fatalf("bolt.Open: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	g.mu.Lock()
	g.taped = map[ccgw.AgentID][]ccgw.Event{}
	g.mu.Unlock()
	set := ccgw.SessionSettings{
		Directory:       agent.Default(),
		Clock:           g.clk,
		RestTimeoutIdle: g.idle,
		Tap: func(ev ccgw.Event) {
			id, _ := ccgw.ParseAgentID(ev.WorkNo)
			g.mu.Lock()
			g.taped[id] = append(g.taped[id], ev)
			g.mu.Unlock()
		},
	}
	set.Defaults()
	db, n, err := mem.OpenShared(mem.Durable{Log: st, Deadline: func(s *ccgw.Session) int64 {
		return set.Deadline(g.clk.Now(), s.Mode)
	}})
	if err != nil {
		tb.Fatalf("OpenShared: %v", err)
	}
	m, err := New(Config{SessionSettings: set, Store: db, Local: true})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	g.m, g.db, g.st = m, db, st
	return n
}

// restart closes the store with what waits to be committed uncommitted (a
// crash: deliveries not yet flushed come back) and starts a new node on it;
// it returns how many sessions were restored.
func (g *rtGateway) restart(tb testing.TB) int {
	tb.Helper()
	if err := g.st.Close(); err != nil {
		tb.Fatalf("closing the store: %v", err)
	}
	return g.start(tb)
}

// produced returns the events queued for id since the last (re)start.
func (g *rtGateway) produced(id ccgw.AgentID) []ccgw.Event {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]ccgw.Event(nil), g.taped[id]...)
}

// rtSignIn signs agent id in (idle, polling) and returns its GUID.
func rtSignIn(tb testing.TB, g *rtGateway, id ccgw.AgentID) string {
	tb.Helper()
	s, err := g.m.SignIn(context.Background(), ccgw.SignIn{
		Op: "login", Password: "secret", Status: ccgw.StateIdle,
		Session: ccgw.Session{Agent: id, Phone: "70001", MediaType: "TTF"},
	})
	if err != nil {
		tb.Fatalf("SignIn %d: %v", id, err)
	}
	return s.GUID
}

// rtApply runs a state request on agent id's session, as the HTTP handlers do.
func rtApply(tb testing.TB, g *rtGateway, id ccgw.AgentID, guid string, req agent.Request) {
	tb.Helper()
	_, err := g.m.Update(context.Background(), id, guid, func(s *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
		return agent.Apply(s, req, now)
	})
	if err != nil {
		tb.Fatalf("Update(%d, %+v): %v", id, req, err)
	}
}

// rtPoll takes agent id's next event without waiting (the fake clock fires a
// zero wait at once); nil when none is queued.
func rtPoll(tb testing.TB, g *rtGateway, id ccgw.AgentID, guid string) *ccgw.Event {
	tb.Helper()
	ev, _, err := g.m.Poll(context.Background(), id, guid, 0)
	if err != nil {
		tb.Fatalf("Poll %d: %v", id, err)
	}
	return ev
}

// rtDrain polls agent id until no event is queued and returns what it got.
func rtDrain(tb testing.TB, g *rtGateway, id ccgw.AgentID, guid string) []ccgw.Event {
	tb.Helper()
	var out []ccgw.Event
	for {
		ev := rtPoll(tb, g, id, guid)
		if ev == nil {
			return out
		}
		out = append(out, *ev)
	}
}

func rtTypes(evs []ccgw.Event) []string {
	out := []string{}
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

// rtSame fails tb unless got and want are the same events: type, time, agent,
// content (nil and JSON null alike) and Seq.
func rtSame(tb testing.TB, what string, got, want []ccgw.Event) {
	tb.Helper()
	norm := func(evs []ccgw.Event) []ccgw.Event {
		out := make([]ccgw.Event, len(evs))
		for i, ev := range evs {
			if string(ev.Content) == "null" {
				ev.Content = nil
			}
			out[i] = ev
		}
		return out
	}
	if !reflect.DeepEqual(norm(got), norm(want)) {
		tb.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// rtState returns agent id's session.
func rtState(tb testing.TB, g *rtGateway, id ccgw.AgentID, guid string) ccgw.Session {
	tb.Helper()
	s, err := g.m.Session(context.Background(), id, guid)
	if err != nil {
		tb.Fatalf("Session %d: %v", id, err)
	}
	return s
}

// rtAdvance moves the fake clock by d and sweeps at the new time.
func rtAdvance(g *rtGateway, d time.Duration) {
	g.clk.Advance(d)
	g.m.Sweep(g.clk.Now())
}

// rtRestedAgent signs 1001 in, drains its sign-in events, puts it in a rest of
// d with cause 7, and drains AgentState_SetRest_Success.
func rtRestedAgent(tb testing.TB, g *rtGateway, d time.Duration) string {
	tb.Helper()
	guid := rtSignIn(tb, g, 1001)
	if got := rtTypes(rtDrain(tb, g, 1001, guid)); !reflect.DeepEqual(got, []string{ccgw.EvInService, ccgw.EvReady}) {
		tb.Fatalf("sign-in events %v", got)
	}
	rtApply(tb, g, 1001, guid, agent.Request{Op: agent.Rest, Reason: 7, RestTime: d})
	evs := rtDrain(tb, g, 1001, guid)
	if len(evs) != 1 || evs[0].Type != ccgw.EvSetRestSuccess || string(evs[0].Content) != `{"reason":"7"}` {
		tb.Fatalf("rest events %+v, want one AgentState_SetRest_Success {\"reason\":\"7\"}", evs)
	}
	return guid
}

// rtExpect polls 1001 until nothing is queued and fails tb unless it got
// exactly the events of types want, in order.
func rtExpect(tb testing.TB, g *rtGateway, guid, when string, want ...string) []ccgw.Event {
	tb.Helper()
	evs := rtDrain(tb, g, 1001, guid)
	if want == nil {
		want = []string{}
	}
	if got := rtTypes(evs); !reflect.DeepEqual(got, want) {
		tb.Fatalf("%s: events %v, want %v", when, got, want)
	}
	return evs
}

// TestRestTimeoutReminds checks the spec's rest timer (interfaces.md §13,
// events.md §3.1): nothing before the time is up, then exactly one
// AgentState_Rest_Timeout with null content, and the agent stays in rest.
func TestRestTimeoutReminds(t *testing.T) {
	g := rtOpen(t, false)
	guid := rtRestedAgent(t, g, 5*time.Second)

	rtAdvance(g, 4*time.Second)
	rtExpect(t, g, guid, "after 4s of a 5s rest")

	rtAdvance(g, 1*time.Second+time.Millisecond)
	evs := rtExpect(t, g, guid, "after 5.001s", ccgw.EvRestTimeout)
	if c := string(evs[0].Content); c != "" && c != "null" {
		t.Errorf("Rest_Timeout content %s, want null", c)
	}
	if evs[0].GenTime != ccgw.Millis(g.clk.Now()) || evs[0].WorkNo != "1001" {
		t.Errorf("Rest_Timeout %+v: want eventGenTime %d, workNo 1001", evs[0], ccgw.Millis(g.clk.Now()))
	}
	s := rtState(t, g, 1001, guid)
	if s.State != ccgw.StateRest || s.StateReason != 7 {
		t.Errorf("after the reminder: state %d reason %d, want rest (8) with cause 7", s.State, s.StateReason)
	}
	if s.RestUntil != 0 {
		t.Errorf("after the reminder RestUntil = %d, want 0 (reminded)", s.RestUntil)
	}

	// Once only: later sweeps remind no more.
	for i := 0; i < 3; i++ {
		rtAdvance(g, 10*time.Second)
	}
	rtExpect(t, g, guid, "later sweeps")
	if s := rtState(t, g, 1001, guid); s.State != ccgw.StateRest {
		t.Errorf("later: state %d, want rest", s.State)
	}
}

// TestRestTimeoutOnTheDot checks the boundary: the reminder comes at exactly
// RestTime, not one tick later.
func TestRestTimeoutOnTheDot(t *testing.T) {
	g := rtOpen(t, false)
	guid := rtRestedAgent(t, g, 5*time.Second)
	rtAdvance(g, 5*time.Second-time.Millisecond)
	rtExpect(t, g, guid, "1ms before the end")
	rtAdvance(g, time.Millisecond)
	rtExpect(t, g, guid, "at the end", ccgw.EvRestTimeout)
}

// TestRestProlongRearms checks that a prolonged rest runs from the prolong: the
// first rest's timer is stale and ignored, the new one reminds once.
func TestRestProlongRearms(t *testing.T) {
	g := rtOpen(t, false)
	guid := rtRestedAgent(t, g, 5*time.Second)

	rtAdvance(g, 3*time.Second)
	rtApply(t, g, 1001, guid, agent.Request{Op: agent.Rest, Reason: 9, RestTime: 5 * time.Second, Prolong: true})
	evs := rtExpect(t, g, guid, "prolong", ccgw.EvSetRestSuccess)
	if string(evs[0].Content) != `{"reason":"9"}` {
		t.Errorf("prolong SetRest_Success content %s, want {\"reason\":\"9\"}", evs[0].Content)
	}

	rtAdvance(g, 2*time.Second+500*time.Millisecond) // 5.5s: the first rest's end
	rtExpect(t, g, guid, "at the first rest's end")

	rtAdvance(g, 2*time.Second+501*time.Millisecond) // 8.001s: the prolonged rest's end
	rtExpect(t, g, guid, "at the prolonged rest's end", ccgw.EvRestTimeout)
	if s := rtState(t, g, 1001, guid); s.State != ccgw.StateRest || s.StateReason != 9 {
		t.Errorf("state %d reason %d, want rest with cause 9", s.State, s.StateReason)
	}
	rtAdvance(g, time.Minute)
	rtExpect(t, g, guid, "a minute later")
}

// TestRestCancelled checks that leaving rest before its end (cancelRest,
// sayFree, forceBusy) cancels the reminder, and that a new rest begun after a
// cancel is not reminded by the cancelled one's timer.
func TestRestCancelled(t *testing.T) {
	for _, tc := range []struct {
		name   string
		op     agent.Op
		events []string
	}{
		{"cancelRest", agent.CancelRest, []string{ccgw.EvCancelRestSuccess}},
		{"sayFree", agent.SayFree, []string{ccgw.EvCancelRestSuccess, ccgw.EvReady}},
		{"forceBusy", agent.ForceBusy, []string{ccgw.EvForceSetNotReady, ccgw.EvSetNotReadySuccess}},
		{"forceIdle", agent.ForceReady, []string{ccgw.EvForceReady, ccgw.EvReady}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := rtOpen(t, false)
			guid := rtRestedAgent(t, g, 5*time.Second)
			rtAdvance(g, 2*time.Second)
			rtApply(t, g, 1001, guid, agent.Request{Op: tc.op})
			rtExpect(t, g, guid, tc.name, tc.events...)

			rtAdvance(g, 10*time.Second)
			rtExpect(t, g, guid, "after the cancelled rest's end")
			if s := rtState(t, g, 1001, guid); s.State == ccgw.StateRest {
				t.Fatalf("state rest after %s", tc.name)
			}
		})
	}

	t.Run("rest again after cancel", func(t *testing.T) {
		g := rtOpen(t, false)
		guid := rtRestedAgent(t, g, 5*time.Second)
		rtAdvance(g, 1*time.Second)
		rtApply(t, g, 1001, guid, agent.Request{Op: agent.CancelRest})
		rtApply(t, g, 1001, guid, agent.Request{Op: agent.Rest, RestTime: 10 * time.Second})
		rtExpect(t, g, guid, "cancel and rest again", ccgw.EvCancelRestSuccess, ccgw.EvSetRestSuccess)

		rtAdvance(g, 5*time.Second) // 6s: the first rest's end, and the agent is resting again
		rtExpect(t, g, guid, "at the first rest's end")
		rtAdvance(g, 5*time.Second) // 11s: the second rest's end
		rtExpect(t, g, guid, "at the second rest's end", ccgw.EvRestTimeout)
	})
}

// TestRestTimeoutIdle checks --rest-timeout idle: the reminder is followed by
// AgentState_Ready and the agent is idle.
func TestRestTimeoutIdle(t *testing.T) {
	g := rtOpen(t, true)
	guid := rtRestedAgent(t, g, 5*time.Second)
	rtAdvance(g, 4*time.Second)
	rtExpect(t, g, guid, "after 4s")
	rtAdvance(g, 1*time.Second+time.Millisecond)
	rtExpect(t, g, guid, "after 5.001s", ccgw.EvRestTimeout, ccgw.EvReady)
	s := rtState(t, g, 1001, guid)
	if s.State != ccgw.StateIdle || s.StateReason != 0 || s.RestUntil != 0 {
		t.Errorf("state %d reason %d RestUntil %d, want idle, 0, 0", s.State, s.StateReason, s.RestUntil)
	}
	if s.StateSince != ccgw.Millis(g.clk.Now()) {
		t.Errorf("StateSince %d, want the timeout's time %d", s.StateSince, ccgw.Millis(g.clk.Now()))
	}
	rtAdvance(g, time.Minute)
	rtExpect(t, g, guid, "a minute later")
}

// TestRestTimerSurvivesRestart checks that a rest timer is restored with its
// session (docs/decisions.md "Agent states") and reminds once after the restart.
func TestRestTimerSurvivesRestart(t *testing.T) {
	g := rtOpen(t, false)
	guid := rtRestedAgent(t, g, 5*time.Second)
	rtAdvance(g, 2*time.Second)
	g.db.Flush()
	if n := g.restart(t); n != 1 {
		t.Fatalf("restored %d sessions, want 1", n)
	}
	rtAdvance(g, 2*time.Second)
	rtExpect(t, g, guid, "4s after the rest began")
	rtAdvance(g, 1*time.Second+time.Millisecond)
	rtExpect(t, g, guid, "5.001s after the rest began", ccgw.EvRestTimeout)
	if s := rtState(t, g, 1001, guid); s.State != ccgw.StateRest {
		t.Errorf("state %d, want rest", s.State)
	}
}

// TestEventsSurviveRestart checks persisted event queues (docs/decisions.md
// "Events"): events nobody polled come back after a restart with the same Seq
// and content; what was polled and flushed does not; a poll not yet flushed is
// delivered again (at least once); numbering goes on after the highest Seq,
// also when every event had been delivered.
func TestEventsSurviveRestart(t *testing.T) {
	g := rtOpen(t, false)
	g1 := rtSignIn(t, g, 1001)
	rtApply(t, g, 1001, g1, agent.Request{Op: agent.SayBusy, Reason: 201})
	g.clk.Advance(time.Second)
	rtApply(t, g, 1001, g1, agent.Request{Op: agent.Rest, Reason: 7, RestTime: time.Hour})
	g2 := rtSignIn(t, g, 1002)
	rtApply(t, g, 1002, g2, agent.Request{Op: agent.SayWork})

	a1, a2 := g.produced(1001), g.produced(1002)
	if got := rtTypes(a1); !reflect.DeepEqual(got, []string{ccgw.EvInService, ccgw.EvReady, ccgw.EvSetNotReadySuccess, ccgw.EvSetRestSuccess}) {
		t.Fatalf("1001 produced %v", got)
	}
	for _, ev := range append(a1, a2...) {
		if ev.Seq == 0 {
			t.Fatalf("event without Seq: %+v", ev)
		}
	}

	// Restart 1: nothing was polled; every event comes back as it was.
	if n := g.restart(t); n != 2 {
		t.Fatalf("restart 1 restored %d sessions, want 2", n)
	}
	rtSame(t, "1002 after restart 1", rtDrain(t, g, 1002, g2), a2)
	var got1 []ccgw.Event
	for i := 0; i < 2; i++ {
		ev := rtPoll(t, g, 1001, g1)
		if ev == nil {
			t.Fatalf("1001 after restart 1: poll %d empty", i+1)
		}
		got1 = append(got1, *ev)
	}
	rtSame(t, "1001's first two after restart 1", got1, a1[:2])
	g.db.Flush()

	// Restart 2: only 1001's last two come back; poll one without flushing.
	if n := g.restart(t); n != 2 {
		t.Fatalf("restart 2 restored %d sessions, want 2", n)
	}
	if ev := rtPoll(t, g, 1002, g2); ev != nil {
		t.Fatalf("1002 after restart 2: %+v, want nothing (all delivered)", ev)
	}
	ev := rtPoll(t, g, 1001, g1)
	if ev == nil {
		t.Fatal("1001 after restart 2: no event")
	}
	rtSame(t, "1001's third after restart 2", []ccgw.Event{*ev}, a1[2:3])

	// Restart 3: the unflushed poll is delivered again, then the fourth.
	g.restart(t)
	rtSame(t, "1001 after restart 3", rtDrain(t, g, 1001, g1), a1[2:])
	if ev := rtPoll(t, g, 1002, g2); ev != nil {
		t.Fatalf("1002 after restart 3: %+v", ev)
	}

	// New events number on from the highest Seq, for 1001 (last events just
	// restored) and 1002 (every event delivered, none stored).
	g.clk.Advance(time.Second)
	rtApply(t, g, 1001, g1, agent.Request{Op: agent.CancelRest})
	rtApply(t, g, 1002, g2, agent.Request{Op: agent.CancelWork})
	n1 := rtDrain(t, g, 1001, g1)
	n2 := rtDrain(t, g, 1002, g2)
	if len(n1) != 1 || n1[0].Type != ccgw.EvCancelRestSuccess || n1[0].Seq != a1[len(a1)-1].Seq+1 {
		t.Errorf("1001's new event %+v, want AgentState_CancelRest_Success with Seq %d", n1, a1[len(a1)-1].Seq+1)
	}
	if len(n2) != 1 || n2[0].Type != ccgw.EvCancelWorkSuccess || n2[0].Seq != a2[len(a2)-1].Seq+1 {
		t.Errorf("1002's new event %+v, want AgentState_CancelWork_Success with Seq %d", n2, a2[len(a2)-1].Seq+1)
	}
	// The sessions themselves came back with their state.
	if s := rtState(t, g, 1001, g1); s.State != ccgw.StateIdle {
		t.Errorf("1001 state %d, want idle", s.State)
	}
}

// TestEventsDroppedWithSession checks that a restart does not bring back the
// events of a sign-in that ended (logout): its agent, signed in again, gets only
// its new sign-in's events, numbered from 1.
func TestEventsDroppedWithSession(t *testing.T) {
	g := rtOpen(t, false)
	guid := rtSignIn(t, g, 1001)
	rtApply(t, g, 1001, guid, agent.Request{Op: agent.SayBusy})
	if err := g.m.SignOut(context.Background(), 1001, guid, ccgw.CauseLogout); err != nil {
		t.Fatal(err)
	}
	guid = rtSignIn(t, g, 1001)
	g.restart(t)
	evs := rtDrain(t, g, 1001, guid)
	if got := rtTypes(evs); !reflect.DeepEqual(got, []string{ccgw.EvInService, ccgw.EvReady}) {
		t.Fatalf("events after restart %v, want only the new sign-in's", got)
	}
	if evs[0].Seq != 1 || evs[1].Seq != 2 {
		t.Errorf("Seqs %d, %d, want 1, 2", evs[0].Seq, evs[1].Seq)
	}
}
