package session

import (
	"sync"
	"testing"
	"time"
)

func TestLagHistogram(t *testing.T) {
	var h LagHistogram
	var wg sync.WaitGroup
	for _, d := range []time.Duration{-time.Second, 0, 50 * time.Millisecond, 51 * time.Millisecond, 3 * time.Second, time.Minute} {
		wg.Go(func() { h.Observe(d) })
	}
	wg.Wait()
	s := h.Snapshot()
	if s.Count != 6 || s.Sum != 63.101 {
		t.Fatalf("count %d, sum %v; want 6, 63.101", s.Count, s.Sum)
	}
	for le, want := range map[float64]uint64{.05: 3, .1: 4, 2: 4, 3: 5, 30: 5} {
		if got := s.Buckets[le]; got != want {
			t.Errorf("bucket le=%v: %d, want %d", le, got, want)
		}
	}
	if len(s.Buckets) != len(SignOutLagBuckets) {
		t.Fatalf("%d buckets, want %d", len(s.Buckets), len(SignOutLagBuckets))
	}
}
