// Package clock provides the clocks ccgw runs on: Real, the wall clock, and
// Virtual, a clock that moves only when told to. Virtual is production code: it
// is the gateway's clock under --clock virtual (moved by the admin API) and the
// clock every unit test drives by hand.
package clock

import (
	"container/heap"
	"sync"
	"time"

	"github.com/ccgw/ccgw"
)

// Real is the wall clock.
type Real struct{}

var _ ccgw.Clock = Real{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// NewTimer wraps time.NewTimer.
func (Real) NewTimer(d time.Duration) ccgw.Timer { return realTimer{time.NewTimer(d)} }

// AfterFunc wraps time.AfterFunc.
func (Real) AfterFunc(d time.Duration, f func()) ccgw.Timer {
	return realTimer{time.AfterFunc(d, f)}
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

// Virtual is a clock whose time moves only by Advance and Set. Its timers fire
// when the time passes their deadline, in deadline order (ties in creation
// order), synchronously in the goroutine that moves the time, each with the
// clock set to its deadline. Timers are kept in a heap: adding, stopping and
// firing one costs O(log n) in the pending timers. It is safe for concurrent
// use.
type Virtual struct {
	mu     sync.Mutex // guards now, timers, seq
	now    time.Time
	timers timerHeap
	seq    uint64
}

var _ ccgw.Clock = (*Virtual)(nil)

// NewVirtual returns a Virtual clock set to start.
func NewVirtual(start time.Time) *Virtual { return &Virtual{now: start} }

// Now returns the virtual time.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// NewTimer returns a timer whose channel (buffered, 1) receives when the time
// reaches Now()+d. A timer due at once (d ≤ 0) has fired when NewTimer returns.
func (v *Virtual) NewTimer(d time.Duration) ccgw.Timer {
	return v.add(d, make(chan time.Time, 1), nil)
}

// AfterFunc arranges for fn to be called when the time reaches Now()+d: from
// Advance or Set, in their goroutine; if d ≤ 0, at once in a goroutine of its
// own (as time.AfterFunc(0) does).
func (v *Virtual) AfterFunc(d time.Duration, fn func()) ccgw.Timer {
	return v.add(d, nil, fn)
}

func (v *Virtual) add(d time.Duration, c chan time.Time, fn func()) *virtualTimer {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seq++
	t := &virtualTimer{clock: v, at: v.now.Add(d), c: c, fn: fn, seq: v.seq, index: -1}
	if d <= 0 {
		if c != nil {
			c <- v.now
		}
		if fn != nil {
			go fn()
		}
		return t
	}
	heap.Push(&v.timers, t)
	return t
}

// Advance moves the time forward by d and fires every timer that falls due.
func (v *Virtual) Advance(d time.Duration) {
	v.Set(v.Now().Add(d))
}

// Set moves the time to t (never backwards) and fires the timers due by then,
// in deadline order, each with the time set to its deadline. A timer that a
// firing one adds is fired too if it falls due by t.
func (v *Virtual) Set(t time.Time) {
	for {
		v.mu.Lock()
		if len(v.timers) == 0 || v.timers[0].at.After(t) {
			if t.After(v.now) {
				v.now = t
			}
			v.mu.Unlock()
			return
		}
		next := heap.Pop(&v.timers).(*virtualTimer)
		if next.at.After(v.now) {
			v.now = next.at
		}
		if next.c != nil {
			select {
			case next.c <- v.now:
			default:
			}
		}
		v.mu.Unlock()
		if next.fn != nil {
			next.fn()
		}
	}
}

// Pending returns how many timers have neither fired nor been stopped.
func (v *Virtual) Pending() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.timers)
}

// NextAt returns the deadline of the earliest pending timer, if any.
func (v *Virtual) NextAt() (time.Time, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.timers) == 0 {
		return time.Time{}, false
	}
	return v.timers[0].at, true
}

type virtualTimer struct {
	clock *Virtual
	at    time.Time
	c     chan time.Time
	fn    func()
	seq   uint64
	index int // in clock.timers; -1 once fired or stopped
}

func (t *virtualTimer) C() <-chan time.Time { return t.c }

// Stop prevents the timer from firing; it reports whether it did (false if the
// timer had fired or was stopped already).
func (t *virtualTimer) Stop() bool {
	v := t.clock
	v.mu.Lock()
	defer v.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&v.timers, t.index)
	return true
}

// timerHeap orders pending timers by deadline, then by creation.
type timerHeap []*virtualTimer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*virtualTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}
