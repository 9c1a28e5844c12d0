package session

import (
	"sync/atomic"
	"time"
)

// SignOutLagBuckets are the upper bounds, in seconds, of the sign-out lag
// histogram (ccgw_signout_lag_seconds): how long after its deadline a session
// that missed its heartbeats was signed out.
var SignOutLagBuckets = []float64{.05, .1, .25, .5, 1, 2, 3, 5, 10, 30}

// LagHistogram counts durations into SignOutLagBuckets. The zero value is
// ready; it is safe for concurrent use and takes no lock.
type LagHistogram struct {
	counts [11]atomic.Uint64 // per bucket, the last one above every bound
	sumUS  atomic.Uint64     // microseconds
}

// Observe adds one duration; a negative one counts as 0.
func (h *LagHistogram) Observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(SignOutLagBuckets) && d.Seconds() > SignOutLagBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumUS.Add(uint64(d.Microseconds()))
}

// LagSnapshot is a LagHistogram as Prometheus takes it: Buckets maps each
// upper bound of SignOutLagBuckets to the count at or below it.
type LagSnapshot struct {
	Count   uint64
	Sum     float64 // seconds
	Buckets map[float64]uint64
}

// Snapshot returns the counts so far.
func (h *LagHistogram) Snapshot() LagSnapshot {
	s := LagSnapshot{Buckets: make(map[float64]uint64, len(SignOutLagBuckets))}
	for i := range h.counts {
		s.Count += h.counts[i].Load()
		if i < len(SignOutLagBuckets) {
			s.Buckets[SignOutLagBuckets[i]] = s.Count
		}
	}
	s.Sum = float64(h.sumUS.Load()) / 1e6
	return s
}
