package mem

import (
	"slices"
	"testing"

	"github.com/ccgw/ccgw"
)

func TestSessionsKeepGenOrder(t *testing.T) {
	s := New()
	newer := ccgw.Session{Agent: 1001, Gen: 2, Skills: []int{1}}
	if err := s.PutSession(&newer); err != nil {
		t.Fatal(err)
	}
	newer.Skills[0] = 9 // the store holds a copy
	older := ccgw.Session{Agent: 1001, Gen: 1, Phone: "old"}
	s.PutSession(&older)
	got, ok := s.Session(1001)
	if !ok || got.Gen != 2 || got.Phone != "" || !slices.Equal(got.Skills, []int{1}) {
		t.Fatalf("after an older put: %+v %v, want Gen 2 with skills [1]", got, ok)
	}
	s.DeleteSession(1001, 1) // not the stored sign-in
	if s.Len() != 1 {
		t.Fatal("a delete for an older sign-in removed the newer one")
	}
	s.DeleteSession(1001, 2)
	if s.Len() != 0 {
		t.Fatal("delete of the stored sign-in kept it")
	}
	s.PutSession(&ccgw.Session{Agent: 1002, Gen: 5})
	s.PutSession(&ccgw.Session{Agent: 1003, Gen: 6})
	var ids []ccgw.AgentID
	s.LoadSessions(func(x *ccgw.Session) error { ids = append(ids, x.Agent); return nil })
	slices.Sort(ids)
	if !slices.Equal(ids, []ccgw.AgentID{1002, 1003}) {
		t.Fatalf("loaded %v", ids)
	}
}

func TestEventsAckedAndDropped(t *testing.T) {
	s := New()
	evs := []ccgw.Event{{Seq: 1, Type: "a"}, {Seq: 2, Type: "b"}, {Seq: 3, Type: "c"}}
	s.AppendEvents(1001, 7, evs)
	s.AppendEvents(1002, 8, evs[:1])
	s.AckEvents([]ccgw.EventAck{{Agent: 1001, Gen: 7, Seq: 2}, {Agent: 1001, Gen: 7, Seq: 1}})
	s.DropEvents(1002, 8)
	type load struct {
		id    ccgw.AgentID
		acked uint64
		seqs  []uint64
	}
	var got []load
	s.LoadEvents(func(id ccgw.AgentID, gen, acked uint64, evs []ccgw.Event) error {
		var seqs []uint64
		for _, ev := range evs {
			seqs = append(seqs, ev.Seq)
		}
		got = append(got, load{id, acked, seqs})
		return nil
	})
	if len(got) != 1 || got[0].id != 1001 || got[0].acked != 2 || !slices.Equal(got[0].seqs, []uint64{3}) {
		t.Fatalf("loaded %+v, want agent 1001 acked 2 with event 3", got)
	}
}
