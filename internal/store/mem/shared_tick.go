package mem

import (
	"context"

	"github.com/ccgw/ccgw"
)

// Tick implements ccgw.SharedStore. Kept in a log, it commits the
// deliveries recorded since the last commit.
func (s *Shared) Tick(_ context.Context, t ccgw.SharedTick) (ccgw.SharedTicked, error) {
	out := s.tick(t)
	s.Flush()
	return out, nil
}

func (s *Shared) tick(t ccgw.SharedTick) ccgw.SharedTicked {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The catch-up after an outage: every deadline moves on by the gap.
	if s.swept != 0 && t.Now-s.swept > t.Grace.Milliseconds() {
		s.off += t.Now - s.swept
	}
	s.swept = max(s.swept, t.Now)
	// A renewal moves the deadline in the record only (rec.dl); one that was
	// claimed meanwhile (out of dl) is not brought back.
	for id, dl := range t.Renewals {
		if r, ok := s.recs[id]; ok && dl-s.off > r.dl && s.dl.has(id) {
			r.dl = dl - s.off
			s.recs[id] = r
		}
	}
	var out ccgw.SharedTicked
	out.Conflicts = s.rotate(t.Rotations)
	if t.Limit > 0 {
		upTo := t.Now - s.off - t.Claim.Milliseconds()
		for len(out.Claimed) < t.Limit {
			top, ok := s.dl.min()
			if !ok || top.v > upTo {
				break
			}
			r, ok := s.recs[top.k]
			if ok && r.dl > top.v { // renewed since it was filed: filed again at its deadline
				s.dl.set(top.k, r.dl)
				continue
			}
			s.dl.del(top.k)
			if ok {
				s.dlc.set(top.k, t.Now)
				out.Claimed = append(out.Claimed, ccgw.SharedClaim{Record: r.raw(), Deadline: top.v + s.off})
			}
		}
		if left := t.Limit - len(out.Claimed); left > 0 {
			for _, c := range s.dlc.popDue(t.Now-t.Lease.Milliseconds(), left) {
				if r, ok := s.recs[c.k]; ok {
					out.Claimed = append(out.Claimed, ccgw.SharedClaim{Record: r.raw(), Deadline: c.v})
					s.dlc.set(c.k, t.Now)
				}
			}
		}
	}
	if t.RestLimit > 0 {
		for _, r := range s.rests.popDue(t.Now, t.RestLimit) {
			out.Rests = append(out.Rests, r.k)
		}
		for _, te := range s.tombEnd.popDue(t.Now, min(t.RestLimit, 1000)) {
			id := te.k
			if n := len(s.tq[id]); n > 0 {
				s.counts.Drops[ccgw.DropSessionEnded] += uint64(n)
			}
			delete(s.tq, id)
			delete(s.tombs, id)
		}
	}
	if t.Pending {
		for id := range s.pending {
			out.Pending = append(out.Pending, id)
		}
	}
	return out
}

// Rotate implements ccgw.SharedStore.
func (s *Shared) Rotate(_ context.Context, rots []ccgw.SharedRotation) ([]ccgw.AgentID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rotate(rots), nil
}

// rotate applies rotation records: one whose sign-in is stored with GUID
// Expect moves it on; one whose GUID is Next already is done; any other of a
// stored sign-in is a conflict.
func (s *Shared) rotate(rots []ccgw.SharedRotation) []ccgw.AgentID {
	var conflicts []ccgw.AgentID
	for _, r := range rots {
		cur, ok := s.recs[r.ID]
		if !ok || cur.gen != r.Gen {
			continue
		}
		sess, ok := cur.session()
		if !ok {
			continue
		}
		switch sess.GUID {
		case r.Next:
		case r.Expect:
			sess.GUID, sess.GUIDIssued, sess.PrevGUID, sess.PrevUntil = r.Next, r.Issued, r.Prev, r.PrevUntil
			nr := packSession(&sess)
			nr.dl = cur.dl
			s.recs[r.ID] = nr
			s.dropped(ccgw.SharedAuthChange{ID: r.ID, Gen: r.Gen, Rotated: true, N: r.N, Issued: r.Issued, PrevUntil: r.PrevUntil})
		default:
			conflicts = append(conflicts, r.ID)
		}
	}
	return conflicts
}

// FileRest implements ccgw.SharedStore.
func (s *Shared) FileRest(_ context.Context, id ccgw.AgentID, restSeq uint64, until int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rests.set(ccgw.SharedRest{ID: id, RestSeq: restSeq}, until)
	return nil
}
