package session

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccgw/ccgw"
)

// stats counts what the Manager did; metrics read it through Stats.
type stats struct {
	heartbeats atomic.Uint64
	polls      atomic.Uint64
	signIns    atomic.Uint64
	expiries   atomic.Uint64
	queued     atomic.Uint64 // events added to any queue
	polled     atomic.Uint64 // events handed out by polls

	lag LagHistogram // of expiries: sign-out time minus deadline

	mu       sync.Mutex // guards signOuts and drops
	signOuts map[ccgw.SignOutCause]uint64
	drops    map[ccgw.DropReason]uint64
}

// lagBounds are the upper bounds, in seconds, of the buckets of
// Stats.SignOutLag (ccgw_signout_lag_seconds). 3 s is issue 13's bar for a
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

func (s *stats) init() {
	s.signOuts = make(map[ccgw.SignOutCause]uint64)
	s.drops = make(map[ccgw.DropReason]uint64)
}

func (s *stats) signIn() { s.signIns.Add(1) }

func (s *stats) signOut(c ccgw.SignOutCause) {
	s.mu.Lock()
	s.signOuts[c]++
	s.mu.Unlock()
}

func (s *stats) drop(r ccgw.DropReason) { s.dropN(r, 1) }

func (s *stats) dropN(r ccgw.DropReason, n int) {
	s.mu.Lock()
	s.drops[r] += uint64(n)
	s.mu.Unlock()
}

// Stats is a snapshot of a Manager's counters.
type Stats struct {
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
	SignOuts   map[ccgw.SignOutCause]uint64
	Drops      map[ccgw.DropReason]uint64
	// SignOutLag is, for this node's expiries, how long after its deadline
	// each session was signed out (its store write done, its sign-out
	// announced); nil where the backend does not measure it.
	SignOutLag *Histogram
}

// Stats returns a snapshot of the counters.
func (m *Manager) Stats() Stats {
	st := Stats{
		Live:       m.Live(),
		Heartbeats: m.stats.heartbeats.Load(),
		Polls:      m.stats.polls.Load(),
		SignIns:    m.stats.signIns.Load(),
		Expiries:   m.stats.expiries.Load(),
		Queued:     m.stats.queued.Load(),
		Polled:     m.stats.polled.Load(),
		SignOuts:   make(map[ccgw.SignOutCause]uint64),
		Drops:      make(map[ccgw.DropReason]uint64),
	}
	lag := m.stats.lag.Snapshot()
	st.SignOutLag = &lag
	m.stats.mu.Lock()
	for k, v := range m.stats.signOuts {
		st.SignOuts[k] = v
	}
	for k, v := range m.stats.drops {
		st.Drops[k] = v
	}
	m.stats.mu.Unlock()
	return st
}
