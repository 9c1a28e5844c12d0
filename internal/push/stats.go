package push

import "time"

// Stats are a Pusher's counters.
type Stats struct {
	Pushes    uint64 // accepted pushes
	Delivered uint64 // events in accepted pushes
	Failures  uint64 // failed attempts
}

// Stats returns the counters.
func (p *Pusher) Stats() Stats {
	return Stats{Pushes: p.pushes.Load(), Delivered: p.delivered.Load(), Failures: p.failures.Load()}
}

// ReceiverStats is one receiver's push limit and load.
type ReceiverStats struct {
	Key      string        // callback scheme and host
	Limit    int           // pushes allowed in flight now
	InFlight int           // pushes in flight (or about to be)
	Waiting  int           // agents waiting for a slot
	Base     time.Duration // its latency without queueing, as estimated (0: none yet)
}

// Receivers returns every known receiver's limit and load, in no order.
func (p *Pusher) Receivers() []ReceiverStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]ReceiverStats, 0, len(p.receivers))
	for _, r := range p.receivers {
		out = append(out, ReceiverStats{Key: r.key, Limit: r.lim.Limit(), InFlight: r.inFlight, Waiting: len(r.waiting), Base: r.lim.Base()})
	}
	return out
}
