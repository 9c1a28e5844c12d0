package session

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/store/bolt"
)

// Sign-out storms (issue 13): a sweep's sign-outs are written in batches, off
// the tick, each once.

// gateStore is a bolt.Store that counts the sign-out writes the Manager makes
// and can hold them: while hold is set, DeleteSessionsEvents waits for a value
// on release before it writes.
type gateStore struct {
	*bolt.Store
	mu      sync.Mutex // guards all below
	batches []int      // sessions per DeleteSessionsEvents call
	singles int        // DeleteSession and DeleteSessions calls
	hold    bool
	release chan struct{}
}

func (g *gateStore) DeleteSessionsEvents(refs []ccgw.SessionRef) error {
	g.mu.Lock()
	g.batches = append(g.batches, len(refs))
	hold := g.hold
	g.mu.Unlock()
	if hold {
		<-g.release
	}
	return g.Store.DeleteSessionsEvents(refs)
}

func (g *gateStore) DeleteSession(id ccgw.AgentID, gen uint64) error {
	g.mu.Lock()
	g.singles++
	g.mu.Unlock()
	return g.Store.DeleteSession(id, gen)
}

func (g *gateStore) DeleteSessions(refs []ccgw.SessionRef) error {
	g.mu.Lock()
	g.singles++
	g.mu.Unlock()
	return g.Store.DeleteSessions(refs)
}

func (g *gateStore) counts() (batches []int, singles int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.batches), g.singles
}

func openGateStore(tb testing.TB, dir string) *gateStore {
	tb.Helper()
	st, err := bolt.Open(dir)
	if err != nil {
		tb.Fatalf("bolt.Open: %v", err)
	}
	return &gateStore{Store: st, release: make(chan struct{})}
}

// stormCounts counts, per agent, what the Manager announced of its sign-outs.
type stormCounts struct {
	base     ccgw.AgentID
	signOuts []atomic.Int32 // OnSignOut with CauseTimeout
	changes  []atomic.Int32 // OnChange with StateSignedOut
	notifies []atomic.Int32 // Notify (push mode), counted once armed
	armed    atomic.Bool
	other    atomic.Int32 // any sign-out of an agent outside the range
}

func newStormCounts(base ccgw.AgentID, n int) *stormCounts {
	return &stormCounts{base: base, signOuts: make([]atomic.Int32, n), changes: make([]atomic.Int32, n), notifies: make([]atomic.Int32, n)}
}

func (c *stormCounts) index(id ccgw.AgentID) (int, bool) {
	i := int(id - c.base)
	return i, id >= c.base && i < len(c.signOuts)
}

func (c *stormCounts) config(cfg *Config) {
	cfg.OnSignOut = func(id ccgw.AgentID, cause ccgw.SignOutCause) {
		if i, ok := c.index(id); ok && cause == ccgw.CauseTimeout {
			c.signOuts[i].Add(1)
		} else {
			c.other.Add(1)
		}
	}
	cfg.OnChange = func(s ccgw.Session) {
		if i, ok := c.index(s.Agent); ok && s.State == ccgw.StateSignedOut {
			c.changes[i].Add(1)
		}
	}
	cfg.Notify = func(id ccgw.AgentID) {
		if i, ok := c.index(id); ok && c.armed.Load() {
			c.notifies[i].Add(1)
		}
	}
}

// out returns how many agents were told of their sign-out (OnSignOut).
func (c *stormCounts) out() int {
	n := 0
	for i := range c.signOuts {
		if c.signOuts[i].Load() > 0 {
			n++
		}
	}
	return n
}

