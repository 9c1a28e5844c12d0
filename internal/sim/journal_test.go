package sim

import (
	"math"
	"testing"

	"github.com/ccgw/ccgw"
)

// TestJournalSince: every after, the largest included, answers without a panic;
// a journal that dropped its oldest events pages on from the first it keeps.
func TestJournalSince(t *testing.T) {
	j := NewJournal(8)
	for i := range 10 { // 8 kept, then 2 dropped (a quarter) and 2 more added: 3..10
		j.Add(ccgw.Event{Type: "E", Seq: uint64(i + 1)})
	}
	for _, tc := range []struct {
		after     uint64
		limit     int
		wantFirst uint64 // Seq of the first event returned; 0: none
		wantN     int
		wantLast  uint64
	}{
		{0, 0, 3, 8, 10},
		{0, 3, 3, 3, 5},
		{2, 0, 3, 8, 10},
		{4, 2, 5, 2, 6},
		{9, 0, 10, 1, 10},
		{10, 0, 0, 0, 10},
		{11, 5, 0, 0, 11},
		{math.MaxInt64, 5, 0, 0, math.MaxInt64},
		{math.MaxUint64 - 1, 5, 0, 0, math.MaxUint64 - 1},
		{math.MaxUint64, 10000, 0, 0, math.MaxUint64},
	} {
		evs, last := j.Since(tc.after, tc.limit)
		if len(evs) != tc.wantN || last != tc.wantLast || (tc.wantN > 0 && evs[0].Seq != tc.wantFirst) {
			t.Errorf("Since(%d, %d) = %d events from %+v, last %d; want %d from seq %d, last %d",
				tc.after, tc.limit, len(evs), evs, last, tc.wantN, tc.wantFirst, tc.wantLast)
		}
	}
}

// TestJournalLastAndChanged: Last numbers the newest event (0 before any, and
// after drops); a channel taken from Changed is closed by the next Add, once,
// and a new one is handed out after it.
func TestJournalLastAndChanged(t *testing.T) {
	j := NewJournal(4)
	if n := j.Last(); n != 0 {
		t.Fatalf("empty journal: Last %d", n)
	}
	ch := j.Changed()
	if ch2 := j.Changed(); ch2 != ch {
		t.Fatal("two waiters before an Add got different channels")
	}
	select {
	case <-ch:
		t.Fatal("closed before any Add")
	default:
	}
	j.Add(ccgw.Event{Type: "E"})
	select {
	case <-ch:
	default:
		t.Fatal("not closed by Add")
	}
	next := j.Changed()
	select {
	case <-next:
		t.Fatal("the next channel is closed already")
	default:
	}
	for range 6 { // 4 kept, 1 dropped, 2 more: numbers 2..7 seen, 7 the newest
		j.Add(ccgw.Event{Type: "E"})
	}
	if n := j.Last(); n != 7 {
		t.Fatalf("Last %d, want 7", n)
	}
	if evs, last := j.Since(j.Last()-1, 0); len(evs) != 1 || last != 7 {
		t.Fatalf("Since(Last-1) = %d events, last %d", len(evs), last)
	}
}
