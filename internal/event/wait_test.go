package event

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ccgw/ccgw"
)

// TestNextReturnsAtOnce covers every case where Next must not wait; it runs in a
// synctest bubble, so that a Next that waits is seen to block and fails the test.
func TestNextReturnsAtOnce(t *testing.T) {
	tests := []struct {
		name      string
		queued    int
		timedOut  bool
		cancelled bool
		closed    bool
		wantOK    bool
		wantLen   int // after Next
	}{
		{name: "queued", queued: 2, wantOK: true, wantLen: 1},
		{name: "queued and timed out", queued: 1, timedOut: true, wantOK: true, wantLen: 0},
		{name: "queued and closed", queued: 1, closed: true, wantOK: true, wantLen: 0},
		{name: "empty and timed out", timedOut: true, wantOK: false, wantLen: 0},
		{name: "empty and cancelled", cancelled: true, wantOK: false, wantLen: 0},
		{name: "empty and closed", closed: true, wantOK: false, wantLen: 0},
		{name: "queued and cancelled removes nothing", queued: 2, cancelled: true, wantOK: false, wantLen: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q, _ := testQueue(t, 10)
				tAdd(q, tt.queued)
				if tt.closed {
					q.Close()
				}
				var timeout chan time.Time
				if tt.timedOut {
					timeout = make(chan time.Time, 1)
					timeout <- tNow
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if tt.cancelled {
					cancel()
				}
				ev, ok := tNextNow(t, q, ctx, timeout)
				tCheckNext(t, ev, ok, q, tt.wantOK, tt.wantLen)
			})
		})
	}
}

// tNextNow calls q.Next, which must return without waiting, in a synctest
// bubble: a Next that blocks fails the test instead of hanging it.
func tNextNow(t *testing.T, q *Queue, ctx context.Context, timeout <-chan time.Time) (ccgw.Event, bool) {
	t.Helper()
	type result struct {
		ev ccgw.Event
		ok bool
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // lets a stuck Next go, so that the bubble can end
	done := make(chan result, 1)
	go func() {
		ev, ok := q.Next(ctx, timeout)
		done <- result{ev, ok}
	}()
	synctest.Wait()
	select {
	case r := <-done:
		return r.ev, r.ok
	default:
		t.Fatal("Next waited")
		return ccgw.Event{}, false
	}
}

func tCheckNext(t *testing.T, ev ccgw.Event, ok bool, q *Queue, wantOK bool, wantLen int) {
	t.Helper()
	if ok != wantOK {
		t.Fatalf("Next ok = %v, want %v", ok, wantOK)
	}
	if ok && ev.Seq != 1 {
		t.Fatalf("Next = Seq %d, want the oldest (1)", ev.Seq)
	}
	if !ok && ev.Seq != 0 {
		t.Fatalf("Next without an event returned %+v", ev)
	}
	if q.Len() != wantLen {
		t.Fatalf("Len after Next = %d, want %d", q.Len(), wantLen)
	}
}

// TestNextWaits checks what wakes a waiting Next, in a synctest bubble so that
// "Next is blocked" is a fact (synctest.Wait), not a guess.
func TestNextWaits(t *testing.T) {
	type result struct {
		ev ccgw.Event
		ok bool
	}
	tests := []struct {
		name    string
		wake    func(q *Queue, timeout chan time.Time, cancel context.CancelFunc)
		wantOK  bool
		wantLen int
	}{
		{name: "Add", wake: func(q *Queue, _ chan time.Time, _ context.CancelFunc) { q.Add("E1", nil, tNow) }, wantOK: true},
		{name: "Restore", wake: func(q *Queue, _ chan time.Time, _ context.CancelFunc) {
			q.Restore([]ccgw.Event{{Type: "E1", Seq: 1}})
		}, wantOK: true},
		{name: "timeout", wake: func(_ *Queue, timeout chan time.Time, _ context.CancelFunc) { timeout <- tNow }},
		{name: "cancel", wake: func(_ *Queue, _ chan time.Time, cancel context.CancelFunc) { cancel() }},
		{name: "Close", wake: func(q *Queue, _ chan time.Time, _ context.CancelFunc) { q.Close() }},
		{name: "Discard", wake: func(q *Queue, _ chan time.Time, _ context.CancelFunc) { q.Discard(ccgw.DropSessionEnded) }},
		{name: "Add after Close", wake: func(q *Queue, _ chan time.Time, _ context.CancelFunc) {
			q.Close()
			q.Add("E1", nil, tNow)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q, _ := testQueue(t, 10)
				timeout := make(chan time.Time, 1)
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				done := make(chan result, 1)
				go func() {
					ev, ok := q.Next(ctx, timeout)
					done <- result{ev, ok}
				}()
				synctest.Wait()
				select {
				case r := <-done:
					t.Fatalf("Next on an empty queue returned %+v before anything happened", r)
				default:
				}
				tt.wake(q, timeout, cancel)
				synctest.Wait()
				var r result
				select {
				case r = <-done:
				default:
					t.Fatal("Next still waits after the wake-up")
				}
				if r.ok != tt.wantOK {
					t.Fatalf("Next ok = %v, want %v", r.ok, tt.wantOK)
				}
				if r.ok && (r.ev.Seq != 1 || r.ev.Type != "E1") {
					t.Fatalf("Next = %+v, want E1 with Seq 1", r.ev)
				}
				if q.Len() != tt.wantLen {
					t.Fatalf("Len = %d, want %d", q.Len(), tt.wantLen)
				}
			})
		})
	}
}

