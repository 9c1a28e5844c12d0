package session

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
)

// TestOnSignOut: Config.OnSignOut is told of each sign-out once, with its cause:
// a logout, a forced sign-in's replacement, a supervisor's kick and an expiry.
func TestOnSignOut(t *testing.T) {
	type out struct {
		id    ccgw.AgentID
		cause ccgw.SignOutCause
	}
	var mu sync.Mutex
	var got []out
	env := testManager(t, Config{
		SessionSettings: ccgw.SessionSettings{
			Timeout: time.Minute,
			OnSignOut: func(id ccgw.AgentID, c ccgw.SignOutCause) {
				mu.Lock()
				got = append(got, out{id, c})
				mu.Unlock()
			},
		},
	})
	s := tSignIn(t, env.m, 1001)
	if err := env.m.SignOut(context.Background(), 1001, s.GUID, ccgw.CauseLogout); err != nil {
		t.Fatal(err)
	}
	tSignIn(t, env.m, 1002)
	req := tSignInReq(1002)
	req.Force = true
	if _, err := env.m.SignIn(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	tSignIn(t, env.m, 1003)
	if err := env.m.Kick(context.Background(), 1003, ccgw.CauseSupervisor); err != nil {
		t.Fatal(err)
	}
	if err := env.m.Kick(context.Background(), 1003, ccgw.CauseSupervisor); ccgw.CodeOf(err) != ccgw.RetNotSignedIn {
		t.Fatalf("second kick: %v", err)
	}
	env.advance(2 * time.Minute) // 1002's second session expires
	want := []out{{1001, ccgw.CauseLogout}, {1002, ccgw.CauseReplaced}, {1003, ccgw.CauseSupervisor}, {1002, ccgw.CauseTimeout}}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, want) {
		t.Fatalf("OnSignOut saw %v, want %v", got, want)
	}
}

// TestDropEvent: Config.DropEvent is asked about each event of a client's
// session; the refused ones never reach the poll and are counted as
// ccgw.DropFault, the others arrive as before.
func TestDropEvent(t *testing.T) {
	env := testManager(t, Config{
		SessionSettings: ccgw.SessionSettings{DropEvent: func(id ccgw.AgentID, ev ccgw.Event) bool {
			return id == 1001 && ev.Type == ccgw.EvReady
		},
		},
	})
	a := tSignIn(t, env.m, 1001)
	b := tSignIn(t, env.m, 1002)
	if got, want := tDrain(t, env.m, 1001, a.GUID), []string{ccgw.EvInService}; !slices.Equal(got, want) {
		t.Errorf("1001 polled %v, want %v", got, want)
	}
	if got, want := tDrain(t, env.m, 1002, b.GUID), []string{ccgw.EvInService, ccgw.EvReady}; !slices.Equal(got, want) {
		t.Errorf("1002 polled %v, want %v", got, want)
	}
	if n := env.m.Stats(context.Background()).Drops[ccgw.DropFault]; n != 1 {
		t.Errorf("drops for fault %d, want 1", n)
	}
}

// TestClients lists the live client sessions in order, without the simulated
// agents and the signed out.
func TestClients(t *testing.T) {
	env := testManager(t, Config{})
	for _, id := range []ccgw.AgentID{1003, 1001, 1002} {
		tSignIn(t, env.m, id)
	}
	sim := tSignInReq(2001)
	sim.Session.Simulated, sim.SkipPassword = true, true
	if _, err := env.m.SignIn(context.Background(), sim); err != nil {
		t.Fatal(err)
	}
	if err := env.m.Kick(context.Background(), 1002, ccgw.CauseSupervisor); err != nil {
		t.Fatal(err)
	}
	if got, want := env.m.Clients(), []ccgw.AgentID{1001, 1003}; !slices.Equal(got, want) {
		t.Fatalf("Clients() = %v, want %v", got, want)
	}
}
