package sim

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ccgw/ccgw"
)

// TestIdleSet adds and removes keys at random and checks the set against a
// sorted slice after every step.
func TestIdleSet(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var s idleSet
	var want []idleKey
	for step := range 20000 {
		k := idleKey{since: rnd.Int64N(50), id: ccgw.AgentID(101 + rnd.IntN(40))}
		op := "add"
		switch {
		case rnd.IntN(3) == 0 && len(want) > 0: // take the first, as routing does
			k = want[0]
			op = "remove"
		case rnd.IntN(2) == 0:
			op = "remove"
		}
		i, found := slices.BinarySearchFunc(want, k, func(a, b idleKey) int {
			switch {
			case a.less(b):
				return -1
			case b.less(a):
				return 1
			}
			return 0
		})
		if op == "add" {
			s.add(k)
			if !found {
				want = slices.Insert(want, i, k)
			}
		} else {
			s.remove(k)
			if found {
				want = slices.Delete(want, i, i+1)
			}
		}
		if !slices.Equal(s.members(), want) {
			t.Fatalf("step %d (%s %v): set %v, want %v", step, op, k, s.members(), want)
		}
	}
}

// TestIdleIndexSet files agents under their skills while idle with talk right.
func TestIdleIndexSet(t *testing.T) {
	x := newIdleIndex()
	x.set(&ccgw.Session{Agent: 1002, State: ccgw.StateIdle, TalkRight: true, StateSince: 5, Skills: []int{1, 2}})
	x.set(&ccgw.Session{Agent: 1001, State: ccgw.StateIdle, TalkRight: true, StateSince: 5, Skills: []int{1}})
	x.set(&ccgw.Session{Agent: 1003, State: ccgw.StateIdle, TalkRight: false, StateSince: 1, Skills: []int{1}})
	x.set(&ccgw.Session{Agent: 1004, State: ccgw.StateBusy, TalkRight: true, StateSince: 1, Skills: []int{1}})
	if got := x.sets[1].members(); !slices.Equal(got, []idleKey{{5, 1001}, {5, 1002}}) {
		t.Fatalf("skill 1: %v", got)
	}
	x.set(&ccgw.Session{Agent: 1002, State: ccgw.StateIdle, TalkRight: true, StateSince: 9, Skills: []int{2}})
	x.set(&ccgw.Session{Agent: 1001, State: ccgw.StateSignedOut})
	if got := x.sets[1].members(); len(got) != 0 {
		t.Fatalf("skill 1 after changes: %v", got)
	}
	if got := x.sets[2].members(); !slices.Equal(got, []idleKey{{9, 1002}}) {
		t.Fatalf("skill 2 after changes: %v", got)
	}
}
