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
	x.track(1)
	x.track(2)
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

// TestIdleIndexTracksRoutedSkillsOnly: reports file agents under the skills
// the engine has routed to only, and agents with the same skills share one
// list.
func TestIdleIndexTracksRoutedSkillsOnly(t *testing.T) {
	x := newIdleIndex()
	for id := ccgw.AgentID(101); id < 1101; id++ {
		x.set(&ccgw.Session{Agent: id, State: ccgw.StateIdle, TalkRight: true, StateSince: 5, Skills: []int{1, 2}})
	}
	if len(x.agents) != 0 || len(x.sets) != 0 || len(x.lists) != 0 {
		t.Fatalf("untracked skills: %d agents, %d sets, %d lists held", len(x.agents), len(x.sets), len(x.lists))
	}
	x.track(2)
	for id := ccgw.AgentID(101); id < 1101; id++ {
		x.set(&ccgw.Session{Agent: id, State: ccgw.StateIdle, TalkRight: true, StateSince: 5, Skills: []int{1, 2}})
	}
	if len(x.agents) != 1000 || len(x.lists) != 1 || !slices.Equal(x.lists[0], []int{2}) {
		t.Fatalf("%d agents, lists %v; want 1000 agents filed under [2]", len(x.agents), x.lists)
	}
	if x.sets[1] != nil || len(x.sets[2].members()) != 1000 {
		t.Fatalf("sets: skill 1 %v, skill 2 %d members", x.sets[1], len(x.sets[2].members()))
	}
}

// TestIdleIndexMatchesModel changes random sessions and starts tracking skills
// at random (as routing does: track, then one scan of the skill's sessions),
// and checks after every step that each tracked skill's set is exactly the
// idle agents with talk right and that skill, in order, and that nothing is
// held for an agent filed under no tracked skill.
func TestIdleIndexMatchesModel(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	x := newIdleIndex()
	model := map[ccgw.AgentID]ccgw.Session{}
	skillLists := [][]int{{1}, {2}, {1, 2}, {2, 3}, {3}, {1, 2, 3}, nil}
	for step := range 20000 {
		if rnd.IntN(200) == 0 {
			sk := 1 + rnd.IntN(3)
			if !x.tracked[sk] {
				x.track(sk)
				for _, s := range model {
					if slices.Contains(s.Skills, sk) {
						x.set(&s)
					}
				}
			}
		} else {
			id := ccgw.AgentID(101 + rnd.IntN(60))
			s := ccgw.Session{Agent: id, State: ccgw.StateIdle, TalkRight: rnd.IntN(8) != 0,
				StateSince: rnd.Int64N(30), Skills: skillLists[rnd.IntN(len(skillLists))]}
			switch rnd.IntN(4) {
			case 0:
				s.State = ccgw.StateBusy
			case 1:
				s.State = ccgw.StateSignedOut
				s.Skills = nil
			}
			if s.State == ccgw.StateSignedOut {
				delete(model, id)
			} else {
				model[id] = s
			}
			x.set(&s)
		}
		held := 0
		for sk := 1; sk <= 3; sk++ {
			var want []idleKey
			for _, s := range model {
				if s.State == ccgw.StateIdle && s.TalkRight && slices.Contains(s.Skills, sk) {
					want = append(want, idleKey{s.StateSince, s.Agent})
				}
			}
			slices.SortFunc(want, func(a, b idleKey) int {
				if a.less(b) {
					return -1
				}
				return 1
			})
			var got []idleKey
			if set := x.sets[sk]; set != nil {
				got = set.members()
			}
			if !x.tracked[sk] {
				want = nil
			}
			if len(got) != len(want) || (len(want) > 0 && !slices.Equal(got, want)) {
				t.Fatalf("step %d, skill %d: set %v, want %v", step, sk, got, want)
			}
		}
		for _, s := range model {
			if s.State != ccgw.StateIdle || !s.TalkRight {
				continue
			}
			for _, sk := range s.Skills {
				if x.tracked[sk] {
					held++
					break
				}
			}
		}
		if len(x.agents) != held {
			t.Fatalf("step %d: %d agents held, want %d", step, len(x.agents), held)
		}
	}
}
