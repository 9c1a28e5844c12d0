package sim

import (
	"sync"

	"github.com/ccgw/ccgw"
)

// Journal keeps the most recent events of every agent in the order they were
// made, numbered from 1, for the admin API and for golden-file tests. Use its
// Add as session.Config.Tap.
type Journal struct {
	max int

	mu    sync.Mutex // guards evs, first, wake
	evs   []ccgw.Event
	first uint64        // number of evs[0]
	wake  chan struct{} // closed by the next Add; nil while nobody waits
}

// NewJournal returns a journal that keeps the last max events (at least 1).
func NewJournal(max int) *Journal {
	if max < 1 {
		max = 1
	}
	return &Journal{max: max, first: 1}
}

// Add records ev.
func (j *Journal) Add(ev ccgw.Event) {
	j.mu.Lock()
	if len(j.evs) == j.max {
		drop := j.max / 4
		if drop < 1 {
			drop = 1
		}
		j.evs = append(j.evs[:0], j.evs[drop:]...)
		j.first += uint64(drop)
	}
	j.evs = append(j.evs, ev)
	if j.wake != nil {
		close(j.wake)
		j.wake = nil
	}
	j.mu.Unlock()
}

// Since returns up to limit events numbered after n, and the number of the last
// one returned (n if none). Any n is valid, math.MaxUint64 included; limit <= 0
// means no limit.
func (j *Journal) Since(n uint64, limit int) ([]ccgw.Event, uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	start := 0
	if n >= j.first {
		// Compared as uint64 before the conversion: n-first+1 can exceed any int
		// (or wrap to 0 at math.MaxUint64).
		skip := n - j.first
		if skip >= uint64(len(j.evs)) {
			return nil, n
		}
		start = int(skip) + 1
	}
	end := len(j.evs)
	if limit > 0 && end-start > limit {
		end = start + limit
	}
	out := append([]ccgw.Event(nil), j.evs[start:end]...)
	if len(out) == 0 {
		return nil, n
	}
	return out, j.first + uint64(end) - 1
}

// Last returns the number of the newest event, 0 before the first.
func (j *Journal) Last() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.first + uint64(len(j.evs)) - 1
}

// Changed returns a channel that is closed when the next event is added. Take
// it before reading with Since, so that an event added in between is not
// missed. It costs Add nothing while nobody waits.
func (j *Journal) Changed() <-chan struct{} {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.wake == nil {
		j.wake = make(chan struct{})
	}
	return j.wake
}
