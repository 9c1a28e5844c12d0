package sessiontest

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/ccgw/ccgw"
)

// dropFault is a drop-events fault on one agent, switched on and off by the
// test (Config.DropEvent).
type dropFault struct {
	agent ccgw.AgentID
	on    atomic.Bool
}

func (f *dropFault) drop(id ccgw.AgentID, _ ccgw.Event) bool { return f.on.Load() && id == f.agent }

// faultedAgent is the agent testDropEvents' fault covers.
const faultedAgent ccgw.AgentID = 1301

// testDropEvents: while a drop-events fault covers an agent, every event made
// for it (its state changes', and AgentOther_ShutdownService when it is signed
// out) is dropped and counted as ccgw.DropFault, keeping its sequence number,
// and still reaches Tap; another agent's events are untouched.
func testDropEvents(t *testing.T, e *env) {
	f := e.cfg.drop
	other := faultedAgent + 1
	sa, sb := e.signIn(faultedAgent), e.signIn(other)
	e.drain(faultedAgent, sa.GUID)
	e.drain(other, sb.GUID)
	before := e.svc.Stats(context.Background()).Drops[ccgw.DropFault]

	f.on.Store(true)
	for _, x := range []ccgw.Session{sa, sb} {
		if _, err := e.svc.Update(context.Background(), x.Agent, x.GUID, setState(ccgw.StateBusy, ccgw.EvSetNotReadySuccess)); err != nil {
			t.Fatal(err)
		}
	}
	e.expectEvents(faultedAgent, sa.GUID)
	e.expectEvents(other, sb.GUID, ccgw.EvSetNotReadySuccess)
	if got := e.svc.Stats(context.Background()).Drops[ccgw.DropFault] - before; got != 1 {
		t.Fatalf("Drops[fault] grew by %d, want 1", got)
	}

	f.on.Store(false)
	if _, err := e.svc.Update(context.Background(), faultedAgent, sa.GUID, setState(ccgw.StateIdle, ccgw.EvReady)); err != nil {
		t.Fatal(err)
	}
	evs := e.expectEvents(faultedAgent, sa.GUID, ccgw.EvReady)
	tapped := e.tapped(faultedAgent)
	if n := len(tapped); n < 2 || tapped[n-2].Type != ccgw.EvSetNotReadySuccess || tapped[n-1].Seq != evs[0].Seq {
		t.Fatalf("Tap saw %v, want the dropped SetNotReady and then seq %d", eventKeys(tapped), evs[0].Seq)
	}
	if dropped := tapped[len(tapped)-2]; evs[0].Seq != dropped.Seq+1 {
		t.Fatalf("the event after the fault has seq %d, the dropped one %d: want the gap to show", evs[0].Seq, dropped.Seq)
	}

	f.on.Store(true)
	if err := e.svc.Kick(context.Background(), faultedAgent, ccgw.CauseSupervisor); err != nil {
		t.Fatal(err)
	}
	e.expectLast(faultedAgent, sa.GUID, ccgw.RetNotSignedIn)
	if got := e.svc.Stats(context.Background()).Drops[ccgw.DropFault] - before; got != 2 {
		t.Fatalf("Drops[fault] grew by %d after the sign-out, want 2 (AgentOther_ShutdownService)", got)
	}
	if tapped := e.tapped(faultedAgent); tapped[len(tapped)-1].Type != ccgw.EvShutdownService {
		t.Fatalf("Tap saw %v, want AgentOther_ShutdownService last", eventKeys(tapped))
	}
}
