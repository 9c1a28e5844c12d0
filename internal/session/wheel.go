package session

import (
	"sync"
	"time"

	"github.com/ccgw/ccgw"
)

// wheelEntry asks the sweeper to look at agent id's sign-in gen (or its tombstone)
// at the entry's tick. Entries are never removed early: a stale one (the session
// ended, or was re-filed at a later tick) is recognised by gen and skipped.
// Its fields are ordered to make it 24 bytes, not 40: a live session has one or
// two (dynamic mode) of them filed.
type wheelEntry struct {
	gen    uint64
	rest   uint64 // non-zero: the entry is the timer of rest number rest
	id     ccgw.AgentID
	tomb   bool // the entry is for the sign-in's tombstone
	rotate bool // the entry marks the sign-in's GUID rotation as due
}

// wheel files entries by tick number (deadline / tick, rounded up). Each live
// session has at most one current entry, so adding is O(1) and a sweep touches
// only the ticks that have passed and the entries filed in them.
type wheel struct {
	tick time.Duration

	mu    sync.Mutex // guards slots, last and carry; never held across I/O or a shard lock
	slots map[int64][]wheelEntry
	last  int64 // the last tick swept
	// carry holds entries already due that a sweep left over (its MaxExpiries
	// was reached): the next due returns them first, whatever its time.
	carry []wheelEntry
}

func newWheel(tick time.Duration, now time.Time) *wheel {
	return &wheel{tick: tick, slots: make(map[int64][]wheelEntry), last: tickOf(now, tick) - 1}
}

// tickOf returns the tick at or after t.
func tickOf(t time.Time, tick time.Duration) int64 {
	n := t.UnixNano()
	d := int64(tick)
	q := n / d
	if n%d > 0 {
		q++
	}
	return q
}

// add files e at the tick of at; an at in a swept tick goes to the next unswept one.
func (w *wheel) add(at time.Time, e wheelEntry) {
	w.mu.Lock()
	w.addLocked(at, e)
	w.mu.Unlock()
}

func (w *wheel) addLocked(at time.Time, e wheelEntry) {
	k := tickOf(at, w.tick)
	if k <= w.last {
		k = w.last + 1
	}
	w.slots[k] = append(w.slots[k], e)
}

// addAll files every entry of es at its time.
func (w *wheel) addAll(es []timedEntry) {
	if len(es) == 0 {
		return
	}
	w.mu.Lock()
	for _, e := range es {
		w.addLocked(e.at, e.e)
	}
	w.mu.Unlock()
}

type timedEntry struct {
	at time.Time
	e  wheelEntry
}

// requeue hands es, due entries a sweep did not get to, to the next due.
func (w *wheel) requeue(es []wheelEntry) {
	if len(es) == 0 {
		return
	}
	w.mu.Lock()
	w.carry = append(w.carry, es...)
	w.mu.Unlock()
}

// due removes and returns the entries left over by the last sweep (requeue),
// then those of every tick up to now not yet swept.
func (w *wheel) due(now time.Time) []wheelEntry {
	w.mu.Lock()
	defer w.mu.Unlock()
	end := tickOf(now, w.tick)
	if n := now.UnixNano(); n%int64(w.tick) != 0 {
		end-- // the tick containing now is not over yet
	}
	out := w.carry
	w.carry = nil
	if end-w.last > int64(len(w.slots)) {
		// A long jump (virtual time, a stalled process): visit the filed ticks only.
		for k, es := range w.slots {
			if k <= end {
				out = append(out, es...)
				delete(w.slots, k)
			}
		}
	} else {
		for k := w.last + 1; k <= end; k++ {
			if es, ok := w.slots[k]; ok {
				out = append(out, es...)
				delete(w.slots, k)
			}
		}
	}
	if end > w.last {
		w.last = end
	}
	return out
}

// len returns the number of filed entries, stale ones included.
func (w *wheel) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(w.carry)
	for _, es := range w.slots {
		n += len(es)
	}
	return n
}
