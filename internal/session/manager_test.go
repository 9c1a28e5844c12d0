package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/store/bolt"
	"github.com/ccgw/ccgw/internal/store/mem"
)

// tKey names one sign-in.
type tKey struct {
	id  ccgw.AgentID
	gen uint64
}

// tStore is the in-memory store (internal/store/mem) that counts
// DeleteSession calls per sign-in and PutSession calls per agent; failPut,
// loadErr and onPut let a test break or hold it.
type tStore struct {
	*mem.Store
	mu      sync.Mutex // guards all below
	deletes map[tKey]int
	nputs   map[ccgw.AgentID]int // PutSession calls per agent
	failPut error
	loadErr error               // returned by LoadSessions after it yielded every session
	onPut   func(*ccgw.Session) // called, outside mu, before each put
}

var _ ccgw.SessionStore = (*tStore)(nil)

func newTStore() *tStore {
	return &tStore{Store: mem.New(), deletes: map[tKey]int{}, nputs: map[ccgw.AgentID]int{}}
}

func (s *tStore) PutSession(x *ccgw.Session) error {
	s.mu.Lock()
	hook, fail := s.onPut, s.failPut
	s.nputs[x.Agent]++
	s.mu.Unlock()
	if hook != nil {
		hook(x)
	}
	if fail != nil {
		return fail
	}
	return s.Store.PutSession(x)
}

func (s *tStore) DeleteSession(id ccgw.AgentID, gen uint64) error {
	s.mu.Lock()
	s.deletes[tKey{id, gen}]++
	s.mu.Unlock()
	return s.Store.DeleteSession(id, gen)
}

func (s *tStore) DeleteSessions(refs []ccgw.SessionRef) error {
	for _, r := range refs {
		s.DeleteSession(r.Agent, r.Gen)
	}
	return nil
}

func (s *tStore) LoadSessions(fn func(*ccgw.Session) error) error {
	if err := s.Store.LoadSessions(fn); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loadErr
}

func (s *tStore) get(id ccgw.AgentID) (ccgw.Session, bool) { return s.Store.Session(id) }

// puts returns how many times agent id's session was put.
func (s *tStore) puts(id ccgw.AgentID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nputs[id]
}

func (s *tStore) len() int { return s.Store.Len() }

func (s *tStore) deleted(id ccgw.AgentID, gen uint64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deletes[tKey{id, gen}]
}

