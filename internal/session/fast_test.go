package session

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/redistest"
	"github.com/ccgw/ccgw/internal/session/sessiontest"
	goredis "github.com/redis/go-redis/v9"
)

// The tests of the heartbeat's fast path (cache.go, flush.go, guids.go): two
// Stores ("nodes") on one redis-server and one fake clock, each with its
// invalidations' subscription running, as Run has it; the test sweeps.

// cluster is n nodes on one Redis, one prefix and one fake clock.
type cluster struct {
	srv   *redistest.Server
	fc    *clock.Virtual
	cfg   sessiontest.Config
	nodes []*Service
	logs  []*sessiontest.Logs
}

// newCluster opens n nodes with timeout (tick ccgw.TickFor(timeout)),
// edited by edit, and waits until their caches are on.
func newCluster(t *testing.T, n int, timeout time.Duration, edit func(*Config)) *cluster {
	t.Helper()
	c := &cluster{srv: redistest.Start(t)}
	// Nothing here kills Redis: no fsync per write (redistest's default), which
	// would make the sign-ins the test's cost.
	if err := client(t, c.srv).ConfigSet(context.Background(), "appendfsync", "no").Err(); err != nil {
		t.Fatal(err)
	}
	prefix := newPrefix()
	for i := range n {
		logs := sessiontest.NewLogs()
		cfg := sessiontest.DefaultConfig(logs)
		if c.fc == nil {
			c.fc = cfg.Clock
		}
		cfg.Clock, cfg.Timeout, cfg.Tick = c.fc, timeout, ccgw.TickFor(timeout)
		cfg.NodeName = "AgentGateway" + strconv.Itoa(i+1)
		c.cfg = cfg
		st := open(t, c.srv, prefix, cfg, edit)
		watch(t, st)
		c.nodes = append(c.nodes, st)
		c.logs = append(c.logs, logs)
	}
	return c
}

// commands returns the commands all nodes sent so far.
func (c *cluster) commands() uint64 {
	var n uint64
	for _, st := range c.nodes {
		n += commands(st)
	}
	return n
}

// heartbeats returns the heartbeats all nodes answered so far.
func (c *cluster) heartbeats() uint64 {
	var n uint64
	for _, st := range c.nodes {
		n += st.Stats(context.Background()).Heartbeats
	}
	return n
}

// sweepAll sweeps every node at now, concurrently, and returns how many
// sessions they signed out.
func (c *cluster) sweepAll(now time.Time) int {
	var wg sync.WaitGroup
	var n atomic.Int64
	for _, st := range c.nodes {
		wg.Go(func() { n.Add(int64(st.Sweep(now))) })
	}
	wg.Wait()
	return int(n.Load())
}

// tick advances the clock by one tick and sweeps every node.
func (c *cluster) tick() int {
	c.fc.Advance(c.cfg.Tick)
	return c.sweepAll(c.fc.Now())
}