// TestSignOutStorm: 20,000 agents of one site fall silent at once, on bbolt,
// with the default timeout (2m), tick (1s), MaxExpiries (10000) and batch
// (5000), while ten other agents keep heartbeating. Run's sweeps sign all of
// them out within 3 s of their deadline (one tick, in fact: the second
// 10,000 are swept at once, not a tick later), each exactly once (OnSignOut,
// OnChange, Notify for the push-mode quarter, the counters), in a few commits
// of many (never one each); none is stored afterwards, and a restart over
// the same file restores only the ten. It runs in a synctest bubble, so that
// "the sweep and its writes are done" is known, not slept for; the clock is
// fake, so 3 s is of the clock: the wall time a sweep takes is
// BenchmarkSweepStorm's and TestE2ESignOutStorm's.
func TestSignOutStorm(t *testing.T) {
	const (
		storm  = 20000
		base   = ccgw.AgentID(10001)
		others = 10
		obase  = ccgw.AgentID(1001)
	)
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		st := openGateStore(t, dir)
		fc := clock.NewVirtual(tStart)
		counts := newStormCounts(base, storm)
		cfg := Config{SessionSettings: ccgw.SessionSettings{Clock: fc, Directory: tDirectory{}, AuthMode: ccgw.AuthStatic}, Store: st, Events: st}
		counts.config(&cfg)
		m, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if m.cfg.Tick != time.Second || m.cfg.MaxExpiries != 10000 || m.cfg.SignOutBatch != 5000 {
			t.Fatalf("defaults: tick %v, MaxExpiries %d, SignOutBatch %d", m.cfg.Tick, m.cfg.MaxExpiries, m.cfg.SignOutBatch)
		}

		// Sign everyone in at tStart, from 64 goroutines (their commits shared).
		var wg sync.WaitGroup
		var next atomic.Int32
		for range 64 {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < storm; i = int(next.Add(1)) - 1 {
					req := tSignInReq(base + ccgw.AgentID(i))
					if i%4 == 0 {
						req.Session.Mode, req.Session.CallbackURI = ccgw.ModePush, "https://crm.example/cb"
					}
					if _, err := m.SignIn(context.Background(), req); err != nil {
						t.Errorf("sign in %d: %v", base+ccgw.AgentID(i), err)
						return
					}
				}
			})
		}
		wg.Wait()
		guids := make([]string, others)
		for i := range others {
			guids[i] = tSignIn(t, m, obase+ccgw.AgentID(i)).GUID
		}
		if t.Failed() {
			return
		}
		counts.armed.Store(true)
		dl := tStart.Add(m.Timeout()) // every storm agent's deadline

		step, stop := runInBubble(m, fc)
		var allOut time.Time
		for fc.Now().Before(dl.Add(5 * time.Second)) {
			step() // the sweep, and the outbox's writes and announcements, are done
			now := fc.Now()
			if now.Sub(tStart)%(30*time.Second) == 0 {
				for i, g := range guids {
					if _, err := m.Heartbeat(context.Background(), obase+ccgw.AgentID(i), g, ""); err != nil {
						t.Fatalf("at +%v: heartbeat of %d: %v", now.Sub(tStart), obase+ccgw.AgentID(i), err)
					}
				}
			}
			n := counts.out()
			if now.Before(dl) && n != 0 {
				t.Fatalf("%d signed out at %v, before their deadline %v", n, now, dl)
			}
			if n == storm && allOut.IsZero() {
				allOut = now
			}
		}
		if allOut.IsZero() {
			t.Fatalf("%d of %d signed out by deadline+5s", counts.out(), storm)
		}
		if lag := allOut.Sub(dl); lag > 3*time.Second || lag >= m.cfg.Tick {
			t.Fatalf("the last signed out %v after the deadline, want within 3s, and within the tick "+
				"(the 10,000 over MaxExpiries swept at once, not a tick later)", lag)
		}
		t.Logf("all %d signed out %v after their deadline", storm, allOut.Sub(dl))

		for i := range storm {
			id := base + ccgw.AgentID(i)
			if n := counts.signOuts[i].Load(); n != 1 {
				t.Fatalf("agent %d: OnSignOut %d times, want once", id, n)
			}
			if n := counts.changes[i].Load(); n != 1 {
				t.Fatalf("agent %d: OnChange(signed out) %d times, want once", id, n)
			}
			want := int32(0)
			if i%4 == 0 {
				want = 1 // push mode: AgentOther_ShutdownService is pushed
			}
			if n := counts.notifies[i].Load(); n != want {
				t.Fatalf("agent %d: Notify %d times, want %d", id, n, want)
			}
		}
		if n := counts.other.Load(); n != 0 {
			t.Fatalf("%d other sign-outs: the heartbeating agents must stay", n)
		}
		stats := m.Stats(context.Background())
		if stats.Expiries != storm || stats.SignOuts[ccgw.CauseTimeout] != storm || stats.Live != others {
			t.Fatalf("stats: %d expiries, %d timeouts, %d live; want %d, %d, %d",
				stats.Expiries, stats.SignOuts[ccgw.CauseTimeout], stats.Live, storm, storm, others)
		}
		if h := stats.SignOutLag; h == nil || h.Count != storm || h.Cumulative[slices.Index(h.Bounds, 3)] != storm {
			t.Fatalf("sign-out lag histogram %+v: want all %d within 3s", h, storm)
		}
		batches, singles := st.counts()
		if singles != 0 || len(batches) > storm/5000+2 || slices.Max(batches) > 5000 {
			t.Fatalf("store writes: %d one at a time, batches %v; want batches of at most 5000, about %d", singles, batches, storm/5000)
		}
		t.Logf("sign-outs written in %d commits: %v", len(batches), batches)

		if err := stop(); err != context.Canceled {
			t.Fatalf("Run returned %v", err)
		}
		stored := 0
		if err := st.LoadSessions(func(s *ccgw.Session) error {
			if _, in := counts.index(s.Agent); in {
				t.Errorf("agent %d (gen %d) still stored", s.Agent, s.Gen)
			}
			stored++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if stored != others {
			t.Fatalf("%d sessions stored, want the %d that heartbeated", stored, others)
		}
		if err := st.LoadEvents(func(id ccgw.AgentID, gen, acked uint64, evs []ccgw.Event) error {
			if _, in := counts.index(id); in {
				t.Errorf("agent %d (gen %d): %d events still stored", id, gen, len(evs))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}

		// A restart over the same file restores only the ten.
		st2 := openGateStore(t, dir)
		defer st2.Close()
		m2, err := New(Config{SessionSettings: ccgw.SessionSettings{Clock: clock.NewVirtual(fc.Now()), Directory: tDirectory{}}, Store: st2, Events: st2})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := m2.Restore(); err != nil || n != others {
			t.Fatalf("restart restored %d (%v), want %d", n, err, others)
		}
	})
}

// TestSweepWritesSignOutsInBatches: a sweep's sign-outs reach the store
// SignOutBatch at a time, each batch in one DeleteSessions call, and each
// sign-out is announced after its batch was written.
func TestSweepWritesSignOutsInBatches(t *testing.T) {
	st := &batchStore{tStore: newTStore()}
	var announced []ccgw.AgentID
	var stillStored int
	env := testManager(t, Config{
		SessionSettings: ccgw.SessionSettings{OnSignOut: func(id ccgw.AgentID, _ ccgw.SignOutCause) {
			announced = append(announced, id)
			if _, ok := st.get(id); ok {
				stillStored++
			}
		},
		},
		Store:        st,
		SignOutBatch: 4,
	})
	for id := ccgw.AgentID(1001); id <= 1010; id++ {
		tSignIn(t, env.m, id)
	}
	if n := env.advance(env.m.Timeout()); n != 10 {
		t.Fatalf("sweep signed out %d, want 10", n)
	}
	if got, want := st.sizes, []int{4, 4, 2}; !slices.Equal(got, want) {
		t.Fatalf("DeleteSessions batches %v, want %v", got, want)
	}
	if len(announced) != 10 || stillStored != 0 {
		t.Fatalf("announced %v, %d of them before their delete; want 10, all after", announced, stillStored)
	}
	if st.len() != 0 {
		t.Fatalf("%d sessions left in the store", st.len())
	}
}

// batchStore is a tStore that records the size of each DeleteSessions call.
type batchStore struct {
	*tStore
	sizes []int
}

func (s *batchStore) DeleteSessions(refs []ccgw.SessionRef) error {
	s.mu.Lock()
	s.sizes = append(s.sizes, len(refs))
	s.mu.Unlock()
	return s.tStore.DeleteSessions(refs)
}

// runInBubble runs m.Run on fake clock fc in the caller's synctest bubble. step
// advances the clock by one tick (from a tick boundary, so that Run's timer
// fires on the next one) and returns when the sweep and the writes and
// announcements it handed on are done; stop cancels Run and returns its error.
func runInBubble(m *Manager, fc *clock.Virtual) (step func(), stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- m.Run(ctx) }()
	synctest.Wait()
	step = func() {
		fc.Advance(m.cfg.Tick)
		synctest.Wait()
	}
	stop = func() error {
		cancel()
		return <-ran
	}
	return step, stop
}

