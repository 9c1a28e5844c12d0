// Package event owns agent events between their making and their delivery: one
// bounded, ordered queue per agent sign-in, numbered per agent, that a long poll
// waits on and that counts every event it cannot keep.
package event

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccgw/ccgw"
)

// DropFunc is told of every event a queue gives up, with the reason.
type DropFunc func(ev ccgw.Event, reason ccgw.DropReason)

// Queue is one agent's FIFO of undelivered events within one sign-in. It is safe for
// concurrent use; no method blocks except Wait, and none does I/O.
type Queue struct {
	workNo string
	max    int
	onDrop DropFunc

	mu   sync.Mutex   // guards all below
	buf  []ccgw.Event // ring buffer of capacity len(buf); grows up to max; nil when empty
	head int          // index of the oldest event
	n    int          // events queued
	seq  uint64       // Seq of the last event added
	// notify is closed (and set to nil) when events arrive or the queue closes; it
	// is made only when someone waits, so an idle queue holds no channel.
	notify chan struct{}
	closed bool // no more events will be added

	tap     func(ccgw.Event)      // sees every event added, in order; set before use
	keep    bool                  // with a tap: also queue the events
	counter *atomic.Uint64        // counts events added; set before use
	filter  func(ccgw.Event) bool // drops the events it reports true for; set before use
}

// SetCounter makes the queue count every event added in c. Call it before the
// queue is shared.
func (q *Queue) SetCounter(c *atomic.Uint64) { q.counter = c }

// SetTap makes tap see every event added from now on, in order, in the adding
// goroutine; with keep false the events are not queued (a client-less agent).
// Call it before the queue is shared.
func (q *Queue) SetTap(tap func(ccgw.Event), keep bool) {
	q.tap, q.keep = tap, keep
}

// SetFilter makes the queue drop, as ccgw.DropFault, every event added from
// now on that drop reports true for (after the tap saw it). drop runs with the
// queue's lock held: it must be quick and must not call the queue. Call it
// before the queue is shared.
func (q *Queue) SetFilter(drop func(ccgw.Event) bool) { q.filter = drop }

// NewQueue returns an empty queue for agent workNo that holds at most max events
// (at least 1); onDrop may be nil.
func NewQueue(workNo string, max int, onDrop DropFunc) *Queue {
	if max < 1 {
		max = 1
	}
	return &Queue{workNo: workNo, max: max, onDrop: onDrop}
}

// closedChan is a closed channel: what Changed returns for a closed queue.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Content encodes v as event content (ccgw.Content).
//
// Deprecated: use ccgw.Content.
func Content(v any) json.RawMessage { return ccgw.Content(v) }

// Add appends an event of type typ with content (nil for null) made at now, and
// returns it with its sequence number. When the queue is full the oldest event is
// dropped (ccgw.DropQueueFull). Adding to a closed queue drops the event
// (ccgw.DropSessionEnded), and so does a filter that refuses it (ccgw.DropFault,
// SetFilter); a dropped event keeps its sequence number, so its gap shows.
func (q *Queue) Add(typ string, content json.RawMessage, now time.Time) ccgw.Event {
	q.mu.Lock()
	q.seq++
	ev := ccgw.Event{Type: typ, GenTime: ccgw.Millis(now), WorkNo: q.workNo, Content: content, Seq: q.seq}
	if q.counter != nil {
		q.counter.Add(1)
	}
	if q.tap != nil {
		q.tap(ev)
		if !q.keep {
			q.mu.Unlock()
			return ev
		}
	}
	if q.closed {
		q.mu.Unlock()
		q.drop(ev, ccgw.DropSessionEnded)
		return ev
	}
	if q.filter != nil && q.filter(ev) {
		q.mu.Unlock()
		q.drop(ev, ccgw.DropFault)
		return ev
	}
	var dropped *ccgw.Event
	if q.n == q.max {
		old := q.takeLocked()
		dropped = &old
	}
	q.pushLocked(ev)
	q.wakeLocked()
	q.mu.Unlock()
	if dropped != nil {
		q.drop(*dropped, ccgw.DropQueueFull)
	}
	return ev
}

// Restore puts back events read from a store, keeping their sequence numbers.
// It is meant for a queue that has not been used yet.
func (q *Queue) Restore(evs []ccgw.Event) { q.RestoreFrom(0, evs) }

// RestoreFrom is Restore for a sign-in whose events up to acked were delivered:
// numbering goes on after acked even when no event is left.
func (q *Queue) RestoreFrom(acked uint64, evs []ccgw.Event) {
	q.mu.Lock()
	if acked > q.seq {
		q.seq = acked
	}
	var dropped []ccgw.Event
	if over := q.n + len(evs) - q.max; over > 0 { // keep the newest, as Add does
		dropped, evs = evs[:over], evs[over:]
	}
	for _, ev := range evs {
		q.pushLocked(ev)
	}
	for _, part := range [2][]ccgw.Event{dropped, evs} {
		for _, ev := range part {
			if ev.Seq > q.seq {
				q.seq = ev.Seq
			}
		}
	}
	q.wakeLocked()
	q.mu.Unlock()
	for _, ev := range dropped {
		q.drop(ev, ccgw.DropQueueFull)
	}
}

