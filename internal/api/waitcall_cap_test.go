package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/ccgw/ccgw/internal/api"
	"github.com/ccgw/ccgw/internal/sim"
)

// TestWaitCallInfoCapped queues 501 calls with nobody to take them: waitcallinfo
// answers the oldest 500, oldest first, marked X-CCGW-Truncated; with 500 queued
// it answers them all, unmarked.
func TestWaitCallInfoCapped(t *testing.T) {
	cs := newSimServer(t, simConfig{})
	a := cs.clSignIn(t, "1001", `"status":3`) // busy: takes no call
	var ids []string
	for range 501 {
		id, err := cs.engine.Inject(sim.CallSpec{Skill: 1})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	check := func(want []string, truncated string) {
		t.Helper()
		r := cs.clMust(t, a, http.MethodGet, "/calldata/{id}/waitcallinfo/1", "", "0")
		var got []struct {
			CallID string `json:"callid"`
		}
		if err := json.Unmarshal(r.env["result"], &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || got[0].CallID != want[0] || got[len(got)-1].CallID != want[len(want)-1] {
			t.Fatalf("%d calls, want %d from %s to %s", len(got), len(want), want[0], want[len(want)-1])
		}
		if v := r.header.Get(api.TruncatedHeader); v != truncated {
			t.Fatalf("%s %q, want %q", api.TruncatedHeader, v, truncated)
		}
	}
	check(ids[:500], "true")
	cs.clAdmin(t, http.MethodDelete, "calls/"+ids[500], "")
	check(ids[:500], "")
}
