package session

import "sync"

// outbox hands the sign-outs of Run's sweeps to a goroutine that writes them to
// the store and announces them (signedOut), so that the next sweep does not
// wait for a commit: a sweep only takes sessions out of the table. Sign-outs are
// written in the order they were put, SignOutBatch to a commit. It holds at most
// MaxExpiries sign-outs beyond the batch being written; a sweep that finds it
// full waits (the store is then the bottleneck, and memory stays bounded).
type outbox struct {
	m *Manager

	mu     sync.Mutex // guards queue and closed
	room   *sync.Cond // on mu: signalled when the writer took from queue
	queue  []signOut
	closed bool

	wake chan struct{} // holds a token when queue or closed may have changed
	done chan struct{} // closed when run returns
}

// startOutbox starts an outbox's writer; the caller must close it.
func (m *Manager) startOutbox() *outbox {
	o := &outbox{m: m, wake: make(chan struct{}, 1), done: make(chan struct{})}
	o.room = sync.NewCond(&o.mu)
	go o.run()
	return o
}

// put queues outs, first waiting while the outbox is full. Call it before close.
func (o *outbox) put(outs []signOut) {
	o.mu.Lock()
	for len(o.queue) >= o.m.cfg.MaxExpiries {
		o.room.Wait()
	}
	o.queue = append(o.queue, outs...)
	o.mu.Unlock()
	o.poke()
}

func (o *outbox) poke() {
	select {
	case o.wake <- struct{}{}:
	default: // a token is already there
	}
}

// close writes and announces what is queued, then stops the writer and waits
// for it. Call it once.
func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.poke()
	<-o.done
}

func (o *outbox) run() {
	defer close(o.done)
	for range o.wake {
		for {
			o.mu.Lock()
			n := min(len(o.queue), o.m.cfg.SignOutBatch)
			batch := o.queue[:n:n]
			if o.queue = o.queue[n:]; len(o.queue) == 0 {
				o.queue = nil // let the array go with the batch
			}
			closed := o.closed
			o.room.Broadcast()
			o.mu.Unlock()
			if n == 0 {
				if closed {
					return
				}
				break
			}
			o.m.signedOut(batch)
		}
	}
}
