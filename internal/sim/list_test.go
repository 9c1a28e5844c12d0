package sim

import (
	"testing"
	"time"
)

// TestCallSeq: the number of an ID newCallID makes; anything else refused.
func TestCallSeq(t *testing.T) {
	for id, want := range map[string]uint64{"1767603600-1": 1, "1767603600-42": 42, "0-18446744073709551615": 1<<64 - 1} {
		if got, ok := CallSeq(id); !ok || got != want {
			t.Errorf("CallSeq(%q) = %d %v, want %d", id, got, ok, want)
		}
	}
	for _, id := range []string{"", "1", "-1", "1767603600-", "1767603600-0", "x-1", "1-x", "1-1-1", "1- 1", "1767603600-18446744073709551616"} {
		if got, ok := CallSeq(id); ok {
			t.Errorf("CallSeq(%q) = %d, want refused", id, got)
		}
	}
}

// TestCalls pages the live calls in the order they were made, with their
// states and agents; a call that ended is left out.
func TestCalls(t *testing.T) {
	r := newTestRig(t)
	r.signIn(t, 1001, false)
	var ids []string
	for range 5 {
		id, err := r.eng.Inject(CallSpec{Skill: 1, Caller: "13800000001"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if !r.eng.Hangup(ids[2]) {
		t.Fatal("hang-up of a queued call failed")
	}
	r.clock.Advance(time.Second)
	page, more := r.eng.Calls(0, 2)
	if len(page) != 2 || !more || page[0].CallID != ids[0] || page[1].CallID != ids[1] {
		t.Fatalf("first page %+v more=%v, want %s %s and more", page, more, ids[0], ids[1])
	}
	if page[0].State != "ringing" || page[0].WorkNo != "1001" || page[1].State != "queued" || page[1].WorkNo != "" {
		t.Errorf("states %s/%s %s/%s, want ringing at 1001 and queued", page[0].State, page[0].WorkNo, page[1].State, page[1].WorkNo)
	}
	after, _ := CallSeq(page[1].CallID)
	page, more = r.eng.Calls(after, 2)
	if len(page) != 2 || more || page[0].CallID != ids[3] || page[1].CallID != ids[4] {
		t.Fatalf("second page %+v more=%v, want %s %s (the ended %s left out)", page, more, ids[3], ids[4], ids[2])
	}
	if page, more := r.eng.Calls(1<<64-1, 500); len(page) != 0 || more {
		t.Errorf("after the last: %+v %v", page, more)
	}
}
