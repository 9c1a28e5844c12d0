package session

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/guid"
)

// TestRotatedGUIDSurvivesCrash checks that rotating writes nothing and yet a GUID
// handed out by a rotation the store never saw is accepted after a crash, by the
// same key only, and that rotation then carries on from it.
func TestRotatedGUIDSurvivesCrash(t *testing.T) {
	const interval, grace = time.Minute, 2 * time.Minute
	key := []byte("0123456789abcdef0123456789abcdef")
	cfg := func(st *tStore, at time.Time, key []byte) Config {
		return Config{
			SessionSettings: ccgw.SessionSettings{
				Clock:        clock.NewVirtual(at),
				Timeout:      time.Hour,
				AuthMode:     ccgw.AuthDynamic,
				GUIDInterval: interval,
				GUIDTimeout:  grace,
			},
			Store:   st,
			GUIDKey: key,
		}
	}
	// rotated signs agent 1001 in and rotates its GUID three times; it returns the
	// store and every GUID the client was given, the sign-in's first.
	rotated := func(t *testing.T) (*tStore, []string, time.Time) {
		st := newTStore()
		env := testManager(t, cfg(st, tStart, key))
		s := tSignIn(t, env.m, 1001)
		puts := st.puts(1001)
		guids := []string{s.GUID}
		for i := 1; i <= 3; i++ {
			env.sweepAt(tStart.Add(time.Duration(i) * interval))
			g, err := env.m.Heartbeat(context.Background(), 1001, guids[len(guids)-1], "")
			if err != nil || g == "" {
				t.Fatalf("rotation %d: %q, %v", i, g, err)
			}
			guids = append(guids, g)
		}
		if got := st.puts(1001); got != puts {
			t.Fatalf("%d store writes for three rotations, want none", got-puts)
		}
		return st, guids, tStart.Add(3*interval + time.Second)
	}

	t.Run("newest GUID adopted, older ones as the spec allows", func(t *testing.T) {
		st, guids, at := rotated(t)
		env := testManager(t, cfg(st, at, key))
		if _, err := env.m.Restore(); err != nil {
			t.Fatal(err)
		}
		g3, g2 := guids[3], guids[2]
		set, err := env.m.Heartbeat(context.Background(), 1001, g3, "")
		if err != nil || set != "" {
			t.Fatalf("heartbeat with the last rotated GUID after the crash = %q, %v; want accepted, no new GUID", set, err)
		}
		if _, err := env.m.Session(context.Background(), 1001, g2); err != nil {
			t.Fatalf("the GUID before it, within GUIDTimeout: %v", err)
		}
		_, err = env.m.Session(context.Background(), 1001, guids[1])
		tWantCode(t, "a GUID two rotations old", err, ccgw.RetNoPermission)
		_, err = env.m.Session(context.Background(), 1001, guids[0])
		tWantCode(t, "the sign-in's GUID, superseded", err, ccgw.RetNoPermission)
		// The fast path is armed for the adopted GUID, and rotation carries on.
		if !env.m.hot.get(1001).matches(mustBits(t, g3)) {
			t.Fatal("hot record not armed for the adopted GUID")
		}
		env.sweepAt(at.Add(interval))
		g4, err := env.m.Heartbeat(context.Background(), 1001, g3, "")
		if err != nil || g4 == "" || g4 == g3 {
			t.Fatalf("rotation after adoption = %q, %v", g4, err)
		}
		if n, ok := derivedN(key, mustSession(t, env.m), g4, "AgentGateway0"); !ok || n != 4 {
			t.Fatalf("rotation after adoption is n=%d (%v), want 4", n, ok)
		}
	})

	t.Run("adopted by any authenticated call", func(t *testing.T) {
		st, guids, at := rotated(t)
		env := testManager(t, cfg(st, at, key))
		if _, err := env.m.Restore(); err != nil {
			t.Fatal(err)
		}
		if _, err := env.m.Update(context.Background(), 1001, guids[3], func(s *ccgw.Session, _ time.Time) ([]ccgw.Emit, error) { return nil, nil }); err != nil {
			t.Fatalf("Update with the last rotated GUID after the crash: %v", err)
		}
		if _, set, err := env.m.Poll(t.Context(), 1001, guids[2], 0); err != nil || set != guids[3] {
			t.Fatalf("Poll with the GUID before = %q, %v; want accepted and told %q", set, err, guids[3])
		}
	})

	t.Run("adopted by a poll", func(t *testing.T) {
		st, guids, at := rotated(t)
		env := testManager(t, cfg(st, at, key))
		if _, err := env.m.Restore(); err != nil {
			t.Fatal(err)
		}
		if _, set, err := env.m.Poll(t.Context(), 1001, guids[3], 0); err != nil || set != "" {
			t.Fatalf("Poll with the last rotated GUID after the crash = %q, %v", set, err)
		}
		if _, err := env.m.Session(context.Background(), 1001, guids[3]); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("another key refuses", func(t *testing.T) {
		st, guids, at := rotated(t)
		env := testManager(t, cfg(st, at, []byte("another key, another gateway....")))
		if _, err := env.m.Restore(); err != nil {
			t.Fatal(err)
		}
		_, err := env.m.Heartbeat(context.Background(), 1001, guids[3], "")
		tWantCode(t, "rotated GUID under another key", err, ccgw.RetNoPermission)
		if _, err := env.m.Heartbeat(context.Background(), 1001, guids[0], ""); err != nil {
			t.Fatalf("the stored GUID still works: %v", err)
		}
	})

	t.Run("forged and foreign GUIDs refused", func(t *testing.T) {
		st, guids, at := rotated(t)
		env := testManager(t, cfg(st, at, key))
		if _, err := env.m.Restore(); err != nil {
			t.Fatal(err)
		}
		s := mustStored(t, st, 1001)
		other := s
		other.Gen++ // the same agent's next sign-in
		forged := []string{
			"00000063-0000-0000-0000-000000000000.AgentGateway0",           // n=99, no MAC
			guids[3][:35] + flip(guids[3][35]) + guids[3][36:],             // one bit of the MAC
			strings.Replace(guids[3], "AgentGateway0", "AgentGateway1", 1), // another node
			deriveGUID(key, &other, 5, "AgentGateway0"),                    // another sign-in
			formatGUID(uint64(7)<<32, 0, "AgentGateway0"),                  // n=7, zero MAC
		}
		for _, g := range forged {
			_, err := env.m.Heartbeat(context.Background(), 1001, g, "")
			tWantCode(t, "forged "+g, err, ccgw.RetNoPermission)
		}
	})

	t.Run("static mode adopts nothing", func(t *testing.T) {
		st, guids, at := rotated(t)
		c := cfg(st, at, key)
		c.AuthMode = ccgw.AuthStatic
		env := testManager(t, c)
		if _, err := env.m.Restore(); err != nil {
			t.Fatal(err)
		}
		_, err := env.m.Heartbeat(context.Background(), 1001, guids[3], "")
		tWantCode(t, "rotated GUID in static mode", err, ccgw.RetNoPermission)
	})
}

func TestDerivedGUIDShape(t *testing.T) {
	key := guid.NewKey()
	s := ccgw.Session{Agent: 1001, Gen: 7, LoginTime: 1700000000000}
	seen := map[string]bool{}
	for n := uint32(1); n <= 1000; n++ {
		g := deriveGUID(key, &s, n, "AgentGateway0")
		if len(g) != 37+len("AgentGateway0") {
			t.Fatalf("GUID %q: wrong shape", g)
		}
		if got, ok := derivedN(key, &s, g, "AgentGateway0"); !ok || got != n {
			t.Fatalf("derivedN(%q) = %d, %v; want %d", g, got, ok, n)
		}
		if seen[g] {
			t.Fatalf("GUID %q repeats", g)
		}
		seen[g] = true
	}
	if _, ok := derivedN(key, &s, newGUID("AgentGateway0"), "AgentGateway0"); ok {
		t.Fatal("a random GUID passed as derived")
	}
}

func flip(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

func mustBits(t *testing.T, g string) (uint64, uint64) {
	t.Helper()
	g0, g1, ok := guidBits(g, "AgentGateway0")
	if !ok {
		t.Fatalf("GUID %q does not parse", g)
	}
	return g0, g1
}

func mustSession(t *testing.T, m *Manager) *ccgw.Session {
	t.Helper()
	s, ok := m.Lookup(context.Background(), 1001)
	if !ok {
		t.Fatal("agent 1001 not signed in")
	}
	return &s
}

func mustStored(t *testing.T, st *tStore, id ccgw.AgentID) ccgw.Session {
	t.Helper()
	s, ok := st.get(id)
	if !ok {
		t.Fatalf("agent %d not stored", id)
	}
	return s
}