func (s *tStore) set(f func(s *tStore)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// tDirectory is an open ccgw.Directory, as agent.Default is (which this package
// cannot import: agent imports session): every work number in range exists with
// skills 1 and 2, and any non-empty password signs in.
type tDirectory struct{}

var _ ccgw.Directory = tDirectory{}

func (tDirectory) Agent(id ccgw.AgentID) (ccgw.Agent, bool) {
	if id < ccgw.MinAgentID || id > ccgw.MaxAgentID {
		return ccgw.Agent{}, false
	}
	return ccgw.Agent{ID: id, Skills: []ccgw.Skill{{ID: 1}, {ID: 2}}}, true
}

func (d tDirectory) CheckPassword(id ccgw.AgentID, password string) bool {
	_, ok := d.Agent(id)
	return ok && password != ""
}

func (tDirectory) SetPassword(ccgw.AgentID, string) error { return nil }

// testEnv is a Manager on a fake clock.
type testEnv struct {
	m  *Manager
	fc *clock.Virtual
	st *tStore // nil when the test brought another store
}

// testManager returns a Manager on cfg with, where cfg leaves them unset, a fake
// clock at tStart, a tStore, the built-in directory and static GUIDs.
func testManager(tb testing.TB, cfg Config) *testEnv {
	tb.Helper()
	env := &testEnv{}
	if cfg.Clock == nil {
		cfg.Clock = clock.NewVirtual(tStart)
	}
	env.fc, _ = cfg.Clock.(*clock.Virtual)
	if cfg.Store == nil {
		cfg.Store = newTStore()
	}
	env.st, _ = cfg.Store.(*tStore)
	if cfg.Directory == nil {
		cfg.Directory = tDirectory{}
	}
	if cfg.AuthMode == 0 {
		cfg.AuthMode = ccgw.AuthStatic
	}
	m, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	env.m = m
	return env
}

// advance moves the fake clock by d and sweeps at the new time.
func (env *testEnv) advance(d time.Duration) int {
	env.fc.Advance(d)
	return env.m.Sweep(env.fc.Now())
}

// sweepAt moves the fake clock to t and sweeps there.
func (env *testEnv) sweepAt(t time.Time) int {
	env.fc.Set(t)
	return env.m.Sweep(env.fc.Now())
}

func (env *testEnv) signOuts() uint64 {
	var n uint64
	for _, v := range env.m.Stats(context.Background()).SignOuts {
		n += v
	}
	return n
}

func tSignInReq(id ccgw.AgentID) ccgw.SignIn {
	return ccgw.SignIn{Op: "login", Password: "pw", Status: ccgw.StateIdle, Session: ccgw.Session{Agent: id, Phone: "70001"}}
}

// tSignIn signs agent id in and returns its session.
func tSignIn(tb testing.TB, m *Manager, id ccgw.AgentID) ccgw.Session {
	tb.Helper()
	s, err := m.SignIn(context.Background(), tSignInReq(id))
	if err != nil {
		tb.Fatalf("sign in %d: %v", id, err)
	}
	return s
}

// tPoll polls once without waiting.
func tPoll(m *Manager, id ccgw.AgentID, guid string) (*ccgw.Event, error) {
	ev, _, err := m.Poll(context.Background(), id, guid, 0)
	return ev, err
}

// tDrain polls until no event is left and returns the event types.
func tDrain(tb testing.TB, m *Manager, id ccgw.AgentID, guid string) []string {
	tb.Helper()
	var out []string
	for {
		ev, err := tPoll(m, id, guid)
		if err != nil {
			tb.Fatalf("poll %d: %v", id, err)
		}
		if ev == nil {
			return out
		}
		out = append(out, ev.Type)
	}
}

// tWantCode fails unless err maps to want.
func tWantCode(tb testing.TB, what string, err error, want ccgw.Retcode) {
	tb.Helper()
	if got := ccgw.CodeOf(err); got != want {
		tb.Fatalf("%s: retcode %s (%v), want %s", what, got, err, want)
	}
}

// tBoundary returns the first tick boundary at or after t: when a sweep first sees
// something due at t.
func tBoundary(t time.Time, tick time.Duration) time.Time {
	return time.Unix(0, tickOf(t, tick)*int64(tick)).In(t.Location())
}

func TestNew(t *testing.T) {
	store, dir := newTStore(), tDirectory{}
	for _, cfg := range []Config{{}, {Store: store}, {SessionSettings: ccgw.SessionSettings{Directory: dir}}} {
		if _, err := New(cfg); err == nil {
			t.Fatalf("New(%+v) without store or directory succeeded", cfg)
		}
	}
	m, err := New(Config{SessionSettings: ccgw.SessionSettings{Directory: dir}, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if m.Timeout() != 2*time.Minute || m.cfg.Tick != time.Second || m.cfg.AuthMode != ccgw.AuthStatic ||
		m.cfg.GUIDInterval != time.Minute || m.cfg.GUIDTimeout != 2*time.Minute || m.cfg.QueueSize != 1000 ||
		m.cfg.MaxExpiries != 10000 || m.cfg.NodeName != "AgentGateway0" {
		t.Fatalf("defaults: %+v", m.cfg)
	}
	m, err = New(Config{SessionSettings: ccgw.SessionSettings{Directory: dir, Timeout: 3 * time.Second}, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if m.cfg.Tick != 25*time.Millisecond {
		t.Fatalf("tick for a 3s timeout = %v, want 25ms", m.cfg.Tick)
	}
}

func TestSignInTwice(t *testing.T) {
	env := testManager(t, Config{})
	s1 := tSignIn(t, env.m, 1001)
	_, err := env.m.SignIn(context.Background(), tSignInReq(1001))
	tWantCode(t, "second SignIn", err, ccgw.RetAlreadySignedIn)
	if _, err := env.m.Heartbeat(context.Background(), 1001, s1.GUID, ""); err != nil {
		t.Fatalf("refused sign-in disturbed the session: %v", err)
	}
	if env.m.Live() != 1 || env.signOuts() != 0 || env.m.Stats(context.Background()).SignIns != 1 {
		t.Fatalf("after refused sign-in: live=%d signOuts=%d signIns=%d", env.m.Live(), env.signOuts(), env.m.Stats(context.Background()).SignIns)
	}

	req := tSignInReq(1001)
	req.Force, req.Op = true, "forceLogin"
	s2, err := env.m.SignIn(context.Background(), req)
	if err != nil {
		t.Fatalf("forced SignIn: %v", err)
	}
	if s2.GUID == s1.GUID || s2.Gen <= s1.Gen || s2.Op != "forceLogin" {
		t.Fatalf("forced sign-in: gen %d→%d guid changed %v op %q", s1.Gen, s2.Gen, s2.GUID != s1.GUID, s2.Op)
	}
	_, err = env.m.Heartbeat(context.Background(), 1001, s1.GUID, "")
	tWantCode(t, "Heartbeat with the replaced GUID", err, ccgw.RetNotSignedIn) // that client is signed out
	_, err = env.m.Heartbeat(context.Background(), 1001, "not-a-guid", "")
	tWantCode(t, "Heartbeat with a GUID never issued", err, ccgw.RetNoPermission)
	if _, err := env.m.Heartbeat(context.Background(), 1001, s2.GUID, ""); err != nil {
		t.Fatalf("Heartbeat with the new GUID: %v", err)
	}
	st := env.m.Stats(context.Background())
	if st.SignOuts[ccgw.CauseReplaced] != 1 || env.signOuts() != 1 || st.Live != 1 || st.SignIns != 2 {
		t.Fatalf("stats after forced sign-in: %+v", st)
	}
	if env.st.deleted(1001, s1.Gen) != 1 || env.st.deleted(1001, s2.Gen) != 0 {
		t.Fatal("the replaced sign-in was not deleted exactly once, or the new one was")
	}
	if stored, _ := env.st.get(1001); stored.Gen != s2.Gen || stored.GUID != s2.GUID {
		t.Fatalf("store holds gen %d, want the new sign-in %d", stored.Gen, s2.Gen)
	}
}

// TestForceSignInTellsOldClient checks README §4 / OPEN 6-7 for a replaced session:
// the old client's next poll gets AgentOther_ShutdownService, then 100-006: that
// client is signed out, though the agent is live under another GUID (clients
// stop polling on 100-006 only; docs/decisions.md).
func TestForceSignInTellsOldClient(t *testing.T) {
	env := testManager(t, Config{})
	s1 := tSignIn(t, env.m, 1001)
	tDrain(t, env.m, 1001, s1.GUID)
	env.fc.Advance(time.Second)
	req := tSignInReq(1001)
	req.Force = true
	s2, err := env.m.SignIn(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := tPoll(env.m, 1001, s1.GUID)
	if err != nil || ev == nil || ev.Type != ccgw.EvShutdownService {
		t.Fatalf("old client's poll = %+v, %v; want %s", ev, err, ccgw.EvShutdownService)
	}
	want := fmt.Sprintf(`{"loginTime":"%d"}`, s1.LoginTime)
	if string(ev.Content) != want || ev.WorkNo != "1001" || ev.GenTime != ccgw.Millis(tStart.Add(time.Second)) {
		t.Fatalf("shutdown event %+v content %s, want content %s", ev, ev.Content, want)
	}
	_, err = tPoll(env.m, 1001, s1.GUID)
	tWantCode(t, "second poll with the old GUID", err, ccgw.RetNotSignedIn)
	_, err = tPoll(env.m, 1001, s1.GUID)
	tWantCode(t, "third poll with the old GUID", err, ccgw.RetNotSignedIn)
	if got := tDrain(t, env.m, 1001, s2.GUID); !slices.Equal(got, []string{ccgw.EvInService, ccgw.EvReady}) {
		t.Fatalf("new client's events %v: the old session's shutdown leaked into the new queue", got)
	}
}

// TestTombDeliversRemainingEventsInOrder checks that an ended session's undelivered
// events reach its client in order, with the shutdown last.
func TestTombDeliversRemainingEventsInOrder(t *testing.T) {
	env := testManager(t, Config{})
	s1 := tSignIn(t, env.m, 1001)
	if err := env.m.Kick(context.Background(), 1001, ccgw.CauseSupervisor); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		ev, err := tPoll(env.m, 1001, s1.GUID)
		if err != nil {
			tWantCode(t, "poll after the last event", err, ccgw.RetNotSignedIn)
			break
		}
		if ev == nil {
			t.Fatal("poll of an ended session returned no event and no error")
		}
		got = append(got, ev.Type)
	}
	want := []string{ccgw.EvInService, ccgw.EvReady, ccgw.EvShutdownService}
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if st := env.m.Stats(context.Background()); st.SignOuts[ccgw.CauseSupervisor] != 1 || st.Drops[ccgw.DropSessionEnded] != 0 {
		t.Fatalf("stats %+v", st)
	}
	tWantCode(t, "second Kick", env.m.Kick(context.Background(), 1001, ccgw.CauseSupervisor), ccgw.RetNotSignedIn)
	tWantCode(t, "Kick of an unknown agent", env.m.Kick(context.Background(), 1999, ccgw.CauseSupervisor), ccgw.RetNotSignedIn)
}

// TestTimeoutSignsOutOnce checks that a silent session ends exactly once, at the
// first sweep at or after its deadline and not a nanosecond before.
func TestTimeoutSignsOutOnce(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration // 0: the default 2m
		start   time.Time
	}{
		{name: "default", start: tStart},
		{name: "3s", timeout: 3 * time.Second, start: tStart},
		{name: "1s at the tick floor", timeout: time.Second, start: tStart},
		{name: "unaligned", timeout: 7 * time.Second, start: tStart.Add(3*time.Millisecond + 7)},
		{name: "long", timeout: time.Hour, start: tStart.Add(500 * time.Millisecond)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testManager(t, Config{SessionSettings: ccgw.SessionSettings{Timeout: tt.timeout, Clock: clock.NewVirtual(tt.start)}})
			T, tick := env.m.Timeout(), env.m.cfg.Tick
			s := tSignIn(t, env.m, 1001)
			dl := tt.start.Add(T)
			expiry := tBoundary(dl, tick)
			if expiry.Sub(dl) >= tick {
				t.Fatalf("expiry %v more than a tick after the deadline %v", expiry, dl)
			}
			for _, at := range []time.Time{tt.start.Add(T / 2), dl.Add(-tick), dl.Add(-1), dl, expiry.Add(-1)} {
				if at.Before(env.fc.Now()) || !at.Before(expiry) {
					continue
				}
				if n := env.sweepAt(at); n != 0 {
					t.Fatalf("sweep at deadline%+v signed out %d", at.Sub(dl), n)
				}
				if _, ok := env.m.Lookup(context.Background(), 1001); !ok { // Lookup, not Session: a request would renew it
					t.Fatalf("session gone at deadline%+v", at.Sub(dl))
				}
			}
			if n := env.sweepAt(expiry); n != 1 {
				t.Fatalf("sweep at the first tick after the deadline (deadline%+v) signed out %d, want 1", expiry.Sub(dl), n)
			}
			for _, d := range []time.Duration{0, 1, tick, T, 10 * T} {
				if n := env.sweepAt(expiry.Add(d)); n != 0 {
					t.Fatalf("later sweep (+%v) signed out %d more", d, n)
				}
			}
			_, err := env.m.Heartbeat(context.Background(), 1001, s.GUID, "")
			tWantCode(t, "Heartbeat after expiry", err, ccgw.RetNotSignedIn)
			st := env.m.Stats(context.Background())
			if st.SignOuts[ccgw.CauseTimeout] != 1 || env.signOuts() != 1 || st.Expiries != 1 || st.Live != 0 {
				t.Fatalf("stats %+v", st)
			}
			if env.st.deleted(1001, s.Gen) != 1 || env.st.len() != 0 {
				t.Fatalf("store: %d deletes of the sign-in, %d sessions left; want 1 and 0", env.st.deleted(1001, s.Gen), env.st.len())
			}
			if n := env.m.wheel.len(); n != 0 {
				t.Fatalf("wheel keeps %d entries after the session and its tombstone ended", n)
			}
		})
	}
}

// TestHeartbeatKeepsAlive renews a session across many timeouts, then stops: it
// must live throughout and end one timeout after the last renewal.
func TestHeartbeatKeepsAlive(t *testing.T) {
	const T = 2 * time.Minute
	tick := tickFor(T)
	tests := []struct {
		name       string
		every      time.Duration
		sweepEvery time.Duration // 0: sweep only just before each renewal
		via        string
	}{
		{name: "heartbeat every T/2", every: T / 2, sweepEvery: tick, via: "heartbeat"},
		{name: "heartbeat every T-tick", every: T - tick, sweepEvery: tick, via: "heartbeat"},
		{name: "heartbeat every T-1ns", every: T - 1, via: "heartbeat"},
		{name: "poll every T/3", every: T / 3, sweepEvery: tick, via: "poll"},
		{name: "poll every T-1ns", every: T - 1, via: "poll"},
		{name: "updateGuid every T/2", every: T / 2, via: "updateGuid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testManager(t, Config{SessionSettings: ccgw.SessionSettings{Timeout: T}})
			s := tSignIn(t, env.m, 1001)
			guid := s.GUID
			renewals := int(10 * T / tt.every)
			for i := 0; i < renewals; i++ {
				if tt.sweepEvery > 0 {
					for d := time.Duration(0); d < tt.every; d += tt.sweepEvery {
						if n := env.advance(tt.sweepEvery); n != 0 {
							t.Fatalf("renewal %d: signed out", i)
						}
					}
				} else if n := env.advance(tt.every); n != 0 {
					t.Fatalf("renewal %d: signed out", i)
				}
				var err error
				switch tt.via {
				case "heartbeat":
					_, err = env.m.Heartbeat(context.Background(), 1001, guid, "")
				case "poll":
					_, err = tPoll(env.m, 1001, guid)
				case "updateGuid":
					guid, err = env.m.UpdateGUID(context.Background(), 1001, guid)
				}
				if err != nil {
					t.Fatalf("renewal %d at +%v: %v", i, env.fc.Now().Sub(tStart), err)
				}
				if n := env.m.wheel.len(); n > 1 {
					t.Fatalf("renewal %d: %d wheel entries for one session", i, n)
				}
			}
			st := env.m.Stats(context.Background())
			if st.Live != 1 || env.signOuts() != 0 {
				t.Fatalf("after %d renewals: %+v", renewals, st)
			}
			switch tt.via {
			case "heartbeat":
				if st.Heartbeats != uint64(renewals) {
					t.Fatalf("Heartbeats = %d, want %d", st.Heartbeats, renewals)
				}
			case "poll":
				if st.Polls != uint64(renewals) {
					t.Fatalf("Polls = %d, want %d", st.Polls, renewals)
				}
			}
			last := env.fc.Now()
			if n := env.sweepAt(last.Add(T - 1)); n != 0 {
				t.Fatal("signed out before a full timeout after the last renewal")
			}
			if n := env.sweepAt(tBoundary(last.Add(T), tick)); n != 1 {
				t.Fatalf("sweep one timeout after the last renewal signed out %d, want 1", n)
			}
		})
	}
}

// TestStaleWheelEntrySkipped checks that the wheel entry of an ended sign-in
// neither ends nor duplicates the agent's next sign-in: one entry per live session.
func TestStaleWheelEntrySkipped(t *testing.T) {
	for _, end := range []struct {
		name string
		fn   func(m *Manager, s ccgw.Session) error
	}{
		{"logout", func(m *Manager, s ccgw.Session) error {
			return m.SignOut(context.Background(), s.Agent, s.GUID, ccgw.CauseLogout)
		}},
		{"kick", func(m *Manager, s ccgw.Session) error {
			return m.Kick(context.Background(), s.Agent, ccgw.CauseSupervisor)
		}},
	} {
		t.Run(end.name, func(t *testing.T) {
			env := testManager(t, Config{})
			T := env.m.Timeout()
			s1 := tSignIn(t, env.m, 1001)
			if err := end.fn(env.m, s1); err != nil {
				t.Fatal(err)
			}
			for { // collect what the old client is owed, so that no tombstone is left

				if ev, err := tPoll(env.m, 1001, s1.GUID); err != nil || ev == nil {
					break
				}
			}
			env.fc.Advance(10 * time.Second)
			s2 := tSignIn(t, env.m, 1001)
			if n := env.sweepAt(tStart.Add(T)); n != 0 {
				t.Fatalf("the old sign-in's entry signed out %d", n)
			}
			if got := env.m.wheel.len(); got != 1 {
				t.Fatalf("%d wheel entries for one live session, want 1: the stale entry was refiled", got)
			}
			if n := env.sweepAt(tStart.Add(10*time.Second + T - 1)); n != 0 {
				t.Fatal("new sign-in expired early")
			}
			if n := env.sweepAt(tStart.Add(10*time.Second + T)); n != 1 {
				t.Fatalf("new sign-in: %d expired at its deadline, want 1", n)
			}
			if env.st.deleted(1001, s2.Gen) != 1 || env.st.deleted(1001, s1.Gen) != 1 {
				t.Fatal("each sign-in must be deleted exactly once")
			}
		})
	}
}

// TestRotationOnceUnderRace sends many heartbeats and polls with the old GUID at the
// moment the GUID is due to rotate: they must all be told the same new GUID, and
// the old one must stay valid (a second rotation would have pushed it out).
func TestRotationOnceUnderRace(t *testing.T) {
	for round := 0; round < 200; round++ {
		env := testManager(t, Config{SessionSettings: ccgw.SessionSettings{Timeout: time.Hour, AuthMode: ccgw.AuthDynamic, GUIDInterval: time.Minute}})
		s := tSignIn(t, env.m, 1001)
		tDrain(t, env.m, 1001, s.GUID)
		env.fc.Advance(time.Minute)
		env.m.Sweep(env.fc.Now()) // the sweep marks the rotation due
		const n = 16
		got := make([]string, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				var err error
				if i%2 == 0 {
					got[i], err = env.m.Heartbeat(context.Background(), 1001, s.GUID, "")
				} else {
					_, got[i], err = env.m.Poll(context.Background(), 1001, s.GUID, 0)
				}
				if err != nil {
					t.Errorf("renewal %d: %v", i, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		cur, _ := env.m.Lookup(context.Background(), 1001)
		for i, g := range got {
			if g != cur.GUID {
				t.Fatalf("round %d: renewal %d told %q, current GUID %q: rotated more than once", round, i, g, cur.GUID)
			}
		}
		if cur.PrevGUID != s.GUID {
			t.Fatalf("round %d: previous GUID %q, want the sign-in's", round, cur.PrevGUID)
		}
	}
}

// TestRetcodes is one row per (interface, bad input): 100-006 when the agent has no
// session, 000-003 when it has one under another GUID (OPEN 6). A refused call
// changes nothing.
func TestRetcodes(t *testing.T) {
	ops := []struct {
		name string
		call func(m *Manager, id ccgw.AgentID, guid string) error
	}{
		{"Heartbeat", func(m *Manager, id ccgw.AgentID, guid string) error {
			_, err := m.Heartbeat(context.Background(), id, guid, "")
			return err
		}},
		{"Heartbeat with token", func(m *Manager, id ccgw.AgentID, guid string) error {
			_, err := m.Heartbeat(context.Background(), id, guid, "new-token")
			return err
		}},
		{"Poll", func(m *Manager, id ccgw.AgentID, guid string) error {
			_, err := tPoll(m, id, guid)
			return err
		}},
		{"UpdateGUID", func(m *Manager, id ccgw.AgentID, guid string) error {
			_, err := m.UpdateGUID(context.Background(), id, guid)
			return err
		}},
		{"SignOut logout", func(m *Manager, id ccgw.AgentID, guid string) error {
			return m.SignOut(context.Background(), id, guid, ccgw.CauseLogout)
		}},
		{"SignOut force", func(m *Manager, id ccgw.AgentID, guid string) error {
			return m.SignOut(context.Background(), id, guid, ccgw.CauseForceLogout)
		}},
		{"Session", func(m *Manager, id ccgw.AgentID, guid string) error {
			_, err := m.Session(context.Background(), id, guid)
			return err
		}},
		{"Update", func(m *Manager, id ccgw.AgentID, guid string) error {
			_, err := m.Update(context.Background(), id, guid, func(s *ccgw.Session, _ time.Time) ([]ccgw.Emit, error) {
				s.Phone = "changed"
				return []ccgw.Emit{{Type: ccgw.EvBusy}}, nil
			})
			return err
		}},
	}
	type agents struct{ live, other, gone ccgw.Session }
	cases := []struct {
		name string
		id   ccgw.AgentID
		guid func(a agents) string
		want ccgw.Retcode
	}{
		{name: "right GUID", id: 1001, guid: func(a agents) string { return a.live.GUID }, want: ccgw.RetOK},
		{name: "unknown agent", id: 1999, guid: func(a agents) string { return a.live.GUID }, want: ccgw.RetNotSignedIn},
		{name: "signed-out agent", id: 1003, guid: func(a agents) string { return a.gone.GUID }, want: ccgw.RetNotSignedIn},
		{name: "signed-out agent, another GUID", id: 1003, guid: func(a agents) string { return a.live.GUID }, want: ccgw.RetNotSignedIn},
		{name: "wrong GUID", id: 1001, guid: func(agents) string { return "00000000-0000-0000-0000-000000000000.AgentGateway0" }, want: ccgw.RetNoPermission},
		{name: "empty GUID", id: 1001, guid: func(agents) string { return "" }, want: ccgw.RetNoPermission},
		{name: "another agent's GUID", id: 1001, guid: func(a agents) string { return a.other.GUID }, want: ccgw.RetNoPermission},
		{name: "GUID prefix", id: 1001, guid: func(a agents) string { return a.live.GUID[:36] }, want: ccgw.RetNoPermission},
	}
	for _, op := range ops {
		for _, c := range cases {
			t.Run(op.name+"/"+c.name, func(t *testing.T) {
				env := testManager(t, Config{})
				a := agents{live: tSignIn(t, env.m, 1001), other: tSignIn(t, env.m, 1002), gone: tSignIn(t, env.m, 1003)}
				if err := env.m.SignOut(context.Background(), 1003, a.gone.GUID, ccgw.CauseLogout); err != nil {
					t.Fatal(err)
				}
				want := c.want
				if strings.HasPrefix(op.name, "SignOut") && c.name == "signed-out agent" {
					want = ccgw.RetAlreadySignedOut // signing out again with the ended session's GUID
				}
				tWantCode(t, op.name, op.call(env.m, c.id, c.guid(a)), want)
				if want == ccgw.RetOK {
					return
				}
				got, ok := env.m.Lookup(context.Background(), 1001)
				if !ok || got.GUID != a.live.GUID || got.Phone != a.live.Phone || got.ServiceToken != "" {
					t.Fatalf("refused call changed the session: %+v (live %v)", got, ok)
				}
				if env.m.Live() != 2 || env.signOuts() != 1 {
					t.Fatalf("refused call changed live=%d signOuts=%d", env.m.Live(), env.signOuts())
				}
			})
		}
	}
}

func TestLogout(t *testing.T) {
	env := testManager(t, Config{})
	s := tSignIn(t, env.m, 1001)
	if err := env.m.SignOut(context.Background(), 1001, s.GUID, ccgw.CauseLogout); err != nil {
		t.Fatal(err)
	}
	// No AgentOther_ShutdownService for a client that signed out itself.
	_, err := tPoll(env.m, 1001, s.GUID)
	tWantCode(t, "Poll after logout", err, ccgw.RetNotSignedIn)
	_, err = env.m.Heartbeat(context.Background(), 1001, s.GUID, "")
	tWantCode(t, "Heartbeat after logout", err, ccgw.RetNotSignedIn)
	tWantCode(t, "second logout", env.m.SignOut(context.Background(), 1001, s.GUID, ccgw.CauseLogout), ccgw.RetAlreadySignedOut)
	tWantCode(t, "second logout, another GUID", env.m.SignOut(context.Background(), 1001, "00000000-0000-0000-0000-000000000000.AgentGateway0", ccgw.CauseLogout), ccgw.RetNotSignedIn)
	st := env.m.Stats(context.Background())
	if st.SignOuts[ccgw.CauseLogout] != 1 || env.signOuts() != 1 || st.Live != 0 {
		t.Fatalf("stats %+v", st)
	}
	if st.Drops[ccgw.DropSessionEnded] != 2 {
		t.Fatalf("dropped %d undelivered events, want 2 (InService, Ready)", st.Drops[ccgw.DropSessionEnded])
	}
	if env.st.deleted(1001, s.Gen) != 1 || env.st.len() != 0 {
		t.Fatal("logout did not delete the session exactly once")
	}
	if env.m.wheel.len() > 2 {
		t.Fatalf("logout filed %d wheel entries, want the stale deadline and the tombstone's", env.m.wheel.len())
	}
	// The sweep that finds the stale entry does nothing.
	if n := env.advance(time.Hour); n != 0 || env.signOuts() != 1 {
		t.Fatalf("sweep after logout signed out %d", n)
	}
	// The agent may sign in again without forcing.
	s2 := tSignIn(t, env.m, 1001)
	if s2.Gen <= s.Gen {
		t.Fatalf("new sign-in gen %d after %d", s2.Gen, s.Gen)
	}
}

func TestLogoutWhileTalking(t *testing.T) {
	env := testManager(t, Config{})
	s := tSignIn(t, env.m, 1001)
	tDrain(t, env.m, 1001, s.GUID)
	_, err := env.m.Update(context.Background(), 1001, s.GUID, func(x *ccgw.Session, _ time.Time) ([]ccgw.Emit, error) {
		x.State = ccgw.StateTalking
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tWantCode(t, "logout while talking", env.m.SignOut(context.Background(), 1001, s.GUID, ccgw.CauseLogout), ccgw.RetLogoutStateError)
	if _, ok := env.m.Lookup(context.Background(), 1001); !ok || env.signOuts() != 0 {
		t.Fatal("refused logout ended the session")
	}
	if err := env.m.SignOut(context.Background(), 1001, s.GUID, ccgw.CauseForceLogout); err != nil {
		t.Fatalf("forced logout while talking: %v", err)
	}
	// The agent signed itself out: no AgentOther_ShutdownService (the vendor's
	// 2025 sign-out pages).
	if ev, err := tPoll(env.m, 1001, s.GUID); ccgw.CodeOf(err) != ccgw.RetNotSignedIn {
		t.Fatalf("poll after forced logout = %+v, %v; want 100-006", ev, err)
	}
	if env.m.Stats(context.Background()).SignOuts[ccgw.CauseForceLogout] != 1 {
		t.Fatalf("stats %+v", env.m.Stats(context.Background()))
	}
}

// TestAfterExpiry checks OPEN 7: after a timeout the old GUID collects
// AgentOther_ShutdownService once, then every call gets 100-006.
func TestAfterExpiry(t *testing.T) {
	env := testManager(t, Config{})
	s := tSignIn(t, env.m, 1001)
	tDrain(t, env.m, 1001, s.GUID)
	if n := env.advance(env.m.Timeout()); n != 1 {
		t.Fatalf("expired %d", n)
	}
	ev, err := tPoll(env.m, 1001, s.GUID)
	if err != nil || ev == nil || ev.Type != ccgw.EvShutdownService {
		t.Fatalf("first poll after expiry = %+v, %v; want %s", ev, err, ccgw.EvShutdownService)
	}
	if want := fmt.Sprintf(`{"loginTime":"%d"}`, s.LoginTime); string(ev.Content) != want {
		t.Fatalf("content %s, want %s", ev.Content, want)
	}
	for i := 0; i < 2; i++ {
		_, err = tPoll(env.m, 1001, s.GUID)
		tWantCode(t, "poll after the shutdown event", err, ccgw.RetNotSignedIn)
	}
	_, err = tPoll(env.m, 1001, "")
	tWantCode(t, "poll with no GUID", err, ccgw.RetNotSignedIn)
	_, err = env.m.Heartbeat(context.Background(), 1001, s.GUID, "")
	tWantCode(t, "Heartbeat after expiry", err, ccgw.RetNotSignedIn)
	tWantCode(t, "logout after expiry", env.m.SignOut(context.Background(), 1001, s.GUID, ccgw.CauseLogout), ccgw.RetNotSignedIn)
}

// TestTombAfterNewSignIn checks the old client of an expired session against the
// agent's new sign-in: it still gets its shutdown, then 100-006 (signed out,
// though the agent is live elsewhere).
func TestTombAfterNewSignIn(t *testing.T) {
	env := testManager(t, Config{})
	s1 := tSignIn(t, env.m, 1001)
	tDrain(t, env.m, 1001, s1.GUID)
	env.advance(env.m.Timeout())
	s2 := tSignIn(t, env.m, 1001)
	if ev, err := tPoll(env.m, 1001, s1.GUID); err != nil || ev == nil || ev.Type != ccgw.EvShutdownService {
		t.Fatalf("old client's poll = %+v, %v", ev, err)
	}
	_, err := tPoll(env.m, 1001, s1.GUID)
	tWantCode(t, "old client's second poll", err, ccgw.RetNotSignedIn)
	if got := tDrain(t, env.m, 1001, s2.GUID); !slices.Equal(got, []string{ccgw.EvInService, ccgw.EvReady}) {
		t.Fatalf("new client's events %v", got)
	}
}

// TestTombPurged checks that an uncollected shutdown is kept one timeout, then
// dropped and counted, and that nothing is left behind.
func TestTombPurged(t *testing.T) {
	env := testManager(t, Config{})
	T := env.m.Timeout()
	s := tSignIn(t, env.m, 1001)
	tDrain(t, env.m, 1001, s.GUID)
	env.advance(T)
	if n := env.advance(T - time.Second); n != 0 {
		t.Fatal("tombstone purge counted as a sign-out")
	}
	if st := env.m.Stats(context.Background()); st.Drops[ccgw.DropSessionEnded] != 0 {
		t.Fatalf("tombstone purged early: %+v", st.Drops)
	}
	env.advance(time.Second)
	if st := env.m.Stats(context.Background()); st.Drops[ccgw.DropSessionEnded] != 1 || env.signOuts() != 1 {
		t.Fatalf("after the purge: drops %+v signOuts %d; want the shutdown dropped once", st.Drops, env.signOuts())
	}
	_, err := tPoll(env.m, 1001, s.GUID)
	tWantCode(t, "poll after the purge", err, ccgw.RetNotSignedIn)
	if n := env.m.wheel.len(); n != 0 {
		t.Fatalf("%d wheel entries left", n)
	}
}

// TestPollInProgressKeepsAlive holds a poll open across several timeouts. It runs in
// a synctest bubble so that "the poll is waiting" is known, not slept for.
func TestPollInProgressKeepsAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := testManager(t, Config{})
		T := env.m.Timeout()
		s := tSignIn(t, env.m, 1001)
		tDrain(t, env.m, 1001, s.GUID)

		ctx, cancel := context.WithCancel(context.Background())
		type result struct {
			ev  *ccgw.Event
			err error
		}
		done := make(chan result, 1)
		go func() {
			ev, _, err := env.m.Poll(ctx, 1001, s.GUID, 24*time.Hour)
			done <- result{ev, err}
		}()
		synctest.Wait()
		if len(done) != 0 {
			t.Fatal("poll of an empty queue returned at once")
		}
		for i := 0; i < 6; i++ {
			if n := env.advance(T / 2); n != 0 {
				t.Fatalf("signed out at +%v with a poll in progress", env.fc.Now().Sub(tStart))
			}
		}
		if _, ok := env.m.Lookup(context.Background(), 1001); !ok || env.signOuts() != 0 {
			t.Fatal("session ended while its poll was held")
		}
		// End the poll between sweeps, so that only the poll's end can explain a
		// session that outlives the entry filed at the last sweep.
		env.fc.Advance(T / 2)
		cancel()
		synctest.Wait()
		r := <-done
		if r.err != nil || r.ev != nil {
			t.Fatalf("cancelled poll = %+v, %v; want no event, no error", r.ev, r.err)
		}
		if n := env.fc.Pending(); n != 0 {
			t.Fatalf("%d fake timers left: the poll did not stop its timer", n)
		}
		// The poll's end is the last sign of life: a full timeout from there.
		end := env.fc.Now()
		if n := env.sweepAt(end.Add(T - 1)); n != 0 {
			t.Fatal("signed out less than a timeout after the poll ended")
		}
		if n := env.sweepAt(tBoundary(end.Add(T), env.m.cfg.Tick)); n != 1 {
			t.Fatalf("one timeout after the poll ended: signed out %d, want 1", n)
		}
	})
}

// TestPollWaitsForEvent checks that a held poll is answered by an event queued
// meanwhile, and that a poll whose wait runs out returns no event.
func TestPollWaitsForEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := testManager(t, Config{})
		s := tSignIn(t, env.m, 1001)
		tDrain(t, env.m, 1001, s.GUID)
		done := make(chan *ccgw.Event, 1)
		go func() {
			ev, _, err := env.m.Poll(context.Background(), 1001, s.GUID, 10*time.Second)
			if err != nil {
				t.Errorf("poll: %v", err)
			}
			done <- ev
		}()
		synctest.Wait()
		_, err := env.m.Update(context.Background(), 1001, s.GUID, func(x *ccgw.Session, _ time.Time) ([]ccgw.Emit, error) {
			return []ccgw.Emit{{Type: ccgw.EvBusy}}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if ev := <-done; ev == nil || ev.Type != ccgw.EvBusy {
			t.Fatalf("held poll got %+v, want %s", ev, ccgw.EvBusy)
		}

		go func() {
			ev, _, _ := env.m.Poll(context.Background(), 1001, s.GUID, 10*time.Second)
			done <- ev
		}()
		synctest.Wait()
		env.fc.Advance(10*time.Second - 1)
		synctest.Wait()
		if len(done) != 0 {
			t.Fatal("poll returned before its wait ran out")
		}
		env.fc.Advance(1)
		synctest.Wait()
		if ev := <-done; ev != nil {
			t.Fatalf("poll whose wait ran out got %+v", ev)
		}
	})
}

func TestUpdateGUID(t *testing.T) {
	const guidTimeout = 2 * time.Minute
	env := testManager(t, Config{SessionSettings: ccgw.SessionSettings{Timeout: 10 * time.Minute, GUIDTimeout: guidTimeout}})
	s := tSignIn(t, env.m, 1001)
	env.fc.Advance(time.Second)
	g2, err := env.m.UpdateGUID(context.Background(), 1001, s.GUID)
	if err != nil {
		t.Fatal(err)
	}
	if g2 == s.GUID || !strings.HasSuffix(g2, ".AgentGateway0") {
		t.Fatalf("UpdateGUID returned %q", g2)
	}
	if got, err := env.m.Heartbeat(context.Background(), 1001, g2, ""); err != nil || got != "" {
		t.Fatalf("Heartbeat with the new GUID = %q, %v; want no switch", got, err)
	}
	if got, err := env.m.Heartbeat(context.Background(), 1001, s.GUID, ""); err != nil || got != g2 {
		t.Fatalf("Heartbeat with the old GUID = %q, %v; want to be told to switch to the new one", got, err)
	}
	stored, _ := env.st.get(1001)
	if stored.GUID != g2 || stored.PrevGUID != s.GUID || stored.PrevUntil != ccgw.Millis(tStart.Add(time.Second+guidTimeout)) {
		t.Fatalf("stored GUIDs %q %q %d: the rotation was not persisted", stored.GUID, stored.PrevGUID, stored.PrevUntil)
	}
	rotated := tStart.Add(time.Second)
	env.fc.Set(rotated.Add(guidTimeout - time.Millisecond))
	if _, err := env.m.Session(context.Background(), 1001, s.GUID); err != nil {
		t.Fatalf("old GUID refused 1ms before its grace ran out: %v", err)
	}
	env.fc.Set(rotated.Add(guidTimeout))
	_, err = env.m.Heartbeat(context.Background(), 1001, s.GUID, "")
	tWantCode(t, "Heartbeat with the old GUID after its grace", err, ccgw.RetNoPermission)
	_, err = tPoll(env.m, 1001, s.GUID)
	tWantCode(t, "Poll with the old GUID after its grace", err, ccgw.RetNoPermission)
	if _, err := env.m.Heartbeat(context.Background(), 1001, g2, ""); err != nil {
		t.Fatalf("new GUID: %v", err)
	}
	// UpdateGUID renews the session like a heartbeat.
	env.fc.Set(tStart.Add(9 * time.Minute))
	if _, err := env.m.UpdateGUID(context.Background(), 1001, g2); err != nil {
		t.Fatal(err)
	}
	if n := env.sweepAt(tStart.Add(10 * time.Minute)); n != 0 {
		t.Fatal("UpdateGUID did not renew the session")
	}
}

func TestUpdateGUIDStoreFailure(t *testing.T) {
	env := testManager(t, Config{})
	s := tSignIn(t, env.m, 1001)
	boom := errors.New("disk full")
	env.st.set(func(st *tStore) { st.failPut = boom })
	_, err := env.m.UpdateGUID(context.Background(), 1001, s.GUID)
	tWantCode(t, "UpdateGUID with a failing store", err, ccgw.RetInternal)
	if !errors.Is(err, boom) {
		t.Fatalf("error %v does not wrap the store's", err)
	}
}

// TestGUIDRotation checks README §3.2 and OPEN 5: with dynamic authentication a
// heartbeat or poll after GUIDInterval hands out a new GUID, until the client uses
// it, and the old one is accepted until GUIDTimeout after the rotation.
func TestGUIDRotation(t *testing.T) {
	const interval, grace = time.Minute, 2 * time.Minute
	tests := []struct {
		name string
		mode ccgw.AuthMode
		via  string
	}{
		{name: "dynamic heartbeat", mode: ccgw.AuthDynamic, via: "heartbeat"},
		{name: "dynamic poll", mode: ccgw.AuthDynamic, via: "poll"},
		{name: "static heartbeat", mode: ccgw.AuthStatic, via: "heartbeat"},
		{name: "static poll", mode: ccgw.AuthStatic, via: "poll"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testManager(t, Config{SessionSettings: ccgw.SessionSettings{Timeout: time.Hour, AuthMode: tt.mode, GUIDInterval: interval, GUIDTimeout: grace}})
			s := tSignIn(t, env.m, 1001)
			renew := func(guid string) string {
				t.Helper()
				var set string
				var err error
				if tt.via == "poll" {
					_, set, err = env.m.Poll(context.Background(), 1001, guid, 0)
				} else {
					set, err = env.m.Heartbeat(context.Background(), 1001, guid, "")
				}
				if err != nil {
					t.Fatalf("%s at +%v: %v", tt.via, env.fc.Now().Sub(tStart), err)
				}
				return set
			}
			env.fc.Set(tStart.Add(interval - time.Millisecond))
			if set := renew(s.GUID); set != "" {
				t.Fatalf("new GUID %q before the interval", set)
			}
			env.fc.Set(tStart.Add(interval))
			env.m.Sweep(env.fc.Now()) // the sweep marks the rotation due
			g2 := renew(s.GUID)
			if tt.mode == ccgw.AuthStatic {
				if g2 != "" {
					t.Fatalf("static mode rotated the GUID to %q", g2)
				}
				env.fc.Set(tStart.Add(30 * interval))
				if set := renew(s.GUID); set != "" {
					t.Fatalf("static mode rotated the GUID to %q", set)
				}
				return
			}
			if g2 == "" || g2 == s.GUID {
				t.Fatalf("no new GUID after the interval: %q", g2)
			}
			env.fc.Set(tStart.Add(interval + time.Second))
			if set := renew(s.GUID); set != g2 {
				t.Fatalf("old GUID again: told %q, want %q (one rotation, repeated until the client switches)", set, g2)
			}
			if set := renew(g2); set != "" {
				t.Fatalf("new GUID: told %q, want nothing", set)
			}
			if stored, _ := env.st.get(1001); stored.GUID != s.GUID {
				t.Fatalf("stored GUID %q, want the sign-in's: a rotation writes nothing (guid.go)", stored.GUID)
			}
			env.fc.Set(tStart.Add(interval + grace - time.Millisecond))
			if _, err := env.m.Session(context.Background(), 1001, s.GUID); err != nil {
				t.Fatalf("old GUID refused within its grace: %v", err)
			}
			env.fc.Set(tStart.Add(interval + grace))
			_, err := env.m.Session(context.Background(), 1001, s.GUID)
			tWantCode(t, "old GUID after its grace", err, ccgw.RetNoPermission)
			// The next renewal with the current GUID after the sweep rotates again.
			env.m.Sweep(env.fc.Now())
			g3 := renew(g2)
			if g3 == "" || g3 == g2 || g3 == s.GUID {
				t.Fatalf("second rotation gave %q", g3)
			}
		})
	}
}

func TestHeartbeatToken(t *testing.T) {
	env := testManager(t, Config{})
	s := tSignIn(t, env.m, 1001)
	if set, err := env.m.Heartbeat(context.Background(), 1001, s.GUID, "tok-1"); err != nil || set != "" {
		t.Fatalf("Heartbeat with a token = %q, %v", set, err)
	}
	got, _ := env.m.Lookup(context.Background(), 1001)
	stored, _ := env.st.get(1001)
	if got.ServiceToken != "tok-1" || stored.ServiceToken != "tok-1" {
		t.Fatalf("token live %q stored %q, want tok-1 (latest token wins, persisted)", got.ServiceToken, stored.ServiceToken)
	}
	if _, err := env.m.Heartbeat(context.Background(), 1001, s.GUID, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := env.m.Lookup(context.Background(), 1001); got.ServiceToken != "tok-1" {
		t.Fatal("a heartbeat without a token cleared it")
	}
}

// TestRestore signs in on one Manager and bolt store, "restarts" an hour later on
// a new Manager over the reopened store, and checks that the sessions are back with
// their GUIDs and a full timeout counted from the restart.
func TestRestore(t *testing.T) {
	dir := t.TempDir()
	st1, err := bolt.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	env1 := testManager(t, Config{Store: st1})
	T := env1.m.Timeout()
	a := tSignIn(t, env1.m, 1001)
	env1.fc.Advance(time.Minute)
	b := tSignIn(t, env1.m, 1002)
	c := tSignIn(t, env1.m, 1003)
	c2, err := env1.m.UpdateGUID(context.Background(), 1003, c.GUID)
	if err != nil {
		t.Fatal(err)
	}
	d := tSignIn(t, env1.m, 1004)
	if err := env1.m.SignOut(context.Background(), 1004, d.GUID, ccgw.CauseLogout); err != nil {
		t.Fatal(err)
	}
	if err := st1.Close(); err != nil {
		t.Fatal(err)
	}

	restart := tStart.Add(time.Hour)
	st2, err := bolt.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st2.Close() })
	env2 := testManager(t, Config{SessionSettings: ccgw.SessionSettings{Clock: clock.NewVirtual(restart)}, Store: st2})
	n, err := env2.m.Restore()
	if err != nil || n != 3 {
		t.Fatalf("Restore = %d, %v; want 3", n, err)
	}
	if env2.m.Live() != 3 {
		t.Fatalf("Live = %d after Restore", env2.m.Live())
	}
	for _, x := range []struct {
		id   ccgw.AgentID
		guid string
		was  ccgw.Session
	}{{1001, a.GUID, a}, {1002, b.GUID, b}, {1003, c2, c}} {
		got, err := env2.m.Session(context.Background(), x.id, x.guid)
		if err != nil {
			t.Fatalf("agent %d's GUID after restore: %v", x.id, err)
		}
		if got.Gen != x.was.Gen || got.LoginTime != x.was.LoginTime || !slices.Equal(got.Skills, x.was.Skills) {
			t.Fatalf("agent %d restored as %+v, was %+v", x.id, got, x.was)
		}
	}
	_, err = env2.m.Session(context.Background(), 1003, c.GUID)
	tWantCode(t, "superseded GUID whose grace ran out while down", err, ccgw.RetNoPermission)
	_, err = env2.m.Session(context.Background(), 1004, d.GUID)
	tWantCode(t, "signed-out agent after restore", err, ccgw.RetNotSignedIn)

	// 1001 heartbeats halfway; the others are silent.
	if n := env2.advance(T / 2); n != 0 {
		t.Fatal("restored session expired early")
	}
	if _, err := env2.m.Heartbeat(context.Background(), 1001, a.GUID, ""); err != nil {
		t.Fatal(err)
	}
	if n := env2.sweepAt(restart.Add(T - 1)); n != 0 {
		t.Fatalf("%d restored sessions expired before a full timeout from the restart", n)
	}
	if n := env2.sweepAt(restart.Add(T)); n != 2 {
		t.Fatalf("one timeout after restart: %d expired, want the 2 silent ones", n)
	}
	if n := env2.sweepAt(restart.Add(T/2 + T)); n != 1 {
		t.Fatalf("one timeout after its heartbeat: %d expired, want 1", n)
	}
	if env2.m.Stats(context.Background()).SignOuts[ccgw.CauseTimeout] != 3 || env2.m.Live() != 0 {
		t.Fatalf("stats %+v", env2.m.Stats(context.Background()))
	}
	left := 0
	if err := st2.LoadSessions(func(*ccgw.Session) error { left++; return nil }); err != nil || left != 0 {
		t.Fatalf("store keeps %d sessions (%v), want none", left, err)
	}
}

// TestRestoreContinuesGenerations checks that sign-ins after a restart get
// generations above the restored ones, so that the store (which keeps the highest
// Gen) accepts them, and that restored sessions end like any other.
func TestRestoreContinuesGenerations(t *testing.T) {
	env1 := testManager(t, Config{})
	var maxGen uint64
	old := map[ccgw.AgentID]ccgw.Session{}
	for id := ccgw.AgentID(1001); id <= 1003; id++ {
		old[id] = tSignIn(t, env1.m, id)
	}
	req := tSignInReq(1001)
	req.Force = true
	s, err := env1.m.SignIn(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	old[1001] = s
	for _, x := range old {
		maxGen = max(maxGen, x.Gen)
	}

	env2 := testManager(t, Config{SessionSettings: ccgw.SessionSettings{Clock: clock.NewVirtual(tStart.Add(time.Hour))}, Store: env1.st})
	if n, err := env2.m.Restore(); err != nil || n != 3 {
		t.Fatalf("Restore = %d, %v", n, err)
	}
	if s := tSignIn(t, env2.m, 1005); s.Gen <= maxGen {
		t.Fatalf("new sign-in gen %d, not above the restored %d", s.Gen, maxGen)
	}
	req = tSignInReq(1002)
	req.Force = true
	s2, err := env2.m.SignIn(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if stored, _ := env1.st.get(1002); stored.GUID != s2.GUID {
		t.Fatalf("store kept gen %d over the forced sign-in's %d", stored.Gen, s2.Gen)
	}
	// The replaced restored session's client is told.
	if ev, err := tPoll(env2.m, 1002, old[1002].GUID); err != nil || ev == nil || ev.Type != ccgw.EvShutdownService {
		t.Fatalf("old client after restart = %+v, %v", ev, err)
	}
	if err := env2.m.Kick(context.Background(), 1003, ccgw.CauseSupervisor); err != nil {
		t.Fatal(err)
	}
	if env2.m.Live() != 3 || env1.st.deleted(1003, old[1003].Gen) != 1 { // 1001, 1002 (forced), 1005
		t.Fatalf("live %d, deletes of 1003 %d", env2.m.Live(), env1.st.deleted(1003, old[1003].Gen))
	}
}

// TestRestoreLoadError checks that sessions loaded before a store error are fully
// restored (counted, and filed so that they expire), not left in limbo.
func TestRestoreLoadError(t *testing.T) {
	env1 := testManager(t, Config{})
	for id := ccgw.AgentID(1001); id <= 1002; id++ {
		tSignIn(t, env1.m, id)
	}
	boom := errors.New("bad record")
	env1.st.set(func(st *tStore) { st.loadErr = boom })
	env2 := testManager(t, Config{Store: env1.st})
	n, err := env2.m.Restore()
	if !errors.Is(err, boom) || n != 2 {
		t.Fatalf("Restore = %d, %v; want 2 and the store's error", n, err)
	}
	if env2.m.Live() != 2 {
		t.Fatalf("Live = %d, want 2", env2.m.Live())
	}
	if s := tSignIn(t, env2.m, 1003); s.Gen <= 2 {
		t.Fatalf("new sign-in gen %d collides with restored ones", s.Gen)
	}
	if n := env2.advance(env2.m.Timeout()); n != 3 {
		t.Fatalf("%d expired, want all 3: restored sessions must be on the wheel", n)
	}
}

// TestMaxExpiries checks that one sweep signs out at most MaxExpiries sessions,
// that the rest come first in the next sweep (Run starts it at once, not a
// tick later), and that they are checked again there.
func TestMaxExpiries(t *testing.T) {
	env := testManager(t, Config{SessionSettings: ccgw.SessionSettings{MaxExpiries: 3}})
	guids := map[ccgw.AgentID]string{}
	for id := ccgw.AgentID(1001); id <= 1010; id++ {
		guids[id] = tSignIn(t, env.m, id).GUID
	}
	tick := env.m.cfg.Tick
	if n := env.advance(env.m.Timeout()); n != 3 {
		t.Fatalf("first sweep signed out %d, want 3", n)
	}
	if n := env.m.Sweep(env.fc.Now()); n != 3 {
		t.Fatalf("a second sweep in the same tick signed out %d, want the next 3", n)
	}
	var survivor ccgw.AgentID
	for id := range guids {
		if _, ok := env.m.Lookup(context.Background(), id); ok {
			survivor = id
			break
		}
	}
	if _, err := env.m.Heartbeat(context.Background(), survivor, guids[survivor], ""); err != nil {
		t.Fatal(err)
	}
	if n := env.m.Sweep(env.fc.Now()); n != 3 {
		t.Fatalf("a third sweep in the same tick signed out %d, want the last 3 but the survivor", n)
	}
	for i := range 2 {
		if n := env.advance(tick); n != 0 {
			t.Fatalf("sweep %d after the storm: signed out %d, want 0", i+1, n)
		}
	}
	st := env.m.Stats(context.Background())
	if st.Expiries != 9 || st.SignOuts[ccgw.CauseTimeout] != 9 || st.Live != 1 {
		t.Fatalf("stats %+v", st)
	}
	if _, ok := env.m.Lookup(context.Background(), survivor); !ok {
		t.Fatal("the session that heartbeated while carried over was signed out")
	}
}

// TestSignInPending holds a sign-in inside the store write and checks that the
// agent cannot be signed in, out or kicked meanwhile (README §4 serialization).
func TestSignInPending(t *testing.T) {
	env := testManager(t, Config{})
	entered := make(chan ccgw.Session)
	release := make(chan struct{})
	env.st.set(func(st *tStore) {
		st.onPut = func(s *ccgw.Session) {
			entered <- *s
			<-release
		}
	})
	done := make(chan error, 1)
	go func() {
		_, err := env.m.SignIn(context.Background(), tSignInReq(1001))
		done <- err
	}()
	s := <-entered
	env.st.set(func(st *tStore) { st.onPut = nil })

	_, err := env.m.SignIn(context.Background(), tSignInReq(1001))
	tWantCode(t, "SignIn during a sign-in", err, ccgw.RetSigningIn)
	req := tSignInReq(1001)
	req.Force = true
	_, err = env.m.SignIn(context.Background(), req)
	tWantCode(t, "forced SignIn during a sign-in", err, ccgw.RetSigningIn)
	tWantCode(t, "SignOut during a sign-in", env.m.SignOut(context.Background(), 1001, s.GUID, ccgw.CauseLogout), ccgw.RetRepeated)
	tWantCode(t, "Kick during a sign-in", env.m.Kick(context.Background(), 1001, ccgw.CauseSupervisor), ccgw.RetNotSignedIn)
	_, err = env.m.Update(context.Background(), 1001, s.GUID, func(*ccgw.Session, time.Time) ([]ccgw.Emit, error) { return nil, nil })
	tWantCode(t, "Update during a sign-in", err, ccgw.RetNotSignedIn)
	if _, ok := env.m.Lookup(context.Background(), 1001); ok {
		t.Fatal("a pending sign-in is visible to Lookup")
	}
	if env.m.Live() != 0 {
		t.Fatalf("Live = %d during the sign-in", env.m.Live())
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("held SignIn: %v", err)
	}
	if env.m.Live() != 1 || env.signOuts() != 0 {
		t.Fatalf("live %d signOuts %d", env.m.Live(), env.signOuts())
	}
	if got := tDrain(t, env.m, 1001, s.GUID); !slices.Equal(got, []string{ccgw.EvInService, ccgw.EvReady}) {
		t.Fatalf("events %v", got)
	}
}

func TestSignInStoreFailure(t *testing.T) {
	env := testManager(t, Config{})
	boom := errors.New("disk full")
	env.st.set(func(st *tStore) { st.failPut = boom })
	_, err := env.m.SignIn(context.Background(), tSignInReq(1001))
	tWantCode(t, "SignIn with a failing store", err, ccgw.RetInternal)
	if !errors.Is(err, boom) {
		t.Fatalf("error %v does not wrap the store's", err)
	}
	if _, ok := env.m.Lookup(context.Background(), 1001); ok || env.m.Live() != 0 || env.m.Stats(context.Background()).SignIns != 0 {
		t.Fatal("a failed sign-in left a session")
	}
	if n := env.advance(time.Hour); n != 0 {
		t.Fatalf("a failed sign-in expired: %d", n)
	}
	env.st.set(func(st *tStore) { st.failPut = nil })
	tSignIn(t, env.m, 1001) // not stuck in "signing in"
}

func TestPushMode(t *testing.T) {
	var mu sync.Mutex
	var notified []ccgw.AgentID
	env := testManager(t, Config{
		SessionSettings: ccgw.SessionSettings{Notify: func(id ccgw.AgentID) {
			mu.Lock()
			notified = append(notified, id)
			mu.Unlock()
		},
		},
	})
	req := tSignInReq(1001)
	req.Session.Mode, req.Session.CallbackURI = ccgw.ModePush, "https://crm.example/cb"
	s, err := env.m.SignIn(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tPoll(env.m, 1001, s.GUID)
	tWantCode(t, "poll of a push-mode session", err, ccgw.RetWrongEventMethod)
	p := tSignIn(t, env.m, 1002) // poll mode: never notified
	if err := env.m.Kick(context.Background(), 1001, ccgw.CauseSupervisor); err != nil {
		t.Fatal(err)
	}
	if err := env.m.SignOut(context.Background(), 1002, p.GUID, ccgw.CauseForceLogout); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(notified, []ccgw.AgentID{1001, 1001}) {
		t.Fatalf("notified %v, want 1001 at sign-in and at its end", notified)
	}
}

func TestQueueOverflowCounted(t *testing.T) {
	env := testManager(t, Config{SessionSettings: ccgw.SessionSettings{QueueSize: 2}})
	s := tSignIn(t, env.m, 1001)
	_, err := env.m.Update(context.Background(), 1001, s.GUID, func(*ccgw.Session, time.Time) ([]ccgw.Emit, error) {
		return []ccgw.Emit{{Type: ccgw.EvBusy}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := env.m.Stats(context.Background()).Drops[ccgw.DropQueueFull]; d != 1 {
		t.Fatalf("queue_full drops = %d, want 1", d)
	}
	if got := tDrain(t, env.m, 1001, s.GUID); !slices.Equal(got, []string{ccgw.EvReady, ccgw.EvBusy}) {
		t.Fatalf("events %v, want the newest two", got)
	}
}

// TestUpdateRefusedRollsBack checks that a refused Update leaves the session and
// its queue as they were.
func TestUpdateRefusedRollsBack(t *testing.T) {
	env := testManager(t, Config{})
	s := tSignIn(t, env.m, 1001)
	tDrain(t, env.m, 1001, s.GUID)
	refuse := ccgw.Fail(ccgw.RetSetStateFailed)
	_, err := env.m.Update(context.Background(), 1001, s.GUID, func(x *ccgw.Session, _ time.Time) ([]ccgw.Emit, error) {
		x.State, x.Skills = ccgw.StateBusy, append(x.Skills, 99)
		return []ccgw.Emit{{Type: ccgw.EvBusy}}, refuse
	})
	tWantCode(t, "refused Update", err, ccgw.RetSetStateFailed)
	got, _ := env.m.Lookup(context.Background(), 1001)
	if got.State != ccgw.StateIdle || !slices.Equal(got.Skills, s.Skills) {
		t.Fatalf("refused Update changed the session: %+v", got)
	}
	if evs := tDrain(t, env.m, 1001, s.GUID); len(evs) != 0 {
		t.Fatalf("refused Update queued %v", evs)
	}
	// UpdateAny updates whatever the GUID.
	if _, err := env.m.UpdateAny(context.Background(), 1001, func(x *ccgw.Session, _ time.Time) ([]ccgw.Emit, error) {
		x.State = ccgw.StateBusy
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if stored, _ := env.st.get(1001); stored.State != ccgw.StateBusy {
		t.Fatal("Update not persisted")
	}
}

// TestEndsExactlyOnceUnderRace races heartbeats, polls, logouts, forced logouts,
// kicks, sweeps and a moving clock on the same sessions, all at their deadline.
// Each session must end exactly once: one successful end, one store delete, one
// sign-out counted, and one AgentOther_ShutdownService unless it was a logout.
func TestEndsExactlyOnceUnderRace(t *testing.T) {
	const n = 48
	for round := 0; round < 3; round++ {
		env := testManager(t, Config{SessionSettings: ccgw.SessionSettings{Timeout: time.Minute}})
		tick := env.m.cfg.Tick
		ss := make([]ccgw.Session, n)
		for i := range ss {
			ss[i] = tSignIn(t, env.m, ccgw.AgentID(1001+i))
			tDrain(t, env.m, ss[i].Agent, ss[i].GUID)
		}
		env.fc.Advance(env.m.Timeout()) // every session is due

		var (
			ends      atomic.Int64 // successful SignOut/Kick plus Sweep's count
			loggedOut = make([]atomic.Bool, n)
			shutdowns = make([]atomic.Int32, n)
			wg        sync.WaitGroup
			start     = make(chan struct{})
			errs      = make(chan error, 16*n)
		)
		run := func(f func()) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				f()
			}()
		}
		allow := func(what string, err error, codes ...ccgw.Retcode) {
			if !slices.Contains(codes, ccgw.CodeOf(err)) {
				errs <- fmt.Errorf("%s: %v", what, err)
			}
		}
		for i, s := range ss {
			run(func() {
				for j := 0; j < 20; j++ {
					_, err := env.m.Heartbeat(context.Background(), s.Agent, s.GUID, "")
					allow("Heartbeat", err, ccgw.RetOK, ccgw.RetNotSignedIn)
				}
			})
			run(func() {
				for j := 0; j < 10; j++ {
					ev, err := tPoll(env.m, s.Agent, s.GUID)
					allow("Poll", err, ccgw.RetOK, ccgw.RetNotSignedIn)
					if ev != nil && ev.Type == ccgw.EvShutdownService {
						shutdowns[i].Add(1)
					}
				}
			})
			switch i % 3 {
			case 0:
				run(func() {
					err := env.m.SignOut(context.Background(), s.Agent, s.GUID, ccgw.CauseLogout)
					allow("logout", err, ccgw.RetOK, ccgw.RetNotSignedIn)
					if err == nil {
						ends.Add(1)
						loggedOut[i].Store(true)
					}
				})
			case 1:
				run(func() {
					err := env.m.SignOut(context.Background(), s.Agent, s.GUID, ccgw.CauseForceLogout)
					allow("force logout", err, ccgw.RetOK, ccgw.RetNotSignedIn)
					if err == nil {
						ends.Add(1)
						loggedOut[i].Store(true) // by the agent itself: no shutdown event
					}
				})
			}
			run(func() { // every session is kicked, so every session ends
				err := env.m.Kick(context.Background(), s.Agent, ccgw.CauseSupervisor)
				allow("Kick", err, ccgw.RetOK, ccgw.RetNotSignedIn)
				if err == nil {
					ends.Add(1)
				}
			})
		}
		for k := 0; k < 4; k++ {
			run(func() {
				for j := 0; j < 30; j++ {
					ends.Add(int64(env.m.Sweep(env.fc.Now())))
				}
			})
		}
		run(func() {
			for j := 0; j < 30; j++ { // 30 ticks: far less than the tombstones' timeout
				env.fc.Advance(tick)
			}
		})
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		ends.Add(int64(env.m.Sweep(env.fc.Now())))

		st := env.m.Stats(context.Background())
		if got := ends.Load(); got != n {
			t.Fatalf("round %d: %d successful ends for %d sessions", round, got, n)
		}
		if env.signOuts() != n || st.Live != 0 || st.Expiries != st.SignOuts[ccgw.CauseTimeout] {
			t.Fatalf("round %d: stats %+v", round, st)
		}
		if env.st.len() != 0 {
			t.Fatalf("round %d: %d sessions left in the store", round, env.st.len())
		}
		for i, s := range ss {
			if d := env.st.deleted(s.Agent, s.Gen); d != 1 {
				t.Fatalf("round %d: agent %d deleted %d times", round, s.Agent, d)
			}
			for {
				ev, err := tPoll(env.m, s.Agent, s.GUID)
				if err != nil {
					tWantCode(t, "final poll", err, ccgw.RetNotSignedIn)
					break
				}
				if ev == nil {
					t.Fatalf("round %d: agent %d: ended session's poll returned nothing", round, s.Agent)
				}
				if ev.Type == ccgw.EvShutdownService {
					shutdowns[i].Add(1)
				}
			}
			want := int32(1)
			if loggedOut[i].Load() {
				want = 0
			}
			if got := shutdowns[i].Load(); got != want {
				t.Fatalf("round %d: agent %d got %d shutdown events, want %d (logged out: %v)", round, s.Agent, got, want, loggedOut[i].Load())
			}
		}
	}
}

func TestGUIDShape(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		g := newGUID("AgentGateway0")
		hex, node, ok := strings.Cut(g, ".")
		if !ok || node != "AgentGateway0" || len(hex) != 36 {
			t.Fatalf("GUID %q", g)
		}
		for j, c := range hex {
			isDash := j == 8 || j == 13 || j == 18 || j == 23
			if isDash != (c == '-') || (!isDash && !strings.ContainsRune("0123456789abcdef", c)) {
				t.Fatalf("GUID %q: bad character at %d", g, j)
			}
		}
		if seen[g] {
			t.Fatalf("GUID %q repeated", g)
		}
		seen[g] = true
	}
	if g := shortGUID("0123456789abcdef"); g != "01234567…" {
		t.Fatalf("shortGUID = %q", g)
	}
}

// TestSimulatedNotStored checks that a simulated agent's sign-in and state
// changes write nothing, and that one stored by an earlier ccgw is dropped from
// the store at restore instead of living on.
func TestSimulatedNotStored(t *testing.T) {
	st := newTStore()
	env := testManager(t, Config{Store: st})
	req := tSignInReq(1001)
	req.Session.Simulated = true
	s, err := env.m.SignIn(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.m.Update(context.Background(), 1001, s.GUID, func(s *ccgw.Session, _ time.Time) ([]ccgw.Emit, error) {
		s.State = ccgw.StateBusy
		return []ccgw.Emit{{Type: ccgw.EvSetNotReadySuccess}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := st.puts(1001); n != 0 {
		t.Fatalf("%d store writes for a simulated agent, want 0", n)
	}
	tSignIn(t, env.m, 1002) // a real agent is stored
	if st.puts(1002) == 0 {
		t.Fatal("a real agent's sign-in was not stored")
	}

	old := ccgw.Session{Agent: 1003, Gen: 9, GUID: newGUID("AgentGateway0"), Simulated: true}
	if err := st.PutSession(&old); err != nil {
		t.Fatal(err)
	}
	env2 := testManager(t, Config{SessionSettings: ccgw.SessionSettings{Clock: clock.NewVirtual(tStart.Add(time.Hour))}, Store: st})
	n, err := env2.m.Restore()
	if err != nil || n != 1 {
		t.Fatalf("Restore = %d, %v; want 1 (the real agent only)", n, err)
	}
	if _, ok := env2.m.Lookup(context.Background(), 1003); ok {
		t.Fatal("a stored simulated session was restored")
	}
	if _, ok := st.get(1003); ok || st.deleted(1003, 9) != 1 {
		t.Fatal("the stored simulated session was not deleted")
	}
}

// TestConcurrentUpdatesStoredInOrder checks that two changes of one session
// racing to the store land in the order they were made: the second one's write
// waits while the first one's is held up, and the stored session is the newer.
func TestConcurrentUpdatesStoredInOrder(t *testing.T) {
	st := newTStore()
	env := testManager(t, Config{Store: st})
	s := tSignIn(t, env.m, 1001)
	held, release := make(chan struct{}), make(chan struct{})
	st.set(func(st *tStore) {
		st.onPut = func(x *ccgw.Session) {
			if x.State == ccgw.StateBusy {
				close(held)
				<-release
			}
		}
	})
	waiting := make(chan struct{}, 1)
	env.m.onWriteWait = func() { waiting <- struct{}{} }
	set := func(state ccgw.AgentState) func(*ccgw.Session, time.Time) ([]ccgw.Emit, error) {
		return func(x *ccgw.Session, _ time.Time) ([]ccgw.Emit, error) { x.State = state; return nil, nil }
	}
	errs := make(chan error, 2)
	go func() { _, err := env.m.Update(context.Background(), 1001, s.GUID, set(ccgw.StateBusy)); errs <- err }()
	<-held // the first change's write is at the store
	go func() { _, err := env.m.Update(context.Background(), 1001, s.GUID, set(ccgw.StateRest)); errs <- err }()
	select {
	case <-waiting: // the second change's write waits for the first's
	case err := <-errs:
		t.Fatalf("the second change was written (err %v) while the first one's write was held", err)
	}
	close(release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := st.get(1001); got.State != ccgw.StateRest {
		t.Fatalf("stored state %v, want %v (the later change)", got.State, ccgw.StateRest)
	}
}
