package session

import (
	"context"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
)

// TestAgents pages the live sessions, client and simulated, in work-number
// order, with their last heartbeat and queued events; the signed out are left
// out, and an empty table answers an empty page.
func TestAgents(t *testing.T) {
	env := testManager(t, Config{SessionSettings: ccgw.SessionSettings{Timeout: time.Hour}})
	if got, more := env.m.Agents(context.Background(), 0, 10); len(got) != 0 || more {
		t.Fatalf("empty table: %v %v", got, more)
	}
	guids := map[ccgw.AgentID]string{}
	for _, id := range []ccgw.AgentID{1003, 1001, 1002, 1004} {
		guids[id] = tSignIn(t, env.m, id).GUID
	}
	sim := tSignInReq(2001)
	sim.Session.Simulated, sim.SkipPassword = true, true
	if _, err := env.m.SignIn(context.Background(), sim); err != nil {
		t.Fatal(err)
	}
	if err := env.m.Kick(context.Background(), 1002, ccgw.CauseSupervisor); err != nil {
		t.Fatal(err)
	}
	queued := len(tDrain(t, env.m, 1004, guids[1004])) // 1004 takes its events; the others leave them queued
	if queued == 0 {
		t.Fatal("a sign-in queued no event")
	}
	env.fc.Advance(90 * time.Second)
	if _, err := env.m.Heartbeat(context.Background(), 1003, guids[1003], ""); err != nil {
		t.Fatal(err)
	}

	ids := func(page []ccgw.LiveSession) []ccgw.AgentID {
		var out []ccgw.AgentID
		for _, a := range page {
			out = append(out, a.Session.Agent)
		}
		return out
	}
	page, more := env.m.Agents(context.Background(), 0, 2)
	if got := ids(page); len(got) != 2 || got[0] != 1001 || got[1] != 1003 || !more {
		t.Fatalf("first page %v more=%v, want [1001 1003] true", got, more)
	}
	if a := page[0]; !a.LastSeen.Equal(tStart) || a.Queued != queued || a.Session.GUID != guids[1001] {
		t.Errorf("1001: last seen %v queued %d, want %v and %d", a.LastSeen, a.Queued, tStart, queued)
	}
	if a := page[1]; !a.LastSeen.Equal(tStart.Add(90*time.Second)) || a.Session.Mode != ccgw.ModePoll {
		t.Errorf("1003: last seen %v mode %v, want the heartbeat's time and poll", a.LastSeen, a.Session.Mode)
	}
	page, more = env.m.Agents(context.Background(), 1003, 2)
	if got := ids(page); len(got) != 2 || got[0] != 1004 || got[1] != 2001 || more {
		t.Fatalf("second page %v more=%v, want [1004 2001] false", got, more)
	}
	if page[0].Queued != 0 || !page[1].Session.Simulated {
		t.Errorf("1004 queued %d (drained), 2001 simulated %v", page[0].Queued, page[1].Session.Simulated)
	}
	if page, more := env.m.Agents(context.Background(), 2001, 500); len(page) != 0 || more {
		t.Errorf("after the last: %v %v", ids(page), more)
	}
}
