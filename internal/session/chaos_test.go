package session

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/session/sessiontest"
)

// TestChaosTwoNodes: two nodes, a few agents and many concurrent changes of
// every kind on both (sign-ins, forced sign-ins, state changes, logouts,
// kicks, push failures, polls, heartbeats), with the clock moving and both
// nodes sweeping, then every agent kicked. Every sign-in ends exactly once:
// the sign-ins Redis counted equal the sign-outs it counted, the ends the
// nodes announced (OnSignOut) and their "signed out" lines; nothing is left
// live, claimed or indexed. On Redis, and on the in-memory shared store.
func TestChaosTwoNodes(t *testing.T) {
	for _, store := range []string{"redis", "mem"} {
		t.Run(store, func(t *testing.T) { testChaosTwoNodes(t, store) })
	}
}

func testChaosTwoNodes(t *testing.T, store string) {
	var announced atomic.Int64
	edit := func(c *Config) {
		c.OnSignOut = func(ccgw.AgentID, ccgw.SignOutCause) { announced.Add(1) }
	}
	var p *nodes
	if store == "redis" {
		p = newPair(t, edit)
	} else {
		p = newMemPair(t, edit)
	}
	ctx := context.Background()
	const agents, workers, rounds = 12, 8, 150
	first := ccgw.AgentID(5001)
	var guids sync.Map // agent → its latest GUID (any node's)
	nodes := []*Service{p.a, p.b}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for range rounds {
				st := nodes[r.IntN(2)]
				id := first + ccgw.AgentID(r.IntN(agents))
				g, _ := guids.Load(id)
				guid, _ := g.(string)
				switch r.IntN(9) {
				case 0, 1:
					req := sessiontest.SignInReq(id)
					req.SkipPassword, req.Force = true, r.IntN(2) == 0
					if s, err := st.SignIn(ctx, req); err == nil {
						guids.Store(id, s.GUID)
					}
				case 2:
					st.SignOut(ctx, id, guid, ccgw.CauseLogout)
				case 3:
					st.Kick(ctx, id, ccgw.CauseSupervisor)
				case 4:
					if s, ok := st.Lookup(ctx, id); ok {
						st.PushFailed(id, s.Gen)
					}
				case 5:
					st.Update(ctx, id, guid, func(x *ccgw.Session, _ time.Time) ([]ccgw.Emit, error) {
						x.State = ccgw.AgentState([]ccgw.AgentState{ccgw.StateIdle, ccgw.StateBusy, ccgw.StateTalking}[r.IntN(3)])
						return []ccgw.Emit{{Type: ccgw.EvReady}}, nil
					})
				case 6:
					st.Poll(ctx, id, guid, 0)
				case 7:
					st.Heartbeat(ctx, id, guid, "")
				case 8:
					p.fc.Advance(sessiontest.Timeout / 4)
					st.Sweep(p.fc.Now())
				}
			}
		})
	}
	wg.Wait()
	for i := range agents {
		p.a.Kick(ctx, first+ccgw.AgentID(i), ccgw.CauseSupervisor)
	}
	st := p.a.Stats(ctx)
	var ended uint64
	for _, n := range st.SignOuts {
		ended += n
	}
	lines := p.logA.Count("signed out") + p.logB.Count("signed out")
	if st.SignIns == 0 || ended != st.SignIns || uint64(announced.Load()) != st.SignIns || uint64(lines) != st.SignIns {
		t.Fatalf("%d sign-ins; %d sign-outs counted %v, %d announced, %d logged: want each sign-in ended once",
			st.SignIns, ended, st.SignOuts, announced.Load(), lines)
	}
	if st.Live != 0 {
		t.Fatalf("%d live after every agent was kicked", st.Live)
	}
	if agents, _ := p.b.Agents(ctx, 0, 100); len(agents) != 0 {
		t.Fatalf("%d sessions listed after every agent was kicked", len(agents))
	}
	if p.srv == nil {
		return
	}
	rdb := client(t, p.srv)
	for _, k := range []string{"dl", "dlc", "live", "sim"} {
		key := keyOf(p.a) + k
		if n, _ := rdb.Exists(ctx, key).Result(); n != 0 {
			t.Errorf("%s is left over", key)
		}
	}
	if keys, _ := rdb.Keys(ctx, keyOf(p.a)+"s:*").Result(); len(keys) != 0 {
		t.Errorf("sessions left over: %v", keys)
	}
	t.Logf("%d sign-ins, sign-outs %v", st.SignIns, st.SignOuts)
}
