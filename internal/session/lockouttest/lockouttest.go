// Package lockouttest is the behaviour suite every ccgw.LockoutStore passes:
// guard.MemLockouts, the bbolt store and the Redis store run the same tests.
package lockouttest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
)

// Start is the time the suite's clock starts at (whole milliseconds).
var Start = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// Policy is the suite's policy: 3 wrong passwords within a minute lock for 5.
var Policy = ccgw.LockoutPolicy{Attempts: 3, Window: time.Minute, Duration: 5 * time.Minute}

// Run runs the suite; open returns an empty store for one test.
func Run(t *testing.T, open func(t *testing.T) ccgw.LockoutStore) {
	t.Run("CountLockExpire", func(t *testing.T) { testCountLockExpire(t, open(t)) })
	t.Run("WindowRestarts", func(t *testing.T) { testWindow(t, open(t)) })
	t.Run("Clear", func(t *testing.T) { testClear(t, open(t)) })
	t.Run("ConcurrentFailuresAllCount", func(t *testing.T) { testConcurrent(t, open(t)) })
}

func get(t *testing.T, s ccgw.LockoutStore, id ccgw.AgentID) ccgw.LoginFailures {
	t.Helper()
	f, err := s.LoginFailures(context.Background(), id)
	if err != nil {
		t.Fatalf("LoginFailures(%d): %v", id, err)
	}
	return f
}

func fail(t *testing.T, s ccgw.LockoutStore, id ccgw.AgentID, now time.Time) ccgw.LoginFailures {
	t.Helper()
	f, err := s.AddLoginFailure(context.Background(), id, now, Policy)
	if err != nil {
		t.Fatalf("AddLoginFailure(%d): %v", id, err)
	}
	return f
}

func forget(t *testing.T, s ccgw.LockoutStore, id ccgw.AgentID, now time.Time) ccgw.LoginFailures {
	t.Helper()
	f, err := s.ClearLoginFailures(context.Background(), id, now)
	if err != nil {
		t.Fatalf("ClearLoginFailures(%d): %v", id, err)
	}
	return f
}

// testCountLockExpire: wrong passwords count up, the third within the window
// locks until then+Duration (and is what the record reads back), other agents
// are untouched, and the lock is over at its end, to the millisecond.
func testCountLockExpire(t *testing.T, s ccgw.LockoutStore) {
	if f := get(t, s, 1001); f != (ccgw.LoginFailures{}) {
		t.Fatalf("empty store: %+v, want the zero record", f)
	}
	now := Start
	if f := fail(t, s, 1001, now); f.Count != 1 || !f.Since.Equal(Start) || !f.Until.IsZero() {
		t.Fatalf("first failure: %+v, want count 1 since the start", f)
	}
	now = now.Add(20 * time.Second)
	if f := fail(t, s, 1001, now); f.Count != 2 || !f.Since.Equal(Start) || f.Locked(now) {
		t.Fatalf("second failure: %+v, want count 2 since the start", f)
	}
	if f := get(t, s, 1002); f != (ccgw.LoginFailures{}) {
		t.Fatalf("another agent: %+v, want the zero record", f)
	}
	now = now.Add(39 * time.Second)
	f := fail(t, s, 1001, now)
	until := now.Add(Policy.Duration)
	if !f.Locked(now) || !f.Until.Equal(until) || f.Count != 0 {
		t.Fatalf("third failure in the window: %+v, want locked until %v, count 0", f, until)
	}
	if got := get(t, s, 1001); !got.Until.Equal(until) || !got.Locked(until.Add(-time.Millisecond)) {
		t.Fatalf("read back: %+v, want locked until %v", got, until)
	}
	if got := get(t, s, 1001); got.Locked(until) {
		t.Fatalf("%+v still locked at its end", got)
	}
	if f := get(t, s, 1002); f != (ccgw.LoginFailures{}) {
		t.Fatalf("another agent after the lock: %+v, want the zero record", f)
	}
}

// testWindow: a failure at or after Since+Window starts a new window, so
// failures spread wider than the window never lock.
func testWindow(t *testing.T, s ccgw.LockoutStore) {
	now := Start
	for i := range 10 {
		f := fail(t, s, 2001, now)
		want := 1 + i%2 // two per window
		if f.Count != want || f.Locked(now) {
			t.Fatalf("failure %d at %v: %+v, want count %d, not locked", i+1, now.Sub(Start), f, want)
		}
		if i%2 == 0 {
			now = now.Add(Policy.Window - time.Millisecond) // still in the window
		} else {
			now = now.Add(time.Millisecond) // exactly at its end: a new one
		}
	}
}

// testClear: a clear forgets an unlocked record and reports what it was; it
// leaves a running lock, and forgets it once it is over.
func testClear(t *testing.T, s ccgw.LockoutStore) {
	now := Start
	if f := forget(t, s, 3001, now); f != (ccgw.LoginFailures{}) {
		t.Fatalf("clear with no record: %+v", f)
	}
	fail(t, s, 3001, now)
	fail(t, s, 3001, now)
	if f := forget(t, s, 3001, now); f.Count != 2 {
		t.Fatalf("clear returned %+v, want the count of 2", f)
	}
	if f := get(t, s, 3001); f != (ccgw.LoginFailures{}) {
		t.Fatalf("after clear: %+v, want the zero record", f)
	}
	for range Policy.Attempts {
		fail(t, s, 3001, now)
	}
	if f := forget(t, s, 3001, now.Add(time.Minute)); !f.Locked(now.Add(time.Minute)) {
		t.Fatalf("clear during the lock returned %+v, want the lock", f)
	}
	if f := get(t, s, 3001); !f.Locked(now.Add(time.Minute)) {
		t.Fatalf("a clear during the lock removed it: %+v", f)
	}
	end := now.Add(Policy.Duration)
	forget(t, s, 3001, end)
	if f := get(t, s, 3001); f.Locked(end.Add(-time.Millisecond)) {
		t.Fatalf("a clear after the lock left it: %+v", f)
	}
}

// testConcurrent: 16 failures of one agent at once, as from several nodes, all
// count: with 3 attempts, 5 of them lock (the 3rd, 6th, … 15th) and the record
// ends with a count of 1 (the 16th).
func testConcurrent(t *testing.T, s ccgw.LockoutStore) {
	const n = 16
	var wg sync.WaitGroup
	res := make([]ccgw.LoginFailures, n)
	for i := range n {
		wg.Go(func() {
			f, err := s.AddLoginFailure(context.Background(), 4001, Start, Policy)
			if err != nil {
				t.Errorf("failure %d: %v", i, err)
			}
			res[i] = f
		})
	}
	wg.Wait()
	locks := 0
	for _, f := range res {
		if f.Count == 0 {
			locks++
		}
	}
	if locks != n/Policy.Attempts {
		t.Errorf("%d of %d concurrent failures locked, want %d: counts were lost", locks, n, n/Policy.Attempts)
	}
	if f := get(t, s, 4001); f.Count != n%Policy.Attempts || !f.Locked(Start) {
		t.Errorf("record after %d failures: %+v, want count %d and locked", n, f, n%Policy.Attempts)
	}
}
