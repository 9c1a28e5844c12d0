// Package sessiontest is the behaviour suite of ccgw.SessionService: the
// session service runs it on every store (in memory, kept in a bbolt file, on
// a real Redis).
// The suite drives time with a fake clock and sweeps after every tick it
// advances, as a node's Run loop does, so that both are tested without sleeps.
package sessiontest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
)

// Config is what the suite asks of a Service it opens. Every field is set.
type Config struct {
	Clock   *clock.Virtual // the Service's Clock and WaitClock
	Timeout time.Duration  // heartbeat timeout
	// PollTimeout and PushTimeout are the timeouts of sessions in each mode
	// (0: Timeout); NoExpiry turns expiry off.
	PollTimeout, PushTimeout time.Duration
	NoExpiry                 bool
	Tick                     time.Duration  // sweep period; the suite sweeps once per Tick it advances
	Directory                ccgw.Directory // the suite's agents: see Directory
	Log                      *slog.Logger   // the suite counts the "signed out" lines logged on it
	AuthMode                 ccgw.AuthMode  // static unless a test asks for dynamic GUIDs
	GUIDInterval             time.Duration
	GUIDTimeout              time.Duration
	NodeName                 string
	RestTimeoutIdle          bool // an agent whose rest ran out is made idle
	QueueSize                int  // events kept per agent; 0: the Service's default
	// OnChange and Tap are session.Config's hooks (hooks.go): the suite records
	// what they are told.
	OnChange func(ccgw.Session)
	Tap      func(ccgw.Event)
	// OnSignOut is told of each sign-out this node made (hooks.go).
	OnSignOut func(ccgw.AgentID, ccgw.SignOutCause)
	// DropEvent is session.Config's drop-events fault hook (faults.go).
	DropEvent func(ccgw.AgentID, ccgw.Event) bool

	drop *dropFault
}

// Settings returns c as the settings a Service is opened with (the clock
// both its Clock and its WaitClock).
func (c Config) Settings() ccgw.SessionSettings {
	return ccgw.SessionSettings{
		Timeout: c.Timeout, PollTimeout: c.PollTimeout, PushTimeout: c.PushTimeout, NoExpiry: c.NoExpiry,
		Clock: c.Clock, WaitClock: c.Clock, Tick: c.Tick, Directory: c.Directory, Log: c.Log,
		AuthMode: c.AuthMode, GUIDInterval: c.GUIDInterval, GUIDTimeout: c.GUIDTimeout, NodeName: c.NodeName,
		RestTimeoutIdle: c.RestTimeoutIdle, QueueSize: c.QueueSize,
		OnChange: c.OnChange, Tap: c.Tap, OnSignOut: c.OnSignOut, DropEvent: c.DropEvent,
	}
}

