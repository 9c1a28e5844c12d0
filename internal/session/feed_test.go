package session

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/guard"
	"github.com/ccgw/ccgw/internal/session/sessiontest"
	"github.com/ccgw/ccgw/internal/store/mem"
)

// seen records what a Store's hooks are told.
type seen struct {
	mu     sync.Mutex // guards states and events
	states []string   // "<agent>:<state>"
	events []string   // "<agent>:<seq>:<type>"
}

func (s *seen) change(x ccgw.Session) {
	s.mu.Lock()
	s.states = append(s.states, fmt.Sprintf("%d:%d", x.Agent, x.State))
	s.mu.Unlock()
}

func (s *seen) tap(ev ccgw.Event) {
	s.mu.Lock()
	s.events = append(s.events, fmt.Sprintf("%s:%d:%s", ev.WorkNo, ev.Seq, ev.Type))
	s.mu.Unlock()
}

func (s *seen) counts() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.states), len(s.events)
}

// TestFeedAcrossNodes: node A's OnChange and Tap are told of what node B does,
// in order, while A runs; A reads nothing it had before it opened; and after
// Redis was killed and restarted, A catches up on what B did meanwhile.
func TestFeedAcrossNodes(t *testing.T) {
	var got seen
	p := newPair(t, nil)
	before, err := p.b.SignIn(context.Background(), sessiontest.SignInReq(1000)) // before A's hooks: not reported
	wantOK(t, "sign in", err)
	a := open(t, p.srv, keyOf(p.a), p.cfg, func(c *Config) { c.OnChange, c.Tap = got.change, got.tap })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Run(ctx) // follows the feed; its ticks wait on the fake clock, which stays put
	}()
	defer func() { cancel(); <-done }()

	const id = 1001
	s, err := p.b.SignIn(context.Background(), sessiontest.SignInReq(id))
	wantOK(t, "sign in on B", err)
	_, err = p.b.Update(context.Background(), id, s.GUID, func(x *ccgw.Session, _ time.Time) ([]ccgw.Emit, error) {
		x.State = ccgw.StateBusy
		return []ccgw.Emit{{Type: ccgw.EvSetNotReadySuccess}}, nil
	})
	wantOK(t, "update on B", err)
	checkFor(t, 30*time.Second, func() error {
		if n, m := got.counts(); n < 2 || m < 3 {
			return fmt.Errorf("%d changes and %d events reported", n, m)
		}
		return nil
	})

	p.srv.Kill()
	p.srv.Restart()
	wantOK(t, "logout on B after Redis's restart", p.b.SignOut(context.Background(), id, s.GUID, ccgw.CauseLogout))
	wantOK(t, "kick on B", p.b.Kick(context.Background(), before.Agent, ccgw.CauseSupervisor))
	checkFor(t, 30*time.Second, func() error {
		if n, m := got.counts(); n < 4 || m < 4 {
			return fmt.Errorf("%d changes and %d events reported", n, m)
		}
		return nil
	})
	got.mu.Lock()
	defer got.mu.Unlock()
	wantStates := fmt.Sprintf("%v", []string{"1001:4", "1001:3", "1001:2", "1000:2"})
	wantEvents := fmt.Sprintf("%v", []string{"1001:1:" + ccgw.EvInService, "1001:2:" + ccgw.EvReady,
		"1001:3:" + ccgw.EvSetNotReadySuccess, "1000:3:" + ccgw.EvShutdownService})
	if fmt.Sprint(got.states) != wantStates || fmt.Sprint(got.events) != wantEvents {
		t.Fatalf("A was told states %v and events %v, want %s and %s", got.states, got.events, wantStates, wantEvents)
	}
}

