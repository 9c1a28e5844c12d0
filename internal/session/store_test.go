package session

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/guard"
	"github.com/ccgw/ccgw/internal/redistest"
	"github.com/ccgw/ccgw/internal/session/sessiontest"
	"github.com/ccgw/ccgw/internal/store/bolt"
	"github.com/ccgw/ccgw/internal/store/mem"
	"github.com/ccgw/ccgw/internal/store/redis"
	"github.com/ccgw/ccgw/internal/wait"
	goredis "github.com/redis/go-redis/v9"
)

// prefixes numbers the key prefixes, so that tests share one redis-server
// without seeing each other's keys.
var prefixes atomic.Int64

func newPrefix() string { return fmt.Sprintf("{t%d}:", prefixes.Add(1)) }

// open opens Service on a Redis store on srv, with the suite's settings and
// prefix.
func open(t *testing.T, srv *redistest.Server, prefix string, cfg sessiontest.Config, edit func(*Config)) *Service {
	t.Helper()
	db, err := redis.Open(redis.Config{URL: srv.URL(), Prefix: prefix, Log: cfg.Log})
	if err != nil {
		t.Fatalf("redis.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	st := openOn(t, db, db, cfg, edit)
	prefixOf.Store(st, prefix)
	return st
}

// openOn opens Service on db, with the suite's settings.
func openOn(t *testing.T, db ccgw.SharedStore, lockouts ccgw.LockoutStore, cfg sessiontest.Config, edit func(*Config)) *Service {
	t.Helper()
	c := Config{
		SessionSettings: cfg.Settings(),
		Store:           db,
	}
	c.Lockouts = lockouts
	if edit != nil {
		edit(&c)
	}
	st, err := New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if !st.Ready() {
		t.Fatal("Service not ready on a store that answers")
	}
	return st
}

// prefixOf maps the Service open made to their key prefix.
var prefixOf sync.Map

// keyOf returns st's key prefix, for looking at its keys.
func keyOf(st *Service) string {
	p, _ := prefixOf.Load(st)
	return p.(string)
}

// commands returns how many commands st has sent to Redis.
func commands(st *Service) uint64 { return st.db.(*redis.Store).Commands() }

// client returns a plain client of srv, for looking at keys.
func client(t *testing.T, srv *redistest.Server) *goredis.Client { return srv.Client(t) }

// checkFor calls f every 10ms until it returns nil, and fails t with its last
// error after timeout.
func checkFor(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	wait.For(t, timeout, 10*time.Millisecond, f)
}

// watch runs st's invalidations' subscription (what Run does besides its
// ticks) until the test ends, and waits until its cache is on.
func watch(t testing.TB, st *Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.watchAuth(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	checkFor(t, 30*time.Second, func() error {
		if !st.cacheOn.Load() {
			return fmt.Errorf("the auth cache is not on")
		}
		return nil
	})
}

// TestStoreContract runs the ccgw.SessionService suite on the Redis store, on a
// real redis-server: with the auth cache on (heartbeats answered from memory,
// renewals written by the sweep), and with it off (every request a script).
func TestStoreContract(t *testing.T) {
	srv := redistest.Start(t)
	t.Run("cache", func(t *testing.T) {
		sessiontest.Run(t, func(t *testing.T, cfg sessiontest.Config) sessiontest.Node {
			st := open(t, srv, newPrefix(), cfg, nil)
			watch(t, st)
			return sessiontest.Node{Service: st, Sweep: st.Sweep, Deliver: st.Deliver}
		})
	})
	t.Run("nocache", func(t *testing.T) {
		sessiontest.Run(t, func(t *testing.T, cfg sessiontest.Config) sessiontest.Node {
			st := open(t, srv, newPrefix(), cfg, nil)
			return sessiontest.Node{Service: st, Sweep: st.Sweep, Deliver: st.Deliver}
		})
	})
	// The same on the in-memory store: the suite checks the node's logic, not
	// Redis, so both stores must give the same answers.
	for _, v := range []struct{ cache, local bool }{{true, false}, {false, false}, {true, true}} {
		t.Run(fmt.Sprintf("mem/cache=%v/local=%v", v.cache, v.local), func(t *testing.T) {
			sessiontest.Run(t, func(t *testing.T, cfg sessiontest.Config) sessiontest.Node {
				st := openOn(t, mem.NewShared(), guard.NewMemLockouts(), cfg, func(c *Config) { c.Local = v.local })
				cache := v.cache
				if cache {
					watch(t, st)
				}
				return sessiontest.Node{Service: st, Sweep: st.Sweep, Deliver: st.Deliver}
			})
		})
	}
	// And on one node's store kept in a log, in memory and in a real bbolt
	// file, as --store bolt runs it.
	t.Run("mem/log", func(t *testing.T) {
		sessiontest.Run(t, func(t *testing.T, cfg sessiontest.Config) sessiontest.Node {
			db, _ := openLogged(t, mem.New(), cfg)
			st := openOn(t, db, guard.NewMemLockouts(), cfg, func(c *Config) { c.Local = true })
			watch(t, st)
			return sessiontest.Node{Service: st, Sweep: st.Sweep, Deliver: st.Deliver}
		})
	})
	t.Run("bolt", func(t *testing.T) {
		sessiontest.Run(t, func(t *testing.T, cfg sessiontest.Config) sessiontest.Node {
			file, err := bolt.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { file.Close() })
			db, _ := openLogged(t, file, cfg)
			st := openOn(t, db, file, cfg, func(c *Config) { c.Local = true })
			watch(t, st)
			return sessiontest.Node{Service: st, Sweep: st.Sweep, Deliver: st.Deliver}
		})
	})
}

// openLogged opens a mem.Shared kept in log, restoring what it holds with the
// suite's timeouts, and returns it and how many sessions it restored.
func openLogged(t *testing.T, log ccgw.SharedLog, cfg sessiontest.Config) (*mem.Shared, int) {
	t.Helper()
	set := cfg.Settings()
	set.Defaults()
	db, n, err := mem.OpenShared(mem.Durable{Log: log, Deadline: func(s *ccgw.Session) int64 {
		return set.Deadline(cfg.Clock.Now(), s.Mode)
	}})
	if err != nil {
		t.Fatalf("OpenShared: %v", err)
	}
	return db, n
}

// nodes is two Stores ("nodes") on one Redis and one fake clock.
type nodes struct {
	srv        *redistest.Server
	fc         *clock.Virtual
	cfg        sessiontest.Config
	a, b       *Service
	logA, logB *sessiontest.Logs
}

func newPair(t *testing.T, edit func(*Config)) *nodes {
	t.Helper()
	p := &nodes{srv: redistest.Start(t), logA: sessiontest.NewLogs(), logB: sessiontest.NewLogs()}
	prefix := newPrefix()
	p.cfg = sessiontest.DefaultConfig(p.logA)
	p.fc = p.cfg.Clock
	p.a = open(t, p.srv, prefix, p.cfg, edit)
	cfgB := p.cfg
	cfgB.Log, cfgB.NodeName = p.logB.Logger(), "AgentGateway2"
	p.b = open(t, p.srv, prefix, cfgB, edit)
	return p
}

// newMemPair is newPair on one in-memory shared store (mem.Shared): p.srv is
// nil.
func newMemPair(t *testing.T, edit func(*Config)) *nodes {
	t.Helper()
	p := &nodes{logA: sessiontest.NewLogs(), logB: sessiontest.NewLogs()}
	db, lockouts := mem.NewShared(), guard.NewMemLockouts()
	p.cfg = sessiontest.DefaultConfig(p.logA)
	p.fc = p.cfg.Clock
	p.a = openOn(t, db, lockouts, p.cfg, edit)
	cfgB := p.cfg
	cfgB.Log, cfgB.NodeName = p.logB.Logger(), "AgentGateway2"
	p.b = openOn(t, db, lockouts, cfgB, edit)
	return p
}

// signedOut returns, per agent, the "signed out" lines both nodes logged.
func (p *nodes) signedOut(cause ccgw.SignOutCause) map[string]int {
	out := p.logA.PerAgent("signed out", "cause", string(cause))
	for k, v := range p.logB.PerAgent("signed out", "cause", string(cause)) {
		out[k] += v
	}
	return out
}

func wantOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestTwoNodesOneSession: a sign-in on one node, heartbeats, polls and updates
// on the other act on one session; an event queued on one node is polled once.
func TestTwoNodesOneSession(t *testing.T) {
	p := newPair(t, nil)
	const id = 1001
	s, err := p.a.SignIn(context.Background(), sessiontest.SignInReq(id))
	wantOK(t, "sign in on A", err)
	_, err = p.b.SignIn(context.Background(), sessiontest.SignInReq(id))
	if ccgw.CodeOf(err) != ccgw.RetAlreadySignedIn {
		t.Fatalf("second sign-in on B: %v, want 100-002", err)
	}
	_, err = p.b.Heartbeat(context.Background(), id, s.GUID, "")
	wantOK(t, "heartbeat on B", err)
	for _, want := range []string{ccgw.EvInService, ccgw.EvReady} {
		ev, _, err := p.b.Poll(context.Background(), id, s.GUID, 0)
		if err != nil || ev == nil || ev.Type != want {
			t.Fatalf("poll on B: %+v, %v; want %s", ev, err, want)
		}
	}
	_, err = p.b.Update(context.Background(), id, s.GUID, func(x *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
		x.State = ccgw.StateBusy
		return []ccgw.Emit{{Type: ccgw.EvSetNotReadySuccess}}, nil
	})
	wantOK(t, "update on B", err)
	if got, err := p.a.Session(context.Background(), id, s.GUID); err != nil || got.State != ccgw.StateBusy {
		t.Fatalf("A sees %+v, %v; want B's update", got, err)
	}
	ev, _, err := p.a.Poll(context.Background(), id, s.GUID, 0)
	if err != nil || ev == nil || ev.Type != ccgw.EvSetNotReadySuccess || ev.Seq != 3 {
		t.Fatalf("poll on A of B's event: %+v, %v", ev, err)
	}
	if ev, _, err := p.b.Poll(context.Background(), id, s.GUID, 0); ev != nil || err != nil {
		t.Fatalf("B polled %+v, %v after A took the event: want nothing", ev, err)
	}

	// Concurrent updates through both nodes: none lost.
	var wg sync.WaitGroup
	for i := range 40 {
		st := p.a
		if i%2 == 1 {
			st = p.b
		}
		wg.Go(func() {
			_, err := st.Update(context.Background(), id, s.GUID, func(x *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
				x.StateReason++
				return nil, nil
			})
			if err != nil {
				t.Errorf("update %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if got, _ := p.b.Lookup(context.Background(), id); got.StateReason != 40 {
		t.Fatalf("StateReason %d after 40 increments on two nodes", got.StateReason)
	}

	// A sign-out on B ends the session for A.
	wantOK(t, "logout on B", p.b.SignOut(context.Background(), id, s.GUID, ccgw.CauseLogout))
	if _, err := p.a.Heartbeat(context.Background(), id, s.GUID, ""); ccgw.CodeOf(err) != ccgw.RetNotSignedIn {
		t.Fatalf("heartbeat on A after logout on B: %v", err)
	}
}

// TestHeldPollWokenAcrossNodes: a poll held on node B returns the event node A
// queued, woken over pub/sub, not at the end of its wait; and also when A
// queued it while B's subscription was lost (B wakes its held polls once it
// is subscribed again).
func TestHeldPollWokenAcrossNodes(t *testing.T) {
	for _, lost := range []bool{false, true} {
		t.Run(fmt.Sprintf("lost=%v", lost), func(t *testing.T) { testHeldPollWoken(t, lost) })
	}
}

func testHeldPollWoken(t *testing.T, lost bool) {
	p := newPair(t, func(c *Config) { c.WaitClock = clock.Real{} })
	const id = 1002
	s, err := p.a.SignIn(context.Background(), sessiontest.SignInReq(id))
	wantOK(t, "sign in", err)
	queue := func() {
		_, err := p.a.Update(context.Background(), id, s.GUID, func(x *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
			return []ccgw.Emit{{Type: ccgw.EvWork}}, nil
		})
		wantOK(t, "update on A", err)
	}
	var armed atomic.Bool
	p.b.watchLost = func() { // B is not subscribed now
		if armed.CompareAndSwap(true, false) {
			queue()
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.b.Run(ctx) // subscribes; its ticks wait on the fake clock, which stays put
	}()
	defer func() { cancel(); <-done }()
	c := client(t, p.srv)
	checkFor(t, 30*time.Second, func() error {
		n, err := c.PubSubNumSub(context.Background(), keyOf(p.b)+"ev").Result()
		if err != nil || n[keyOf(p.b)+"ev"] < 1 {
			return fmt.Errorf("B not subscribed yet: %v %v", n, err)
		}
		return nil
	})
	for range 2 {
		if ev, _, err := p.b.Poll(ctx, id, s.GUID, 0); ev == nil || err != nil {
			t.Fatalf("poll: %+v, %v", ev, err)
		}
	}
	type res struct {
		ev  *ccgw.Event
		err error
	}
	got := make(chan res, 1)
	go func() {
		ev, _, err := p.b.Poll(ctx, id, s.GUID, time.Minute)
		got <- res{ev, err}
	}()
	// Queue the event once the poll is held on B.
	checkFor(t, 30*time.Second, func() error {
		p.b.heldMu.Lock()
		defer p.b.heldMu.Unlock()
		if p.b.held[id] == 0 {
			return fmt.Errorf("poll not held yet")
		}
		return nil
	})
	if lost {
		armed.Store(true)
		if err := c.ClientKillByFilter(context.Background(), "TYPE", "pubsub").Err(); err != nil {
			t.Fatal(err)
		}
	} else {
		queue()
	}
	select {
	case r := <-got:
		if r.err != nil || r.ev == nil || r.ev.Type != ccgw.EvWork {
			t.Fatalf("held poll on B: %+v, %v", r.ev, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the poll held on B was not woken by A's event")
	}
}

// TestExpiryExactlyOnceAcrossNodes: 200 sessions fall due while both nodes
// sweep from several goroutines at once; each is signed out exactly once, and
// none before its timeout.
func TestExpiryExactlyOnceAcrossNodes(t *testing.T) {
	p := newPair(t, func(c *Config) { c.MaxExpiries = 7 })
	const n, first = 200, 3000
	guids := map[ccgw.AgentID]string{}
	for i := range n {
		st := p.a
		if i%2 == 1 {
			st = p.b
		}
		s, err := st.SignIn(context.Background(), sessiontest.SignInReq(first+ccgw.AgentID(i)))
		wantOK(t, "sign in", err)
		guids[s.Agent] = s.GUID
	}
	var stop atomic.Bool
	var swept atomic.Int64
	var wg sync.WaitGroup
	for g := range 4 {
		st := p.a
		if g%2 == 1 {
			st = p.b
		}
		wg.Go(func() {
			for !stop.Load() {
				swept.Add(int64(st.Sweep(p.fc.Now())))
			}
		})
	}
	// Every tick also gets a sweep from this goroutine, as it would from some
	// node's Run: a starved sweeper must not leave a gap that looks like an
	// outage (which moves every deadline on).
	advance := func(d time.Duration) {
		for ; d > 0; d -= p.cfg.Tick {
			p.fc.Advance(p.cfg.Tick)
			swept.Add(int64(p.a.Sweep(p.fc.Now())))
		}
	}
	advance(sessiontest.Timeout - p.cfg.Tick)
	if st := p.a.Stats(context.Background()); st.Live != n || len(st.SignOuts) != 0 {
		t.Fatalf("a tick before the timeout: %d live, sign-outs %v; want %d, none", st.Live, st.SignOuts, n)
	}
	advance(2 * p.cfg.Tick)
	checkFor(t, 20*time.Second, func() error {
		if l := p.b.Stats(context.Background()).Live; l != 0 {
			return fmt.Errorf("%d sessions left", l)
		}
		return nil
	})
	stop.Store(true)
	wg.Wait()
	if k := swept.Load(); k != n {
		t.Fatalf("the sweeps report %d sign-outs, want %d", k, n)
	}
	st := p.a.Stats(context.Background())
	if st.SignOuts[ccgw.CauseTimeout] != n || st.Expiries != n {
		t.Fatalf("Stats: sign-outs %v, expiries %d; want %d timeouts", st.SignOuts, st.Expiries, n)
	}
	lines := p.signedOut(ccgw.CauseTimeout)
	if len(lines) != n {
		t.Fatalf("%d agents have \"signed out\" lines, want %d", len(lines), n)
	}
	byNode := [2]int{p.logA.Count("signed out"), p.logB.Count("signed out")}
	for id := range guids {
		if c := lines[id.String()]; c != 1 {
			t.Errorf("agent %d: %d \"signed out\" lines on the two nodes, want 1", id, c)
		}
	}
	t.Logf("sign-outs by node: A %d, B %d", byNode[0], byNode[1])
}

// TestOutage: while Redis is down the node is not ready, answers 100-007 (a
// heartbeat its cache answered a moment before included) and signs nobody out; when Redis is back the deadlines are moved on by the
// outage, so that nobody is signed out for it, and silence after that still
// expires a timeout later.
func TestOutage(t *testing.T) {
	srv := redistest.Start(t)
	logs := sessiontest.NewLogs()
	cfg := sessiontest.DefaultConfig(logs)
	fc, tick, timeout := cfg.Clock, cfg.Tick, cfg.Timeout
	st := open(t, srv, newPrefix(), cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.Run(ctx)
	}()
	defer func() { cancel(); <-done }()

	const n, first = 20, 4000
	guids := make([]string, n)
	for i := range n {
		s, err := st.SignIn(context.Background(), sessiontest.SignInReq(first+ccgw.AgentID(i)))
		wantOK(t, "sign in", err)
		guids[i] = s.GUID
	}
	for range timeout / 2 / tick { // a sweep every tick, as the nodes' Run loops do
		fc.Advance(tick)
		st.Sweep(fc.Now())
	}
	for i := range n {
		_, err := st.Heartbeat(context.Background(), first+ccgw.AgentID(i), guids[i], "")
		wantOK(t, "heartbeat", err)
	}
	st.Sweep(fc.Now())
	// By now the node answers these heartbeats from its cache, without Redis.
	checkFor(t, 30*time.Second, func() error {
		if !st.cacheUsable() {
			return fmt.Errorf("the auth cache is not on")
		}
		before := commands(st)
		_, err := st.Heartbeat(context.Background(), first, guids[0], "")
		wantOK(t, "heartbeat", err)
		if commands(st) != before {
			return fmt.Errorf("a heartbeat sent a command: not answered from the cache")
		}
		return nil
	})

	srv.Stop()
	checkFor(t, 10*time.Second, func() error {
		fc.Advance(tick)
		if st.Ready() {
			return fmt.Errorf("still ready with Redis stopped")
		}
		return nil
	})
	if logs.Count("redis unreachable: not ready, signing nobody out") != 1 {
		t.Error("no \"redis unreachable\" log line")
	}
	// The cluster-wide figures are unknown, not zero (metrics leave a gap).
	if s := st.Stats(context.Background()); !s.Partial || s.Live != 0 || s.Heartbeats < n {
		t.Errorf("Stats without Redis: %+v, want Partial, no live count and this node's %d heartbeats or more", s, n)
	}
	id := ccgw.AgentID(first)
	_, err := st.Heartbeat(context.Background(), id, guids[0], "")
	wantCodeT(t, "heartbeat", err, ccgw.RetInternal)
	_, _, err = st.Poll(ctx, id, guids[0], 0)
	wantCodeT(t, "poll", err, ccgw.RetInternal)
	_, err = st.SignIn(context.Background(), sessiontest.SignInReq(first+n))
	wantCodeT(t, "sign in", err, ccgw.RetInternal)
	_, err = st.Update(context.Background(), id, guids[0], func(*ccgw.Session, time.Time) ([]ccgw.Emit, error) { return nil, nil })
	wantCodeT(t, "update", err, ccgw.RetInternal)
	wantCodeT(t, "logout", st.SignOut(context.Background(), id, guids[0], ccgw.CauseLogout), ccgw.RetInternal)
	_, err = st.UpdateGUID(context.Background(), id, guids[0])
	wantCodeT(t, "updateGuid", err, ccgw.RetInternal)
	if k := st.Sweep(fc.Now()); k != 0 {
		t.Fatalf("a sweep without Redis signed %d out", k)
	}

	// Two timeouts pass without Redis.
	fc.Advance(2 * timeout)
	srv.Restart()
	checkFor(t, 10*time.Second, func() error {
		fc.Advance(tick)
		if !st.Ready() {
			return fmt.Errorf("not ready with Redis back")
		}
		return nil
	})
	back := fc.Now()
	if s := st.Stats(context.Background()); s.Partial || s.Live != n || s.SignIns != n {
		t.Errorf("Stats with Redis back: %+v, want %d live and signed in, not Partial", s, n)
	}
	st.Sweep(back) // if Run's tick has not caught up yet, this does
	if got := logs.Count("signed out"); got != 0 {
		t.Fatalf("%d sign-outs after the outage, want none", got)
	}
	c := client(t, srv)
	if ext, _ := c.HGet(context.Background(), keyOf(st)+"stats", "extended").Int(); ext != n {
		t.Fatalf("%d deadlines extended, want %d", ext, n)
	}
	// Half the agents go on heartbeating, half stay silent since before the
	// outage; the silent ones get a full timeout counted from Redis's return.
	step := func(d time.Duration) {
		for ; d > 0; d -= tick {
			fc.Advance(tick)
			st.Sweep(fc.Now())
			if fc.Now().Sub(back)%(timeout/4) == 0 {
				for i := 0; i < n; i += 2 {
					_, err := st.Heartbeat(context.Background(), first+ccgw.AgentID(i), guids[i], "")
					wantOK(t, fmt.Sprintf("heartbeat %d at %v after the outage", first+i, fc.Now().Sub(back)), err)
				}
			}
		}
	}
	step(timeout - 2*tick)
	if got := logs.Count("signed out"); got != 0 {
		t.Fatalf("%d sign-outs within a timeout of Redis's return, want none", got)
	}
	step(3 * tick)
	checkFor(t, 10*time.Second, func() error {
		if got := logs.Count("signed out", "cause", "timeout"); got != n/2 {
			return fmt.Errorf("%d timeouts after a timeout of silence, want %d", got, n/2)
		}
		return nil
	})
	for i := range n {
		_, alive := st.Lookup(context.Background(), first+ccgw.AgentID(i))
		if alive != (i%2 == 0) {
			t.Errorf("agent %d: signed in %v, want %v", first+i, alive, i%2 == 0)
		}
	}
}

func wantCodeT(t *testing.T, what string, err error, want ccgw.Retcode) {
	t.Helper()
	if got := ccgw.CodeOf(err); got != want {
		t.Fatalf("%s: retcode %s (%v), want %s", what, got, err, want)
	}
}

// TestPushClaim: with two nodes as push sources, one at a time gets the push
// target of an agent; a release, or the lease running out after a node died,
// lets the other take it; an event acknowledged by one is gone for both.
func TestPushClaim(t *testing.T) {
	p := newPair(t, func(c *Config) { c.PushLease = 300 * time.Millisecond })
	const id = 1003
	req := sessiontest.SignInReq(id)
	req.Session.Mode, req.Session.CallbackURI, req.Session.ServiceToken = ccgw.ModePush, "http://127.0.0.1:9/cb", "tok"
	s, err := p.a.SignIn(context.Background(), req)
	wantOK(t, "sign in", err)

	ta, ok := p.a.PushTarget(id)
	if !ok || ta.URL != "http://127.0.0.1:9/cb" || ta.GUID != s.GUID || ta.Token != "tok" {
		t.Fatalf("A's PushTarget: %+v, %v", ta, ok)
	}
	if _, ok := p.b.PushTarget(id); ok {
		t.Fatal("B got the push target while A holds it")
	}
	if _, ok := p.a.PushTarget(id); !ok {
		t.Fatal("A lost its own claim")
	}
	evs := ta.Queue.Peek(10)
	if len(evs) != 2 || evs[0].Type != ccgw.EvInService || evs[1].Seq != 2 {
		t.Fatalf("A's queue: %+v", evs)
	}
	ta.Queue.Ack(evs[0].Seq)

	p.a.Release(id)
	tb, ok := p.b.PushTarget(id)
	if !ok {
		t.Fatal("B did not get the push target after A released it")
	}
	if _, ok := p.a.PushTarget(id); ok {
		t.Fatal("A got the push target back while B holds it")
	}
	if evs := tb.Queue.Peek(10); len(evs) != 1 || evs[0].Seq != 2 {
		t.Fatalf("B's queue after A acked seq 1: %+v", evs)
	}
	// B dies holding the claim: A takes over once its lease runs out.
	checkFor(t, 10*time.Second, func() error {
		if _, ok := p.a.PushTarget(id); !ok {
			return fmt.Errorf("A has not taken over B's claim")
		}
		return nil
	})
	if _, ok := p.b.PushTarget(id); ok {
		t.Fatal("B got the target back while A holds it")
	}
}

// TestStatsAcrossNodes: the counters are cluster-wide, by cause.
func TestStatsAcrossNodes(t *testing.T) {
	p := newPair(t, nil)
	_, err := p.a.SignIn(context.Background(), sessiontest.SignInReq(1004))
	wantOK(t, "sign in", err)
	wantOK(t, "kick", p.b.Kick(context.Background(), 1004, ccgw.CauseSupervisor))
	c := client(t, p.srv)
	h, err := c.HGetAll(context.Background(), keyOf(p.a)+"stats").Result()
	wantOK(t, "HGETALL", err)
	if h["signout:supervisor"] != "1" || h["signin"] != "1" {
		t.Fatalf("stats hash %v", h)
	}
	if got := p.a.Stats(context.Background()).SignOuts[ccgw.CauseSupervisor]; got != 1 {
		t.Fatalf("Stats on the other node: %d supervisor sign-outs", got)
	}
}

// TestGenKeepsItsDigits: a sign-in's Gen (nanoseconds, more digits than a Lua
// number keeps) survives the scripts exactly: PushFailed finds the sign-in by
// it, and the ended session's push target carries it, so that its
// AgentOther_ShutdownService is pushed.
func TestGenKeepsItsDigits(t *testing.T) {
	srv := redistest.Start(t)
	cfg := sessiontest.DefaultConfig(sessiontest.NewLogs())
	cfg.Clock.Advance(123456789 * time.Nanosecond) // a Gen no double holds
	s := open(t, srv, "{gen}:", cfg, nil)
	sess, err := s.SignIn(context.Background(), sessiontest.PushSignInReq(1001))
	if err != nil {
		t.Fatal(err)
	}
	if uint64(float64(sess.Gen)) == sess.Gen {
		t.Fatalf("Gen %d is exact as a double: the test needs one that is not", sess.Gen)
	}
	s.PushFailed(1001, sess.Gen)
	if _, ok := s.Lookup(context.Background(), 1001); ok {
		t.Fatal("PushFailed with the sign-in's Gen left it signed in")
	}
	tg, ok := s.PushTarget(1001)
	if !ok || !tg.Ended || tg.Gen != sess.Gen {
		t.Fatalf("push target of the ended session: %+v %v, want Ended with Gen %d", tg, ok, sess.Gen)
	}
}
