package sessiontest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
)

// hookLog records what a Service tells Config.OnChange, Tap and OnSignOut.
// Its methods are safe for concurrent use.
type hookLog struct {
	mu       sync.Mutex // guards changes, events and signOuts
	changes  []ccgw.Session
	events   []ccgw.Event
	signOuts []string // "<agent>:<cause>"
}

func (h *hookLog) signOut(id ccgw.AgentID, c ccgw.SignOutCause) {
	h.mu.Lock()
	h.signOuts = append(h.signOuts, fmt.Sprintf("%d:%s", id, c))
	h.mu.Unlock()
}

func (h *hookLog) change(s ccgw.Session) {
	h.mu.Lock()
	h.changes = append(h.changes, s)
	h.mu.Unlock()
}

func (h *hookLog) tap(ev ccgw.Event) {
	h.mu.Lock()
	h.events = append(h.events, ev)
	h.mu.Unlock()
}

// delivered has the Service report what it has not yet (Node.Deliver).
func (e *env) delivered() {
	if e.node.Deliver != nil {
		e.node.Deliver()
	}
}

// statesOf returns the states OnChange was told of for agent id, in order.
func (e *env) statesOf(id ccgw.AgentID) []ccgw.AgentState {
	e.delivered()
	e.hooks.mu.Lock()
	defer e.hooks.mu.Unlock()
	var out []ccgw.AgentState
	for _, s := range e.hooks.changes {
		if s.Agent == id {
			out = append(out, s.State)
		}
	}
	return out
}

// tapped returns the events Tap saw for agent id, in order.
func (e *env) tapped(id ccgw.AgentID) []ccgw.Event {
	e.delivered()
	e.hooks.mu.Lock()
	defer e.hooks.mu.Unlock()
	var out []ccgw.Event
	for _, ev := range e.hooks.events {
		if ev.WorkNo == id.String() {
			out = append(out, ev)
		}
	}
	return out
}

func (e *env) wantStates(id ccgw.AgentID, want ...ccgw.AgentState) {
	e.t.Helper()
	if got := e.statesOf(id); !slices.Equal(got, want) {
		e.t.Fatalf("OnChange told agent %d's states %v, want %v", id, got, want)
	}
}

func setState(st ccgw.AgentState, typ string) func(*ccgw.Session, time.Time) ([]ccgw.Emit, error) {
	return func(s *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
		s.State, s.StateSince = st, ccgw.Millis(now)
		return []ccgw.Emit{{Type: typ}}, nil
	}
}

