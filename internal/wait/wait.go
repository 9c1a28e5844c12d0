// Package wait waits, in tests, for what another goroutine or process does:
// a condition checked again and again until it holds or time runs out (as
// nats-server's tests' checkFor).
package wait

import (
	"testing"
	"time"
)

// For calls f every interval until it returns nil, and fails tb with f's last
// error if that does not happen within timeout.
func For(tb testing.TB, timeout, interval time.Duration, f func() error) {
	tb.Helper()
	end := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(end) {
			tb.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(interval)
	}
}
