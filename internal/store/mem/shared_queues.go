package mem

import (
	"context"
	"slices"
	"time"

	"github.com/ccgw/ccgw"
)

type pushClaim struct {
	node  string
	until time.Time
}

// Pop implements ccgw.SharedStore.
func (s *Shared) Pop(_ context.Context, id ccgw.AgentID, gen uint64) (*ccgw.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[id]
	if !ok || r.gen != gen {
		return nil, ccgw.Fail(ccgw.RetNotSignedIn)
	}
	ev := popFrom(s.q, id)
	if ev != nil {
		s.logAck(id, gen, ev.Seq)
	}
	return ev, nil
}

// PopTomb implements ccgw.SharedStore.
func (s *Shared) PopTomb(_ context.Context, id ccgw.AgentID, gen uint64) (*ccgw.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tombs[id]
	if !ok || tombGen(t) != gen {
		return nil, nil
	}
	return popFrom(s.tq, id), nil
}

func popFrom(qs map[ccgw.AgentID][]ccgw.Event, id ccgw.AgentID) *ccgw.Event {
	q := qs[id]
	if len(q) == 0 {
		return nil
	}
	ev := q[0]
	if len(q) == 1 {
		delete(qs, id)
	} else {
		qs[id] = q[1:]
	}
	return &ev
}

func (s *Shared) queue(tomb bool) map[ccgw.AgentID][]ccgw.Event {
	if tomb {
		return s.tq
	}
	return s.q
}

// Peek implements ccgw.SharedStore.
func (s *Shared) Peek(_ context.Context, id ccgw.AgentID, tomb bool, limit int) ([]ccgw.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue(tomb)[id]
	return slices.Clone(q[:min(max(limit, 0), len(q))]), nil
}

// Queued implements ccgw.SharedStore.
func (s *Shared) Queued(_ context.Context, id ccgw.AgentID, tomb bool) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue(tomb)[id]), nil
}

// Ack implements ccgw.SharedStore.
func (s *Shared) Ack(_ context.Context, id ccgw.AgentID, gen uint64, seq uint64, reason ccgw.DropReason) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var tomb bool
	if r, ok := s.recs[id]; !ok || r.gen != gen {
		if t, ok := s.tombs[id]; !ok || tombGen(t) != gen {
			return 0, nil
		}
		tomb = true
	}
	qs := s.queue(tomb)
	q := qs[id]
	n := 0
	for n < len(q) && q[n].Seq <= seq {
		n++
	}
	if !tomb && n > 0 {
		s.logAck(id, s.recs[id].gen, q[n-1].Seq)
	}
	if len(q) == n {
		delete(qs, id)
		if len(s.q[id]) == 0 && len(s.tq[id]) == 0 {
			delete(s.pending, id)
		}
	} else {
		qs[id] = q[n:]
	}
	if reason != "" && n > 0 {
		s.counts.Drops[reason] += uint64(n)
	}
	return n, nil
}

func (s *Shared) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// ClaimPush implements ccgw.SharedStore.
func (s *Shared) ClaimPush(_ context.Context, id ccgw.AgentID, node string, lease time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if c, ok := s.claims[id]; ok && c.node != node && now.Before(c.until) {
		return false, nil
	}
	s.claims[id] = pushClaim{node: node, until: now.Add(lease)}
	return true, nil
}

// ReleasePush implements ccgw.SharedStore.
func (s *Shared) ReleasePush(_ context.Context, id ccgw.AgentID, node string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.claims[id].node == node {
		delete(s.claims, id)
	}
	return nil
}
