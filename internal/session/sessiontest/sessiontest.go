// Package sessiontest is the behaviour suite every session.Service passes: the
// single-node session.Manager (on bbolt) and the Redis store run the same tests.
// The suite drives time with a fake clock and sweeps after every tick it
// advances, as a node's Run loop does, so that both are tested without sleeps.
package sessiontest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/push"
	"github.com/ccgw/ccgw/internal/session"
)

// Config is what the suite asks of a Service it opens. Every field is set.
type Config struct {
	Clock   *clock.Fake   // the Service's Clock and WaitClock
	Timeout time.Duration // heartbeat timeout
	// PollTimeout and PushTimeout are the timeouts of sessions in each mode
	// (0: Timeout); NoExpiry turns expiry off.
	PollTimeout, PushTimeout time.Duration
	NoExpiry                 bool
	Tick                     time.Duration    // sweep period; the suite sweeps once per Tick it advances
	Directory                ccgw.Directory   // the suite's agents: see Directory
	Log                      *slog.Logger     // the suite counts the "signed out" lines logged on it
	AuthMode                 session.AuthMode // static unless a test asks for dynamic GUIDs
	GUIDInterval             time.Duration
	GUIDTimeout              time.Duration
	NodeName                 string
	RestTimeoutIdle          bool // an agent whose rest ran out is made idle
	// OnChange and Tap are session.Config's hooks (hooks.go): the suite records
	// what they are told.
	OnChange func(ccgw.Session)
	Tap      func(ccgw.Event)
}

// Node is one opened Service and its sweep.
type Node struct {
	Service session.Service
	// Sweep signs out the sessions whose deadline passed by now and returns how
	// many this call signed out (Manager.Sweep, redis.Store.Sweep).
	Sweep func(now time.Time) int
	// Deliver, if set, makes the Service call OnChange and Tap for every change
	// committed so far (redis.Store.Deliver); nil where they are called as the
	// changes are made.
	Deliver func() int
}

// Opener opens a Service with no sessions, configured by cfg, for test t; it
// registers the Service's cleanup on t. It must not start a background loop
// (Run): the suite sweeps itself.
type Opener func(t *testing.T, cfg Config) Node

// Start is where the suite's fake clocks start: a whole second, so that ticks
// that divide a second stay aligned.
var Start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// Suite defaults: a 10s timeout swept every 100ms.
const (
	Timeout = 10 * time.Second
	Tick    = 100 * time.Millisecond
)

// Password signs every agent of Directory in.
const Password = "secret"

// MaxAgent is the highest work number Directory knows; above it agents are unknown.
const MaxAgent ccgw.AgentID = 899999

// Directory is the suite's agent directory: work numbers 101 to MaxAgent, each
// with skills 1 and 2 and the password Password.
type Directory struct{}

var _ ccgw.Directory = Directory{}

// Agent implements ccgw.Directory.
func (Directory) Agent(id ccgw.AgentID) (ccgw.Agent, bool) {
	if id < ccgw.MinAgentID || id > MaxAgent {
		return ccgw.Agent{}, false
	}
	return ccgw.Agent{ID: id, Password: Password, Skills: []ccgw.Skill{{ID: 1}, {ID: 2}}}, true
}

// CheckPassword implements ccgw.Directory.
func (d Directory) CheckPassword(id ccgw.AgentID, password string) bool {
	_, ok := d.Agent(id)
	return ok && password == Password
}

// SetPassword implements ccgw.Directory; passwords never change.
func (Directory) SetPassword(ccgw.AgentID, string) error {
	return errors.New("sessiontest: read-only directory")
}

// DefaultConfig returns the suite's configuration on a fresh fake clock at
// Start, logging to logs.
func DefaultConfig(logs *Logs) Config {
	return Config{
		Clock: clock.NewFake(Start), Timeout: Timeout, Tick: Tick, Directory: Directory{}, Log: logs.Logger(),
		AuthMode: session.AuthStatic, GUIDInterval: time.Minute, GUIDTimeout: 2 * time.Minute,
		NodeName: "AgentGateway1",
	}
}

// Run runs the suite: each test on a Service open returns.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
		cfg  func(c *Config)
	}{
		{"SignInRetcodes", testSignInRetcodes, nil},
		{"SignInBusyEvents", testSignInBusy, nil},
		{"ForcedSignInReplaces", testForcedSignIn, nil},
		{"HeartbeatRetcodes", testHeartbeat, nil},
		{"HeartbeatToken", testHeartbeatToken, nil},
		{"PollOrder", testPollOrder, nil},
		{"PollPushMode", testPollPushMode, nil},
		{"ExpiryAfterTimeoutNotBefore", testExpiry, nil},
		{"HeartbeatAndPollKeepAlive", testKeepAlive, nil},
		{"EndsExactlyOnceUnderRace", testEndsOnceRace, nil},
		{"Logout", testLogout, nil},
		{"LogoutWhileTalking", testLogoutTalking, nil},
		{"Kick", testKick, nil},
		{"UpdateConcurrentNoneLost", testUpdateConcurrent, nil},
		{"UpdateRefused", testUpdateRefused, nil},
		{"UpdateAuth", testUpdateAuth, nil},
		{"BySkill", testBySkill, nil},
		{"EachInSkill", testEachInSkill, nil},
		{"LookupAndSession", testLookup, nil},
		{"UpdateGUIDGrace", testUpdateGUID, func(c *Config) { c.GUIDTimeout = 3 * time.Second }},
		{"DynamicGUIDRotation", testDynamic, func(c *Config) {
			c.AuthMode, c.GUIDInterval, c.GUIDTimeout = session.AuthDynamic, 2*time.Second, 4*time.Second
		}},
		{"SupersededGUIDLastsGUIDTimeout", testSupersededGUID, func(c *Config) {
			c.AuthMode, c.GUIDInterval, c.GUIDTimeout = session.AuthDynamic, 2*time.Second, 5*time.Second
		}},
		{"Stats", testStats, nil},
		{"RestTimeout", testRestTimeout, nil},
		{"TimeoutPerMode", testTimeoutPerMode, func(c *Config) { c.PollTimeout, c.PushTimeout = 4*time.Second, 8*time.Second }},
		{"NoExpiry", testNoExpiry, func(c *Config) { c.NoExpiry = true }},
		{"ForceLogoutByAgentNoShutdown", testForceLogoutByAgent, nil},
		{"PushFailedSignsOutOnce", testPushFailed, nil},
		{"AnyRequestIsActivity", testAnyRequestIsActivity, nil},
		{"ShutdownEveryWayOut", testShutdownEveryWayOut, nil},
		{"RestTimeoutIdle", testRestTimeoutIdle, func(c *Config) { c.RestTimeoutIdle = true }},
		{"OnChange", testOnChange, nil},
		{"TapEveryEventInOrder", testTap, nil},
		{"SimulatedNeverExpires", testSimulated, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := NewLogs()
			cfg := DefaultConfig(logs)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			hooks := &hookLog{}
			cfg.OnChange, cfg.Tap = hooks.change, hooks.tap
			n := open(t, cfg)
			tc.fn(t, &env{t: t, cfg: cfg, fc: cfg.Clock, node: n, svc: n.Service, logs: logs, hooks: hooks})
		})
	}
}

