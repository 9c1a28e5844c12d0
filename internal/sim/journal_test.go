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
