package session

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/event"
)

// Run sweeps at every tick until ctx ends, and returns ctx's error. Its sweeps
// fall on the tick's boundaries, where the wheel's ticks fall due; a sweep that
// left due sessions over (MaxExpiries) is followed at once by another. The
// store writes and announcements of the sweeps' sign-outs run on a goroutine
// of Run's (outbox), so that a commit does not hold up the next sweep; Run
// returns when they are all done.
func (m *Manager) Run(ctx context.Context) error {
	o := m.startOutbox()
	defer o.close()
	for {
		t := m.cfg.Clock.NewTimer(untilTick(m.cfg.Clock.Now(), m.cfg.Tick))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C():
			for {
				_, more := m.sweep(m.cfg.Clock.Now(), o)
				if !more || ctx.Err() != nil {
					break
				}
			}
			m.FlushAcks()
		}
	}
}

// untilTick returns how long from now to the next boundary of tick, in (0, tick].
func untilTick(now time.Time, tick time.Duration) time.Duration {
	return tick - time.Duration(now.UnixNano()%int64(tick))
}

// Sweep signs out every session whose deadline passed by now and purges expired
// tombstones. It looks only at the wheel's due entries, never at all sessions,
// and signs out at most MaxExpiries sessions; the due entries left over come
// first in the next sweep. It writes the sign-outs to the store (SignOutBatch
// to a commit) and announces them before it returns, and returns how many
// sessions it signed out.
func (m *Manager) Sweep(now time.Time) int {
	n, _ := m.sweep(now, nil)
	return n
}

// sweep is Sweep, handing the sign-outs to o if it is not nil; more reports
// that due entries were left over. The sign-outs go on in batches of
// SignOutBatch as they are taken, so that the first batch's commit overlaps
// the taking of the next (with o).
func (m *Manager) sweep(now time.Time, o *outbox) (n int, more bool) {
	due := m.wheel.due(now)
	if len(due) == 0 {
		return 0, false
	}
	var refile []timedEntry
	var purged []*event.Queue // the queues of tombstones whose time is up
	var expired []signOut
	var rests restWrites
	defer rests.wait()
	handOn := func() {
		// The rests told so far are told before these sign-outs: one of
		// them may be the same agent's (its write goes first anyway, by
		// ticket; this orders the announcements too).
		rests.wait()
		for i := range expired {
			m.left(&expired[i].s)
		}
		if o != nil {
			o.put(expired)
		} else {
			m.signedOut(expired)
		}
		n += len(expired)
		expired = nil // o keeps the array
	}
	for i, we := range due {
		if n+len(expired) >= m.cfg.MaxExpiries {
			m.wheel.requeue(due[i:])
			more = true
			break
		}
		sh := m.shard(we.id)
		sh.mu.Lock()
		if we.tomb {
			if t := sh.tombs[we.id]; t != nil && t.gen == we.gen && !t.until.After(now) {
				delete(sh.tombs, we.id)
				sh.mu.Unlock()
				purged = append(purged, t.q)
				continue
			}
			sh.mu.Unlock()
			continue
		}
		e := sh.live[we.id]
		if e == nil || e.s.Gen != we.gen {
			sh.mu.Unlock()
			continue // stale: that sign-in already ended
		}
		if we.rotate {
			// Rotation is due: send the next heartbeat to the slow path, which rotates.
			if !m.rotationDue(&e.s).After(now) {
				e.hot.disarm()
			}
			sh.mu.Unlock()
			continue
		}
		if we.rest != 0 {
			evs, ok := m.restTimeoutLocked(e, we.rest, now)
			if !ok {
				sh.mu.Unlock()
				continue
			}
			s := e.s
			t := ticketLocked(e)
			sh.mu.Unlock()
			// Written now, beside the sweep, not after the loop: a sign-out
			// of e handed on meanwhile waits for this write (signedOut). The
			// writes of many rests that end together go to the store at once
			// and share its commits (bbolt's group commit), so that a
			// centre's break ending for all costs a commit, not one each.
			rests.write(func() {
				m.ordered(sh, e, t, func() { m.putWithEvents(&s, evs) })
				m.notify(&s)
				m.changed(s)
			})
			continue
		}
		var dl time.Time
		if timeout := m.timeout(e.s.Mode); m.cfg.NoExpiry || e.pending || e.polling.Load() > 0 || e.s.Simulated {
			dl = deadline(now, timeout)
		} else {
			dl = deadline(time.Unix(0, e.hot.seen.Load()), timeout)
		}
		if dl.After(now) {
			sh.mu.Unlock()
			refile = append(refile, timedEntry{dl, we})
			continue
		}
		out := m.endLocked(sh, e, ccgw.CauseTimeout, now) // the commit point: only this caller has e
		sh.mu.Unlock()
		out.due = dl
		if expired == nil {
			expired = make([]signOut, 0, min(len(due)-i, m.cfg.SignOutBatch))
		}
		if expired = append(expired, out); len(expired) == m.cfg.SignOutBatch {
			handOn()
		}
	}
	if len(expired) > 0 {
		handOn()
	}
	m.wheel.addAll(refile)
	m.discardTombs(purged)
	return n, more
}