// env is one test's Service on its fake clock.
type env struct {
	t     *testing.T
	cfg   Config
	fc    *clock.Fake
	node  Node
	svc   session.Service
	logs  *Logs
	swept int // sum of the Sweep results
	hooks *hookLog
}

// advance moves the clock on by d, a tick at a time, sweeping after each tick.
func (e *env) advance(d time.Duration) {
	e.t.Helper()
	for d > 0 {
		step := min(d, e.cfg.Tick)
		e.fc.Advance(step)
		e.swept += e.node.Sweep(e.fc.Now())
		d -= step
	}
}

// SignInReq is a plain sign-in of agent id in the idle state.
func SignInReq(id ccgw.AgentID) session.SignIn {
	return session.SignIn{Op: "login", Password: Password, Status: ccgw.StateIdle,
		Session: ccgw.Session{Agent: id, Phone: "70001", MediaType: "TTF"}}
}

func (e *env) signIn(id ccgw.AgentID) ccgw.Session {
	e.t.Helper()
	s, err := e.svc.SignIn(SignInReq(id))
	if err != nil {
		e.t.Fatalf("sign in %d: %v", id, err)
	}
	return s
}

// poll polls once without waiting.
func (e *env) poll(id ccgw.AgentID, guid string) (*ccgw.Event, error) {
	ev, _, err := e.svc.Poll(context.Background(), id, guid, 0)
	return ev, err
}

// drain polls until no event is left and returns the events.
func (e *env) drain(id ccgw.AgentID, guid string) []ccgw.Event {
	e.t.Helper()
	var out []ccgw.Event
	for {
		ev, err := e.poll(id, guid)
		if err != nil {
			e.t.Fatalf("poll %d: %v", id, err)
		}
		if ev == nil {
			return out
		}
		out = append(out, *ev)
	}
}

func (e *env) expectEvents(id ccgw.AgentID, guid string, want ...string) []ccgw.Event {
	e.t.Helper()
	evs := e.drain(id, guid)
	if got := types(evs); !slices.Equal(got, want) {
		e.t.Fatalf("agent %d polled %q, want %q", id, got, want)
	}
	return evs
}

// expectLast polls an ended session's last events with its old GUID: want, in
// order, and then end (RetNotSignedIn, or RetNoPermission after a new sign-in).
func (e *env) expectLast(id ccgw.AgentID, guid string, end ccgw.Retcode, want ...string) {
	e.t.Helper()
	var got []string
	for range len(want) + 1 {
		ev, err := e.poll(id, guid)
		if err != nil {
			wantCode(e.t, fmt.Sprintf("agent %d's poll after %q", id, got), err, end)
			break
		}
		if ev == nil {
			e.t.Fatalf("agent %d: an empty poll after %q with the old GUID, want %s", id, got, end)
		}
		got = append(got, ev.Type)
	}
	if !slices.Equal(got, want) {
		e.t.Fatalf("agent %d polled %q with its old GUID, want %q", id, got, want)
	}
}

func types(evs []ccgw.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type
	}
	return out
}

func wantCode(tb testing.TB, what string, err error, want ccgw.Retcode) {
	tb.Helper()
	if got := ccgw.CodeOf(err); got != want {
		tb.Fatalf("%s: retcode %s (%v), want %s", what, got, err, want)
	}
}

func (e *env) beat(id ccgw.AgentID, guid string) {
	e.t.Helper()
	_, err := e.svc.Heartbeat(id, guid, "")
	wantCode(e.t, fmt.Sprintf("heartbeat %d", id), err, ccgw.RetOK)
}

func (e *env) live(id ccgw.AgentID) bool {
	_, ok := e.svc.Lookup(id)
	return ok
}

// wantSignOuts checks the sign-outs by cause in Stats and the "signed out" log
// lines of agent id with that cause.
func (e *env) wantSignOuts(cause ccgw.SignOutCause, total uint64, id ccgw.AgentID, lines int) {
	e.t.Helper()
	if got := e.svc.Stats().SignOuts[cause]; got != total {
		e.t.Fatalf("Stats().SignOuts[%s] = %d, want %d", cause, got, total)
	}
	if got := e.logs.Count("signed out", "agent", id.String(), "cause", string(cause)); got != lines {
		e.t.Fatalf("%d \"signed out\" lines for agent %d cause %s, want %d", got, id, cause, lines)
	}
}

func testSignInRetcodes(t *testing.T, e *env) {
	const id = 1001
	bad := SignInReq(id)
	bad.Password = "wrong"
	_, err := e.svc.SignIn(bad)
	wantCode(t, "wrong password", err, ccgw.RetBadPassword)
	_, err = e.svc.SignIn(SignInReq(MaxAgent + 1))
	wantCode(t, "unknown agent", err, ccgw.RetBadPassword)
	if e.live(id) {
		t.Fatal("a refused sign-in left a session")
	}

	s := e.signIn(id)
	if s.Agent != id || s.GUID == "" || s.State != ccgw.StateIdle || s.LoginTime != ccgw.Millis(Start) || s.Op != "login" {
		t.Fatalf("session %+v", s)
	}
	if !slices.Equal(s.Skills, []int{1, 2}) {
		t.Fatalf("skills %v, want the directory's [1 2]", s.Skills)
	}
	_, err = e.svc.SignIn(SignInReq(id))
	wantCode(t, "second sign-in", err, ccgw.RetAlreadySignedIn)
	got, ok := e.svc.Lookup(id)
	if !ok || got.GUID != s.GUID {
		t.Fatalf("after a refused second sign-in: %+v %v, want GUID %s", got, ok, s.GUID)
	}
	evs := e.expectEvents(id, s.GUID, ccgw.EvInService, ccgw.EvReady)
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) || ev.WorkNo != "1001" || ev.GenTime != ccgw.Millis(Start) {
			t.Fatalf("event %d: %+v", i, ev)
		}
	}
	if st := e.svc.Stats(); st.SignIns != 1 || st.Live != 1 {
		t.Fatalf("stats: %d sign-ins, %d live; want 1, 1", st.SignIns, st.Live)
	}
}

