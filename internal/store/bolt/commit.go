package bolt

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// committer runs the store's writes in shared transactions (group commit): one
// goroutine commits, in one transaction, every write queued since its previous
// commit began. A lone write waits for one commit; under load each commit
// carries what queued during the one before, so many writes share an fsync.
//
// bbolt's Batch, used before, waits MaxBatchDelay (2 ms) before every commit:
// that wait was most of the latency of a sign-in's writes and of a heartbeat
// that rotates its GUID, and the tail of heartbeat latency in dynamic mode
// (docs/benchmarks.md, "Capacity").
type committer struct {
	db  *bolt.DB
	log *slog.Logger

	failMu  sync.Mutex // guards lastErr
	lastErr error      // the last commit's error: nil after a success

	mu     sync.Mutex // guards queue and closed
	queue  []writeCall
	closed bool

	wake    chan struct{} // holds a token when writes are queued
	stop    chan struct{} // closed by close
	done    chan struct{} // closed when run returns
	commits atomic.Int64  // transactions committed (tests read it)
}

// writeCall is one write waiting for its commit; fn must be idempotent (it is run
// again, alone, if another write of its transaction fails).
type writeCall struct {
	fn  func(*bolt.Tx) error
	err chan error // buffered: the commit never waits for the writer
}

func newCommitter(db *bolt.DB, log *slog.Logger) *committer {
	c := &committer{db: db, log: log, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

// write runs fn in a shared read-write transaction and returns when that has been
// committed, with fn's error or the commit's. After close it returns
// bolt.ErrDatabaseNotOpen.
func (c *committer) write(fn func(*bolt.Tx) error) error {
	w := writeCall{fn: fn, err: make(chan error, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return bolt.ErrDatabaseNotOpen
	}
	c.queue = append(c.queue, w)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default: // a token is already there
	}
	return <-w.err
}

// close commits what is queued, stops the goroutine and waits for it; writes
// after it fail. Call it once.
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	close(c.stop)
	<-c.done
}

func (c *committer) run() {
	defer close(c.done)
	var batch []writeCall
	for {
		select {
		case <-c.wake:
		case <-c.stop:
			c.drain(batch)
			return
		}
		batch = c.drain(batch)
	}
}

// drain commits queued writes until none is left; it returns batch's array for reuse.
func (c *committer) drain(batch []writeCall) []writeCall {
	for {
		c.mu.Lock()
		batch, c.queue = c.queue, batch[:0]
		c.mu.Unlock()
		if len(batch) == 0 {
			return batch
		}
		c.commit(batch)
		clear(batch) // drop the functions and channels
	}
}

// commit runs calls in one transaction and tells each its result. A call whose
// fn fails is taken out and run alone, and the rest are run again without it, as
// bbolt's Batch does. A commit's own error (not a write function's) is noted for
// failure.
func (c *committer) commit(calls []writeCall) {
	for len(calls) > 0 {
		failed := -1
		err := c.db.Update(func(tx *bolt.Tx) error {
			for i, w := range calls {
				if err := safeCall(w.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		c.commits.Add(1)
		if failed >= 0 {
			w := calls[failed]
			calls = slices.Delete(calls, failed, failed+1)
			fnErr := false
			err := c.db.Update(func(tx *bolt.Tx) error {
				err := safeCall(w.fn, tx)
				fnErr = err != nil
				return err
			})
			if !fnErr {
				c.noteCommit(err)
			}
			w.err <- err
			continue
		}
		c.noteCommit(err)
		for _, w := range calls {
			w.err <- err
		}
		return
	}
}

// noteCommit records a commit's result, logging when writes start failing and
// when they succeed again.
func (c *committer) noteCommit(err error) {
	c.failMu.Lock()
	was := c.lastErr
	c.lastErr = err
	c.failMu.Unlock()
	switch {
	case err != nil && was == nil:
		c.log.Error("data file: writes failing; not ready until one succeeds", "err", err)
	case err == nil && was != nil:
		c.log.Info("data file: writes succeed again; ready")
	}
}

// failure returns the last commit's error, nil if it succeeded.
func (c *committer) failure() error {
	c.failMu.Lock()
	defer c.failMu.Unlock()
	return c.lastErr
}

// safeCall runs fn, turning a panic into an error so that the other writes of
// the transaction still get their answers.
func safeCall(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("bolt: write panicked: %v", p)
		}
	}()
	return fn(tx)
}
