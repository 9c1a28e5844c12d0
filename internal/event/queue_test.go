package event

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ccgw/ccgw"
)

var tNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// tDrop is a DropFunc that records what it is told.
type tDrop struct {
	mu  sync.Mutex
	got []tDropped
}

type tDropped struct {
	seq    uint64
	typ    string
	reason ccgw.DropReason
}

func (d *tDrop) fn(ev ccgw.Event, reason ccgw.DropReason) {
	d.mu.Lock()
	d.got = append(d.got, tDropped{ev.Seq, ev.Type, reason})
	d.mu.Unlock()
}

func (d *tDrop) list() []tDropped {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.got)
}

// testQueue returns a queue for agent 1001 of size max whose drops are recorded.
func testQueue(tb testing.TB, max int) (*Queue, *tDrop) {
	tb.Helper()
	d := &tDrop{}
	return NewQueue("1001", max, d.fn), d
}

// tAdd adds n events typed "E<seq>".
func tAdd(q *Queue, n int) {
	for i := 0; i < n; i++ {
		q.Add(fmt.Sprintf("E%d", tSeq(q)+1), nil, tNow)
	}
}

// tSeq returns the Seq of the last event added to q.
func tSeq(q *Queue) uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.seq
}

func tSeqs(evs []ccgw.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Seq
	}
	return out
}

func tPopAll(q *Queue) []ccgw.Event {
	var out []ccgw.Event
	for {
		ev, ok := q.Pop()
		if !ok {
			return out
		}
		out = append(out, ev)
	}
}

func tRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func TestAddNumbersFromOneInFIFOOrder(t *testing.T) {
	q, d := testQueue(t, 10)
	types := []string{ccgw.EvInService, ccgw.EvReady, ccgw.EvBusy, ccgw.EvWork}
	for i, typ := range types {
		at := tNow.Add(time.Duration(i) * time.Millisecond)
		ev := q.Add(typ, Content(map[string]int{"i": i}), at)
		if ev.Seq != uint64(i+1) || ev.Type != typ || ev.WorkNo != "1001" || ev.GenTime != ccgw.Millis(at) {
			t.Fatalf("Add #%d returned %+v", i, ev)
		}
	}
	if q.Len() != len(types) {
		t.Fatalf("Len = %d, want %d", q.Len(), len(types))
	}
	got := tPopAll(q)
	for i, ev := range got {
		if ev.Type != types[i] || ev.Seq != uint64(i+1) || string(ev.Content) != fmt.Sprintf(`{"i":%d}`, i) {
			t.Fatalf("Pop #%d = %+v", i, ev)
		}
	}
	if len(got) != len(types) {
		t.Fatalf("popped %d events, want %d", len(got), len(types))
	}
	if _, ok := q.Pop(); ok {
		t.Fatal("Pop on an empty queue reported an event")
	}
	if ev := q.Add("after", nil, tNow); ev.Seq != 5 {
		t.Fatalf("Seq after emptying = %d, want 5 (numbering never restarts)", ev.Seq)
	}
	if len(d.list()) != 0 {
		t.Fatalf("drops = %v, want none", d.list())
	}
}