func testSignInBusy(t *testing.T, e *env) {
	req := SignInReq(1002)
	req.Status = ccgw.StateBusy
	s, err := e.svc.SignIn(req)
	if err != nil {
		t.Fatal(err)
	}
	if s.State != ccgw.StateBusy {
		t.Fatalf("state %d, want busy", s.State)
	}
	e.expectEvents(1002, s.GUID, ccgw.EvInService, ccgw.EvReady, ccgw.EvSetNotReadySuccess)
}

func testForcedSignIn(t *testing.T, e *env) {
	const id = 1003
	old := e.signIn(id)
	e.expectEvents(id, old.GUID, ccgw.EvInService, ccgw.EvReady)
	e.advance(time.Second)
	req := SignInReq(id)
	req.Op, req.Force = "forceLogin", true
	cur, err := e.svc.SignIn(req)
	if err != nil {
		t.Fatal(err)
	}
	if cur.GUID == old.GUID || cur.GUID == "" {
		t.Fatalf("forced sign-in kept GUID %q", cur.GUID)
	}
	// The replaced sign-in's client is signed out (100-006), whatever it calls;
	// a GUID never issued is a wrong one (000-003).
	_, err = e.svc.Heartbeat(id, old.GUID, "")
	wantCode(t, "heartbeat with the replaced GUID", err, ccgw.RetNotSignedIn)
	_, err = e.svc.Heartbeat(id, "never-issued", "")
	wantCode(t, "heartbeat with a GUID never issued", err, ccgw.RetNoPermission)
	ev, err := e.poll(id, old.GUID)
	if err != nil || ev == nil || ev.Type != ccgw.EvShutdownService {
		t.Fatalf("poll with the replaced GUID: %+v, %v; want %s", ev, err, ccgw.EvShutdownService)
	}
	var content map[string]string
	if err := json.Unmarshal(ev.Content, &content); err != nil || content["loginTime"] != strconv.FormatInt(old.LoginTime, 10) {
		t.Fatalf("ShutdownService content %s, want loginTime %d", ev.Content, old.LoginTime)
	}
	_, err = e.poll(id, old.GUID)
	wantCode(t, "second poll with the replaced GUID", err, ccgw.RetNotSignedIn)
	e.expectEvents(id, cur.GUID, ccgw.EvInService, ccgw.EvReady)
	e.beat(id, cur.GUID)
	e.wantSignOuts(ccgw.CauseReplaced, 1, id, 1)
	if st := e.svc.Stats(); st.Live != 1 || st.SignIns != 2 {
		t.Fatalf("stats: %d live, %d sign-ins; want 1, 2", st.Live, st.SignIns)
	}
}

func testHeartbeat(t *testing.T, e *env) {
	const id = 1004
	_, err := e.svc.Heartbeat(id, "nobody", "")
	wantCode(t, "heartbeat, not signed in", err, ccgw.RetNotSignedIn)
	s := e.signIn(id)
	_, err = e.svc.Heartbeat(id, "wrong-guid", "")
	wantCode(t, "heartbeat, wrong GUID", err, ccgw.RetNoPermission)
	_, err = e.svc.Heartbeat(id, "", "")
	wantCode(t, "heartbeat, no GUID", err, ccgw.RetNoPermission)
	g, err := e.svc.Heartbeat(id, s.GUID, "")
	if err != nil || g != "" {
		t.Fatalf("heartbeat: %q, %v; want \"\", nil", g, err)
	}
	if n := e.svc.Stats().Heartbeats; n != 1 {
		t.Fatalf("Stats().Heartbeats = %d, want 1 (failed heartbeats do not count)", n)
	}
}

func testHeartbeatToken(t *testing.T, e *env) {
	const id = 1005
	s := e.signIn(id)
	g, err := e.svc.Heartbeat(id, s.GUID, "tok-1")
	if err != nil || g != "" {
		t.Fatalf("heartbeat with a token: %q, %v", g, err)
	}
	got, err := e.svc.Session(id, s.GUID)
	if err != nil || got.ServiceToken != "tok-1" {
		t.Fatalf("session after token: %+v, %v", got, err)
	}
}

