package mem

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ccgw/ccgw"
)

// TestScoresAgainstSort drives scores with random sets, removals and takes,
// checking each take against a sort of what a plain map holds.
func TestScoresAgainstSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var s scores[ccgw.AgentID]
	ref := map[ccgw.AgentID]int64{}
	for step := 0; step < 20000; step++ {
		id := ccgw.AgentID(r.IntN(300))
		switch op := r.IntN(10); {
		case op < 6:
			v := int64(r.IntN(50)) // many ties, ordered by name
			s.set(id, v)
			ref[id] = v
		case op < 8:
			s.del(id)
			delete(ref, id)
		default:
			upTo, limit := int64(r.IntN(50)), 1+r.IntN(20)
			var want []scored[ccgw.AgentID]
			for k, v := range ref {
				if v <= upTo {
					want = append(want, scored[ccgw.AgentID]{k, v})
				}
			}
			slices.SortFunc(want, compareScored)
			want = want[:min(limit, len(want))]
			got := s.popDue(upTo, limit)
			if !slices.Equal(got, want) {
				t.Fatalf("step %d: popDue(%d, %d) = %v, want %v", step, upTo, limit, got, want)
			}
			for _, d := range got {
				delete(ref, d.k)
			}
		}
		if s.len() != len(ref) {
			t.Fatalf("step %d: len %d, want %d", step, s.len(), len(ref))
		}
	}
	for k, v := range ref {
		if got, ok := s.get(k); !ok || got != v {
			t.Fatalf("get(%v) = %d, %v; want %d", k, got, ok, v)
		}
	}
}

// BenchmarkScoresTick measures a tick's work at a million deadlines: renewing
// a thirtieth of them (a 30 s heartbeat) and taking the few due.
func BenchmarkScoresTick(b *testing.B) {
	const n = 1 << 20
	var s scores[ccgw.AgentID]
	for i := range n {
		s.set(ccgw.AgentID(i), int64(i%120000))
	}
	now := int64(0)
	b.ResetTimer()
	for b.Loop() {
		now += 1000
		for i := range n / 30 {
			id := ccgw.AgentID((int(now)/1000*(n/30) + i) % n)
			s.set(id, now+120000)
		}
		s.popDue(now, 10000)
	}
}