// Node is one opened Service and its sweep.
type Node struct {
	Service ccgw.SessionService
	// Sweep signs out the sessions whose deadline passed by now and returns how
	// many this call signed out (session.Service.Sweep).
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
		Clock: clock.NewVirtual(Start), Timeout: Timeout, Tick: Tick, Directory: Directory{}, Log: logs.Logger(),
		AuthMode: ccgw.AuthStatic, GUIDInterval: time.Minute, GUIDTimeout: 2 * time.Minute,
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
		{"ChaosEachSignInEndsOnce", testChaos, nil},
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
			c.AuthMode, c.GUIDInterval, c.GUIDTimeout = ccgw.AuthDynamic, 2*time.Second, 4*time.Second
		}},
		{"DynamicGUIDRotationByPoll", testDynamicByPoll, func(c *Config) {
			c.AuthMode, c.GUIDInterval, c.GUIDTimeout = ccgw.AuthDynamic, 2*time.Second, 4*time.Second
		}},
		{"SupersededGUIDLastsGUIDTimeout", testSupersededGUID, func(c *Config) {
			c.AuthMode, c.GUIDInterval, c.GUIDTimeout = ccgw.AuthDynamic, 2*time.Second, 5*time.Second
		}},
		{"Stats", testStats, nil},
		{"RestTimeout", testRestTimeout, nil},
		{"TimeoutPerMode", testTimeoutPerMode, func(c *Config) { c.PollTimeout, c.PushTimeout = 4*time.Second, 8*time.Second }},
		{"NoExpiry", testNoExpiry, func(c *Config) { c.NoExpiry = true }},
		{"ForceLogoutByAgentNoShutdown", testForceLogoutByAgent, nil},
		{"PushFailedSignsOutOnce", testPushFailed, nil},
		{"AnyRequestIsActivity", testAnyRequestIsActivity, nil},
		{"WrongPollRenews", testWrongPollRenews, nil},
		{"ShutdownEveryWayOut", testShutdownEveryWayOut, nil},
		{"RestTimeoutIdle", testRestTimeoutIdle, func(c *Config) { c.RestTimeoutIdle = true }},
		{"OnChange", testOnChange, nil},
		{"OnSignOutOnceWithCause", testOnSignOut, nil},
		{"TapEveryEventInOrder", testTap, nil},
		{"SimulatedNeverExpires", testSimulated, nil},
		{"SimulatedReplacesClient", testSimulatedReplacesClient, nil},
		{"HeldPollSeesTheEnd", testHeldPollSeesTheEnd, nil},
		{"UndeliveredOnEnd", testUndeliveredOnEnd, nil},
		{"TombstoneExpiryCounted", testTombstoneExpiry, nil},
		{"QueueFullDropsOldest", testQueueFull, func(c *Config) { c.QueueSize = 4 }},
		{"AgentsList", testAgentsList, nil},
		{"DropEventsFault", testDropEvents, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := NewLogs()
			cfg := DefaultConfig(logs)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			hooks := &hookLog{}
			cfg.OnChange, cfg.Tap, cfg.OnSignOut = hooks.change, hooks.tap, hooks.signOut
			cfg.drop = &dropFault{agent: faultedAgent}
			cfg.DropEvent = cfg.drop.drop
			n := open(t, cfg)
			tc.fn(t, &env{t: t, cfg: cfg, fc: cfg.Clock, node: n, svc: n.Service, logs: logs, hooks: hooks})
		})
	}
}

// env is one test's Service on its fake clock.
type env struct {
	t     *testing.T
	cfg   Config
	fc    *clock.Virtual
	node  Node
	svc   ccgw.SessionService
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
func SignInReq(id ccgw.AgentID) ccgw.SignIn {
	return ccgw.SignIn{Op: "login", Password: Password, Status: ccgw.StateIdle,
		Session: ccgw.Session{Agent: id, Phone: "70001", MediaType: "TTF"}}
}

func (e *env) signIn(id ccgw.AgentID) ccgw.Session {
	e.t.Helper()
	s, err := e.svc.SignIn(context.Background(), SignInReq(id))
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
	_, err := e.svc.Heartbeat(context.Background(), id, guid, "")
	wantCode(e.t, fmt.Sprintf("heartbeat %d", id), err, ccgw.RetOK)
}

func (e *env) live(id ccgw.AgentID) bool {
	_, ok := e.svc.Lookup(context.Background(), id)
	return ok
}

// wantSignOuts checks the sign-outs by cause in Stats and the "signed out" log
// lines of agent id with that cause.
func (e *env) wantSignOuts(cause ccgw.SignOutCause, total uint64, id ccgw.AgentID, lines int) {
	e.t.Helper()
	if got := e.svc.Stats(context.Background()).SignOuts[cause]; got != total {
		e.t.Fatalf("Stats().SignOuts[%s] = %d, want %d", cause, got, total)
	}
	if got := e.logs.Count("signed out", "agent", id.String(), "cause", string(cause)); got != lines {
		e.t.Fatalf("%d \"signed out\" lines for agent %d cause %s, want %d", got, id, cause, lines)
	}
}