// testOnChange: OnChange is told of a sign-in, of every state change and of
// every way a session ends (logout, kick, expiry; State StateSignedOut), with
// the session as it is then, on whichever node made the change; not of a
// refused Update.
func testOnChange(t *testing.T, e *env) {
	const id = 1101
	s := e.signIn(id)
	e.wantStates(id, ccgw.StateIdle)
	if _, err := e.svc.Update(context.Background(), id, s.GUID, setState(ccgw.StateBusy, ccgw.EvSetNotReadySuccess)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UpdateAny(context.Background(), id, setState(ccgw.StateIdle, ccgw.EvReady)); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Update(context.Background(), id, s.GUID, func(*ccgw.Session, time.Time) ([]ccgw.Emit, error) {
		return nil, ccgw.Fail(ccgw.RetSetStateFailed)
	})
	wantCode(t, "refused update", err, ccgw.RetSetStateFailed)
	e.wantStates(id, ccgw.StateIdle, ccgw.StateBusy, ccgw.StateIdle)
	e.delivered()
	e.hooks.mu.Lock()
	last := e.hooks.changes[len(e.hooks.changes)-1]
	e.hooks.mu.Unlock()
	if last.Agent != id || last.Gen != s.Gen || !slices.Equal(last.Skills, []int{1, 2}) || !last.TalkRight {
		t.Fatalf("OnChange's session %+v, want agent %d, gen %d, skills [1 2], talk right", last, id, s.Gen)
	}
	if err := e.svc.SignOut(context.Background(), id, s.GUID, ccgw.CauseLogout); err != nil {
		t.Fatal(err)
	}
	e.wantStates(id, ccgw.StateIdle, ccgw.StateBusy, ccgw.StateIdle, ccgw.StateSignedOut)

	e.signIn(id + 1)
	if err := e.svc.Kick(context.Background(), id+1, ccgw.CauseForceLogout); err != nil {
		t.Fatal(err)
	}
	e.wantStates(id+1, ccgw.StateIdle, ccgw.StateSignedOut)

	e.signIn(id + 2)
	e.advance(e.cfg.Timeout + 2*e.cfg.Tick)
	if e.live(id + 2) {
		t.Fatal("a silent session outlived its timeout")
	}
	e.wantStates(id+2, ccgw.StateIdle, ccgw.StateSignedOut)
}

// testTap: Tap sees every event queued for any agent, the same events with the
// same sequence numbers that its client polls, in order per agent, the
// AgentOther_ShutdownService of a session that ended included.
func testTap(t *testing.T, e *env) {
	const a, b = 1111, 1112
	sa, sb := e.signIn(a), e.signIn(b)
	for i := range 3 {
		for _, x := range []ccgw.Session{sa, sb} {
			st, typ := ccgw.StateBusy, ccgw.EvSetNotReadySuccess
			if i%2 == 1 {
				st, typ = ccgw.StateIdle, ccgw.EvReady
			}
			if _, err := e.svc.Update(context.Background(), x.Agent, x.GUID, setState(st, typ)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := e.svc.Kick(context.Background(), b, ccgw.CauseSupervisor); err != nil {
		t.Fatal(err)
	}
	polledA := e.drain(a, sa.GUID)
	var polledB []ccgw.Event
	for {
		ev, err := e.poll(b, sb.GUID)
		if err != nil || ev == nil {
			break
		}
		polledB = append(polledB, *ev)
	}
	for _, c := range []struct {
		id     ccgw.AgentID
		polled []ccgw.Event
		last   string
	}{{a, polledA, ccgw.EvSetNotReadySuccess}, {b, polledB, ccgw.EvShutdownService}} {
		got := e.tapped(c.id)
		if len(c.polled) < 5 || c.polled[0].Type != ccgw.EvInService || c.polled[len(c.polled)-1].Type != c.last {
			t.Fatalf("agent %d polled %q, want InService, Ready, 3 changes and then %s", c.id, types(c.polled), c.last)
		}
		if !slices.Equal(eventKeys(got), eventKeys(c.polled)) {
			t.Fatalf("Tap saw agent %d's events %v, its client polled %v", c.id, eventKeys(got), eventKeys(c.polled))
		}
	}
}

func eventKeys(evs []ccgw.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = fmt.Sprintf("%d:%s", ev.Seq, ev.Type)
	}
	return out
}

// SimulatedReq is the sign-in of a simulated agent id (the simulated call
// centre's, with no client).
func SimulatedReq(id ccgw.AgentID) ccgw.SignIn {
	return ccgw.SignIn{Op: "simulated", SkipPassword: true, Status: ccgw.StateIdle,
		Session: ccgw.Session{Agent: id, Phone: "7" + id.String(), AutoAnswer: true, ReleasePhone: true,
			MediaType: "TTF", Simulated: true}}
}

// testSimulated: a simulated agent never expires, whatever the timeouts, and
// its events reach Tap; its changes reach OnChange.
func testSimulated(t *testing.T, e *env) {
	const id = 1121
	if _, err := e.svc.SignIn(context.Background(), SimulatedReq(id)); err != nil {
		t.Fatal(err)
	}
	e.advance(3*e.cfg.Timeout + e.cfg.Tick)
	if !e.live(id) || e.swept != 0 {
		t.Fatalf("a simulated agent after 3 timeouts: live %v, %d swept; want live, none", e.live(id), e.swept)
	}
	if _, err := e.svc.UpdateAny(context.Background(), id, setState(ccgw.StateBusy, ccgw.EvSetNotReadySuccess)); err != nil {
		t.Fatal(err)
	}
	got := e.tapped(id)
	if want := []string{ccgw.EvInService, ccgw.EvReady, ccgw.EvSetNotReadySuccess}; !slices.Equal(types(got), want) {
		t.Fatalf("Tap saw the simulated agent's %q, want %q", types(got), want)
	}
	e.wantStates(id, ccgw.StateIdle, ccgw.StateBusy)
}

// testSimulatedReplacesClient: when the simulated call centre signs in (forced)
// over a client's session of the same work number, the client is told
// AgentOther_ShutdownService with its old GUID, as after any forced sign-in.
func testSimulatedReplacesClient(t *testing.T, e *env) {
	const id = 1122
	s := e.signIn(id)
	e.drain(id, s.GUID)
	req := SimulatedReq(id)
	req.Force = true
	if _, err := e.svc.SignIn(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	e.expectLast(id, s.GUID, ccgw.RetNotSignedIn, ccgw.EvShutdownService)
}

// testOnSignOut: OnSignOut is told of each sign-out once, with its cause: a
// logout, a forced sign-in's replacement, a supervisor's kick (a second kick
// of the same agent is 100-006 and tells nothing) and an expiry.
func testOnSignOut(t *testing.T, e *env) {
	const id = 1201
	ctx := context.Background()
	s := e.signIn(id)
	if err := e.svc.SignOut(ctx, id, s.GUID, ccgw.CauseLogout); err != nil {
		t.Fatal(err)
	}
	e.signIn(id + 1)
	req := SignInReq(id + 1)
	req.Op, req.Force = "forceLogin", true
	if _, err := e.svc.SignIn(ctx, req); err != nil {
		t.Fatal(err)
	}
	e.signIn(id + 2)
	if err := e.svc.Kick(ctx, id+2, ccgw.CauseSupervisor); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "second kick", e.svc.Kick(ctx, id+2, ccgw.CauseSupervisor), ccgw.RetNotSignedIn)
	e.advance(e.cfg.Timeout + 2*e.cfg.Tick) // id+1's second session expires
	want := []string{
		fmt.Sprintf("%d:%s", id, ccgw.CauseLogout), fmt.Sprintf("%d:%s", id+1, ccgw.CauseReplaced),
		fmt.Sprintf("%d:%s", id+2, ccgw.CauseSupervisor), fmt.Sprintf("%d:%s", id+1, ccgw.CauseTimeout),
	}
	e.hooks.mu.Lock()
	got := slices.Clone(e.hooks.signOuts)
	e.hooks.mu.Unlock()
	if !slices.Equal(got, want) {
		t.Fatalf("OnSignOut told %v, want %v", got, want)
	}
}
