package clock

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestVirtualFiresInOrder(t *testing.T) {
	v := NewVirtual(start)
	var got []int
	v.AfterFunc(3*time.Second, func() { got = append(got, 3) })
	v.AfterFunc(1*time.Second, func() { got = append(got, 1) })
	stopped := v.AfterFunc(2*time.Second, func() { got = append(got, 2) })
	tm := v.NewTimer(2 * time.Second)
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	if stopped.Stop() {
		t.Fatal("second Stop reported true")
	}
	v.Advance(2 * time.Second)
	if !slices.Equal(got, []int{1}) {
		t.Fatalf("after 2s fired %v, want [1]", got)
	}
	select {
	case at := <-tm.C():
		if !at.Equal(start.Add(2 * time.Second)) {
			t.Fatalf("timer fired at %v", at)
		}
	default:
		t.Fatal("timer due at 2s did not fire")
	}
	v.Advance(time.Second)
	if !slices.Equal(got, []int{1, 3}) {
		t.Fatalf("after 3s fired %v, want [1 3]", got)
	}
	if v.Pending() != 0 {
		t.Fatalf("pending = %d", v.Pending())
	}
	if tm.Stop() {
		t.Fatal("Stop of a fired timer reported true")
	}
}

func TestVirtualCallbackSeesItsDeadline(t *testing.T) {
	v := NewVirtual(start)
	var seen time.Time
	v.AfterFunc(5*time.Second, func() { seen = v.Now() })
	v.Advance(time.Minute)
	if !seen.Equal(start.Add(5 * time.Second)) {
		t.Fatalf("callback saw %v, want %v", seen, start.Add(5*time.Second))
	}
	if !v.Now().Equal(start.Add(time.Minute)) {
		t.Fatalf("now = %v", v.Now())
	}
}

// Timers with one deadline fire in the order they were made.
func TestVirtualTiesInCreationOrder(t *testing.T) {
	v := NewVirtual(start)
	var got []int
	for i := range 50 {
		v.AfterFunc(time.Second, func() { got = append(got, i) })
	}
	v.Advance(time.Second)
	for i := range got {
		if got[i] != i {
			t.Fatalf("fired %v, want 0..49 in order", got)
		}
	}
	if len(got) != 50 {
		t.Fatalf("fired %d of 50", len(got))
	}
}

// A timer that a firing one sets, due within the same Advance, fires in it too,
// in its place; one due later waits.
func TestVirtualChainedTimers(t *testing.T) {
	v := NewVirtual(start)
	var got []time.Duration
	var tick func()
	tick = func() {
		got = append(got, v.Now().Sub(start))
		v.AfterFunc(time.Second, tick)
	}
	v.AfterFunc(time.Second, tick)
	v.Advance(3500 * time.Millisecond)
	want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}
	if !slices.Equal(got, want) {
		t.Fatalf("fired at %v, want %v", got, want)
	}
	if v.Pending() != 1 {
		t.Fatalf("pending = %d, want the 4 s timer", v.Pending())
	}
	if at, ok := v.NextAt(); !ok || !at.Equal(start.Add(4*time.Second)) {
		t.Fatalf("NextAt = %v %v", at, ok)
	}
}

// Set never moves the time backwards, and a zero-length timer is due at once.
func TestVirtualSetAndImmediate(t *testing.T) {
	v := NewVirtual(start)
	v.Set(start.Add(-time.Hour))
	if !v.Now().Equal(start) {
		t.Fatalf("Set backwards moved the clock to %v", v.Now())
	}
	tm := v.NewTimer(0)
	select {
	case <-tm.C():
	default:
		t.Fatal("NewTimer(0) had not fired")
	}
	done := make(chan struct{})
	v.AfterFunc(-time.Second, func() { close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("AfterFunc(<0) never ran")
	}
	if _, ok := v.NextAt(); ok || v.Pending() != 0 {
		t.Fatal("an immediate timer stayed pending")
	}
}

// Random timers, some stopped, fire exactly in (deadline, creation) order:
// the heap against a sorted reference.
func TestVirtualMatchesSortedReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	v := NewVirtual(start)
	type ref struct {
		at  time.Duration
		seq int
	}
	var want []ref
	var got []ref
	for i := range 2000 {
		d := time.Duration(1+r.IntN(500)) * time.Millisecond
		tm := v.AfterFunc(d, func() { got = append(got, ref{v.Now().Sub(start), i}) })
		if r.IntN(4) == 0 {
			tm.Stop()
			continue
		}
		want = append(want, ref{d, i})
	}
	slices.SortStableFunc(want, func(a, b ref) int { return int(a.at - b.at) })
	v.Advance(time.Second)
	if !slices.Equal(got, want) {
		t.Fatalf("fired %d timers out of order (want %d)", len(got), len(want))
	}
}

// Concurrent timers, stops and advances (run with -race).
func TestVirtualConcurrent(t *testing.T) {
	v := NewVirtual(start)
	var wg sync.WaitGroup
	var mu sync.Mutex
	fired := 0
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				tm := v.AfterFunc(time.Duration(1+(i+g)%7)*time.Millisecond, func() {
					mu.Lock()
					fired++
					mu.Unlock()
				})
				if i%3 == 0 {
					tm.Stop()
				}
				if i%50 == 0 {
					v.Advance(time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	v.Advance(time.Second)
	if v.Pending() != 0 {
		t.Fatalf("pending = %d after the last advance", v.Pending())
	}
	mu.Lock()
	defer mu.Unlock()
	if fired == 0 || fired > 4*500 {
		t.Fatalf("fired = %d", fired)
	}
}

func BenchmarkVirtualTimers(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run("pending="+strconv.Itoa(n), func(b *testing.B) {
			v := NewVirtual(start)
			for i := range n {
				v.AfterFunc(time.Hour+time.Duration(i), func() {})
			}
			b.ResetTimer()
			for range b.N {
				tm := v.AfterFunc(time.Minute, func() {})
				tm.Stop()
			}
		})
	}
}