func testPollOrder(t *testing.T, e *env) {
	const id = 1006
	_, err := e.poll(id, "nobody")
	wantCode(t, "poll, not signed in", err, ccgw.RetNotSignedIn)
	s := e.signIn(id)
	_, err = e.poll(id, "wrong-guid")
	wantCode(t, "poll, wrong GUID", err, ccgw.RetNoPermission)
	for _, typ := range []string{ccgw.EvWork, ccgw.EvReady, ccgw.EvSetNotReadySuccess} {
		_, err := e.svc.Update(id, s.GUID, func(x *ccgw.Session, now time.Time) ([]session.Emit, error) {
			return []session.Emit{{Type: typ}}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	want := []string{ccgw.EvInService, ccgw.EvReady, ccgw.EvWork, ccgw.EvReady, ccgw.EvSetNotReadySuccess}
	for i, w := range want {
		ev, err := e.poll(id, s.GUID) // one event per call
		if err != nil || ev == nil || ev.Type != w || ev.Seq != uint64(i+1) {
			t.Fatalf("poll %d: %+v, %v; want %s seq %d", i, ev, err, w, i+1)
		}
	}
	if ev, err := e.poll(id, s.GUID); ev != nil || err != nil {
		t.Fatalf("poll of an empty queue: %+v, %v; want nil, nil", ev, err)
	}
	if st := e.svc.Stats(); st.Polled != 5 {
		t.Fatalf("Stats().Polled = %d, want 5", st.Polled)
	}
}

func testPollPushMode(t *testing.T, e *env) {
	const id = 1007
	req := SignInReq(id)
	req.Session.Mode, req.Session.CallbackURI = ccgw.ModePush, "http://127.0.0.1:9/events"
	s, err := e.svc.SignIn(req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.poll(id, s.GUID)
	wantCode(t, "poll in push mode", err, ccgw.RetWrongEventMethod)
	e.beat(id, s.GUID)
}

func testExpiry(t *testing.T, e *env) {
	const silent, beating = 1010, 1011
	a := e.signIn(silent)
	b := e.signIn(beating)
	e.advance(Timeout / 2)
	e.beat(beating, b.GUID)
	e.advance(Timeout/2 - Tick)
	if !e.live(silent) {
		t.Fatalf("agent signed out at %v, before its timeout of %v", e.fc.Now().Sub(Start), Timeout)
	}
	e.advance(2 * Tick)
	if e.live(silent) {
		t.Fatalf("agent still signed in %v after its last sign of life (timeout %v)", e.fc.Now().Sub(Start), Timeout)
	}
	if !e.live(beating) {
		t.Fatal("the agent that heartbeated at half the timeout was signed out")
	}
	_, err := e.svc.Heartbeat(silent, a.GUID, "")
	wantCode(t, "heartbeat after expiry", err, ccgw.RetNotSignedIn)
	// The expired client collects AgentOther_ShutdownService with its old GUID.
	e.expectLast(silent, a.GUID, ccgw.RetNotSignedIn, ccgw.EvInService, ccgw.EvReady, ccgw.EvShutdownService)
	e.wantSignOuts(ccgw.CauseTimeout, 1, silent, 1)

	// The other one expires a timeout after its heartbeat; nobody twice.
	e.advance(Timeout/2 - 2*Tick)
	if !e.live(beating) {
		t.Fatal("signed out before a timeout had passed since its heartbeat")
	}
	e.advance(2 * Tick)
	if e.live(beating) {
		t.Fatal("not signed out a timeout after its heartbeat")
	}
	e.advance(2 * Timeout)
	e.wantSignOuts(ccgw.CauseTimeout, 2, silent, 1)
	e.wantSignOuts(ccgw.CauseTimeout, 2, beating, 1)
	if e.swept != 2 {
		t.Fatalf("the sweeps report %d sign-outs, want 2", e.swept)
	}
	if st := e.svc.Stats(); st.Expiries != 2 || st.Live != 0 {
		t.Fatalf("stats: %d expiries, %d live; want 2, 0", st.Expiries, st.Live)
	}
}

func testKeepAlive(t *testing.T, e *env) {
	const beating, polling = 1012, 1013
	b := e.signIn(beating)
	p := e.signIn(polling)
	for range 8 {
		e.advance(Timeout / 2)
		e.beat(beating, b.GUID)
		if _, err := e.poll(polling, p.GUID); err != nil {
			t.Fatalf("poll at %v: %v", e.fc.Now().Sub(Start), err)
		}
	}
	if !e.live(beating) || !e.live(polling) {
		t.Fatalf("signed out after %v of heartbeats and polls every %v", e.fc.Now().Sub(Start), Timeout/2)
	}
	if n := e.svc.Stats().SignOuts[ccgw.CauseTimeout]; n != 0 {
		t.Fatalf("%d timeouts, want 0", n)
	}
}

// testEndsOnceRace: sweeps from several goroutines, logouts and forced
// sign-outs race over sessions that are all due; each ends exactly once.
func testEndsOnceRace(t *testing.T, e *env) {
	const n, first = 60, 2000
	guids := make([]string, n)
	for i := range n {
		guids[i] = e.signIn(first + ccgw.AgentID(i)).GUID
	}
	e.advance(Timeout - Tick)
	e.fc.Advance(2 * Tick)
	now := e.fc.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	swept, ended := 0, 0
	for range 4 {
		wg.Go(func() {
			k := e.node.Sweep(now)
			mu.Lock()
			swept += k
			mu.Unlock()
		})
	}
	for i := range n / 3 {
		wg.Go(func() {
			id := first + ccgw.AgentID(i)
			var err error
			if i%2 == 0 {
				err = e.svc.SignOut(id, guids[i], ccgw.CauseLogout)
			} else {
				err = e.svc.Kick(id, ccgw.CauseForceLogout)
			}
			if err == nil {
				mu.Lock()
				ended++
				mu.Unlock()
			} else if c := ccgw.CodeOf(err); c != ccgw.RetNotSignedIn && c != ccgw.RetRepeated && c != ccgw.RetAlreadySignedOut {
				t.Errorf("sign-out of %d: %v", id, err)
			}
		})
	}
	wg.Wait()
	swept += e.node.Sweep(now) // whatever a capped sweep left
	if swept+ended != n {
		t.Fatalf("%d expired + %d signed out = %d, want %d", swept, ended, swept+ended, n)
	}
	st := e.svc.Stats()
	total := st.SignOuts[ccgw.CauseTimeout] + st.SignOuts[ccgw.CauseLogout] + st.SignOuts[ccgw.CauseForceLogout]
	if total != n || st.SignOuts[ccgw.CauseTimeout] != uint64(swept) {
		t.Fatalf("Stats().SignOuts = %v, want %d in all, %d timeouts", st.SignOuts, n, swept)
	}
	for i := range n {
		id := first + ccgw.AgentID(i)
		if c := e.logs.Count("signed out", "agent", id.String()); c != 1 {
			t.Errorf("agent %d: %d \"signed out\" lines, want 1", id, c)
		}
		if e.live(id) {
			t.Errorf("agent %d still signed in", id)
		}
	}
}

func testLogout(t *testing.T, e *env) {
	const id = 1020
	err := e.svc.SignOut(id, "nobody", ccgw.CauseLogout)
	wantCode(t, "logout, not signed in", err, ccgw.RetNotSignedIn)
	s := e.signIn(id)
	err = e.svc.SignOut(id, "wrong-guid", ccgw.CauseLogout)
	wantCode(t, "logout, wrong GUID", err, ccgw.RetNoPermission)
	if err := e.svc.SignOut(id, s.GUID, ccgw.CauseLogout); err != nil {
		t.Fatal(err)
	}
	// An agent that signed out itself is not told AgentOther_ShutdownService.
	ev, err := e.poll(id, s.GUID)
	if ev != nil {
		t.Fatalf("poll after logout: %+v", ev)
	}
	wantCode(t, "poll after logout", err, ccgw.RetNotSignedIn)
	_, err = e.svc.Heartbeat(id, s.GUID, "")
	wantCode(t, "heartbeat after logout", err, ccgw.RetNotSignedIn)
	err = e.svc.SignOut(id, s.GUID, ccgw.CauseLogout)
	wantCode(t, "second logout", err, ccgw.RetAlreadySignedOut)
	e.advance(2 * Timeout)
	e.wantSignOuts(ccgw.CauseLogout, 1, id, 1)
	e.wantSignOuts(ccgw.CauseTimeout, 0, id, 0)
	if e.live(id) {
		t.Fatal("signed in after logout")
	}
	// The agent can sign in again at once.
	e.signIn(id)
}

func testLogoutTalking(t *testing.T, e *env) {
	const id = 1021
	s := e.signIn(id)
	if _, err := e.svc.Update(id, s.GUID, func(x *ccgw.Session, now time.Time) ([]session.Emit, error) {
		x.State = ccgw.StateTalking
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	err := e.svc.SignOut(id, s.GUID, ccgw.CauseLogout)
	wantCode(t, "logout while talking", err, ccgw.RetLogoutStateError)
	if !e.live(id) {
		t.Fatal("a refused logout ended the session")
	}
	if err := e.svc.SignOut(id, s.GUID, ccgw.CauseForceLogout); err != nil {
		t.Fatalf("forced sign-out while talking: %v", err)
	}
	e.wantSignOuts(ccgw.CauseForceLogout, 1, id, 1)
}

func testKick(t *testing.T, e *env) {
	const id = 1022
	err := e.svc.Kick(id, ccgw.CauseSupervisor)
	wantCode(t, "kick, not signed in", err, ccgw.RetNotSignedIn)
	s := e.signIn(id)
	e.drain(id, s.GUID)
	if err := e.svc.Kick(id, ccgw.CauseSupervisor); err != nil {
		t.Fatal(err)
	}
	e.expectLast(id, s.GUID, ccgw.RetNotSignedIn, ccgw.EvShutdownService)
	err = e.svc.Kick(id, ccgw.CauseSupervisor)
	wantCode(t, "second kick", err, ccgw.RetNotSignedIn)
	e.wantSignOuts(ccgw.CauseSupervisor, 1, id, 1)
}

// testUpdateConcurrent: 50 Updates of one session at once, each adding a skill,
// counting StateReason up and queueing an event; none is lost.
func testUpdateConcurrent(t *testing.T, e *env) {
	const id, n = 1030, 50
	s := e.signIn(id)
	e.drain(id, s.GUID)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := e.svc.Update(id, s.GUID, func(x *ccgw.Session, now time.Time) ([]session.Emit, error) {
				x.Skills = append(x.Skills, 100+i)
				x.StateReason++
				return []session.Emit{{Type: ccgw.EvWork, Content: json.RawMessage(strconv.Itoa(i))}}, nil
			})
			if err != nil {
				t.Errorf("update %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got, err := e.svc.Session(id, s.GUID)
	if err != nil {
		t.Fatal(err)
	}
	if got.StateReason != n {
		t.Errorf("StateReason %d after %d increments", got.StateReason, n)
	}
	skills := slices.Clone(got.Skills)
	slices.Sort(skills)
	want := []int{1, 2}
	for i := range n {
		want = append(want, 100+i)
	}
	if !slices.Equal(skills, want) {
		t.Errorf("skills %v, want %v", skills, want)
	}
	for i := range n {
		if l := e.svc.BySkill(100 + i); len(l) != 1 || l[0].Agent != id {
			t.Errorf("BySkill(%d): %d sessions, want agent %d", 100+i, len(l), id)
		}
	}
	evs := e.drain(id, s.GUID)
	seen := map[string]bool{}
	for k, ev := range evs {
		seen[string(ev.Content)] = true
		if k > 0 && ev.Seq != evs[k-1].Seq+1 {
			t.Errorf("event seqs %d then %d", evs[k-1].Seq, ev.Seq)
		}
	}
	if len(evs) != n || len(seen) != n {
		t.Errorf("%d events (%d distinct) polled, want %d", len(evs), len(seen), n)
	}
}

func testUpdateRefused(t *testing.T, e *env) {
	const id = 1031
	s := e.signIn(id)
	e.drain(id, s.GUID)
	refuse := ccgw.Fail(ccgw.RetSetStateFailed)
	_, err := e.svc.Update(id, s.GUID, func(x *ccgw.Session, now time.Time) ([]session.Emit, error) {
		x.State = ccgw.StateBusy
		x.Skills = nil
		return []session.Emit{{Type: ccgw.EvWork}}, refuse
	})
	if !errors.Is(err, refuse) {
		t.Fatalf("refused update returned %v, want fn's error", err)
	}
	got, _ := e.svc.Session(id, s.GUID)
	if got.State != ccgw.StateIdle || !slices.Equal(got.Skills, []int{1, 2}) {
		t.Fatalf("a refused update changed the session: %+v", got)
	}
	if len(e.svc.BySkill(1)) != 1 {
		t.Fatal("a refused update changed the skill index")
	}
	e.expectEvents(id, s.GUID)
}

func testUpdateAuth(t *testing.T, e *env) {
	const id = 1032
	fn := func(x *ccgw.Session, now time.Time) ([]session.Emit, error) {
		x.StateReason = 7
		if !now.Equal(e.fc.Now()) {
			return nil, fmt.Errorf("fn got now %v, the clock says %v", now, e.fc.Now())
		}
		return nil, nil
	}
	_, err := e.svc.Update(id, "*", fn)
	wantCode(t, "update, not signed in", err, ccgw.RetNotSignedIn)
	s := e.signIn(id)
	_, err = e.svc.Update(id, "wrong-guid", fn)
	wantCode(t, "update, wrong GUID", err, ccgw.RetNoPermission)
	got, err := e.svc.Update(id, "*", fn)
	if err != nil || got.StateReason != 7 || got.GUID != s.GUID {
		t.Fatalf("update of any GUID: %+v, %v", got, err)
	}
	if l, _ := e.svc.Lookup(id); l.StateReason != 7 {
		t.Fatalf("Lookup after update: %+v", l)
	}
}

func testBySkill(t *testing.T, e *env) {
	agents := func(ss []ccgw.Session) []ccgw.AgentID {
		out := make([]ccgw.AgentID, len(ss))
		for i, s := range ss {
			out[i] = s.Agent
		}
		return out
	}
	g := map[ccgw.AgentID]string{}
	for _, id := range []ccgw.AgentID{1043, 1041, 1042} {
		g[id] = e.signIn(id).GUID
	}
	if got := agents(e.svc.BySkill(1)); !slices.Equal(got, []ccgw.AgentID{1041, 1042, 1043}) {
		t.Fatalf("BySkill(1) = %v, want work-number order", got)
	}
	if got := e.svc.BySkill(99); len(got) != 0 {
		t.Fatalf("BySkill(99) = %v, want none", agents(got))
	}
	if _, err := e.svc.Update(1042, g[1042], func(x *ccgw.Session, now time.Time) ([]session.Emit, error) {
		x.Skills = []int{2, 7}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := agents(e.svc.BySkill(1)); !slices.Equal(got, []ccgw.AgentID{1041, 1043}) {
		t.Fatalf("BySkill(1) after 1042 left it = %v", got)
	}
	if got := agents(e.svc.BySkill(7)); !slices.Equal(got, []ccgw.AgentID{1042}) {
		t.Fatalf("BySkill(7) = %v", got)
	}
	if err := e.svc.SignOut(1041, g[1041], ccgw.CauseLogout); err != nil {
		t.Fatal(err)
	}
	if got := agents(e.svc.BySkill(2)); !slices.Equal(got, []ccgw.AgentID{1042, 1043}) {
		t.Fatalf("BySkill(2) after 1041 signed out = %v", got)
	}
	e.advance(Timeout + Tick)
	if got := e.svc.BySkill(2); len(got) != 0 {
		t.Fatalf("BySkill(2) after every session expired = %v", agents(got))
	}
}

func testLookup(t *testing.T, e *env) {
	const id = 1050
	if _, ok := e.svc.Lookup(id); ok {
		t.Fatal("Lookup found an agent that never signed in")
	}
	_, err := e.svc.Session(id, "nobody")
	wantCode(t, "Session, not signed in", err, ccgw.RetNotSignedIn)
	s := e.signIn(id)
	l, ok := e.svc.Lookup(id)
	if !ok || l.GUID != s.GUID || l.Agent != id || l.Phone != "70001" || l.MediaType != "TTF" {
		t.Fatalf("Lookup: %+v, %v", l, ok)
	}
	got, err := e.svc.Session(id, s.GUID)
	if err != nil || got.GUID != s.GUID || got.LoginTime != s.LoginTime {
		t.Fatalf("Session: %+v, %v", got, err)
	}
	_, err = e.svc.Session(id, "wrong-guid")
	wantCode(t, "Session, wrong GUID", err, ccgw.RetNoPermission)
	if err := e.svc.SignOut(id, s.GUID, ccgw.CauseLogout); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.svc.Lookup(id); ok {
		t.Fatal("Lookup found a signed-out agent")
	}
}

func testUpdateGUID(t *testing.T, e *env) {
	const id = 1060
	_, err := e.svc.UpdateGUID(id, "nobody")
	wantCode(t, "updateGuid, not signed in", err, ccgw.RetNotSignedIn)
	s := e.signIn(id)
	_, err = e.svc.UpdateGUID(id, "wrong-guid")
	wantCode(t, "updateGuid, wrong GUID", err, ccgw.RetNoPermission)
	g2, err := e.svc.UpdateGUID(id, s.GUID)
	if err != nil || g2 == "" || g2 == s.GUID {
		t.Fatalf("UpdateGUID: %q, %v", g2, err)
	}
	if g, err := e.svc.Heartbeat(id, g2, ""); err != nil || g != "" {
		t.Fatalf("heartbeat with the new GUID: %q, %v", g, err)
	}
	// The old GUID works for GUIDTimeout (3s), and is told the new one.
	e.advance(2 * time.Second)
	if g, err := e.svc.Heartbeat(id, s.GUID, ""); err != nil || g != g2 {
		t.Fatalf("heartbeat with the old GUID in its grace: %q, %v; want %q", g, err, g2)
	}
	if _, err := e.svc.Session(id, s.GUID); err != nil {
		t.Fatalf("Session with the old GUID in its grace: %v", err)
	}
	e.advance(time.Second + Tick)
	_, err = e.svc.Heartbeat(id, s.GUID, "")
	wantCode(t, "heartbeat with the old GUID after its grace", err, ccgw.RetNoPermission)
	_, err = e.poll(id, s.GUID)
	wantCode(t, "poll with the old GUID after its grace", err, ccgw.RetNoPermission)
	e.beat(id, g2)
	e.expectEvents(id, g2, ccgw.EvInService, ccgw.EvReady)
}

func testDynamic(t *testing.T, e *env) {
	const id = 1061
	s := e.signIn(id)
	e.advance(time.Second)
	if g, err := e.svc.Heartbeat(id, s.GUID, ""); err != nil || g != "" {
		t.Fatalf("heartbeat before the interval: %q, %v", g, err)
	}
	e.advance(time.Second + Tick)
	g2, err := e.svc.Heartbeat(id, s.GUID, "")
	if err != nil || g2 == "" || g2 == s.GUID {
		t.Fatalf("heartbeat after the interval: %q, %v; want a new GUID", g2, err)
	}
	if g, err := e.svc.Heartbeat(id, g2, ""); err != nil || g != "" {
		t.Fatalf("heartbeat with the rotated GUID: %q, %v", g, err)
	}
	if g, err := e.svc.Heartbeat(id, s.GUID, ""); err != nil || g != g2 {
		t.Fatalf("heartbeat with the previous GUID in its grace: %q, %v; want %q", g, err, g2)
	}
	e.advance(time.Second)
	_, setGUID, err := e.svc.Poll(context.Background(), id, g2, 0)
	if err != nil || setGUID != "" {
		t.Fatalf("poll with the current GUID: %q, %v", setGUID, err)
	}
}

// testSupersededGUID: a client that keeps sending the GUID it signed in with
// (it ignores Set-GUID) is accepted for GUIDTimeout after that GUID was
// superseded, and told the new one each time: the requests it makes with the
// old GUID rotate nothing more, or the GUID it holds would be dropped after one
// GUIDInterval.
func testSupersededGUID(t *testing.T, e *env) {
	const id = 1062
	s := e.signIn(id)
	e.advance(e.cfg.GUIDInterval)
	g1, err := e.svc.Heartbeat(id, s.GUID, "")
	if err != nil || g1 == "" || g1 == s.GUID {
		t.Fatalf("heartbeat after the interval: %q, %v; want a new GUID", g1, err)
	}
	// Supersede happened now; heartbeat with the old GUID each second until the
	// last tick of its grace, past several more intervals.
	for waited := time.Duration(0); waited+time.Second < e.cfg.GUIDTimeout; {
		e.advance(time.Second)
		waited += time.Second
		if g, err := e.svc.Heartbeat(id, s.GUID, ""); err != nil || g != g1 {
			t.Fatalf("heartbeat with the superseded GUID %v after it was superseded: %q, %v; want %q", waited, g, err, g1)
		}
		if _, setGUID, err := e.svc.Poll(context.Background(), id, s.GUID, 0); err != nil || setGUID != g1 {
			t.Fatalf("poll with the superseded GUID %v after it was superseded: Set-GUID %q, %v; want %q", waited, setGUID, err, g1)
		}
	}
	e.advance(time.Second - Tick)
	if g, err := e.svc.Heartbeat(id, s.GUID, ""); err != nil || g != g1 {
		t.Fatalf("heartbeat with the superseded GUID a tick before its grace ends: %q, %v; want %q", g, err, g1)
	}
	e.advance(Tick)
	_, err = e.svc.Heartbeat(id, s.GUID, "")
	wantCode(t, "heartbeat with the superseded GUID at the end of its grace", err, ccgw.RetNoPermission)
	// The client that takes the new GUID rotates on as usual.
	if g, err := e.svc.Heartbeat(id, g1, ""); err != nil || g == "" || g == g1 {
		t.Fatalf("heartbeat with the current GUID, interval passed: %q, %v; want a new GUID", g, err)
	}
}

func testStats(t *testing.T, e *env) {
	var gs []string
	for i := range 3 {
		gs = append(gs, e.signIn(ccgw.AgentID(1070+i)).GUID)
	}
	if err := e.svc.SignOut(1070, gs[0], ccgw.CauseLogout); err != nil {
		t.Fatal(err)
	}
	st := e.svc.Stats()
	if st.Live != 2 || st.SignIns != 3 || st.SignOuts[ccgw.CauseLogout] != 1 {
		t.Fatalf("stats %+v, want 2 live, 3 sign-ins, 1 logout", st)
	}
}

// Logs records what is logged on its Logger, for tests to count. It is safe
// for concurrent use.
type Logs struct {
	mu   sync.Mutex // guards recs
	recs []Record
}

// Record is one logged line: its message and attributes as text.
type Record struct {
	Msg   string
	Attrs map[string]string
}

// NewLogs returns an empty Logs.
func NewLogs() *Logs { return &Logs{} }

// Logger returns a logger that records everything into l, debug lines too (a
// sweep may log each expiry at debug level and one line for all at info).
func (l *Logs) Logger() *slog.Logger { return slog.New(&logHandler{l: l}) }

// Count returns how many records have message msg and every key=value of kv.
func (l *Logs) Count(msg string, kv ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
next:
	for _, r := range l.recs {
		if r.Msg != msg {
			continue
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if r.Attrs[kv[i]] != kv[i+1] {
				continue next
			}
		}
		n++
	}
	return n
}

// PerAgent returns, per agent, how many records have message msg and every
// key=value of kv.
func (l *Logs) PerAgent(msg string, kv ...string) map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
next:
	for _, r := range l.recs {
		if r.Msg != msg {
			continue
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if r.Attrs[kv[i]] != kv[i+1] {
				continue next
			}
		}
		out[r.Attrs["agent"]]++
	}
	return out
}

type logHandler struct {
	l     *Logs
	attrs []slog.Attr
}

func (h *logHandler) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelDebug }

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	rec := Record{Msg: r.Message, Attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.Attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.String()
		return true
	})
	h.l.mu.Lock()
	h.l.recs = append(h.l.recs, rec)
	h.l.mu.Unlock()
	return nil
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &logHandler{l: h.l, attrs: append(slices.Clone(h.attrs), as...)}
}

func (h *logHandler) WithGroup(string) slog.Handler { return h }

// testRestTimeout: a rest's time running out tells the agent
// AgentState_Rest_Timeout once, at the right time, and it stays in rest; a rest
// cancelled before is never reminded.
func testRestTimeout(t *testing.T, e *env) {
	const id = 1031
	s := e.signIn(id)
	e.drain(id, s.GUID)
	rest := func(d time.Duration) {
		t.Helper()
		if _, err := e.svc.Update(id, s.GUID, func(x *ccgw.Session, now time.Time) ([]session.Emit, error) {
			return agent.Apply(x, agent.Request{Op: agent.Rest, Reason: 7, RestTime: d, Prolong: true}, now)
		}); err != nil {
			t.Fatal(err)
		}
		e.expectEvents(id, s.GUID, ccgw.EvSetRestSuccess)
	}
	rest(3 * time.Second)
	e.beat(id, s.GUID)
	e.advance(3*time.Second - e.cfg.Tick)
	e.expectEvents(id, s.GUID)
	e.advance(2 * e.cfg.Tick)
	e.expectEvents(id, s.GUID, ccgw.EvRestTimeout)
	if got, _ := e.svc.Lookup(id); got.State != ccgw.StateRest {
		t.Fatalf("state %d after the reminder, want rest", got.State)
	}
	e.advance(3 * time.Second)
	e.expectEvents(id, s.GUID)

	rest(2 * time.Second) // a new rest, cancelled before its time
	if _, err := e.svc.Update(id, s.GUID, func(x *ccgw.Session, now time.Time) ([]session.Emit, error) {
		return agent.Apply(x, agent.Request{Op: agent.CancelRest}, now)
	}); err != nil {
		t.Fatal(err)
	}
	e.expectEvents(id, s.GUID, ccgw.EvCancelRestSuccess)
	e.advance(3 * time.Second)
	e.expectEvents(id, s.GUID)
}

// PushSignInReq is a push-mode sign-in of agent id.
func PushSignInReq(id ccgw.AgentID) session.SignIn {
	req := SignInReq(id)
	req.Session.Mode, req.Session.CallbackURI, req.Session.ServiceToken = ccgw.ModePush, "http://127.0.0.1:9/cb", "tok"
	return req
}

// testTimeoutPerMode: a poll-mode session expires after PollTimeout, a
// push-mode one after PushTimeout (MAXTIME, EVENT_PUSH_HANDSHAKE_MAXTIME).
func testTimeoutPerMode(t *testing.T, e *env) {
	const poll, push = 1041, 1042
	e.signIn(poll)
	if _, err := e.svc.SignIn(PushSignInReq(push)); err != nil {
		t.Fatal(err)
	}
	e.advance(e.cfg.PollTimeout - e.cfg.Tick)
	if !e.live(poll) || !e.live(push) {
		t.Fatalf("before the poll-mode timeout: live %v %v, want both", e.live(poll), e.live(push))
	}
	e.advance(2 * e.cfg.Tick)
	if e.live(poll) || !e.live(push) {
		t.Fatalf("just after the poll-mode timeout (%v): live %v %v, want only the push-mode one", e.cfg.PollTimeout, e.live(poll), e.live(push))
	}
	e.advance(e.cfg.PushTimeout - e.cfg.PollTimeout - 2*e.cfg.Tick)
	if !e.live(push) {
		t.Fatalf("push-mode session ended before its timeout %v", e.cfg.PushTimeout)
	}
	e.advance(2 * e.cfg.Tick)
	if e.live(push) {
		t.Fatalf("push-mode session live after its timeout %v", e.cfg.PushTimeout)
	}
	e.wantSignOuts(ccgw.CauseTimeout, 2, push, 1)
}

// testNoExpiry: with timeout detection off (TIMEOUT_FLAG=OFF) a silent session
// is never signed out.
func testNoExpiry(t *testing.T, e *env) {
	const id = 1043
	e.signIn(id)
	if _, err := e.svc.SignIn(PushSignInReq(id + 1)); err != nil {
		t.Fatal(err)
	}
	e.advance(5 * e.cfg.Timeout)
	if !e.live(id) || !e.live(id+1) || e.swept != 0 {
		t.Fatalf("after 5 timeouts of silence: live %v %v, %d swept; want both live", e.live(id), e.live(id+1), e.swept)
	}
}

// testForceLogoutByAgent: an agent that signs itself out with forceLogout gets
// no AgentOther_ShutdownService (the vendor's 2025 sign-out pages); a second
// sign-out with its GUID is 100-008.
func testForceLogoutByAgent(t *testing.T, e *env) {
	const id = 1044
	s := e.signIn(id)
	e.drain(id, s.GUID)
	if err := e.svc.SignOut(id, s.GUID, ccgw.CauseForceLogout); err != nil {
		t.Fatal(err)
	}
	e.expectLast(id, s.GUID, ccgw.RetNotSignedIn)
	err := e.svc.SignOut(id, s.GUID, ccgw.CauseForceLogout)
	wantCode(t, "second forced sign-out", err, ccgw.RetAlreadySignedOut)
	e.wantSignOuts(ccgw.CauseForceLogout, 1, id, 1)
}

// testPushFailed: PushFailed signs the named sign-in out once, with cause
// push_failed and AgentOther_ShutdownService queued for its callback; for an
// ended or older sign-in it does nothing.
func testPushFailed(t *testing.T, e *env) {
	const id = 1045
	src, ok := e.svc.(interface {
		PushFailed(ccgw.AgentID, uint64)
		PushTarget(ccgw.AgentID) (push.Target, bool)
	})
	if !ok {
		t.Fatal("the Service is not an push.Source")
	}
	s, err := e.svc.SignIn(PushSignInReq(id))
	if err != nil {
		t.Fatal(err)
	}
	src.PushFailed(id, s.Gen+1) // not this sign-in
	if !e.live(id) {
		t.Fatal("PushFailed of another sign-in ended this one")
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); src.PushFailed(id, s.Gen) }()
	}
	wg.Wait()
	if e.live(id) {
		t.Fatal("PushFailed left the session live")
	}
	e.wantSignOuts(ccgw.CausePushFailed, 1, id, 1)
	tg, ok := src.PushTarget(id)
	if !ok || !tg.Ended || tg.URL != "http://127.0.0.1:9/cb" {
		t.Fatalf("push target after the sign-out: %+v %v, want the ended session's", tg, ok)
	}
	evs := tg.Queue.Peek(10)
	if got := types(evs); !slices.Equal(got, []string{ccgw.EvShutdownService}) {
		t.Fatalf("left to push %q, want only the shutdown (undelivered events dropped)", got)
	}
	if d := e.svc.Stats().Drops[ccgw.DropPushFailed]; d != 2 {
		t.Fatalf("%d events dropped as push_failed, want the sign-in's 2", d)
	}
	_, err = e.svc.Heartbeat(id, s.GUID, "")
	wantCode(t, "heartbeat after the sign-out", err, ccgw.RetNotSignedIn)
}

// testAnyRequestIsActivity: every request that authenticates renews the
// session's timeout ("if an agent does not send a request to the server within
// the timeout interval"), not only heartbeats and polls; a refused one does not.
func testAnyRequestIsActivity(t *testing.T, e *env) {
	const id = 1046
	s := e.signIn(id)
	step := e.cfg.Timeout - 2*e.cfg.Tick
	e.advance(step)
	if _, err := e.svc.Session(id, s.GUID); err != nil { // a status query
		t.Fatal(err)
	}
	e.advance(step)
	if _, err := e.svc.Update(id, s.GUID, func(x *ccgw.Session, _ time.Time) ([]session.Emit, error) {
		x.AutoAnswer = !x.AutoAnswer // a setting change
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	e.advance(step)
	_, err := e.svc.Session(id, "wrong-guid")
	wantCode(t, "status query with a wrong GUID", err, ccgw.RetNoPermission)
	if !e.live(id) {
		t.Fatalf("signed out %v after its last request (timeout %v)", step, e.cfg.Timeout)
	}
	e.advance(3 * e.cfg.Tick) // the refused request renewed nothing
	if e.live(id) {
		t.Fatal("live a timeout after its last accepted request")
	}
}