// TestNextCancelledWhileWaitingKeepsLaterEvent checks that an event added after a
// cancelled Next gave up stays queued for the next poll.
func TestNextCancelledWhileWaitingKeepsLaterEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, _ := testQueue(t, 10)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan bool, 1)
		go func() {
			_, ok := q.Next(ctx, nil)
			done <- ok
		}()
		synctest.Wait()
		cancel()
		if <-done {
			t.Fatal("cancelled Next reported an event")
		}
		q.Add("E1", nil, tNow)
		if q.Len() != 1 {
			t.Fatalf("Len = %d, want 1", q.Len())
		}
	})
}

func TestChangedClosesOnAddAndClose(t *testing.T) {
	q, _ := testQueue(t, 10)
	ch := q.Changed()
	select {
	case <-ch:
		t.Fatal("Changed closed before anything happened")
	default:
	}
	q.Add("E1", nil, tNow)
	select {
	case <-ch:
	default:
		t.Fatal("Changed not closed by Add")
	}
	ch = q.Changed()
	q.Pop()
	select {
	case <-ch:
		t.Fatal("Changed closed by Pop")
	default:
	}
	q.Close()
	select {
	case <-ch:
	default:
		t.Fatal("Changed not closed by Close")
	}
}

// TestConcurrentAddNext runs producers and consumers together under the race
// detector: every Seq is handed out once, each event is delivered or dropped, never
// both, never lost, and a Next that loses an event to another Next waits on instead
// of returning empty.
func TestConcurrentAddNext(t *testing.T) {
	const producers, perProducer, consumers = 4, 2000, 8
	q, d := testQueue(t, 64)
	var (
		mu       sync.Mutex
		got      = map[uint64]int{}
		addedSeq = map[uint64]int{}
	)
	var closed atomic.Bool
	var spurious atomic.Int64 // Next returned no event while the queue was open
	var prodWG, consWG sync.WaitGroup
	for i := 0; i < producers; i++ {
		prodWG.Add(1)
		go func() {
			defer prodWG.Done()
			for j := 0; j < perProducer; j++ {
				ev := q.Add("E", nil, tNow)
				mu.Lock()
				addedSeq[ev.Seq]++
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < consumers; i++ {
		consWG.Add(1)
		go func() {
			defer consWG.Done()
			for {
				ev, ok := q.Next(context.Background(), nil)
				if !ok {
					if closed.Load() {
						return // closed and empty
					}
					spurious.Add(1) // nothing ended the wait: a contract breach
					continue
				}
				mu.Lock()
				got[ev.Seq]++
				mu.Unlock()
			}
		}()
	}
	prodWG.Wait()
	closed.Store(true)
	q.Close()
	consWG.Wait()
	if n := spurious.Load(); n != 0 {
		t.Fatalf("Next returned no event %d times without timeout, cancel or close", n)
	}

	const total = producers * perProducer
	if len(addedSeq) != total {
		t.Fatalf("%d distinct Seqs for %d adds", len(addedSeq), total)
	}
	for s := uint64(1); s <= total; s++ {
		if addedSeq[s] != 1 {
			t.Fatalf("Seq %d handed out %d times", s, addedSeq[s])
		}
	}
	dropped := map[uint64]bool{}
	for _, x := range d.list() {
		if x.reason != ccgw.DropQueueFull {
			t.Fatalf("drop reason %q", x.reason)
		}
		dropped[x.seq] = true
	}
	for s := uint64(1); s <= total; s++ {
		n := got[s]
		if dropped[s] {
			n++
		}
		if n != 1 {
			t.Fatalf("event %d delivered %d times, dropped %v", s, got[s], dropped[s])
		}
	}
}
