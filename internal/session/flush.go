package session

import (
	"context"
	"sync"
	"time"

	"github.com/ccgw/ccgw"
)

// A heartbeat answered from the cache writes nothing at once: it files the
// session's new deadline (and, when it rotated the GUID, a rotation record) in
// the node's batch, and the node's next tick writes the whole batch with the
// sweep, in one call of the store's Tick. A stored deadline can therefore lag
// the heartbeats a node answered by up to a tick; the sweep claims a session
// only a tick after its stored deadline, and every node writes its batch
// before it sweeps (each Tick writes what the batch holds then).

// rotation is a rotation a node minted or adopted and Redis has not recorded:
// make next the current GUID of sign-in gen, if its GUID is still expect.
type rotation struct {
	id                ccgw.AgentID
	gen               uint64
	expect, next      string
	prev              string // the GUID before next
	n                 uint32 // next's rotation number
	issued, prevUntil int64  // ms
}

// shared returns r as the store records it.
func (r rotation) shared() ccgw.SharedRotation {
	return ccgw.SharedRotation{ID: r.id, Gen: r.gen, Expect: r.expect, Next: r.next, Prev: r.prev, N: r.n,
		Issued: r.issued, PrevUntil: r.prevUntil}
}

// batch is what a node's next tick writes: the renewals, which sit in the
// agents' cache slots (one atomic write each, no lock and no map on the
// heartbeat's path; authCache.renew), and the rotation records.
type batch struct {
	cache *authCache

	mu        sync.Mutex                // guards rotations and other
	rotations map[ccgw.AgentID]rotation // per agent, from Redis's GUID to the latest
	other     map[ccgw.AgentID]int64    // renewals of work numbers out of range (none in service)
}

func (b *batch) init(cache *authCache) {
	b.cache = cache
	b.rotations = make(map[ccgw.AgentID]rotation)
	b.other = make(map[ccgw.AgentID]int64)
}

// renew files deadline dl (ms) for agent id.
func (b *batch) renew(id ccgw.AgentID, dl int64) {
	if b.cache.renew(id, dl) {
		return
	}
	b.mu.Lock()
	if b.other[id] < dl {
		b.other[id] = dl
	}
	b.mu.Unlock()
}

// rotate files r. A record already filed for the same sign-in keeps its
// expect: it is what Redis holds.
func (b *batch) rotate(r rotation) {
	b.mu.Lock()
	if old, ok := b.rotations[r.id]; ok && old.gen == r.gen {
		r.expect = old.expect
	}
	b.rotations[r.id] = r
	b.mu.Unlock()
}

// forget drops the rotation record filed for agent id, if any.
func (b *batch) forget(id ccgw.AgentID) {
	b.mu.Lock()
	delete(b.rotations, id)
	b.mu.Unlock()
}

// take empties the batch and returns what it held (nil maps for none).
func (b *batch) take() (ren map[ccgw.AgentID]int64, rot map[ccgw.AgentID]rotation) {
	ren = b.cache.takeRenewals(nil)
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, dl := range b.other {
		if ren == nil {
			ren = make(map[ccgw.AgentID]int64)
		}
		ren[id] = dl
	}
	clear(b.other)
	if len(b.rotations) > 0 {
		rot, b.rotations = b.rotations, make(map[ccgw.AgentID]rotation)
	}
	return ren, rot
}

// putBack files again renewals that could not be written. (Rotation records
// are not kept: a rotated GUID Redis never recorded is recognised by its MAC
// and recorded when it is next used; guids.go.)
func (b *batch) putBack(ren map[ccgw.AgentID]int64) {
	for id, dl := range ren {
		b.renew(id, dl)
	}
}

// expiryBatch bounds the sessions one Tick claims and one Expire signs out,
// and so how long Redis runs them (other nodes' calls wait meanwhile). It
// must stay well within the Redis client's read timeout (2 s) on a loaded
// machine: an Expire whose answer is lost has signed its
// sessions out without this node announcing them (no OnSignOut). Each
// sign-out also feeds the change stream; batches of 1000 lost answers in
// TestSilentStorm under the race detector at a load average of 20, batches
// of 250 did not.
const expiryBatch = 250

// expiryLease is how long a node's claim on due sessions lasts: a claim it
// has not ended by then (it died, or lost the tick's answer) is taken over by
// the next tick of any node, so that no due session stays signed in.
const expiryLease = 5 * time.Second

// tickOnce writes the batch and claims up to limit due sessions, in one
// call of the store's Tick; first adds the due rests and, if the node pushes,
// the agents with push work. If the call fails, the renewals are filed again.
func (s *Service) tickOnce(ctx context.Context, now time.Time, limit int, first bool) (ccgw.SharedTicked, error) {
	if err := s.up(); err != nil {
		return ccgw.SharedTicked{}, err
	}
	ren, rot := s.batch.take()
	grace := max(10*s.cfg.Tick, time.Second)
	t := ccgw.SharedTick{Now: s.ms(now), Claim: (s.cfg.Tick + time.Millisecond - 1).Truncate(time.Millisecond), // a whole tick at least
		Limit: limit, KeepFor: s.keepFor(), QueueMax: s.cfg.QueueSize, Grace: grace, Lease: expiryLease, Renewals: ren}
	if first {
		t.RestLimit, t.Pending = s.cfg.MaxExpiries, s.cfg.Notify != nil
	}
	for _, r := range rot {
		t.Rotations = append(t.Rotations, r.shared())
	}
	out, err := s.db.Tick(ctx, t)
	if err != nil {
		s.batch.putBack(ren)
		return ccgw.SharedTicked{}, unavailable(err)
	}
	for _, id := range out.Conflicts { // a rotation another change overtook: ask the store next time
		s.cache.drop(id, 0)
	}
	return out, nil
}

// flush writes the batch and signs nobody out.
func (s *Service) flush(ctx context.Context, now time.Time) error {
	_, err := s.tickOnce(ctx, now, 0, false)
	return err
}
