package session_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/session"
	"github.com/ccgw/ccgw/internal/store/mem"
)

// gatheringStore is an in-memory store whose PutSession, once armed, holds
// each call until want calls are in at once (or until a while has passed,
// noting that they never were).
type gatheringStore struct {
	*mem.Store
	want int

	mu      sync.Mutex
	armed   bool
	in      int
	all     chan struct{}
	alone   bool // a call gave up waiting for the others
	written int
}

func (g *gatheringStore) PutSession(s *ccgw.Session) error {
	g.mu.Lock()
	armed := g.armed && !g.alone // once one gave up, the rest do not wait
	if armed {
		g.in++
		if g.in == g.want {
			close(g.all)
		}
	}
	g.mu.Unlock()
	if armed {
		select {
		case <-g.all:
		case <-time.After(5 * time.Second):
			g.mu.Lock()
			g.alone = true
			g.mu.Unlock()
		}
	}
	g.mu.Lock()
	g.written++
	g.mu.Unlock()
	return g.Store.PutSession(s)
}

// TestRestTimeoutsWrittenTogether: when the rests of many agents end in one
// sweep (a centre's break), their writes reach the store side by side, so
// that a store with group commit writes them in a commit or a few, not one
// after another with the sweep waiting for each; every one is written and
// told before Sweep returns.
func TestRestTimeoutsWrittenTogether(t *testing.T) {
	const agents = 16
	fc := clock.NewVirtual(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	st := &gatheringStore{Store: mem.New(), want: agents, all: make(chan struct{})}
	var mu sync.Mutex
	changes := 0 // announced after the sweep's writes
	m, err := session.New(session.Config{
		SessionSettings: ccgw.SessionSettings{
			Directory: agent.Default(),
			Clock:     fc,
			OnChange: func(ccgw.Session) {
				mu.Lock()
				changes++
				mu.Unlock()
			},
		},
		Store:  st,
		Events: st,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range agents {
		id := ccgw.AgentID(1001 + i)
		s, err := m.SignIn(ctx, ccgw.SignIn{Op: "login", Password: "secret", Status: ccgw.StateIdle,
			Session: ccgw.Session{Agent: id, Phone: "70001", MediaType: "TTF"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Update(ctx, id, s.GUID, func(s *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
			return agent.Apply(s, agent.Request{Op: agent.Rest, Reason: 7, RestTime: 30 * time.Second}, now)
		}); err != nil {
			t.Fatal(err)
		}
	}
	st.mu.Lock()
	st.armed, st.written = true, 0
	st.mu.Unlock()
	mu.Lock()
	changes = 0
	mu.Unlock()
	fc.Advance(30 * time.Second)
	if n := m.Sweep(fc.Now()); n != 0 {
		t.Fatalf("swept out %d, want none (they only rest)", n)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.alone {
		t.Fatalf("the %d rest timeouts were written one after another, not side by side", agents)
	}
	mu.Lock()
	defer mu.Unlock()
	if st.written != agents || changes != agents {
		t.Fatalf("after Sweep: %d written, %d announced, want %d of each", st.written, changes, agents)
	}
}

// TestRestTimeoutToldBeforeSignOut: when an agent's rest ends and it falls
// silent in one sweep, OnChange hears of the rest's end before the sign-out,
// however slow the rest's announcement: a change is never told after the
// session's end.
func TestRestTimeoutToldBeforeSignOut(t *testing.T) {
	fc := clock.NewVirtual(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	var states []ccgw.AgentState
	m, err := session.New(session.Config{
		SessionSettings: ccgw.SessionSettings{
			Directory:       agent.Default(),
			Clock:           fc,
			Timeout:         30 * time.Second,
			RestTimeoutIdle: true,
			OnChange: func(s ccgw.Session) {
				if s.State == ccgw.StateIdle && s.RestSeq != 0 {
					time.Sleep(50 * time.Millisecond) // a slow listener of the rest's end
				}
				mu.Lock()
				states = append(states, s.State)
				mu.Unlock()
			},
		},
		Store: mem.New(),
	})
	if err != nil {
		t.Fatal(err)
	}
	tick := ccgw.TickFor(30 * time.Second)
	advance := func(d time.Duration) {
		for ; d > 0; d -= tick {
			fc.Advance(tick)
			m.Sweep(fc.Now())
		}
	}
	ctx := context.Background()
	s, err := m.SignIn(ctx, ccgw.SignIn{Op: "login", Password: "secret", Status: ccgw.StateIdle,
		Session: ccgw.Session{Agent: 1001, Phone: "70001", MediaType: "TTF"}})
	if err != nil {
		t.Fatal(err)
	}
	advance(5 * time.Second)
	// The rest ends 30 s from now, when the agent's silence does: the
	// expiry, found not yet due at 30 s after the sign-in, is filed again
	// behind the rest's end, and one sweep meets both, the rest's first.
	if _, err := m.Update(ctx, 1001, s.GUID, func(s *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
		return agent.Apply(s, agent.Request{Op: agent.Rest, Reason: 7, RestTime: 30 * time.Second}, now)
	}); err != nil {
		t.Fatal(err)
	}
	advance(31 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	want := []ccgw.AgentState{ccgw.StateIdle, ccgw.StateRest, ccgw.StateIdle, ccgw.StateSignedOut}
	if !slices.Equal(states, want) {
		t.Fatalf("OnChange heard %v, want %v", states, want)
	}
}