func TestAddOverflowDropsOldest(t *testing.T) {
	tests := []struct {
		name     string
		max      int
		add      int
		popEvery int // pop one event after every popEvery adds (0: never), to wrap the ring
		wantLeft []uint64
		wantDrop []uint64
	}{
		{name: "max 0 means 1", max: 0, add: 3, wantLeft: []uint64{3}, wantDrop: []uint64{1, 2}},
		{name: "max 1", max: 1, add: 3, wantLeft: []uint64{3}, wantDrop: []uint64{1, 2}},
		{name: "exactly full", max: 3, add: 3, wantLeft: []uint64{1, 2, 3}},
		{name: "one over", max: 3, add: 4, wantLeft: []uint64{2, 3, 4}, wantDrop: []uint64{1}},
		{name: "grows past 4", max: 5, add: 7, wantLeft: []uint64{3, 4, 5, 6, 7}, wantDrop: []uint64{1, 2}},
		{name: "many over", max: 4, add: 100, wantLeft: []uint64{97, 98, 99, 100}, wantDrop: tRange(1, 96)},
		// Adds 1..9 popping after the 3rd and 6th: 1 and 2 popped, the ring wraps, 3 dropped by 9.
		{name: "wrapped ring", max: 6, add: 9, popEvery: 3, wantLeft: []uint64{4, 5, 6, 7, 8, 9}, wantDrop: []uint64{3}},
		{name: "wrapped ring not full", max: 8, add: 9, popEvery: 3, wantLeft: []uint64{3, 4, 5, 6, 7, 8, 9}},
		// Adds 1..10 popping after every 2nd; the ring is full at 8 adds: 1..4 popped, 5 dropped by 10.
		{name: "wrapped ring overflows", max: 5, add: 10, popEvery: 2, wantLeft: []uint64{6, 7, 8, 9, 10}, wantDrop: []uint64{5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, d := testQueue(t, tt.max)
			for i := 1; i <= tt.add; i++ {
				q.Add(fmt.Sprintf("E%d", i), nil, tNow)
				if tt.popEvery > 0 && i%tt.popEvery == 0 && i < tt.add {
					q.Pop()
				}
			}
			if got := tSeqs(q.Peek(0)); !slices.Equal(got, tt.wantLeft) {
				t.Fatalf("left %v, want %v", got, tt.wantLeft)
			}
			var dropped []uint64
			for _, x := range d.list() {
				if x.reason != ccgw.DropQueueFull {
					t.Fatalf("drop of %d with reason %q, want %q", x.seq, x.reason, ccgw.DropQueueFull)
				}
				if x.typ != fmt.Sprintf("E%d", x.seq) {
					t.Fatalf("dropped event %d has type %q: not the event that was added", x.seq, x.typ)
				}
				dropped = append(dropped, x.seq)
			}
			if !slices.Equal(dropped, tt.wantDrop) {
				t.Fatalf("dropped %v, want %v", dropped, tt.wantDrop)
			}
		})
	}
}

func TestAddAfterCloseDrops(t *testing.T) {
	for _, end := range []struct {
		name string
		fn   func(q *Queue)
	}{
		{"Close", (*Queue).Close},
		{"Discard", func(q *Queue) { q.Discard(ccgw.DropSessionEnded) }},
	} {
		t.Run(end.name, func(t *testing.T) {
			q, d := testQueue(t, 10)
			tAdd(q, 2)
			end.fn(q)
			before := q.Len()
			ev := q.Add("late", nil, tNow)
			if ev.Seq != 3 || ev.Type != "late" {
				t.Fatalf("Add after close returned %+v", ev)
			}
			if q.Len() != before {
				t.Fatalf("Len after a closed Add = %d, want %d", q.Len(), before)
			}
			got := d.list()
			last := got[len(got)-1]
			if last != (tDropped{3, "late", ccgw.DropSessionEnded}) {
				t.Fatalf("last drop = %+v, want the late event with %q", last, ccgw.DropSessionEnded)
			}
		})
	}
}

func TestCloseKeepsQueuedEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, d := testQueue(t, 10)
		tAdd(q, 2)
		q.Close()
		q.Close() // idempotent
		for want := uint64(1); want <= 2; want++ {
			ev, ok := tNextNow(t, q, context.Background(), nil)
			if !ok || ev.Seq != want {
				t.Fatalf("Next on a closed queue = %d, %v; want %d, true", ev.Seq, ok, want)
			}
		}
		if _, ok := tNextNow(t, q, context.Background(), nil); ok {
			t.Fatal("Next on a closed empty queue reported an event")
		}
		if len(d.list()) != 0 {
			t.Fatalf("Close dropped %v", d.list())
		}
	})
}

