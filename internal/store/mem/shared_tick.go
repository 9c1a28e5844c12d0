package mem

import (
	"context"
	"encoding/json"

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
	for id, dl := range t.Renewals {
		if cur, ok := s.dl.get(id); ok && dl-s.off > cur {
			s.dl.set(id, dl-s.off)
		}
	}
	var out ccgw.SharedTicked
	out.Conflicts = s.rotate(t.Rotations)
	if t.Limit > 0 {
		for _, d := range s.dl.popDue(t.Now-s.off-t.Claim.Milliseconds(), t.Limit) {
			if r, ok := s.recs[d.k]; ok {
				s.dlc.set(d.k, t.Now)
				out.Claimed = append(out.Claimed, ccgw.SharedClaim{Record: r.raw, Deadline: d.v + s.off})
			}
		}
		if left := t.Limit - len(out.Claimed); left > 0 {
			for _, c := range s.dlc.popDue(t.Now-t.Lease.Milliseconds(), left) {
				if r, ok := s.recs[c.k]; ok {
					out.Claimed = append(out.Claimed, ccgw.SharedClaim{Record: r.raw, Deadline: c.v})
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
		raw := cur.raw
		if !ok || cur.gen != r.Gen {
			continue
		}
		var sess ccgw.Session
		if json.Unmarshal([]byte(raw), &sess) != nil {
			continue
		}
		switch sess.GUID {
		case r.Next:
		case r.Expect:
			sess.GUID, sess.GUIDIssued, sess.PrevGUID, sess.PrevUntil = r.Next, r.Issued, r.Prev, r.PrevUntil
			b, err := json.Marshal(&sess)
			if err != nil {
				continue
			}
			s.recs[r.ID] = rec{raw: string(b), gen: cur.gen, push: cur.push}
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
