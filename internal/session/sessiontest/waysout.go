package sessiontest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/push"
)

// pushSource is what a Service offers the pusher (both backends do).
type pushSource interface {
	PushFailed(ccgw.AgentID, uint64)
	PushTarget(ccgw.AgentID) (push.Target, bool)
}

// wayOut is one way a session ends.
type wayOut struct {
	name  string
	cause ccgw.SignOutCause
	end   func(e *env, s ccgw.Session)
	// shutdown: the client is told AgentOther_ShutdownService (every end but
	// the agent's own: the vendor's sign-out pages, 2025).
	shutdown bool
	pushOnly bool
}

var waysOut = []wayOut{
	{"logout", ccgw.CauseLogout, func(e *env, s ccgw.Session) {
		if err := e.svc.SignOut(context.Background(), s.Agent, s.GUID, ccgw.CauseLogout); err != nil {
			e.t.Fatal(err)
		}
	}, false, false},
	{"forceLogout", ccgw.CauseForceLogout, func(e *env, s ccgw.Session) {
		if err := e.svc.SignOut(context.Background(), s.Agent, s.GUID, ccgw.CauseForceLogout); err != nil {
			e.t.Fatal(err)
		}
	}, false, false},
	{"supervisor", ccgw.CauseSupervisor, func(e *env, s ccgw.Session) {
		if err := e.svc.Kick(context.Background(), s.Agent, ccgw.CauseSupervisor); err != nil {
			e.t.Fatal(err)
		}
	}, true, false},
	{"timeout", ccgw.CauseTimeout, func(e *env, s ccgw.Session) {
		e.advance(e.cfg.Timeout + 2*e.cfg.Tick)
	}, true, false},
	{"replaced", ccgw.CauseReplaced, func(e *env, s ccgw.Session) {
		req := SignInReq(s.Agent)
		req.Op, req.Force = "forceLogin", true
		req.Session.Mode, req.Session.CallbackURI, req.Session.ServiceToken = s.Mode, s.CallbackURI, s.ServiceToken
		if _, err := e.svc.SignIn(context.Background(), req); err != nil {
			e.t.Fatal(err)
		}
	}, true, false},
	{"pushFailed", ccgw.CausePushFailed, func(e *env, s ccgw.Session) {
		e.svc.(pushSource).PushFailed(s.Agent, s.Gen)
	}, true, true},
}

// testShutdownEveryWayOut: on every way out, in both modes, the session ends
// once with its cause, and its client is told AgentOther_ShutdownService
// unless the agent ended it itself: a polling client with its old GUID, a push
// client through the ended session's push target.
func testShutdownEveryWayOut(t *testing.T, e *env) {
	id := ccgw.AgentID(1100)
	for _, mode := range []ccgw.Mode{ccgw.ModePoll, ccgw.ModePush} {
		for _, w := range waysOut {
			if w.pushOnly && mode != ccgw.ModePush {
				continue
			}
			id++
			checkWayOut(t, e, mode, w, id)
		}
	}
}

func (e *env) logoutIfLive(id ccgw.AgentID) {
	if s, ok := e.svc.Lookup(context.Background(), id); ok {
		e.svc.SignOut(context.Background(), id, s.GUID, ccgw.CauseLogout)
	}
}

