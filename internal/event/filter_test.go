package event

import (
	"slices"
	"testing"

	"github.com/ccgw/ccgw"
)

// TestQueueFilter: an event the filter refuses is dropped as ccgw.DropFault
// after the tap saw it, keeps its sequence number (so the next one shows the
// gap), and is never delivered; the others are queued as before.
func TestQueueFilter(t *testing.T) {
	q, d := testQueue(t, 10)
	var tapped []string
	q.SetTap(func(ev ccgw.Event) { tapped = append(tapped, ev.Type) }, true)
	q.SetFilter(func(ev ccgw.Event) bool { return ev.Type == "Drop" })
	q.Add("Keep", nil, tNow)
	q.Add("Drop", nil, tNow)
	q.Add("Keep", nil, tNow)
	if want := []string{"Keep", "Drop", "Keep"}; !slices.Equal(tapped, want) {
		t.Errorf("tap saw %v, want %v", tapped, want)
	}
	if got, want := d.list(), []tDropped{{2, "Drop", ccgw.DropFault}}; !slices.Equal(got, want) {
		t.Errorf("drops %v, want %v", got, want)
	}
	if q.Len() != 2 {
		t.Fatalf("queued %d, want 2", q.Len())
	}
	var seqs []uint64
	for q.Len() > 0 {
		ev, _ := q.Pop()
		seqs = append(seqs, ev.Seq)
	}
	if want := []uint64{1, 3}; !slices.Equal(seqs, want) {
		t.Errorf("delivered seqs %v, want %v", seqs, want)
	}
}
