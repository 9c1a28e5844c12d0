package sharedtest

import (
	"slices"
	"testing"

	"github.com/ccgw/ccgw"
)

// testLive: the live sessions in work-number order, a page at a time, with
// their deadlines (none for a simulated one) and queue lengths, on either
// node; an ended session is left out; more is set only if more follow.
func testLive(t *testing.T, e *env) {
	for _, id := range []ccgw.AgentID{1003, 1001, 1002, 1006} {
		SignIn(t, e.a, id, uint64(id), 50_000+int64(id), ccgw.EvInService, ccgw.EvReady)
	}
	SignInSimulated(t, e.b, 1004, 1)
	e.end(e.b, 1006, 1006, ccgw.CauseSupervisor, Ending(1006, 1006, 60_000), Record(t, 1006, 1006, ccgw.ModePoll))
	want := []ccgw.AgentID{1001, 1002, 1003, 1004}
	for _, st := range []ccgw.SharedStore{e.a, e.b} {
		for _, limit := range []int{1, 2, 3, 4, 5, 100} {
			if got := LiveIDs(t, st, limit); !slices.Equal(got, want) {
				t.Errorf("pages of %d: %v, want %v", limit, got, want)
			}
		}
	}
	if page, more, err := e.b.Live(e.ctx, 0, 4); err != nil || len(page) != 4 || more {
		t.Errorf("Live(0, 4) of 4 sessions: %d, more %v, %v; want 4, no more", len(page), more, err)
	}
	page, more, err := e.a.Live(e.ctx, 1001, 2)
	wantOK(t, "Live after 1001", err)
	if !more || len(page) != 2 {
		t.Fatalf("Live after 1001, 2: %d sessions, more %v; want 2, true", len(page), more)
	}
	if want := (ccgw.SharedLive{Record: Record(t, 1002, 1002, ccgw.ModePoll), Deadline: 51_002, Queued: 2}); page[0] != want {
		t.Errorf("1002: %+v; want %+v", page[0], want)
	}
	if want := (ccgw.SharedLive{Record: Record(t, 1003, 1003, ccgw.ModePoll), Deadline: 51_003, Queued: 2}); page[1] != want {
		t.Errorf("1003: %+v; want %+v", page[1], want)
	}
	if ev, err := e.b.Pop(e.ctx, 1003, 1003); err != nil || ev == nil {
		t.Fatalf("Pop: %+v, %v", ev, err)
	}
	if got := e.liveOf(e.b, 1003); got.Queued != 1 {
		t.Errorf("1003 after a Pop: %d queued, want 1", got.Queued)
	}
	if got := e.liveOf(e.a, 1004); got != (ccgw.SharedLive{Record: Record(t, 1004, 1, ccgw.ModePoll)}) {
		t.Errorf("simulated 1004: %+v; want no deadline, nothing queued", got)
	}
	if page, more, err := e.a.Live(e.ctx, 1004, 10); err != nil || len(page) != 0 || more {
		t.Errorf("Live after the last: %+v, %v, %v; want none", page, more, err)
	}
	if page, more, err := e.b.Live(e.ctx, 0, 0); err != nil || len(page) != 0 || more {
		t.Errorf("Live with limit 0: %+v, %v, %v; want none", page, more, err)
	}
}

// testClients: the work numbers of the clients' live sessions, in order, the
// simulated call centre's and ended ones left out.
func testClients(t *testing.T, e *env) {
	for _, id := range []ccgw.AgentID{1005, 1001, 1003, 1002, 1006} {
		SignIn(t, e.a, id, 1, 50_000)
	}
	SignInSimulated(t, e.b, 1004, 1)
	e.end(e.b, 1006, 1, ccgw.CauseSupervisor, Ending(1006, 1, 60_000), Record(t, 1006, 1, ccgw.ModePoll))
	want := []ccgw.AgentID{1001, 1002, 1003, 1005}
	for _, st := range []ccgw.SharedStore{e.a, e.b} {
		if got, err := st.Clients(e.ctx); err != nil || !slices.Equal(got, want) {
			t.Errorf("Clients: %v, %v; want %v", got, err, want)
		}
	}
}
