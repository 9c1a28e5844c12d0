package mem

import (
	"context"
	"runtime"
	"slices"
	"sync"

	"github.com/ccgw/ccgw"
)

// A Shared opened on a ccgw.SharedLog (OpenShared) is the store of a single
// node that outlives its process: it answers from memory, as ever, and
// commits to the log what must survive a restart: each sign-in, change and
// sign-out of a client's session with the events it queued, and the events'
// deliveries. Renewals, rotations, rests and tombstones are not written: a
// restart gives every session a full timeout from then, a rotated GUID is
// derived again from the stored key (internal/session adopts it), and a rest
// or tombstone is short-lived. Simulated agents are never written: the
// simulator signs them in again when it starts.
//
// The commits are grouped: a change is made in memory, and its ops are added
// to the open batch, under the store's lock; the call then waits, with no
// lock but the committer's, for the batch to be committed: whichever caller
// comes first commits everything added by then in one SharedLog.Commit, so
// that concurrent sign-ins, or a sweep's thousands of sign-outs, share one
// durable write. Deliveries join the open batch without waiting: a Tick, or
// the next change, commits them (after a crash, an event may be delivered
// twice, never lost).

// Durable configures a Shared kept in a log (OpenShared).
type Durable struct {
	Log ccgw.SharedLog // required
	// Deadline returns when a restored session is signed out unless heard
	// from (Unix ms); required.
	Deadline func(*ccgw.Session) int64
	// QueueMax bounds the undelivered events restored per session; 1000.
	QueueMax int
	// Failed, if set, is told of each commit that failed. A sign-in in it
	// fails and is taken back; any other change stays in memory, and may be
	// lost with the process.
	Failed func(error)
}

// batch is ops committed together.
type batch struct {
	ops  []ccgw.LogOp
	done bool  // committed (guarded by Shared.commitMu)
	err  error // the commit's error
}

// OpenShared returns a Shared kept in d.Log, holding the sessions and the
// undelivered events the log holds, and how many sessions it restored. Each
// restored session expires at d.Deadline unless heard from; stored sessions
// of simulated agents, and events of sign-ins no longer stored, are deleted
// (the latter counted as dropped, DropSessionEnded). After an error the
// sessions restored so far are live.
func OpenShared(d Durable) (*Shared, int, error) {
	if d.QueueMax <= 0 {
		d.QueueMax = 1000
	}
	s := NewShared()
	s.log, s.failed = d.Log, d.Failed
	key, err := d.Log.Key("guid", 32)
	if err != nil {
		return nil, 0, err
	}
	s.key = key
	if stored, err := d.Log.CountSessions(); err == nil && stored > 0 {
		s.recs = make(map[ccgw.AgentID]rec, stored)
		s.seq = make(map[ccgw.AgentID]uint64, stored)
		s.q = make(map[ccgw.AgentID][]ccgw.Event, stored)
		s.dl.h, s.dl.pos = make([]scored[ccgw.AgentID], 0, stored), make(map[ccgw.AgentID]int, stored)
	}
	n, gone, err := s.restoreSessions(d)
	s.dl.heapify()
	if err == nil {
		err = d.Log.LoadEvents(func(id ccgw.AgentID, gen, acked uint64, evs []ccgw.Event) error {
			r, ok := s.recs[id]
			if !ok || r.gen != gen {
				if len(evs) > 0 {
					s.counts.Drops[ccgw.DropSessionEnded] += uint64(len(evs))
				}
				gone = append(gone, ccgw.LogOp{Ref: ccgw.SessionRef{Agent: id, Gen: gen}, Delete: true})
				return nil
			}
			s.seq[id] = acked
			if len(evs) == 0 {
				return nil
			}
			s.seq[id] = max(acked, evs[len(evs)-1].Seq)
			if cut := len(evs) - d.QueueMax; cut > 0 {
				s.counts.Drops[ccgw.DropQueueFull] += uint64(cut)
				evs = evs[cut:]
			}
			s.q[id] = append([]ccgw.Event(nil), evs...)
			if r.push {
				s.pending[id] = true
			}
			return nil
		})
	}
	if len(gone) > 0 {
		if cerr := d.Log.Commit(gone); err == nil {
			err = cerr
		}
	}
	return s, n, err
}

// restoreBatch is how many sessions a restore's stages hand on at once.
const restoreBatch = 1024