// TestRunSweepsOnWhileACommitIsSlow: while the store holds a sweep's sign-out
// commit, Run's next tick still sweeps (the sessions due then leave the table
// at their tick) and heartbeats are answered; once the commit returns, every
// sign-out is written and announced once, in order. Run, stopped meanwhile,
// returns only when its sign-outs are written.
func TestRunSweepsOnWhileACommitIsSlow(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		st := openGateStore(t, dir)
		defer st.Close()
		fc := clock.NewVirtual(tStart)
		counts := newStormCounts(1001, 100)
		cfg := Config{SessionSettings: ccgw.SessionSettings{Clock: fc, Directory: tDirectory{}}, Store: st, Events: st}
		counts.config(&cfg)
		m, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		// 1001-1050 fall silent at tStart, 1051-1099 a tick later; 1100
		// heartbeats.
		for id := ccgw.AgentID(1001); id <= 1050; id++ {
			tSignIn(t, m, id)
		}
		step, stop := runInBubble(m, fc)
		step()
		for id := ccgw.AgentID(1051); id <= 1099; id++ {
			tSignIn(t, m, id)
		}
		keep := tSignIn(t, m, 1100)
		for fc.Now().Before(tStart.Add(m.Timeout() - m.cfg.Tick)) {
			step()
			if _, err := m.Heartbeat(context.Background(), 1100, keep.GUID, ""); err != nil {
				t.Fatal(err)
			}
		}
		st.mu.Lock()
		st.hold = true
		st.mu.Unlock()
		step() // the deadline of 1001-1050: signed out, their commit held
		if live := m.Live(); live != 50 {
			t.Fatalf("%d live after the first sweep, want 50", live)
		}
		step() // the deadline of 1051-1099
		if live := m.Live(); live != 1 {
			t.Fatalf("%d live after the second sweep, want 1: a held commit stalled the tick", live)
		}
		if _, err := m.Heartbeat(context.Background(), 1100, keep.GUID, ""); err != nil {
			t.Fatalf("heartbeat while a commit is held: %v", err)
		}
		if n := counts.out(); n != 0 {
			t.Fatalf("%d announced before their commit", n)
		}
		stopped := make(chan error, 1)
		go func() { stopped <- stop() }()
		synctest.Wait()
		if len(stopped) != 0 {
			t.Fatalf("Run returned (%v) with its sign-outs still unwritten", <-stopped)
		}
		for range 2 {
			st.release <- struct{}{}
		}
		if err := <-stopped; err != context.Canceled {
			t.Fatalf("Run returned %v", err)
		}
		if n := counts.out(); n != 99 {
			t.Fatalf("%d sign-outs announced, want 99", n)
		}
		for i := range 99 {
			if n := counts.signOuts[i].Load(); n != 1 {
				t.Fatalf("agent %d announced %d times", 1001+i, n)
			}
		}
		if batches, singles := st.counts(); !slices.Equal(batches, []int{50, 49}) || singles != 0 {
			t.Fatalf("store writes: batches %v, %d single; want [50 49], 0", batches, singles)
		}
	})
}