// TestIdleQueueHoldsNoMemory: an empty queue holds neither a ring nor a channel
// (a million idle sessions each have a queue, docs/benchmarks.md "Capacity"); the
// ring starts at two events, a sign-in's, and is released when drained.
func TestIdleQueueHoldsNoMemory(t *testing.T) {
	q, _ := testQueue(t, 10)
	if q.buf != nil || q.notify != nil {
		t.Fatalf("new queue: buf %v, notify %v; want both nil", q.buf, q.notify)
	}
	q.Add("E1", nil, tNow)
	q.Add("E2", nil, tNow)
	if len(q.buf) != 2 || q.notify != nil {
		t.Fatalf("after two Adds with no waiter: len(buf) %d, notify %v; want 2, nil", len(q.buf), q.notify)
	}
	q.Add("E3", nil, tNow)
	if len(q.buf) != 4 {
		t.Fatalf("after three Adds: len(buf) %d, want 4", len(q.buf))
	}
	for _, want := range []string{"E1", "E2", "E3"} {
		if ev, ok := q.Pop(); !ok || ev.Type != want {
			t.Fatalf("Pop = %v, %v; want %s", ev.Type, ok, want)
		}
	}
	if q.buf != nil {
		t.Fatalf("drained queue keeps a ring of %d", len(q.buf))
	}
	q.Add("E4", nil, tNow)
	q.Ack(4)
	if q.buf != nil || q.Len() != 0 {
		t.Fatalf("queue drained by Ack keeps a ring of %d (Len %d)", len(q.buf), q.Len())
	}
	if ev, ok := q.Pop(); ok {
		t.Fatalf("Pop on drained queue = %v", ev)
	}
	if ev := q.Add("E5", nil, tNow); ev.Seq != 5 {
		t.Fatalf("Seq after release = %d, want 5", ev.Seq)
	}
}

func TestDiscard(t *testing.T) {
	tests := []struct {
		name   string
		queued int
		popped int
		reason ccgw.DropReason
	}{
		{name: "empty", reason: ccgw.DropSessionEnded},
		{name: "three", queued: 3, reason: ccgw.DropSessionEnded},
		{name: "after pops", queued: 5, popped: 2, reason: ccgw.DropPushFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q, d := testQueue(t, 10)
				tAdd(q, tt.queued)
				for i := 0; i < tt.popped; i++ {
					q.Pop()
				}
				want := tt.queued - tt.popped
				if n := q.Discard(tt.reason); n != want {
					t.Fatalf("Discard = %d, want %d", n, want)
				}
				if q.Len() != 0 {
					t.Fatalf("Len after Discard = %d", q.Len())
				}
				got := d.list()
				if len(got) != want {
					t.Fatalf("DropFunc called %d times, want %d", len(got), want)
				}
				for i, x := range got {
					if x.seq != uint64(tt.popped+i+1) || x.reason != tt.reason {
						t.Fatalf("drop #%d = %+v, want Seq %d with %q (oldest first)", i, x, tt.popped+i+1, tt.reason)
					}
				}
				if n := q.Discard(tt.reason); n != 0 {
					t.Fatalf("second Discard = %d, want 0", n)
				}
				if _, ok := tNextNow(t, q, context.Background(), nil); ok {
					t.Fatal("Next after Discard reported an event")
				}
			})
		})
	}
}

func TestPeek(t *testing.T) {
	tests := []struct {
		max  int
		want []uint64
	}{
		{max: -1, want: []uint64{1, 2, 3}},
		{max: 0, want: []uint64{1, 2, 3}},
		{max: 1, want: []uint64{1}},
		{max: 2, want: []uint64{1, 2}},
		{max: 3, want: []uint64{1, 2, 3}},
		{max: 10, want: []uint64{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("max=%d", tt.max), func(t *testing.T) {
			q, _ := testQueue(t, 10)
			tAdd(q, 3)
			got := q.Peek(tt.max)
			if !slices.Equal(tSeqs(got), tt.want) {
				t.Fatalf("Peek(%d) = %v, want %v", tt.max, tSeqs(got), tt.want)
			}
			got[0].Type = "changed"
			if q.Len() != 3 {
				t.Fatalf("Peek removed events: Len = %d", q.Len())
			}
			if ev, _ := q.Pop(); ev.Type != "E1" {
				t.Fatalf("changing Peek's result changed the queue: %+v", ev)
			}
		})
	}
	q, _ := testQueue(t, 10)
	if got := q.Peek(0); len(got) != 0 {
		t.Fatalf("Peek of an empty queue = %v", got)
	}
}

func TestAck(t *testing.T) {
	tests := []struct {
		name string
		ack  uint64
		want []uint64
	}{
		{name: "zero", ack: 0, want: []uint64{3, 4, 5}},
		{name: "below head", ack: 2, want: []uint64{3, 4, 5}},
		{name: "head", ack: 3, want: []uint64{4, 5}},
		{name: "middle", ack: 4, want: []uint64{5}},
		{name: "all", ack: 5, want: nil},
		{name: "beyond", ack: 99, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, d := testQueue(t, 10)
			tAdd(q, 5)
			q.Pop()
			q.Pop()
			q.Ack(tt.ack)
			if got := tSeqs(q.Peek(0)); !slices.Equal(got, tt.want) {
				t.Fatalf("after Ack(%d): %v, want %v", tt.ack, got, tt.want)
			}
			if len(d.list()) != 0 {
				t.Fatalf("Ack reported drops %v", d.list())
			}
		})
	}
}

