package ccgw

import (
	"slices"
	"sync/atomic"
	"time"
)

// SessionStats is a snapshot of a SessionService's counters.
type SessionStats struct {
	// Partial is set when the store-wide figures (Live, SignIns, Expiries,
	// Queued, SignOuts, Drops; cluster-wide on Redis) could not be read: they
	// are then zero, not counts. Heartbeats, Polls and Polled are this node's
	// and always hold.
	Partial    bool
	Live       int
	Heartbeats uint64
	Polls      uint64
	SignIns    uint64
	Expiries   uint64
	Queued     uint64 // events queued
	Polled     uint64 // events delivered by poll
	SignOuts   map[SignOutCause]uint64
	Drops      map[DropReason]uint64
	// SignOutLag is, for this node's expiries, how long after its deadline
	// each session was signed out (its store write done, its sign-out
	// announced); nil where the backend does not measure it.
	SignOutLag *Histogram
}

// lagBounds are the upper bounds, in seconds, of the buckets of
// SessionStats.SignOutLag (ccgw_signout_lag_seconds). 3 s is issue 13's bar for a
// site of 20,000 agents falling silent at once.
var lagBounds = [...]float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60}

// LagHistogram counts sign-out lags into lagBounds' buckets without a lock;
// the zero value is ready (ccgw_signout_lag_seconds, on either backend).
type LagHistogram struct {
	counts [len(lagBounds) + 1]atomic.Uint64 // per bucket, and the last for above them all
	sumNs  atomic.Int64
}

// Observe counts one lag; a negative one counts as 0.
func (h *LagHistogram) Observe(d time.Duration) {
	d = max(d, 0)
	sec := d.Seconds()
	i := 0
	for i < len(lagBounds) && sec > lagBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
}

// Snapshot returns the cumulative counts, as Prometheus wants them.
func (h *LagHistogram) Snapshot() Histogram {
	out := Histogram{Bounds: slices.Clone(lagBounds[:]), Cumulative: make([]uint64, len(lagBounds))}
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
		if i < len(lagBounds) {
			out.Cumulative[i] = n
		}
	}
	out.Count = n
	out.Sum = time.Duration(h.sumNs.Load()).Seconds()
	return out
}

// Histogram is a snapshot of a histogram: Cumulative[i] observations were at
// most Bounds[i] (seconds); Count in all, adding up to Sum seconds.
type Histogram struct {
	Bounds     []float64
	Cumulative []uint64
	Count      uint64
	Sum        float64
}
