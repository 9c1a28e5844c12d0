package mem

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/ccgw/ccgw"
)

// Tick implements ccgw.SharedStore.
func (s *Shared) Tick(_ context.Context, t ccgw.SharedTick) (ccgw.SharedTicked, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The catch-up after an outage: every deadline moves on by the gap.
	if s.swept != 0 && t.Now-s.swept > t.Grace.Milliseconds() {
		s.off += t.Now - s.swept
	}
	s.swept = max(s.swept, t.Now)
	for id, dl := range t.Renewals {
		if cur, ok := s.dl[id]; ok && dl-s.off > cur {
			s.dl[id] = dl - s.off
		}
	}
	var out ccgw.SharedTicked
	out.Conflicts = s.rotate(t.Rotations)
	if t.Limit > 0 {
		for _, id := range due(s.dl, t.Now-s.off-t.Claim.Milliseconds(), t.Limit) {
			dl := s.dl[id]
			delete(s.dl, id)
			if rec, ok := s.recs[id]; ok {
				s.dlc[id] = t.Now
				out.Claimed = append(out.Claimed, ccgw.SharedClaim{Record: rec, Deadline: dl + s.off})
			}
		}
		if left := t.Limit - len(out.Claimed); left > 0 {
			for _, id := range due(s.dlc, t.Now-t.Lease.Milliseconds(), left) {
				rec, ok := s.recs[id]
				if !ok {
					delete(s.dlc, id)
					continue
				}
				out.Claimed = append(out.Claimed, ccgw.SharedClaim{Record: rec, Deadline: s.dlc[id]})
				s.dlc[id] = t.Now
			}
		}
	}
	if t.RestLimit > 0 {
		for _, r := range due(s.rests, t.Now, t.RestLimit) {
			delete(s.rests, r)
			out.Rests = append(out.Rests, r)
		}
		for _, id := range due(s.tombEnd, t.Now, min(t.RestLimit, 1000)) {
			if n := len(s.tq[id]); n > 0 {
				s.counts.Drops[ccgw.DropSessionEnded] += uint64(n)
			}
			delete(s.tq, id)
			delete(s.tombs, id)
			delete(s.tombEnd, id)
		}
	}
	if t.Pending {
		for id := range s.pending {
			out.Pending = append(out.Pending, id)
		}
	}
	return out, nil
}

// due returns up to limit keys of set scored at most upTo, lowest score first
// (ties in the order of their decimal strings, as a Redis sorted set).
func due[K comparable](set map[K]int64, upTo int64, limit int) []K {
	var out []K
	for k, v := range set {
		if v <= upTo {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b K) int {
		return cmp.Or(cmp.Compare(set[a], set[b]), strings.Compare(memberOf(a), memberOf(b)))
	})
	return out[:min(limit, len(out))]
}

// memberOf returns k as the Redis store names it in a sorted set.
func memberOf[K comparable](k K) string {
	switch k := any(k).(type) {
	case ccgw.AgentID:
		return k.String()
	case ccgw.SharedRest:
		return k.ID.String() + ":" + strconv.FormatUint(k.RestSeq, 10)
	}
	return ""
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
		raw, ok := s.recs[r.ID]
		if !ok || factsOf(raw).Gen != r.Gen {
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
			s.recs[r.ID] = string(b)
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
	s.rests[ccgw.SharedRest{ID: id, RestSeq: restSeq}] = until
	return nil
}
