package session

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ccgw/ccgw"
)

// TestSkillIndexMatchesModel moves random agents between random skills and
// checks every skill's agents, in order, against a map.
func TestSkillIndexMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var x skillIndex
	model := map[int]map[ccgw.AgentID]bool{}
	skillsOf := map[ccgw.AgentID][]int{}
	ids := []ccgw.AgentID{0, 1, 63, 64, 1023, 1024, 1025, 4095, 101, 999999, 1 << 31}
	for range 200 {
		ids = append(ids, ccgw.AgentID(101+rng.IntN(999899)))
	}
	for range 20000 {
		id := ids[rng.IntN(len(ids))]
		var to []int
		for sk := 1; sk <= 5; sk++ {
			if rng.IntN(3) == 0 {
				to = append(to, sk)
			}
		}
		from := skillsOf[id]
		x.set(id, from, to)
		for _, sk := range from {
			delete(model[sk], id)
		}
		for _, sk := range to {
			if model[sk] == nil {
				model[sk] = map[ccgw.AgentID]bool{}
			}
			model[sk][id] = true
		}
		skillsOf[id] = to
	}
	for sk := 0; sk <= 6; sk++ {
		var want []ccgw.AgentID
		for id := range model[sk] {
			want = append(want, id)
		}
		slices.Sort(want)
		got := x.agents(sk)
		if len(got) != len(want) || (len(want) > 0 && !slices.Equal(got, want)) {
			t.Fatalf("skill %d: %d agents %v, want %d %v", sk, len(got), got, len(want), want)
		}
		if s := x.by[sk]; s != nil && s.n != len(want) {
			t.Fatalf("skill %d counts %d agents, has %d", sk, s.n, len(want))
		}
	}
	// Emptied skills and chunks are freed.
	for id, sks := range skillsOf {
		x.set(id, sks, nil)
	}
	if len(x.by) != 0 {
		t.Fatalf("after everyone left, %d skills remain", len(x.by))
	}
	// The same skill listed twice is filed once.
	x.set(7, nil, []int{3, 3})
	if got := x.agents(3); !slices.Equal(got, []ccgw.AgentID{7}) || x.by[3].n != 1 {
		t.Fatalf("skill listed twice: %v, n %d", got, x.by[3].n)
	}
	x.set(7, []int{3, 3}, nil)
	if x.by[3] != nil {
		t.Fatal("skill listed twice is not freed by one removal")
	}
}

// TestSkillIndexNextPages checks next against the full list: every page, from
// any starting number and of any size, is the slice of the ordered agents that
// starts at the first one at or above from; and it allocates nothing.
func TestSkillIndexNextPages(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var x skillIndex
	for range 3000 {
		x.set(ccgw.AgentID(101+rng.IntN(200000)), nil, []int{1})
	}
	x.set(ccgw.AgentID(^uint32(0)), nil, []int{1}) // the highest ID: from past it must not wrap
	all := x.agents(1)
	buf := make([]ccgw.AgentID, 700)
	for range 2000 {
		from := uint64(rng.IntN(210000))
		if rng.IntN(10) == 0 && len(all) > 0 {
			from = uint64(all[rng.IntN(len(all))]) // exactly an agent's number
		}
		size := 1 + rng.IntN(len(buf))
		n := x.next(1, from, buf[:size])
		i, _ := slices.BinarySearch(all, ccgw.AgentID(from))
		want := all[i:min(i+size, len(all))]
		if !slices.Equal(buf[:n], want) {
			t.Fatalf("next(from %d, %d): %v, want %v", from, size, buf[:n], want)
		}
	}
	if n := x.next(1, uint64(^uint32(0))+1, buf); n != 0 {
		t.Fatalf("next from past the highest ID: %d agents", n)
	}
	if n := x.next(2, 0, buf); n != 0 {
		t.Fatalf("next of an unknown skill: %d agents", n)
	}
	if a := testing.AllocsPerRun(100, func() { x.next(1, 5000, buf[:500]) }); a != 0 {
		t.Fatalf("next allocates %v times a call", a)
	}
}