// restWrites runs the store writes of a sweep's rest timeouts side by side,
// at most maxRestWrites at once; the zero value is ready.
type restWrites struct {
	wg   sync.WaitGroup
	sema chan struct{}
}

// maxRestWrites bounds the rest-timeout writes of one sweep in flight.
const maxRestWrites = 256

// write runs w on a goroutine of its own once fewer than maxRestWrites are
// running.
func (r *restWrites) write(w func()) {
	if r.sema == nil {
		r.sema = make(chan struct{}, maxRestWrites)
	}
	r.sema <- struct{}{}
	r.wg.Go(func() {
		defer func() { <-r.sema }()
		w()
	})
}

// wait returns once every write has.
func (r *restWrites) wait() { r.wg.Wait() }

// discardTombs drops what the clients of ended sessions did not collect in
// time from the queues qs of their tombstones, counted as
// ccgw.DropSessionEnded, and logs each event dropped at WARN as every drop is;
// more than bulkSignOuts of them (a storm's tombstones, one timeout after it)
// are logged as one WARN line with the count, and each at DEBUG.
func (m *Manager) discardTombs(qs []*event.Queue) {
	if len(qs) == 0 {
		return
	}
	evs := make([][]ccgw.Event, len(qs))
	n := 0
	for i, q := range qs {
		evs[i] = q.TakeAll()
		n += len(evs[i])
	}
	if n == 0 {
		return
	}
	m.stats.dropN(ccgw.DropSessionEnded, n)
	level := slog.LevelWarn
	if n > bulkSignOuts {
		level = slog.LevelDebug
		m.cfg.Log.Warn("events dropped in bulk", "events", n, "sessions", len(qs), "reason", string(ccgw.DropSessionEnded), "per_event", "debug")
	}
	if !m.cfg.Log.Enabled(context.Background(), level) {
		return
	}
	for _, es := range evs {
		for _, ev := range es {
			m.cfg.Log.Log(context.Background(), level, "event dropped", "agent", ev.WorkNo, "event", ev.Type, "seq", ev.Seq, "reason", string(ccgw.DropSessionEnded))
		}
	}
}

// restTimeoutLocked tells agent e that its rest (number seq) ran out, if it is
// still in that rest (ccgw.Session.RestTimedOut). sh.mu must be held.
func (m *Manager) restTimeoutLocked(e *entry, seq uint64, now time.Time) ([]ccgw.Event, bool) {
	ems, ok := e.s.RestTimedOut(seq, now, m.cfg.RestTimeoutIdle)
	evs := make([]ccgw.Event, 0, len(ems))
	for _, em := range ems {
		evs = append(evs, e.q.Add(em.Type, em.Content, now))
	}
	return evs, ok
}
