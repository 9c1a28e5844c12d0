package sessiontest

import (
	"context"
	"slices"
	"testing"

	"github.com/ccgw/ccgw"
)

// testEachInSkill checks EachInSkill: work-number order from after on, across
// the index's 1024-number chunks, and an early stop that sees no more sessions.
func testEachInSkill(t *testing.T, e *env) {
	ids := []ccgw.AgentID{5000, 1023, 2048, 1024, 101, 2047, MaxAgent}
	for _, id := range ids {
		e.signIn(id)
	}
	sorted := slices.Sorted(slices.Values(ids))
	walk := func(after ccgw.AgentID, stopAt int) []ccgw.AgentID {
		var got []ccgw.AgentID
		e.svc.EachInSkill(context.Background(), 1, after, func(s ccgw.Session) bool {
			got = append(got, s.Agent)
			if !slices.Contains(s.Skills, 1) {
				t.Errorf("agent %d listed under skill 1 with skills %v", s.Agent, s.Skills)
			}
			return len(got) != stopAt
		})
		return got
	}
	for _, tc := range []struct {
		name   string
		after  ccgw.AgentID
		stopAt int
		want   []ccgw.AgentID
	}{
		{"all", 0, 0, sorted},
		{"after the first", 101, 0, sorted[1:]},
		{"after a number not signed in", 1500, 0, []ccgw.AgentID{2047, 2048, 5000, MaxAgent}},
		{"after the last of a chunk", 1023, 0, sorted[2:]},
		{"after the first of a chunk", 1024, 0, sorted[3:]},
		{"after the last", MaxAgent, 0, nil},
		{"stop after two", 0, 2, sorted[:2]},
		{"stop after two, from 2047", 2047, 2, []ccgw.AgentID{2048, 5000}},
	} {
		if got := walk(tc.after, tc.stopAt); !slices.Equal(got, tc.want) {
			t.Errorf("%s: EachInSkill(1, %d) = %v, want %v", tc.name, tc.after, got, tc.want)
		}
	}
	var none []ccgw.AgentID
	e.svc.EachInSkill(context.Background(), 99, 0, func(s ccgw.Session) bool { none = append(none, s.Agent); return true })
	if len(none) != 0 {
		t.Errorf("EachInSkill(99) = %v, want none", none)
	}
}
