// Package clock provides the real ccgw.Clock and a Fake one that tests advance by
// hand; the fake fires due timers synchronously inside Advance.
package clock

import (
	"sort"
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

// Fake is a manual clock. Timers fire only when Advance (or Set) moves the time
// past their deadline, in deadline order, synchronously in the caller's goroutine.
// It is safe for concurrent use.
type Fake struct {
	mu     sync.Mutex // guards now, timers, seq
	now    time.Time
	timers []*fakeTimer
	seq    uint64
}

var _ ccgw.Clock = (*Fake)(nil)

// NewFake returns a Fake clock set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a timer whose channel (buffered, 1) receives when the fake time
// reaches Now()+d.
func (f *Fake) NewTimer(d time.Duration) ccgw.Timer {
	return f.add(d, make(chan time.Time, 1), nil)
}

// AfterFunc arranges for fn to be called, from Advance, when the fake time reaches
// Now()+d.
func (f *Fake) AfterFunc(d time.Duration, fn func()) ccgw.Timer {
	return f.add(d, nil, fn)
}

func (f *Fake) add(d time.Duration, c chan time.Time, fn func()) *fakeTimer {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	t := &fakeTimer{clock: f, at: f.now.Add(d), c: c, fn: fn, seq: f.seq}
	if d <= 0 {
		// Due at once, as time.NewTimer(0) is.
		f.fireLocked(t)
		return t
	}
	f.timers = append(f.timers, t)
	return t
}

// fireLocked delivers t. AfterFunc callbacks run in their own goroutine only when
// due at creation; from Advance they run synchronously after the lock is released.
func (f *Fake) fireLocked(t *fakeTimer) {
	t.fired = true
	if t.c != nil {
		select {
		case t.c <- f.now:
		default:
		}
	}
	if t.fn != nil {
		go t.fn()
	}
}

// Advance moves the time forward by d and fires every timer that falls due, in
// deadline order, each with the clock set to its deadline.
func (f *Fake) Advance(d time.Duration) {
	f.Set(f.Now().Add(d))
}

// Set moves the time to t (never backwards) and fires the timers due by then.
func (f *Fake) Set(t time.Time) {
	for {
		f.mu.Lock()
		sort.Slice(f.timers, func(i, j int) bool {
			a, b := f.timers[i], f.timers[j]
			if !a.at.Equal(b.at) {
				return a.at.Before(b.at)
			}
			return a.seq < b.seq
		})
		if len(f.timers) == 0 || f.timers[0].at.After(t) {
			if t.After(f.now) {
				f.now = t
			}
			f.mu.Unlock()
			return
		}
		next := f.timers[0]
		f.timers = f.timers[1:]
		if next.at.After(f.now) {
			f.now = next.at
		}
		next.fired = true
		if next.c != nil {
			select {
			case next.c <- f.now:
			default:
			}
		}
		f.mu.Unlock()
		if next.fn != nil {
			next.fn()
		}
	}
}

// Pending returns how many timers have not fired or been stopped.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

type fakeTimer struct {
	clock *Fake
	at    time.Time
	c     chan time.Time
	fn    func()
	seq   uint64
	fired bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	f := t.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.timers {
		if x == t {
			f.timers = append(f.timers[:i], f.timers[i+1:]...)
			return true
		}
	}
	return false
}
