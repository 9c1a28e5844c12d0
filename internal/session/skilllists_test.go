package session

import (
	"context"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/ccgw/ccgw"
)

// entrySkills returns agent id's live entry's Skills as held.
func entrySkills(m *Manager, id ccgw.AgentID) []int {
	sh := m.shard(id)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.live[id].s.Skills
}

// TestSessionsShareSkillLists: sessions with the same skills hold one clipped
// list; an Update that writes its session's skills in place changes only that
// session, and one that leaves them alone keeps the shared list.
func TestSessionsShareSkillLists(t *testing.T) {
	env := testManager(t, Config{})
	a := tSignIn(t, env.m, 1001)
	tSignIn(t, env.m, 1002)
	sa, sb := entrySkills(env.m, 1001), entrySkills(env.m, 1002)
	if !slices.Equal(sa, []int{1, 2}) || unsafe.SliceData(sa) != unsafe.SliceData(sb) || cap(sa) != len(sa) {
		t.Fatalf("skills %v (cap %d) at %p and %v at %p: want one clipped [1 2]", sa, cap(sa), unsafe.SliceData(sa), sb, unsafe.SliceData(sb))
	}
	if _, err := env.m.Update(context.Background(), 1001, a.GUID, func(s *ccgw.Session, _ time.Time) ([]ccgw.Emit, error) {
		s.Skills[0] = 9
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := entrySkills(env.m, 1002); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("1002's skills after 1001's were written: %v", got)
	}
	if got := entrySkills(env.m, 1001); !slices.Equal(got, []int{9, 2}) {
		t.Fatalf("1001's skills: %v, want [9 2]", got)
	}
	if got := env.m.BySkill(context.Background(), 9); len(got) != 1 || got[0].Agent != 1001 {
		t.Fatalf("BySkill(9) = %v, want 1001", got)
	}
	s := tSignIn(t, env.m, 1003)
	if _, err := env.m.Update(context.Background(), 1003, s.GUID, func(s *ccgw.Session, _ time.Time) ([]ccgw.Emit, error) {
		s.State = ccgw.StateBusy
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := entrySkills(env.m, 1003); unsafe.SliceData(got) != unsafe.SliceData(sb) {
		t.Fatalf("an Update that kept the skills gave 1003 a list of its own")
	}
}

// TestRestoredSessionsShareSkillLists: restored sessions with the same skills
// hold one list too.
func TestRestoredSessionsShareSkillLists(t *testing.T) {
	env := testManager(t, Config{})
	tSignIn(t, env.m, 1001)
	tSignIn(t, env.m, 1002)
	env2 := testManager(t, Config{Store: env.st})
	if n, err := env2.m.Restore(); err != nil || n != 2 {
		t.Fatalf("Restore = %d, %v", n, err)
	}
	sa, sb := entrySkills(env2.m, 1001), entrySkills(env2.m, 1002)
	if !slices.Equal(sa, []int{1, 2}) || unsafe.SliceData(sa) != unsafe.SliceData(sb) {
		t.Fatalf("restored skills %v and %v: want one shared [1 2]", sa, sb)
	}
}
