// Package event owns agent events between their making and their delivery: one
// bounded, ordered queue per agent sign-in, numbered per agent, that a long poll
// waits on and that counts every event it cannot keep.
package event

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccgw/ccgw"
)

// DropFunc is told of every event a queue gives up, with the reason.
type DropFunc func(ev ccgw.Event, reason ccgw.DropReason)

// Config is how a queue keeps and reports events. The queues of one owner share
// one Config (a million sessions have a million queues): it must not change
// once a queue uses it.
type Config struct {
	Max     int            // events a queue holds at most (at least 1)
	OnDrop  DropFunc       // told of every event given up; may be nil
	Counter *atomic.Uint64 // counts every event added; may be nil
	// Tap, if set, sees every event added, in order, in the adding goroutine;
	// with TapOnly the events are not queued (a client-less agent).
	Tap     func(ccgw.Event)
	TapOnly bool
	// Filter, if set, makes a queue drop as ccgw.DropFault every event added
	// that it reports true for (after the tap saw it). It runs with the queue's
	// lock held: it must be quick and must not call the queue.
	Filter func(id ccgw.AgentID, ev ccgw.Event) bool
}

// Queue is one agent's FIFO of undelivered events within one sign-in. It is safe for
// concurrent use; no method blocks except Wait, and none does I/O.
type Queue struct {
	cfg *Config

	mu  sync.Mutex // guards all below
	buf []item     // ring buffer (events in their compact form, item.go) of capacity len(buf); grows up to cfg.Max; nil when empty
	seq uint64     // Seq of the last event added
	// notify is closed (and set to nil) when events arrive or the queue closes; it
	// is made only when someone waits, so an idle queue holds no channel.
	notify chan struct{}
	head   uint32 // index of the oldest event
	n      uint32 // events queued
	id     ccgw.AgentID
	closed bool // no more events will be added
}

// New returns an empty queue for agent id, set up as cfg says.
func New(id ccgw.AgentID, cfg *Config) *Queue { return &Queue{cfg: cfg, id: id} }

// NewQueue returns an empty queue for agent workNo (a work number, "1001")
// with a Config of its own that holds at most max events (at least 1); onDrop
// may be nil.
func NewQueue(workNo string, max int, onDrop DropFunc) *Queue {
	id, err := strconv.ParseUint(workNo, 10, 32)
	if err != nil || strconv.FormatUint(id, 10) != workNo {
		panic("event: NewQueue: work number " + strconv.Quote(workNo))
	}
	return New(ccgw.AgentID(id), &Config{Max: max, OnDrop: onDrop})
}

// SetCounter makes the queue count every event added in c. Call it before the
// queue is shared; it gives the queue a Config of its own.
func (q *Queue) SetCounter(c *atomic.Uint64) { q.own().Counter = c }

// SetTap makes tap see every event added from now on, in order, in the adding
// goroutine; with keep false the events are not queued (a client-less agent).
// Call it before the queue is shared; it gives the queue a Config of its own.
func (q *Queue) SetTap(tap func(ccgw.Event), keep bool) {
	c := q.own()
	c.Tap, c.TapOnly = tap, !keep
}

// SetFilter makes the queue drop, as ccgw.DropFault, every event added from
// now on that drop reports true for (after the tap saw it). drop runs with the
// queue's lock held: it must be quick and must not call the queue. Call it
// before the queue is shared; it gives the queue a Config of its own.
func (q *Queue) SetFilter(drop func(ccgw.Event) bool) {
	q.own().Filter = func(_ ccgw.AgentID, ev ccgw.Event) bool { return drop(ev) }
}

// own replaces q's Config with a copy of its own and returns it.
func (q *Queue) own() *Config {
	c := *q.cfg
	q.cfg = &c
	return q.cfg
}

func (q *Queue) max() uint32 {
	switch m := q.cfg.Max; {
	case m < 1:
		return 1
	case m > math.MaxInt32:
		return math.MaxInt32
	default:
		return uint32(m)
	}
}