// TestLocalHooksAtOnce: with Config.Local, OnChange and Tap hear of a change
// before the call that made it returns, with no feed reader running and no
// Deliver.
func TestLocalHooksAtOnce(t *testing.T) {
	var mu sync.Mutex
	var changes []ccgw.AgentState
	var taps []string
	cfg := sessiontest.DefaultConfig(sessiontest.NewLogs())
	st := openOn(t, mem.NewShared(), guard.NewMemLockouts(), cfg, func(c *Config) {
		c.Local = true
		c.OnChange = func(s ccgw.Session) {
			mu.Lock()
			changes = append(changes, s.State)
			mu.Unlock()
		}
		c.Tap = func(ev ccgw.Event) {
			mu.Lock()
			taps = append(taps, ev.Type)
			mu.Unlock()
		}
	})
	got := func() ([]ccgw.AgentState, []string) {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(changes), slices.Clone(taps)
	}
	ctx := context.Background()
	s, err := st.SignIn(ctx, sessiontest.SignInReq(1001))
	wantOK(t, "sign in", err)
	if c, e := got(); !slices.Equal(c, []ccgw.AgentState{ccgw.StateIdle}) || !slices.Equal(e, []string{ccgw.EvInService, ccgw.EvReady}) {
		t.Fatalf("after the sign-in returned: changes %v, events %v", c, e)
	}
	_, err = st.Update(ctx, 1001, s.GUID, func(x *ccgw.Session, _ time.Time) ([]ccgw.Emit, error) {
		x.State = ccgw.StateBusy
		return []ccgw.Emit{{Type: ccgw.EvSetNotReadySuccess}}, nil
	})
	wantOK(t, "update", err)
	wantOK(t, "logout", st.SignOut(ctx, 1001, s.GUID, ccgw.CauseLogout))
	c, e := got()
	if !slices.Equal(c, []ccgw.AgentState{ccgw.StateIdle, ccgw.StateBusy, ccgw.StateSignedOut}) ||
		!slices.Equal(e, []string{ccgw.EvInService, ccgw.EvReady, ccgw.EvSetNotReadySuccess}) {
		t.Fatalf("after the logout returned: changes %v, events %v", c, e)
	}
}

// TestLocalHookChangesASession: with Local, an OnChange hook that changes a
// session itself (the simulated call centre offering a waiting call to the
// agent who became idle) does not deadlock, and its change is delivered
// after the one that called it, before the outer call returns; while hooks
// run, changes other goroutines make are delivered too, each once.
func TestLocalHookChangesASession(t *testing.T) {
	var mu sync.Mutex
	var changes []string
	var st *Service
	cfg := sessiontest.DefaultConfig(sessiontest.NewLogs())
	st = openOn(t, mem.NewShared(), guard.NewMemLockouts(), cfg, func(c *Config) {
		c.Local = true
		c.OnChange = func(s ccgw.Session) {
			mu.Lock()
			changes = append(changes, fmt.Sprintf("%d:%d", s.Agent, s.State))
			mu.Unlock()
			if s.Agent == 1001 && s.State == ccgw.StateIdle {
				_, err := st.UpdateAny(context.Background(), 1001, func(x *ccgw.Session, _ time.Time) ([]ccgw.Emit, error) {
					if x.State != ccgw.StateIdle {
						return nil, ccgw.Fail(ccgw.RetSetStateFailed)
					}
					x.State = ccgw.StateBusy
					return nil, nil
				})
				if err != nil && ccgw.CodeOf(err) != ccgw.RetSetStateFailed {
					t.Errorf("update from the hook: %v", err)
				}
			}
		}
	})
	got := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(changes)
	}
	ctx := context.Background()
	_, err := st.SignIn(ctx, sessiontest.SignInReq(1001))
	wantOK(t, "sign in", err)
	want := []string{fmt.Sprintf("1001:%d", ccgw.StateIdle), fmt.Sprintf("1001:%d", ccgw.StateBusy)}
	if c := got(); !slices.Equal(c, want) {
		t.Fatalf("after the sign-in returned: changes %v, want idle then the hook's busy", c)
	}

	// Many goroutines change other agents while the hook runs: every change
	// is delivered once, none is lost to a goroutine that found the feed busy.
	const agents, rounds = 8, 20
	for i := range agents {
		_, err := st.SignIn(ctx, sessiontest.SignInReq(ccgw.AgentID(2001+i)))
		wantOK(t, "sign in", err)
	}
	var wg sync.WaitGroup
	for i := range agents {
		wg.Go(func() {
			for range rounds {
				_, err := st.UpdateAny(ctx, ccgw.AgentID(2001+i), func(x *ccgw.Session, _ time.Time) ([]ccgw.Emit, error) {
					x.State = ccgw.StateBusy
					return nil, nil
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait() // every call returned: its change is delivered, by it or by the holder
	if n := len(got()); n != 2+agents+agents*rounds {
		t.Fatalf("%d changes delivered, want %d", n, 2+agents+agents*rounds)
	}
}
