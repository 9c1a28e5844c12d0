package ccgw

import "time"

// Clock is the source of time for everything that expires, retries or waits.
// internal/clock has the real one and a fake that tests advance by hand.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that sends the time on its channel after d.
	NewTimer(d time.Duration) Timer
	// AfterFunc calls f in its own goroutine after d (the fake calls it from Advance).
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a stoppable one-shot timer.
type Timer interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it stopped it.
	Stop() bool
}