// TestAckStopsAtFirstNewer checks that Ack removes only a prefix: events restored out
// of order behind a newer one are not acknowledged by it.
func TestAckStopsAtFirstNewer(t *testing.T) {
	q, _ := testQueue(t, 10)
	q.Restore([]ccgw.Event{{Seq: 1}, {Seq: 5}, {Seq: 2}})
	q.Ack(3)
	if got := tSeqs(q.Peek(0)); !slices.Equal(got, []uint64{5, 2}) {
		t.Fatalf("after Ack(3): %v, want [5 2]", got)
	}
}

func TestRestoreKeepsSeq(t *testing.T) {
	tests := []struct {
		name     string
		acked    uint64
		restored []uint64
		max      int
		wantLeft []uint64
		wantNext uint64
	}{
		{name: "none", restored: nil, max: 10, wantNext: 1},
		{name: "three", restored: []uint64{5, 6, 7}, max: 10, wantLeft: []uint64{5, 6, 7}, wantNext: 8},
		{name: "acked none left", acked: 9, max: 10, wantNext: 10},
		{name: "acked below events", acked: 4, restored: []uint64{5, 6}, max: 10, wantLeft: []uint64{5, 6}, wantNext: 7},
		{name: "gap", restored: []uint64{2, 9}, max: 10, wantLeft: []uint64{2, 9}, wantNext: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, d := testQueue(t, tt.max)
			var evs []ccgw.Event
			for _, s := range tt.restored {
				evs = append(evs, ccgw.Event{Type: fmt.Sprintf("E%d", s), WorkNo: "1001", Seq: s, GenTime: 7})
			}
			q.RestoreFrom(tt.acked, evs)
			got := q.Peek(0)
			if !slices.Equal(tSeqs(got), tt.wantLeft) {
				t.Fatalf("restored %v, want %v", tSeqs(got), tt.wantLeft)
			}
			for _, ev := range got {
				if ev.Type != fmt.Sprintf("E%d", ev.Seq) || ev.GenTime != 7 {
					t.Fatalf("restored event changed: %+v", ev)
				}
			}
			if ev := q.Add("new", nil, tNow); ev.Seq != tt.wantNext {
				t.Fatalf("next Seq = %d, want %d", ev.Seq, tt.wantNext)
			}
			if len(d.list()) != 0 {
				t.Fatalf("drops %v", d.list())
			}
		})
	}
}

func TestContent(t *testing.T) {
	if c := Content(nil); c != nil {
		t.Fatalf("Content(nil) = %q, want nil (JSON null)", c)
	}
	if c := Content(map[string]string{"loginTime": "1"}); string(c) != `{"loginTime":"1"}` {
		t.Fatalf("Content(map) = %s", c)
	}
	if c := Content("x"); string(c) != `"x"` {
		t.Fatalf("Content(string) = %s", c)
	}
	ev := ccgw.Event{Type: "E", Content: Content(nil)}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if v, ok := back["content"]; !ok || v != nil {
		t.Fatalf("nil content encodes as %v, want null", v)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Content of an unencodable value did not panic")
		}
	}()
	Content(make(chan int))
}
