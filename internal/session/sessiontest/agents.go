package sessiontest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
)

// lister is the admin API's agents list, which every backend serves.
type lister interface {
	Agents(ctx context.Context, after ccgw.AgentID, limit int) ([]ccgw.LiveSession, bool)
}

// testAgentsList: the live sessions, client and simulated, page by page in
// work-number order; each with when it was last heard from and how many
// events wait for it; a session that ended is gone from the list.
func testAgentsList(t *testing.T, e *env) {
	l, ok := e.svc.(lister)
	if !ok {
		t.Fatalf("%T has no agents list", e.svc)
	}
	ctx := context.Background()
	signedIn := e.fc.Now()
	var guids = map[ccgw.AgentID]string{}
	for _, id := range []ccgw.AgentID{1205, 1201, 1203, 1202} {
		guids[id] = e.signIn(id).GUID
	}
	if _, err := e.svc.SignIn(ctx, SimulatedReq(1204)); err != nil {
		t.Fatal(err)
	}
	for range 2 { // 1201's events are collected
		if _, _, err := e.svc.Poll(ctx, 1201, guids[1201], 0); err != nil {
			t.Fatal(err)
		}
	}
	e.advance(3 * time.Second)
	beat := e.fc.Now()
	if _, err := e.svc.Heartbeat(ctx, 1203, guids[1203], ""); err != nil {
		t.Fatal(err)
	}
	e.advance(e.cfg.Tick) // a tick: the renewal is written where a backend batches it

	page, more := l.Agents(ctx, 0, 2)
	if got := liveIDs(page); !slices.Equal(got, []ccgw.AgentID{1201, 1202}) || !more {
		t.Fatalf("first page %v (more %v), want [1201 1202] and more", got, more)
	}
	page, more = l.Agents(ctx, 1202, 10)
	if got := liveIDs(page); !slices.Equal(got, []ccgw.AgentID{1203, 1204, 1205}) || more {
		t.Fatalf("after 1202: %v (more %v), want [1203 1204 1205] and no more", got, more)
	}
	for _, x := range page {
		switch x.Session.Agent {
		case 1203:
			if d := x.LastSeen.Sub(beat); d < 0 || d > e.cfg.Tick {
				t.Errorf("1203 last seen %v, want its heartbeat at %v", x.LastSeen, beat)
			}
		case 1205:
			if d := x.LastSeen.Sub(signedIn); d < 0 || d > e.cfg.Tick {
				t.Errorf("1205 last seen %v, want its sign-in at %v", x.LastSeen, signedIn)
			}
			if x.Queued != 2 || x.Session.GUID != guids[1205] || !slices.Equal(x.Session.Skills, []int{1, 2}) {
				t.Errorf("1205: %d queued, GUID %q, skills %v; want 2, its own, [1 2]", x.Queued, x.Session.GUID, x.Session.Skills)
			}
		case 1204:
			if !x.Session.Simulated {
				t.Errorf("1204 is simulated: %+v", x.Session)
			}
		}
	}
	page, _ = l.Agents(ctx, 0, 10)
	if page[0].Queued != 0 {
		t.Errorf("1201 collected its events, %d queued", page[0].Queued)
	}
	if err := e.svc.SignOut(ctx, 1202, guids[1202], ccgw.CauseLogout); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Kick(ctx, 1205, ccgw.CauseSupervisor); err != nil {
		t.Fatal(err)
	}
	page, more = l.Agents(ctx, 0, 10)
	if got := liveIDs(page); !slices.Equal(got, []ccgw.AgentID{1201, 1203, 1204}) || more {
		t.Fatalf("after two sign-outs: %v (more %v), want [1201 1203 1204]", got, more)
	}
	if page, more := l.Agents(ctx, 1204, 10); len(page) != 0 || more {
		t.Fatalf("after the last: %v, %v", liveIDs(page), more)
	}
}

func liveIDs(page []ccgw.LiveSession) []ccgw.AgentID {
	out := []ccgw.AgentID{}
	for _, x := range page {
		out = append(out, x.Session.Agent)
	}
	return out
}