// checkWayOut signs agent id in in mode and ends its session by w.
func checkWayOut(t *testing.T, e *env, mode ccgw.Mode, w wayOut, id ccgw.AgentID) {
	t.Helper()
	req := SignInReq(id)
	if mode == ccgw.ModePush {
		req = PushSignInReq(id)
	}
	s, err := e.svc.SignIn(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if mode == ccgw.ModePoll {
		e.drain(id, s.GUID)
	}
	before := e.svc.Stats(context.Background()).SignOuts[w.cause]
	w.end(e, s)
	if got := e.svc.Stats(context.Background()).SignOuts[w.cause] - before; got != 1 {
		t.Fatalf("%s, %s mode: %d sign-outs with cause %s, want 1", w.name, mode, got, w.cause)
	}
	var want []string
	if w.shutdown {
		want = []string{ccgw.EvShutdownService}
	}
	if w.cause == ccgw.CauseReplaced {
		// The replacing sign-in goes after the checks, out of the
		// way of the later cases' timeouts.
		defer e.logoutIfLive(id)
	}
	if mode == ccgw.ModePoll {
		var got []string
		for range 4 {
			ev, err := e.poll(id, s.GUID)
			if err != nil {
				if c := ccgw.CodeOf(err); c != ccgw.RetNotSignedIn {
					t.Fatalf("%s, poll mode: the old GUID's poll ends with %s, want %s", w.name, c, ccgw.RetNotSignedIn)
				}
				break
			}
			if ev == nil {
				t.Fatalf("%s, poll mode: an empty poll with the old GUID after %q", w.name, got)
			}
			got = append(got, ev.Type)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s, poll mode: the old GUID collected %q, want %q", w.name, got, want)
		}
		return
	}
	if w.cause == ccgw.CauseReplaced {
		return // the push target names the replacing sign-in
	}
	var got []string
	if tg, ok := e.svc.(pushSource).PushTarget(id); ok && tg.Gen == s.Gen {
		got = types(tg.Queue.Peek(100))
	}
	if len(got) > 0 && got[len(got)-1] != ccgw.EvShutdownService || (len(got) > 0) != w.shutdown {
		t.Fatalf("%s, push mode: left to push %q, want the shutdown last: %v", w.name, got, w.shutdown)
	}
}

// testRestTimeoutIdle: with RestTimeoutIdle, an agent whose rest ran out is
// reminded and made idle (AgentState_Rest_Timeout, AgentState_Ready), on
// either backend, once.
func testRestTimeoutIdle(t *testing.T, e *env) {
	const id = 1032
	s := e.signIn(id)
	e.drain(id, s.GUID)
	if _, err := e.svc.Update(context.Background(), id, s.GUID, func(x *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
		return agent.Apply(x, agent.Request{Op: agent.Rest, Reason: 7, RestTime: 2 * time.Second, Prolong: true}, now)
	}); err != nil {
		t.Fatal(err)
	}
	e.expectEvents(id, s.GUID, ccgw.EvSetRestSuccess)
	e.beat(id, s.GUID)
	e.advance(2*time.Second + 2*e.cfg.Tick)
	e.expectEvents(id, s.GUID, ccgw.EvRestTimeout, ccgw.EvReady)
	if got, _ := e.svc.Lookup(context.Background(), id); got.State != ccgw.StateIdle {
		t.Fatalf("state %d after the rest ran out, want idle", got.State)
	}
	e.advance(3 * time.Second)
	e.expectEvents(id, s.GUID)
}

// testHeldPollSeesTheEnd: a poll held while its session is ended (here by
// a supervisor) is woken and answers AgentOther_ShutdownService, whatever
// its wait had left; the client's next poll with that GUID is refused.
func testHeldPollSeesTheEnd(t *testing.T, e *env) {
	const id = 1131
	s := e.signIn(id)
	e.drain(id, s.GUID)
	type answer struct {
		ev  *ccgw.Event
		err error
	}
	got := make(chan answer, 1)
	go func() {
		ev, _, err := e.svc.Poll(context.Background(), id, s.GUID, time.Hour) // on the fake clock: held until woken
		got <- answer{ev, err}
	}()
	time.Sleep(100 * time.Millisecond) // the poll is held (or about to be: either way it must see the end)
	if err := e.svc.Kick(context.Background(), id, ccgw.CauseSupervisor); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-got:
		if a.err != nil || a.ev == nil || a.ev.Type != ccgw.EvShutdownService {
			t.Fatalf("the held poll answered %v, %v; want AgentOther_ShutdownService", a.ev, a.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the held poll was not woken by the end of its session")
	}
	if _, err := e.poll(id, s.GUID); ccgw.CodeOf(err) != ccgw.RetNotSignedIn {
		t.Fatalf("the next poll: %v, want %s", err, ccgw.RetNotSignedIn)
	}
}

// testUndeliveredOnEnd: what an end does with the events the client has not
// taken yet (ccgw.EndingOf), the same on every backend. After a supervisor's
// kick, a timeout or a forced sign-in the old GUID still collects them, in
// order, then AgentOther_ShutdownService; after the agent's own sign-out they
// are dropped (counted as session_ended) and nothing is told.
func testUndeliveredOnEnd(t *testing.T, e *env) {
	id := ccgw.AgentID(1140)
	for _, w := range waysOut {
		if w.pushOnly {
			continue
		}
		id++
		s := e.signIn(id)
		e.drain(id, s.GUID)
		for _, st := range []struct {
			state ccgw.AgentState
			typ   string
		}{{ccgw.StateBusy, ccgw.EvSetNotReadySuccess}, {ccgw.StateIdle, ccgw.EvReady}} {
			if _, err := e.svc.Update(context.Background(), id, s.GUID, setState(st.state, st.typ)); err != nil {
				t.Fatal(err)
			}
		}
		dropped := e.svc.Stats(context.Background()).Drops[ccgw.DropSessionEnded]
		w.end(e, s)
		if w.cause == ccgw.CauseReplaced {
			defer e.logoutIfLive(id)
		}
		if !w.shutdown {
			e.expectLast(id, s.GUID, ccgw.RetNotSignedIn)
			if got := e.svc.Stats(context.Background()).Drops[ccgw.DropSessionEnded] - dropped; got != 2 {
				t.Fatalf("%s: %d events counted dropped as session_ended, want 2", w.name, got)
			}
			continue
		}
		// A replaced sign-in's GUID is RetNotSignedIn too: its client is signed out.
		e.expectLast(id, s.GUID, ccgw.RetNotSignedIn, ccgw.EvSetNotReadySuccess, ccgw.EvReady, ccgw.EvShutdownService)
	}
}

// testTombstoneExpiry: what the client of an ended session does not collect
// with its old GUID within a timeout is dropped then, counted as
// session_ended (an event reaches the client or is counted), and the old
// GUID is refused after it.
func testTombstoneExpiry(t *testing.T, e *env) {
	const id = 1161
	s := e.signIn(id)
	e.drain(id, s.GUID)
	if _, err := e.svc.Update(context.Background(), id, s.GUID, setState(ccgw.StateBusy, ccgw.EvSetNotReadySuccess)); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Kick(context.Background(), id, ccgw.CauseSupervisor); err != nil {
		t.Fatal(err)
	}
	before := e.svc.Stats(context.Background()).Drops[ccgw.DropSessionEnded]
	e.advance(e.cfg.Timeout / 2)
	if got := e.svc.Stats(context.Background()).Drops[ccgw.DropSessionEnded] - before; got != 0 {
		t.Fatalf("half a timeout after the end, %d events counted dropped, want none yet", got)
	}
	e.advance(e.cfg.Timeout/2 + 2*e.cfg.Tick)
	if got := e.svc.Stats(context.Background()).Drops[ccgw.DropSessionEnded] - before; got != 2 {
		t.Fatalf("a timeout after the end, %d events counted dropped as session_ended, want 2 (the change and AgentOther_ShutdownService)", got)
	}
	e.expectLast(id, s.GUID, ccgw.RetNotSignedIn)
}