// TestLateBatchKeepsNewSignIn: an agent signed out by a sweep whose commit is
// late signs in again before that commit: the commit deletes the old sign-in's
// record and events only, and the new one stays stored.
func TestLateBatchKeepsNewSignIn(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		st := openGateStore(t, dir)
		defer st.Close()
		fc := clock.NewVirtual(tStart)
		m, err := New(Config{SessionSettings: ccgw.SessionSettings{Clock: fc, Directory: tDirectory{}}, Store: st, Events: st})
		if err != nil {
			t.Fatal(err)
		}
		old := tSignIn(t, m, 1001)
		step, stop := runInBubble(m, fc)
		for fc.Now().Before(tStart.Add(m.Timeout() - m.cfg.Tick)) {
			step()
		}
		st.mu.Lock()
		st.hold = true
		st.mu.Unlock()
		step() // signed out; its commit held
		if _, ok := m.Lookup(context.Background(), 1001); ok {
			t.Fatal("not signed out at its deadline")
		}
		again := tSignIn(t, m, 1001)
		if again.Gen <= old.Gen {
			t.Fatalf("new sign-in gen %d, old %d", again.Gen, old.Gen)
		}
		st.release <- struct{}{}
		if err := stop(); err != context.Canceled {
			t.Fatalf("Run returned %v", err)
		}
		var gens, evGens []uint64
		if err := st.LoadSessions(func(s *ccgw.Session) error { gens = append(gens, s.Gen); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := st.LoadEvents(func(id ccgw.AgentID, gen, acked uint64, evs []ccgw.Event) error {
			evGens = append(evGens, gen)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(gens, []uint64{again.Gen}) || !slices.Equal(evGens, []uint64{again.Gen}) {
			t.Fatalf("stored sessions of gens %v, events of gens %v; want only the new sign-in's (%d)", gens, evGens, again.Gen)
		}
	})
}

// TestUntilTick: Run's timer ends on the next boundary of the tick.
func TestUntilTick(t *testing.T) {
	tick := time.Second
	for _, tc := range []struct {
		now  time.Time
		want time.Duration
	}{
		{tStart, tick}, // on a boundary: the next one
		{tStart.Add(time.Nanosecond), tick - time.Nanosecond},
		{tStart.Add(999 * time.Millisecond), time.Millisecond},
		{tStart.Add(1500 * time.Millisecond), 500 * time.Millisecond},
	} {
		if got := untilTick(tc.now, tick); got != tc.want {
			t.Errorf("untilTick(%v) = %v, want %v", tc.now.Sub(tStart), got, tc.want)
		}
	}
}

// levelLog records the message, level and agent of every line, at every level.
type levelLog struct {
	mu    sync.Mutex
	lines []levelLine
}

type levelLine struct {
	msg   string
	level slog.Level
	attrs map[string]string
}

func (l *levelLog) Enabled(context.Context, slog.Level) bool { return true }

func (l *levelLog) Handle(_ context.Context, r slog.Record) error {
	ln := levelLine{msg: r.Message, level: r.Level, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool { ln.attrs[a.Key] = a.Value.String(); return true })
	l.mu.Lock()
	l.lines = append(l.lines, ln)
	l.mu.Unlock()
	return nil
}

func (l *levelLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *levelLog) WithGroup(string) slog.Handler      { return l }

func (l *levelLog) count(msg string, level slog.Level) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ln := range l.lines {
		if ln.msg == msg && ln.level == level {
			n++
		}
	}
	return n
}

// TestSignOutLogLines: up to bulkSignOuts sign-outs of a commit are logged a
// line each at INFO; a commit of more logs one summary line at INFO and the
// line of each at DEBUG (docs/decisions.md).
func TestSignOutLogLines(t *testing.T) {
	logs := &levelLog{}
	env := testManager(t, Config{SessionSettings: ccgw.SessionSettings{Log: slog.New(logs)}, SignOutBatch: 1000})
	for id := ccgw.AgentID(1001); id < 1001+bulkSignOuts; id++ {
		tSignIn(t, env.m, id)
	}
	env.advance(env.m.Timeout())
	if got := logs.count("signed out", slog.LevelInfo); got != bulkSignOuts {
		t.Fatalf("%d sign-outs logged at INFO, want %d, one each", got, bulkSignOuts)
	}
	if got := logs.count("signed out in bulk", slog.LevelInfo); got != 0 {
		t.Fatalf("%d summary lines for %d sign-outs, want none", got, bulkSignOuts)
	}

	logs = &levelLog{}
	env = testManager(t, Config{SessionSettings: ccgw.SessionSettings{Log: slog.New(logs)}, SignOutBatch: 1000})
	const n = 3 * bulkSignOuts
	for id := ccgw.AgentID(1001); id < 1001+n; id++ {
		tSignIn(t, env.m, id)
	}
	env.advance(env.m.Timeout())
	if info, debug := logs.count("signed out", slog.LevelInfo), logs.count("signed out", slog.LevelDebug); info != 0 || debug != n {
		t.Fatalf("%d sign-outs at INFO and %d at DEBUG, want 0 and %d", info, debug, n)
	}
	if got := logs.count("signed out in bulk", slog.LevelInfo); got != 1 {
		t.Fatalf("%d summary lines, want 1", got)
	}
	for _, ln := range logs.lines {
		if ln.msg == "signed out in bulk" && (ln.attrs["sessions"] != "300" || ln.attrs["expiries"] != "300") {
			t.Fatalf("summary %v, want sessions=300 expiries=300", ln.attrs)
		}
	}
}

// TestDeleteWaitsForEarlierWrite: a session that ends while a write of an
// earlier change of it is still to come (UpdateLater's finish, as the
// simulated call centre calls it after its own lock) is deleted from the store
// after that write, not before it, which would store the ended session again
// (and a restart restore it): by a kick, and by Run's sweep (its outbox).
func TestDeleteWaitsForEarlierWrite(t *testing.T) {
	toBusy := func(s *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
		s.State = ccgw.StateBusy
		return nil, nil
	}
	t.Run("kick", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			env := testManager(t, Config{})
			tSignIn(t, env.m, 1001)
			_, finish, err := env.m.UpdateAnyLater(1001, toBusy)
			if err != nil {
				t.Fatal(err)
			}
			kicked := make(chan error, 1)
			go func() { kicked <- env.m.Kick(context.Background(), 1001, ccgw.CauseSupervisor) }()
			synctest.Wait()
			if len(kicked) != 0 {
				t.Fatal("the kick returned before the earlier write")
			}
			finish()
			if err := <-kicked; err != nil {
				t.Fatal(err)
			}
			if _, ok := env.st.get(1001); ok {
				t.Fatal("the kicked session is stored: its earlier write landed after its deletion")
			}
		})
	})
	t.Run("sweep", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var outs atomic.Int32
			env := testManager(t, Config{SessionSettings: ccgw.SessionSettings{OnSignOut: func(ccgw.AgentID, ccgw.SignOutCause) { outs.Add(1) }}})
			tSignIn(t, env.m, 1001)
			step, stop := runInBubble(env.m, env.fc)
			for env.fc.Now().Before(tStart.Add(env.m.Timeout() - env.m.cfg.Tick)) {
				step()
			}
			_, finish, err := env.m.UpdateAnyLater(1001, toBusy)
			if err != nil {
				t.Fatal(err)
			}
			step() // the deadline: signed out, its deletion waits for the write
			if _, ok := env.m.Lookup(context.Background(), 1001); ok || outs.Load() != 0 {
				t.Fatalf("at the deadline: live %v, %d announced; want signed out, its deletion waiting", ok, outs.Load())
			}
			finish()
			synctest.Wait()
			if outs.Load() != 1 {
				t.Fatalf("%d sign-outs announced after the write, want 1", outs.Load())
			}
			if _, ok := env.st.get(1001); ok {
				t.Fatal("the expired session is stored: its earlier write landed after its deletion")
			}
			if err := stop(); err != context.Canceled {
				t.Fatal(err)
			}
		})
	})
}