// restoreSessions loads the sessions d.Log holds into s, which nobody else
// uses yet, and returns how many it loaded and the deletions of simulated
// agents' sessions to commit. It is a pipeline: this goroutine reads the
// log, GOMAXPROCS goroutines encode the records, and one files them in the
// tables, so that restoring a million sessions takes about as long as
// reading them (docs/benchmarks.md, "Restart").
func (s *Shared) restoreSessions(d Durable) (int, []ccgw.LogOp, error) {
	type restored struct {
		sess ccgw.Session
		data string // the session as kept (rec.data)
	}
	read, encoded := make(chan []restored, 4), make(chan []restored, 4)
	var encoders sync.WaitGroup
	var encErr error
	var errOnce sync.Once
	for range runtime.GOMAXPROCS(0) {
		encoders.Go(func() {
			for b := range read {
				for i := range b {
					data, err := b[i].sess.AppendBinary(nil)
					if err != nil {
						errOnce.Do(func() { encErr = err })
					}
					b[i].data = string(data)
				}
				encoded <- b
			}
		})
	}
	n := 0
	filed := make(chan struct{})
	go func() {
		defer close(filed)
		for b := range encoded {
			for i := range b {
				sess, id := &b[i].sess, b[i].sess.Agent
				if b[i].data == "" {
					continue
				}
				dl := d.Deadline(sess)
				s.recs[id] = rec{data: b[i].data, gen: sess.Gen, dl: dl, push: sess.Mode == ccgw.ModePush}
				s.dl.add(id, dl)
				for _, sk := range sess.Skills {
					s.addSkill(sk, id)
				}
				if sess.State == ccgw.StateRest && sess.RestUntil != 0 {
					s.rests.set(ccgw.SharedRest{ID: id, RestSeq: sess.RestSeq}, sess.RestUntil)
				}
				n++
			}
		}
	}()
	var gone []ccgw.LogOp
	batch := make([]restored, 0, restoreBatch)
	err := d.Log.LoadSessions(func(sess *ccgw.Session) error {
		if sess.Simulated {
			gone = append(gone, ccgw.LogOp{Ref: ccgw.SessionRef{Agent: sess.Agent, Gen: sess.Gen}, Delete: true})
			return nil
		}
		batch = append(batch, restored{sess: *sess})
		batch[len(batch)-1].sess.Skills = slices.Clone(sess.Skills)
		if len(batch) == restoreBatch {
			read <- batch
			batch = make([]restored, 0, restoreBatch)
		}
		return nil
	})
	if len(batch) > 0 {
		read <- batch
	}
	close(read)
	encoders.Wait()
	close(encoded)
	<-filed
	if err == nil {
		err = encErr
	}
	return n, gone, err
}

// logOp adds op to the open batch, which it returns; nil if s keeps no log.
// s.mu must be held.
func (s *Shared) logOp(op ccgw.LogOp) *batch {
	if s.log == nil {
		return nil
	}
	if s.open == nil {
		s.open = &batch{}
	}
	s.open.ops = append(s.open.ops, op)
	return s.open
}

// logPut logs session sess of agent id, stored now with the events evs queued
// (see logOp).
func (s *Shared) logPut(id ccgw.AgentID, sess *ccgw.Session, evs []ccgw.Event) *batch {
	if s.log == nil || sess == nil { // nil: not a record internal/session wrote, nothing to restore
		return nil
	}
	return s.logOp(ccgw.LogOp{Put: sess, Ref: ccgw.SessionRef{Agent: id, Gen: sess.Gen}, Events: evs})
}

// logEnd logs the end of sign-in gen of agent id, unless it is a simulated
// agent's (see logOp).
func (s *Shared) logEnd(id ccgw.AgentID, gen uint64) *batch {
	if s.sim[id] {
		return nil
	}
	return s.logOp(ccgw.LogOp{Ref: ccgw.SessionRef{Agent: id, Gen: gen}, Delete: true})
}

// logAck logs the delivery of sign-in gen's events up to seq, to be committed
// with the next batch.
func (s *Shared) logAck(id ccgw.AgentID, gen, seq uint64) {
	if !s.sim[id] {
		s.logOp(ccgw.LogOp{Ref: ccgw.SessionRef{Agent: id, Gen: gen}, Acked: seq})
	}
}

// await returns once b is committed, with the commit's error, committing it
// (and all else added by then) if nobody has; nil for a nil b. A failure is
// also told to Durable.Failed.
func (s *Shared) await(b *batch) error {
	if b == nil {
		return nil
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if !b.done {
		s.mu.Lock()
		cur := s.open // b, or one that b's ops were added to
		s.open = nil
		s.mu.Unlock()
		cur.err = s.log.Commit(cur.ops)
		cur.done = true
		if cur.err != nil && s.failed != nil {
			s.failed(cur.err)
		}
	}
	return b.err
}

// Sync implements ccgw.SharedStore: it commits what waits to be (changes
// and deliveries recorded since the last commit).
func (s *Shared) Sync(context.Context) error { return s.Flush() }

// Flush commits what waits to be, as Sync does.
func (s *Shared) Flush() error {
	s.mu.Lock()
	b := s.open
	s.mu.Unlock()
	return s.await(b)
}

// committer is what a Shared kept in a log adds to its fields.
type committer struct {
	log      ccgw.SharedLog
	failed   func(error)
	open     *batch     // the ops not yet committed (guarded by mu)
	commitMu sync.Mutex // held while committing
}
