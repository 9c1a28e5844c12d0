package wait

import (
	"errors"
	"runtime"
	"testing"
	"time"
)

// TestForReturnsOnceTrue: For returns as soon as f holds, calling it until then.
func TestForReturnsOnceTrue(t *testing.T) {
	n := 0
	For(t, time.Minute, time.Millisecond, func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if n != 3 {
		t.Fatalf("f called %d times, want 3", n)
	}
}

// recorder is a testing.TB that records a failure instead of failing.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}

// Fatalf records the failure and ends the goroutine, as testing.T's does.
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = format
	runtime.Goexit()
}

// TestForFailsAfterTimeout: a condition that never holds fails the test once
// the timeout has passed.
func TestForFailsAfterTimeout(t *testing.T) {
	r := &recorder{TB: t}
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		For(r, 20*time.Millisecond, time.Millisecond, func() error { return errors.New("never") })
	}()
	<-done
	if r.failed == "" {
		t.Fatal("For did not fail")
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("failed after %v, before its timeout", d)
	}
}