func (q *Queue) pushLocked(ev ccgw.Event) {
	if q.n == len(q.buf) {
		// Start at 2, the events of a sign-in (AgentOther_InService, AgentState_Ready).
		size := 2 * len(q.buf)
		if size < 2 {
			size = 2
		}
		if size > q.max {
			size = q.max
		}
		nb := make([]ccgw.Event, size)
		for i := 0; i < q.n; i++ {
			nb[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = ev
	q.n++
}

func (q *Queue) wakeLocked() {
	if q.notify != nil {
		close(q.notify)
		q.notify = nil
	}
}

// waitLocked returns the channel wakeLocked closes next.
func (q *Queue) waitLocked() <-chan struct{} {
	if q.closed {
		return closedChan
	}
	if q.notify == nil {
		q.notify = make(chan struct{})
	}
	return q.notify
}

// takeLocked removes the oldest event; the queue must not be empty. The ring is
// released when the queue empties: an idle session holds no event memory.
func (q *Queue) takeLocked() ccgw.Event {
	ev := q.buf[q.head]
	q.buf[q.head] = ccgw.Event{}
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	if q.n == 0 {
		q.buf, q.head = nil, 0
	}
	return ev
}

// Pop removes and returns the oldest event, if there is one.
func (q *Queue) Pop() (ccgw.Event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return ccgw.Event{}, false
	}
	return q.takeLocked(), true
}

// Peek returns up to max of the oldest events without removing them (all of them
// when max <= 0).
func (q *Queue) Peek(max int) []ccgw.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := q.n
	if max > 0 && max < n {
		n = max
	}
	out := make([]ccgw.Event, n)
	for i := 0; i < n; i++ {
		out[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	return out
}

// Ack removes the events at the head with Seq <= seq: those a push delivered.
func (q *Queue) Ack(seq uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.n > 0 && q.buf[q.head].Seq <= seq {
		q.takeLocked()
	}
}

// DropHead removes the events at the head with Seq <= seq and reports each as
// dropped with reason: a push that gave up on them.
func (q *Queue) DropHead(seq uint64, reason ccgw.DropReason) int {
	q.mu.Lock()
	var evs []ccgw.Event
	for q.n > 0 && q.buf[q.head].Seq <= seq {
		evs = append(evs, q.takeLocked())
	}
	q.mu.Unlock()
	for _, ev := range evs {
		q.drop(ev, reason)
	}
	return len(evs)
}

// Len returns the number of queued events.
// LastSeq returns the sequence number of the last event added (0: none yet).
func (q *Queue) LastSeq() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.seq
}

func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// Changed returns a channel that is closed when an event is added or the queue closes.
func (q *Queue) Changed() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.waitLocked()
}

// Next returns the oldest event, waiting for one until timeout fires, ctx ends or
// the queue is closed empty. It reports whether it returned an event; it removes
// nothing when it returns none.
func (q *Queue) Next(ctx context.Context, timeout <-chan time.Time) (ccgw.Event, bool) {
	for {
		q.mu.Lock()
		if q.n > 0 {
			q.mu.Unlock()
			if ctx.Err() != nil {
				return ccgw.Event{}, false
			}
			if ev, ok := q.Pop(); ok {
				return ev, true
			}
			continue // another Next took it meanwhile: wait on
		}
		if q.closed {
			q.mu.Unlock()
			return ccgw.Event{}, false
		}
		ch := q.waitLocked()
		q.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
			return ccgw.Event{}, false
		case <-ctx.Done():
			return ccgw.Event{}, false
		}
	}
}

// Close marks the queue closed: what is queued can still be taken, nothing more is
// added.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		q.wakeLocked()
	}
}

// Discard closes the queue and drops everything still in it with reason.
// It returns how many events it dropped.
func (q *Queue) Discard(reason ccgw.DropReason) int {
	evs := q.TakeAll()
	for _, ev := range evs {
		q.drop(ev, reason)
	}
	return len(evs)
}

// TakeAll closes the queue and returns everything still in it, oldest first,
// without telling the DropFunc: for a caller that drops many queues' events at
// once and counts them itself.
func (q *Queue) TakeAll() []ccgw.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	evs := make([]ccgw.Event, 0, q.n)
	for q.n > 0 {
		evs = append(evs, q.takeLocked())
	}
	if !q.closed {
		q.closed = true
		q.wakeLocked()
	}
	return evs
}

func (q *Queue) drop(ev ccgw.Event, reason ccgw.DropReason) {
	if q.onDrop != nil {
		q.onDrop(ev, reason)
	}
}