// serverCalls returns the commands redis-server has executed, those scripts
// ran included (INFO's total_commands_processed).
func serverCalls(t *testing.T, rdb *goredis.Client) int64 {
	t.Helper()
	info, err := rdb.Info(context.Background(), "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Fatal("INFO stats without total_commands_processed")
	return 0
}

// signIn signs n agents in from work number first, spread over the nodes.
func (c *cluster) signIn(t *testing.T, first ccgw.AgentID, n int) map[ccgw.AgentID]string {
	t.Helper()
	var mu sync.Mutex
	guids := make(map[ccgw.AgentID]string, n)
	var wg sync.WaitGroup
	const workers = 8
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				id := first + ccgw.AgentID(i)
				req := sessiontest.SignInReq(id)
				req.SkipPassword = true // the password check is not what these tests are about
				s, err := c.nodes[i%len(c.nodes)].SignIn(context.Background(), req)
				if err != nil {
					t.Errorf("sign in %d: %v", id, err)
					return
				}
				mu.Lock()
				guids[id] = s.GUID
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return guids
}

// TestHeartbeatCommandsSteadyState: 2,000 agents heartbeat every 30 s through
// random nodes of two, with the default 2 min timeout, in static mode and in
// dynamic mode (a GUID rotation a minute each); once each node has seen each
// agent, the nodes send at most 0.05 Redis commands per heartbeat: a tick
// script per node per tick, nothing per heartbeat (rotations are recorded by
// the tick scripts). Nobody is signed out.
func TestHeartbeatCommandsSteadyState(t *testing.T) {
	for _, mode := range []ccgw.AuthMode{ccgw.AuthStatic, ccgw.AuthDynamic} {
		t.Run(map[ccgw.AuthMode]string{ccgw.AuthStatic: "static", ccgw.AuthDynamic: "dynamic"}[mode], func(t *testing.T) {
			testCommandsSteadyState(t, mode)
		})
	}
}

func testCommandsSteadyState(t *testing.T, mode ccgw.AuthMode) {
	const agents, first, every = 2000, 10000, 30 * time.Second
	c := newCluster(t, 2, 2*time.Minute, func(cfg *Config) {
		cfg.AuthMode, cfg.GUIDInterval, cfg.GUIDTimeout = mode, time.Minute, 2*time.Minute
	})
	guids := c.signIn(t, first, agents)
	rnd := rand.New(rand.NewPCG(1, 2))
	rotations := 0
	// beat runs d of virtual time: a tick at a time, each agent heartbeating
	// every 30 s (at its own offset) through a random node, the nodes sweeping.
	beat := func(d time.Duration) {
		t.Helper()
		ticks := int(d / c.cfg.Tick)
		perTick := int(every / c.cfg.Tick)
		for k := range ticks {
			for i := k % perTick; i < agents; i += perTick {
				id := first + ccgw.AgentID(i)
				g, err := c.nodes[rnd.IntN(len(c.nodes))].Heartbeat(context.Background(), id, guids[id], "")
				if err != nil {
					t.Fatalf("heartbeat of %d at %v: %v", id, c.fc.Now().Sub(sessiontest.Start), err)
				}
				if g != "" {
					guids[id] = g
					rotations++
				}
			}
			if n := c.tick(); n != 0 {
				t.Fatalf("%d sessions signed out at %v", n, c.fc.Now().Sub(sessiontest.Start))
			}
		}
	}
	for id, g := range guids { // every node meets every agent: its first heartbeat there reads Redis
		for _, st := range c.nodes {
			_, err := st.Heartbeat(context.Background(), id, g, "")
			wantOK(t, "first heartbeat", err)
		}
	}
	beat(2 * time.Minute) // and every GUID has rotated once
	rdb := client(t, c.srv)
	cmds0, beats0, calls0, rot0 := c.commands(), c.heartbeats(), serverCalls(t, rdb), rotations
	beat(4 * time.Minute)
	cmds, beats := c.commands()-cmds0, c.heartbeats()-beats0
	calls := serverCalls(t, rdb) - calls0 - 1
	perBeat := float64(cmds) / float64(beats)
	t.Logf("%d heartbeats (%d GUID rotations), %d commands sent: %.4f per heartbeat; redis-server executed %d (scripts' included): %.3f per heartbeat",
		beats, rotations-rot0, cmds, perBeat, calls, float64(calls)/float64(beats))
	if perBeat > 0.05 {
		t.Fatalf("%.4f Redis commands per heartbeat, want at most 0.05", perBeat)
	}
	if (rotations-rot0 == 0) == (mode == ccgw.AuthDynamic) {
		t.Fatalf("%d GUID rotations in 4 minutes of mode %d", rotations-rot0, mode)
	}
	if st := c.nodes[0].Stats(context.Background()); st.Live != agents || len(st.SignOuts) != 0 {
		t.Fatalf("%d live, sign-outs %v; want %d, none", st.Live, st.SignOuts, agents)
	}
}

// TestBatchedRenewalsKeepAlive: an agent whose heartbeats are all answered
// from the caches of two nodes (no command each) stays signed in for ten
// timeouts, its renewals written by the sweeps; a silent one is signed out a
// tick after its timeout, once.
func TestBatchedRenewalsKeepAlive(t *testing.T) {
	const timeout = 10 * time.Second
	c := newCluster(t, 2, timeout, nil)
	guids := c.signIn(t, 1001, 2)
	const beating, silent = 1001, 1002
	for _, st := range c.nodes { // each node reads the session once
		if _, err := st.Heartbeat(context.Background(), beating, guids[beating], ""); err != nil {
			t.Fatal(err)
		}
	}
	swept := 0
	for k := 1; k <= 10*int(timeout/c.cfg.Tick); k++ {
		if k%int(timeout/2/c.cfg.Tick) == 0 {
			st := c.nodes[k%2]
			before := c.commands()
			if _, err := st.Heartbeat(context.Background(), beating, guids[beating], ""); err != nil {
				t.Fatalf("heartbeat at %v: %v", c.fc.Now().Sub(sessiontest.Start), err)
			}
			if n := c.commands() - before; n != 0 {
				t.Fatalf("a heartbeat answered from the cache sent %d commands", n)
			}
		}
		swept += c.tick()
		since := c.fc.Now().Sub(sessiontest.Start)
		_, live := c.nodes[0].Lookup(context.Background(), silent)
		if want := since < timeout+c.cfg.Tick; live != want {
			t.Fatalf("silent agent signed in %v at %v (timeout %v, tick %v)", live, since, timeout, c.cfg.Tick)
		}
	}
	if _, ok := c.nodes[1].Lookup(context.Background(), beating); !ok {
		t.Fatal("the heartbeating agent was signed out")
	}
	if swept != 1 {
		t.Fatalf("the sweeps signed %d out, want the silent one", swept)
	}
}

// TestSilentStorm: 20,000 agents that fall silent together are signed out by
// two nodes sweeping at once, each exactly once, none before its deadline and
// all within 3 s (virtual) of it, while 500 others heartbeat through both
// nodes, answered from the caches without a command each.
func TestSilentStorm(t *testing.T) {
	const silent, beating, timeout = 20000, 500, 2 * time.Minute
	var mu sync.Mutex
	ended := map[ccgw.AgentID][]time.Time{}
	var fc *clock.Virtual
	c := newCluster(t, 2, timeout, func(cfg *Config) {
		fc = cfg.Clock.(*clock.Virtual)
		cfg.OnSignOut = func(id ccgw.AgentID, cause ccgw.SignOutCause) {
			mu.Lock()
			ended[id] = append(ended[id], fc.Now())
			mu.Unlock()
		}
	})
	quiet := c.signIn(t, 100000, silent)
	guids := c.signIn(t, 10000, beating)
	deadline := c.fc.Now().Add(timeout)
	beat := func() {
		t.Helper()
		before := c.commands()
		for i := range beating {
			id := 10000 + ccgw.AgentID(i)
			if _, err := c.nodes[i%2].Heartbeat(context.Background(), id, guids[id], ""); err != nil {
				t.Fatalf("heartbeat of %d: %v", id, err)
			}
		}
		if n := c.commands() - before; n != 0 && c.fc.Now().After(deadline.Add(-timeout/2)) {
			t.Fatalf("%d heartbeats sent %d commands, want none", beating, n)
		}
	}
	for c.fc.Now().Before(deadline.Add(5 * time.Second)) {
		if c.fc.Now().Sub(sessiontest.Start)%(10*time.Second) == 0 {
			beat()
		}
		c.tick()
	}
	if len(ended) != silent {
		t.Fatalf("%d agents signed out, want the %d silent ones", len(ended), silent)
	}
	late := time.Duration(0)
	for id, at := range ended {
		if _, ok := quiet[id]; !ok || len(at) != 1 {
			t.Fatalf("agent %d signed out %d times (silent: %v)", id, len(at), ok)
		}
		if at[0].Before(deadline) {
			t.Fatalf("agent %d signed out at %v, before its deadline %v", id, at[0], deadline)
		}
		late = max(late, at[0].Sub(deadline))
	}
	if late > 3*time.Second {
		t.Fatalf("the last silent agent was signed out %v after its deadline, want within 3s", late)
	}
	var lags uint64
	for _, st := range c.nodes {
		h := st.Stats(context.Background()).SignOutLag
		lags += h.Count
		if i := slices.Index(h.Bounds, 3); h.Cumulative[i] != h.Count {
			t.Fatalf("sign-out lag histogram %+v: some over 3 s", h)
		}
	}
	if lags != silent {
		t.Fatalf("%d sign-out lags observed, want %d", lags, silent)
	}
	st := c.nodes[0].Stats(context.Background())
	if st.Live != beating || st.Expiries != silent || st.SignOuts[ccgw.CauseTimeout] != silent {
		t.Fatalf("stats: %d live, %d expiries, sign-outs %v", st.Live, st.Expiries, st.SignOuts)
	}
	t.Logf("signed out at most %v after the deadline; by node: %d, %d", late,
		c.logs[0].Count("signed out"), c.logs[1].Count("signed out"))
}

// TestCatchUpO1: after an outage of every node (no sweep for two timeouts)
// the first sweep moves every deadline on by it at a cost that does not grow
// with the sessions (one INCRBY of the offset): nobody is signed out for the
// outage, and the silent are signed out when their deadline, moved on, passes.
func TestCatchUpO1(t *testing.T) {
	srv := redistest.Start(t)
	rdb := client(t, srv)
	cost := map[int]int64{}
	for _, n := range []int{10, 3000} {
		cfg := sessiontest.DefaultConfig(sessiontest.NewLogs())
		st := open(t, srv, newPrefix(), cfg, nil)
		for i := range n {
			if _, err := st.SignIn(context.Background(), sessiontest.SignInReq(ccgw.AgentID(2000+i))); err != nil {
				t.Fatal(err)
			}
		}
		for range 5 {
			cfg.Clock.Advance(cfg.Tick)
			st.Sweep(cfg.Clock.Now())
		}
		cfg.Clock.Advance(2 * cfg.Timeout) // nobody sweeps
		calls0, cmds0 := serverCalls(t, rdb), commands(st)
		if k := st.Sweep(cfg.Clock.Now()); k != 0 {
			t.Fatalf("%d sessions: the catch-up sweep signed %d out", n, k)
		}
		cost[n] = serverCalls(t, rdb) - calls0 - 1
		if c := commands(st) - cmds0; c != 1 {
			t.Fatalf("%d sessions: the catch-up sweep sent %d commands, want 1", n, c)
		}
		if ext, _ := rdb.HGet(context.Background(), keyOf(st)+"stats", "extended").Int(); ext != n {
			t.Fatalf("%d deadlines extended, want %d", ext, n)
		}
		// Each session keeps the time it had left when the sweeps stopped.
		due := sessiontest.Start.Add(cfg.Timeout + 2*cfg.Timeout)
		for cfg.Clock.Now().Before(due) {
			cfg.Clock.Advance(cfg.Tick)
			if k := st.Sweep(cfg.Clock.Now()); k != 0 {
				t.Fatalf("%d signed out at %v, before their deadline moved on by the outage (%v)", k,
					cfg.Clock.Now().Sub(sessiontest.Start), due.Sub(sessiontest.Start))
			}
		}
		swept := 0
		for range 2 {
			cfg.Clock.Advance(cfg.Tick)
			swept += st.Sweep(cfg.Clock.Now())
		}
		if swept != n {
			t.Fatalf("%d of %d silent sessions signed out once their deadline, moved on, passed", swept, n)
		}
	}
	t.Logf("commands redis-server ran for the catch-up sweep: %v", cost)
	if cost[3000] != cost[10] {
		t.Fatalf("the catch-up cost %d commands with 3000 sessions, %d with 10: want the same", cost[3000], cost[10])
	}
}

// TestSimulatedNeverExpires: a session of the call simulator's own agents
// (Simulated) is kept out of the deadline set, so no sweep signs it out
// however long it is silent; it counts as live, and a sign-out still ends it.
func TestSimulatedNeverExpires(t *testing.T) {
	c := newCluster(t, 1, 10*time.Second, nil)
	st := c.nodes[0]
	req := sessiontest.SignInReq(1001)
	req.SkipPassword, req.Session.Simulated = true, true
	if _, err := st.SignIn(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	c.signIn(t, 1002, 1) // a real agent, silent too
	for range 3 * int(10*time.Second/c.cfg.Tick) {
		c.tick()
	}
	if _, ok := st.Lookup(context.Background(), 1001); !ok {
		t.Fatal("the simulated agent was signed out")
	}
	if _, ok := st.Lookup(context.Background(), 1002); ok {
		t.Fatal("the silent real agent is still signed in")
	}
	if s := st.Stats(context.Background()); s.Live != 1 || s.Expiries != 1 {
		t.Fatalf("stats: %d live, %d expiries; want 1, 1 (the simulated agent live)", s.Live, s.Expiries)
	}
	if n, _ := client(t, c.srv).ZCard(context.Background(), keyOf(st)+"dl").Result(); n != 0 {
		t.Fatalf("%d members in the deadline set, want none", n)
	}
	wantOK(t, "kick", st.Kick(context.Background(), 1001, ccgw.CauseSupervisor))
	if s := st.Stats(context.Background()); s.Live != 0 {
		t.Fatalf("%d live after the simulated agent was kicked", s.Live)
	}
}

// TestHeartbeatsDuringSweeps: heartbeats answered from the cache while the
// node sweeps (its batch written under them) keep their agents alive; run
// with -race, it checks the batch is handed over safely.
func TestHeartbeatsDuringSweeps(t *testing.T) {
	c := newCluster(t, 1, 10*time.Second, nil)
	st := c.nodes[0]
	guids := c.signIn(t, 1001, 40)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for !stop.Load() {
				for id, g := range guids {
					if int(id)%4 != w {
						continue
					}
					if _, err := st.Heartbeat(context.Background(), id, g, ""); err != nil {
						t.Errorf("heartbeat of %d: %v", id, err)
						return
					}
				}
			}
		})
	}
	swept := 0
	for range 3 * int(10*time.Second/c.cfg.Tick) {
		swept += c.tick()
	}
	stop.Store(true)
	wg.Wait()
	if swept != 0 {
		t.Fatalf("%d heartbeating agents signed out", swept)
	}
}