// TestTombDropsLogged: the events left in tombstones whose time is up are
// counted as session_ended and logged a line each at WARN; past bulkSignOuts
// of them in one sweep (a storm's tombstones), one WARN line with the count
// and each at DEBUG.
func TestTombDropsLogged(t *testing.T) {
	for _, tc := range []struct {
		agents     int
		warn, bulk int // per-event WARN lines, bulk lines
	}{
		{2, 6, 0},            // InService, Ready, ShutdownService each
		{bulkSignOuts, 0, 1}, // 300 events
	} {
		logs := &levelLog{}
		env := testManager(t, Config{SessionSettings: ccgw.SessionSettings{Log: slog.New(logs)}})
		for id := ccgw.AgentID(1001); id < 1001+ccgw.AgentID(tc.agents); id++ {
			tSignIn(t, env.m, id)
		}
		env.advance(env.m.Timeout()) // signed out; tombstones kept one timeout
		env.advance(env.m.Timeout()) // purged
		events := 3 * tc.agents
		if n := env.m.Stats(context.Background()).Drops[ccgw.DropSessionEnded]; n != uint64(events) {
			t.Errorf("%d agents: %d drops counted, want %d", tc.agents, n, events)
		}
		warn, debug, bulk := logs.count("event dropped", slog.LevelWarn), logs.count("event dropped", slog.LevelDebug),
			logs.count("events dropped in bulk", slog.LevelWarn)
		if warn != tc.warn || bulk != tc.bulk || warn+debug != events {
			t.Errorf("%d agents: %d WARN, %d DEBUG, %d bulk lines; want %d, %d, %d", tc.agents, warn, debug, bulk, tc.warn, events-tc.warn, tc.bulk)
		}
	}
}
