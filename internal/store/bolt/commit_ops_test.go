package bolt

import (
	"reflect"
	"testing"

	"github.com/ccgw/ccgw"
)

// TestCommitOps: one Commit puts, appends, acknowledges and deletes in the
// order given, and what it wrote survives a reopen.
func TestCommitOps(t *testing.T) {
	s, dir := tSessOpen(t)
	a, b := tSessFull(1001, 5), tSessFull(1002, 6)
	evs := []ccgw.Event{{Seq: 1, Type: "AgentOther_InService"}, {Seq: 2, Type: "AgentState_Ready"}, {Seq: 3, Type: "AgentState_Busy"}}
	refA, refB := ccgw.SessionRef{Agent: a.Agent, Gen: a.Gen}, ccgw.SessionRef{Agent: b.Agent, Gen: b.Gen}
	err := s.Commit([]ccgw.LogOp{
		{Put: &a, Ref: refA, Events: evs},
		{Put: &b, Ref: refB, Events: evs[:1]},
		{Ref: refA, Acked: 2},
		{Ref: refB, Delete: true},
		{Ref: ccgw.SessionRef{Agent: 1003, Gen: 1}, Delete: true}, // nothing stored: not an error
	})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s2, err := Open(dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	got := tSessLoad(t, s2)
	if len(got) != 1 || !reflect.DeepEqual(got[a.Agent], a) {
		t.Fatalf("sessions after reopen = %+v, want only %d", got, a.Agent)
	}
	type load struct {
		acked uint64
		types []string
	}
	loaded := map[ccgw.SessionRef]load{}
	err = s2.LoadEvents(func(id ccgw.AgentID, gen, acked uint64, evs []ccgw.Event) error {
		l := load{acked: acked}
		for _, ev := range evs {
			l.types = append(l.types, ev.Type)
		}
		loaded[ccgw.SessionRef{Agent: id, Gen: gen}] = l
		return nil
	})
	if err != nil {
		t.Fatalf("LoadEvents: %v", err)
	}
	want := map[ccgw.SessionRef]load{refA: {acked: 2, types: []string{"AgentState_Busy"}}}
	if !reflect.DeepEqual(loaded, want) {
		t.Fatalf("events after reopen = %+v, want %+v", loaded, want)
	}
}