// workNo returns the agent's work number, the WorkNo of its events.
func (q *Queue) workNo() string { return q.id.String() }

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
// Config.Filter); a dropped event keeps its sequence number, so its gap shows.
func (q *Queue) Add(typ string, content json.RawMessage, now time.Time) ccgw.Event {
	ev := ccgw.Event{Type: typ, GenTime: ccgw.Millis(now), WorkNo: q.workNo(), Content: content}
	cfg := q.cfg
	q.mu.Lock()
	q.seq++
	ev.Seq = q.seq
	if cfg.Counter != nil {
		cfg.Counter.Add(1)
	}
	if cfg.Tap != nil {
		cfg.Tap(ev)
		if cfg.TapOnly {
			q.mu.Unlock()
			return ev
		}
	}
	if q.closed {
		q.mu.Unlock()
		q.drop(ev, ccgw.DropSessionEnded)
		return ev
	}
	if cfg.Filter != nil && cfg.Filter(q.id, ev) {
		q.mu.Unlock()
		q.drop(ev, ccgw.DropFault)
		return ev
	}
	var dropped item
	full := q.n == q.max()
	if full {
		dropped = q.takeLocked()
	}
	q.pushLocked(itemOf(&ev))
	q.wakeLocked()
	q.mu.Unlock()
	if full {
		q.drop(dropped.event(ev.WorkNo), ccgw.DropQueueFull)
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
	if over := int(q.n) + len(evs) - int(q.max()); over > 0 { // keep the newest, as Add does
		dropped, evs = evs[:over], evs[over:]
	}
	for i := range evs {
		q.pushLocked(itemOf(&evs[i]))
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

func (q *Queue) pushLocked(it item) {
	if int(q.n) == len(q.buf) {
		// Start at 2, the events of a sign-in (AgentOther_InService, AgentState_Ready).
		size := min(max(2*len(q.buf), 2), int(q.max()))
		nb := make([]item, size)
		for i := range q.n {
			nb[i] = q.buf[q.at(i)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[q.at(q.n)] = it
	q.n++
}

// at returns the index in buf of the i-th oldest event.
func (q *Queue) at(i uint32) int { return int((q.head + i) % uint32(len(q.buf))) }

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
func (q *Queue) takeLocked() item {
	it := q.buf[q.head]
	q.buf[q.head] = item{}
	q.head = (q.head + 1) % uint32(len(q.buf))
	q.n--
	if q.n == 0 {
		q.buf, q.head = nil, 0
	}
	return it
}

// Pop removes and returns the oldest event, if there is one.
func (q *Queue) Pop() (ccgw.Event, bool) {
	q.mu.Lock()
	if q.n == 0 {
		q.mu.Unlock()
		return ccgw.Event{}, false
	}
	it := q.takeLocked()
	q.mu.Unlock()
	return it.event(q.workNo()), true
}

// Peek returns up to max of the oldest events without removing them (all of them
// when max <= 0).
func (q *Queue) Peek(max int) []ccgw.Event {
	q.mu.Lock()
	n := int(q.n)
	if max > 0 && max < n {
		n = max
	}
	out := make([]ccgw.Event, n)
	for i := range out {
		out[i] = q.buf[q.at(uint32(i))].event("")
	}
	q.mu.Unlock()
	if n > 0 {
		w := q.workNo()
		for i := range out {
			out[i].WorkNo = w
		}
	}
	return out
}

// Ack removes the events at the head with Seq <= seq: those a push delivered.
func (q *Queue) Ack(seq uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.n > 0 && q.buf[q.head].seq <= seq {
		q.takeLocked()
	}
}

// DropHead removes the events at the head with Seq <= seq and reports each as
// dropped with reason: a push that gave up on them.
func (q *Queue) DropHead(seq uint64, reason ccgw.DropReason) int {
	q.mu.Lock()
	var its []item
	for q.n > 0 && q.buf[q.head].seq <= seq {
		its = append(its, q.takeLocked())
	}
	q.mu.Unlock()
	q.dropAll(its, reason)
	return len(its)
}

// LastSeq returns the sequence number of the last event added (0: none yet).
func (q *Queue) LastSeq() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.seq
}

// Len returns the number of queued events.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return int(q.n)
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
	q.mu.Lock()
	its := q.takeAllLocked()
	q.mu.Unlock()
	q.dropAll(its, reason)
	return len(its)
}

// TakeAll closes the queue and returns everything still in it, oldest first,
// without telling the DropFunc: for a caller that drops many queues' events at
// once and counts them itself.
func (q *Queue) TakeAll() []ccgw.Event {
	q.mu.Lock()
	its := q.takeAllLocked()
	q.mu.Unlock()
	evs := make([]ccgw.Event, len(its))
	w := q.workNo()
	for i := range its {
		evs[i] = its[i].event(w)
	}
	return evs
}

// takeAllLocked closes the queue and removes everything still in it, oldest
// first.
func (q *Queue) takeAllLocked() []item {
	its := make([]item, 0, q.n)
	for q.n > 0 {
		its = append(its, q.takeLocked())
	}
	if !q.closed {
		q.closed = true
		q.wakeLocked()
	}
	return its
}

func (q *Queue) drop(ev ccgw.Event, reason ccgw.DropReason) {
	if q.cfg.OnDrop != nil {
		q.cfg.OnDrop(ev, reason)
	}
}

// dropAll reports each of its as dropped with reason.
func (q *Queue) dropAll(its []item, reason ccgw.DropReason) {
	if q.cfg.OnDrop == nil || len(its) == 0 {
		return
	}
	w := q.workNo()
	for i := range its {
		q.cfg.OnDrop(its[i].event(w), reason)
	}
}
