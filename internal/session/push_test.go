package session

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/push"
	"github.com/ccgw/ccgw/internal/push/pushtest"
	"github.com/ccgw/ccgw/internal/store/bolt"
	"github.com/ccgw/ccgw/internal/store/mem"
)

// Push delivery end to end inside the process: a real node (Service on a
// mem.Shared kept in a bbolt file in a temp dir, as --store bolt runs) wired
// to a real push.Pusher as cmd/ccgw wires them (Config.Notify →
// Pusher.Notify, Service as the Pusher's Source), pushing to a real HTTP
// receiver on loopback. Node and Pusher share a clock.Virtual: push retries
// fire only when a test advances it. The only real-time waits are
// psWaitFor's polls for an HTTP exchange, bounded by a deadline.

var psStart = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// psDirectory knows every valid work number; any non-empty password works.
type psDirectory struct{}

func (psDirectory) Agent(id ccgw.AgentID) (ccgw.Agent, bool) {
	if id < ccgw.MinAgentID || id > ccgw.MaxAgentID {
		return ccgw.Agent{}, false
	}
	return ccgw.Agent{ID: id, Skills: []ccgw.Skill{{ID: 1}}}, true
}

func (d psDirectory) CheckPassword(id ccgw.AgentID, pw string) bool {
	_, ok := d.Agent(id)
	return ok && pw != ""
}

func (psDirectory) SetPassword(ccgw.AgentID, string) error { return nil }

// psEnv is a node, a Pusher and a receiver, closed at cleanup in the order
// main closes them: receiver's held answers, Pusher, HTTP server, store.
type psEnv struct {
	m   *Service
	db  *mem.Shared
	p   *push.Pusher
	fc  *clock.Virtual
	st  *bolt.Store
	rcv *pushtest.Receiver
}

// psNew wires them; answer is the receiver's (nil: accept every push).
func psNew(tb testing.TB, cfg Config, pcfg push.Config, answer func(n int, p pushtest.Push) pushtest.Answer) *psEnv {
	tb.Helper()
	env := &psEnv{fc: clock.NewVirtual(psStart)}
	st, err := bolt.Open(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	env.st = st
	tb.Cleanup(func() { st.Close() })

	env.rcv = pushtest.New(tb, answer, nil)

	var pusher *push.Pusher // set before any session can notify it, as in main
	cfg.Clock, cfg.Directory = env.fc, psDirectory{}
	cfg.Notify = func(id ccgw.AgentID) { pusher.Notify(id) }
	cfg.Defaults()
	db, _, err := mem.OpenShared(mem.Durable{Log: st, Deadline: func(s *ccgw.Session) int64 {
		return cfg.Deadline(env.fc.Now(), s.Mode)
	}})
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Store, cfg.Local = db, true
	m, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	env.m, env.db = m, db
	pcfg.Source, pcfg.Clock, pcfg.Seed = m, env.fc, 7
	if pcfg.Policy == nil {
		pcfg.Policy = &push.CallbackPolicy{AllowPrivate: true} // receivers on loopback
	}
	pusher = push.New(pcfg)
	env.p = pusher
	pusher.Start()
	tb.Cleanup(pusher.Close)
	tb.Cleanup(env.rcv.ReleaseAll) // before pusher.Close: a held push must not hold Close
	return env
}

// signIn signs agent id in, in push mode to url with token.
func (env *psEnv) signIn(tb testing.TB, id ccgw.AgentID, url, token string) ccgw.Session {
	tb.Helper()
	s, err := env.m.SignIn(context.Background(), psReq(id, url, token, false))
	if err != nil {
		tb.Fatalf("sign in %d: %v", id, err)
	}
	return s
}

func psReq(id ccgw.AgentID, url, token string, force bool) ccgw.SignIn {
	s := ccgw.Session{Agent: id, Phone: "70001"}
	if url != "" {
		s.Mode, s.CallbackURI, s.ServiceToken = ccgw.ModePush, url, token
	}
	op := "login"
	if force {
		op = "forceLogin"
	}
	return ccgw.SignIn{Op: op, Force: force, Password: "pw", Status: ccgw.StateIdle, Session: s}
}

// emit queues events of the given types for agent id through Update.
func (env *psEnv) emit(tb testing.TB, id ccgw.AgentID, guid string, types ...string) {
	tb.Helper()
	if err := env.tryEmit(id, guid, types...); err != nil {
		tb.Fatalf("update %d: %v", id, err)
	}
}

func (env *psEnv) tryEmit(id ccgw.AgentID, guid string, types ...string) error {
	_, err := env.m.Update(context.Background(), id, guid, func(*ccgw.Session, time.Time) ([]ccgw.Emit, error) {
		var out []ccgw.Emit
		for _, t := range types {
			out = append(out, ccgw.Emit{Type: t})
		}
		return out, nil
	})
	return err
}

// retry waits for the retry timer after failed attempt number attempt, and
// advances the clock to the longest delay Backoff allows for it: the retry
// fires; the next one's timer, set at least half a step later, cannot.
func (env *psEnv) retry(tb testing.TB, attempt int, base, max time.Duration) {
	tb.Helper()
	pushtest.WaitFor(tb, fmt.Sprintf("the retry timer after attempt %d", attempt), func() bool { return env.fc.Pending() == 1 })
	env.fc.Advance(push.Backoff(attempt, base, max, math.Nextafter(1, 0)))
}

// psWithin runs fn and fails tb if it has not returned within a generous bound.
func psWithin(tb testing.TB, what string, fn func()) {
	tb.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(time.Minute): // a guard: it takes milliseconds
		tb.Fatalf("%s blocked", what)
	}
}

// psCheckOrder checks one agent's pushes: accepted events are Seq 1..n once in
// order; all events, duplicates removed, strictly increasing; an event pushed
// again only after a failed push carried it.
func psCheckOrder(tb testing.TB, pushes []pushtest.Push, n uint64) {
	tb.Helper()
	var accepted, dedup []uint64
	seen, retry := map[uint64]bool{}, map[uint64]bool{}
	for i, p := range pushes {
		for _, x := range p.Seqs() {
			if seen[x] && !retry[x] {
				tb.Errorf("push %d repeats Seq %d though no failed push carried it", i+1, x)
			}
			if !seen[x] {
				seen[x] = true
				dedup = append(dedup, x)
			}
			retry[x] = !p.OK
		}
		if p.OK {
			accepted = append(accepted, p.Seqs()...)
		}
	}
	var want []uint64
	for s := uint64(1); s <= n; s++ {
		want = append(want, s)
	}
	if !slices.Equal(accepted, want) {
		tb.Errorf("accepted Seq %v, want %v", accepted, want)
	}
	if !slices.Equal(dedup, want) {
		tb.Errorf("Seq without duplicates %v, want %v", dedup, want)
	}
}

// psUndelivered returns what the event store still holds for agent id's sign-in
// gen, and its acknowledged Seq.
func (env *psEnv) psUndelivered(tb testing.TB, id ccgw.AgentID, gen uint64) (acked uint64, evs []ccgw.Event) {
	tb.Helper()
	env.db.Flush()
	err := env.st.LoadEvents(func(i ccgw.AgentID, g, a uint64, e []ccgw.Event) error {
		if i == id && g == gen {
			acked, evs = a, e
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return acked, evs
}

// TestPushSessionRetriesInOrder: a receiver failing its first deliveries (HTTP
// 500, then 200 with retcode 100-007) gets every event of the session once
// accepted, in order, retried on the fake clock; the event store is acknowledged.
func TestPushSessionRetriesInOrder(t *testing.T) {
	script := []pushtest.Answer{pushtest.Fail500, pushtest.Fail500, pushtest.FailRet, pushtest.FailRet}
	env := psNew(t, Config{}, push.Config{Retry: push.RetryExponential, MaxAttempts: 10, BaseBackoff: time.Second, MaxBackoff: 8 * time.Second},
		func(n int, _ pushtest.Push) pushtest.Answer {
			if n <= len(script) {
				return script[n-1]
			}
			return pushtest.OK
		})
	s := env.signIn(t, 1001, env.rcv.URL(), "tok") // Seq 1, 2
	for i := 1; i <= len(script); i++ {
		pushtest.WaitFor(t, fmt.Sprintf("failure %d and its retry timer", i), func() bool {
			return env.rcv.AnsweredOf("1001", i) && env.fc.Pending() == 1
		})
		if i == 2 {
			env.emit(t, 1001, s.GUID, ccgw.EvSetNotReadySuccess, ccgw.EvBusy) // Seq 3, 4
		}
		env.retry(t, i, time.Second, 8*time.Second)
	}
	pushtest.WaitFor(t, "the accepted push", func() bool { return len(env.rcv.Accepted("1001")) == 4 })
	env.emit(t, 1001, s.GUID, ccgw.EvCancelNotReadySuccess) // Seq 5
	pushtest.WaitFor(t, "the later push", func() bool { return env.p.Stats().Delivered == 5 })

	pushes := env.rcv.Of("1001")
	psCheckOrder(t, pushes, 5)
	var types []string
	for _, ev := range env.rcv.Accepted("1001") {
		types = append(types, ev.Type)
	}
	want := []string{ccgw.EvInService, ccgw.EvReady, ccgw.EvSetNotReadySuccess, ccgw.EvBusy, ccgw.EvCancelNotReadySuccess}
	if !slices.Equal(types, want) {
		t.Errorf("accepted events %v, want %v", types, want)
	}
	if st := env.p.Stats(); st.Failures != uint64(len(script)) || st.Delivered != 5 {
		t.Errorf("pusher Stats %+v, want %d failures, 5 delivered", st, len(script))
	}
	if d := env.m.Stats(context.Background()).Drops; len(d) != 0 {
		t.Errorf("drops %v", d)
	}
	if acked, evs := env.psUndelivered(t, 1001, s.Gen); acked != 5 || len(evs) != 0 {
		t.Errorf("event store: acked %d, %d undelivered; want 5, 0", acked, len(evs))
	}
}

// TestPushSessionReceiverDown: while the callback refuses connections, the
// session's events are dropped as push_failed after MaxAttempts, counted exactly
// in Stats; when the receiver is back, later events are delivered.
func TestPushSessionReceiverDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	const attempts = 3
	env := psNew(t, Config{}, push.Config{Retry: push.RetryExponential, MaxAttempts: attempts, BaseBackoff: time.Second, MaxBackoff: 2 * time.Second}, nil)
	url := "http://" + addr + pushtest.Path
	s := env.signIn(t, 1001, url, "tok") // Seq 1, 2
	env.emit(t, 1001, s.GUID, ccgw.EvBusy)
	for i := 1; i < attempts; i++ {
		env.retry(t, i, time.Second, 2*time.Second)
	}
	pushtest.WaitFor(t, "the drop", func() bool { return env.m.Stats(context.Background()).Drops[ccgw.DropPushFailed] >= 3 })
	if d := env.m.Stats(context.Background()).Drops; d[ccgw.DropPushFailed] != 3 || len(d) != 1 {
		t.Fatalf("drops %v, want push_failed 3 only", d)
	}
	if f := env.p.Stats().Failures; f != attempts {
		t.Fatalf("%d failed attempts, want %d", f, attempts)
	}
	if acked, evs := env.psUndelivered(t, 1001, s.Gen); acked != 3 || len(evs) != 0 {
		t.Fatalf("event store after the drop: acked %d, %d kept; want 3, 0", acked, len(evs))
	}

	// The receiver is back on the same address.
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("relisten on %s: %v", addr, err)
	}
	back := pushtest.New(t, nil, ln)
	env.emit(t, 1001, s.GUID, ccgw.EvSetNotReadySuccess, ccgw.EvCancelNotReadySuccess) // Seq 4, 5
	pushtest.WaitFor(t, "the push after recovery", func() bool { return len(back.Accepted("1001")) == 2 })
	got := back.Of("1001")
	if len(got) != 1 || !slices.Equal(got[0].Seqs(), []uint64{4, 5}) {
		t.Fatalf("after recovery: %d pushes, want one of Seq 4, 5", len(got))
	}
	if d := env.m.Stats(context.Background()).Drops; d[ccgw.DropPushFailed] != 3 || len(d) != 1 {
		t.Fatalf("drops after recovery %v, want still push_failed 3", d)
	}
}

// TestPushSessionSlowReceiver: while agent A's receiver holds its push, agent B's
// pushes arrive, and the node serves heartbeats, polls, updates and sign-ins.
func TestPushSessionSlowReceiver(t *testing.T) {
	env := psNew(t, Config{}, push.Config{Workers: 2}, nil)
	env.rcv.Hold("1001")
	a := env.signIn(t, 1001, env.rcv.URL(), "ta")
	pushtest.WaitFor(t, "A's push to arrive", func() bool { return len(env.rcv.Of("1001")) == 1 })

	b := env.signIn(t, 1002, env.rcv.URL(), "tb")
	pushtest.WaitFor(t, "B's first push", func() bool { return len(env.rcv.Accepted("1002")) == 2 })
	env.emit(t, 1002, b.GUID, ccgw.EvBusy)
	pushtest.WaitFor(t, "B's second push", func() bool { return len(env.rcv.Accepted("1002")) == 3 })

	c := env.signIn(t, 1003, "", "") // a polling agent
	psWithin(t, "node calls", func() {
		for _, id := range []ccgw.AgentID{1001, 1002} {
			g := map[ccgw.AgentID]string{1001: a.GUID, 1002: b.GUID}[id]
			if _, err := env.m.Heartbeat(context.Background(), id, g, ""); err != nil {
				t.Errorf("heartbeat %d: %v", id, err)
			}
		}
		ev, _, err := env.m.Poll(context.Background(), 1003, c.GUID, 0)
		if err != nil || ev == nil || ev.Type != ccgw.EvInService {
			t.Errorf("poll of 1003: %v, %v", ev, err)
		}
		if err := env.tryEmit(1001, a.GUID, ccgw.EvBusy); err != nil { // queued for the held agent: returns
			t.Errorf("update 1001: %v", err)
		}
		if _, err := env.m.SignIn(context.Background(), psReq(1004, "", "", false)); err != nil {
			t.Errorf("sign in 1004: %v", err)
		}
	})
	if got := env.rcv.Of("1001"); len(got) != 1 || got[0].Done {
		t.Fatalf("A: %d pushes, want the one held", len(got))
	}
	env.rcv.Release("1001")
	pushtest.WaitFor(t, "A's events", func() bool { return len(env.rcv.Accepted("1001")) == 3 })
	psCheckOrder(t, env.rcv.Of("1001"), 3)
	psCheckOrder(t, env.rcv.Of("1002"), 3)
	if n := env.rcv.Overlaps(); n != 0 {
		t.Fatalf("%d pushes overlapped one of the same agent", n)
	}
}

// TestPushSessionBatch: five events queued while a push is held go out together,
// in order, in the next push.
func TestPushSessionBatch(t *testing.T) {
	env := psNew(t, Config{}, push.Config{}, nil)
	env.rcv.Hold("1001")
	s := env.signIn(t, 1001, env.rcv.URL(), "tok")
	pushtest.WaitFor(t, "the sign-in push to arrive", func() bool { return len(env.rcv.Of("1001")) == 1 })
	five := []string{ccgw.EvSetNotReadySuccess, ccgw.EvBusy, ccgw.EvCancelNotReadySuccess, ccgw.EvReady, ccgw.EvWork}
	for _, typ := range five {
		env.emit(t, 1001, s.GUID, typ)
	}
	env.rcv.Release("1001")
	pushtest.WaitFor(t, "every event", func() bool { return len(env.rcv.Accepted("1001")) == 7 })
	got := env.rcv.Of("1001")
	if len(got) != 2 {
		t.Fatalf("%d pushes, want 2", len(got))
	}
	if !slices.Equal(got[0].Types(), []string{ccgw.EvInService, ccgw.EvReady}) {
		t.Errorf("first push %v", got[0].Types())
	}
	if !slices.Equal(got[1].Types(), five) || !slices.Equal(got[1].Seqs(), []uint64{3, 4, 5, 6, 7}) {
		t.Errorf("second push %v Seq %v, want %v Seq 3..7", got[1].Types(), got[1].Seqs(), five)
	}
}

// TestPushSessionHeaders: pushes carry Content-Type, the session's GUID (the new
// one after a dynamic rotation), its service token (the new one after a
// heartbeat brings one), and a signature the receiver verifies.
func TestPushSessionHeaders(t *testing.T) {
	secret := []byte("shared-secret")
	var mu sync.Mutex
	var badSig []string
	env := psNew(t, Config{SessionSettings: ccgw.SessionSettings{
		AuthMode: ccgw.AuthDynamic, GUIDInterval: time.Minute, Timeout: 10 * time.Minute}},
		push.Config{Secret: secret}, func(_ int, p pushtest.Push) pushtest.Answer {
			sig := p.Header.Get(ccgw.SignatureHeader)
			ts, v1, _ := strings.Cut(sig, ",")
			mac := hmac.New(sha256.New, secret)
			io.WriteString(mac, strings.TrimPrefix(ts, "t=")+".")
			mac.Write(p.Raw)
			if !hmac.Equal([]byte(strings.TrimPrefix(v1, "v1=")), []byte(hex.EncodeToString(mac.Sum(nil)))) {
				mu.Lock()
				badSig = append(badSig, sig)
				mu.Unlock()
				return pushtest.Answer{Status: 401, Body: `{"retcode":"000-003"}`}
			}
			return pushtest.OK
		})
	s := env.signIn(t, 1001, env.rcv.URL(), "token-1")
	pushtest.WaitFor(t, "the sign-in push", func() bool { return len(env.rcv.Accepted("1001")) == 2 })

	if _, err := env.m.Heartbeat(context.Background(), 1001, s.GUID, "token-2"); err != nil {
		t.Fatal(err)
	}
	env.emit(t, 1001, s.GUID, ccgw.EvBusy)
	pushtest.WaitFor(t, "the push after the new token", func() bool { return len(env.rcv.Accepted("1001")) == 3 })

	env.fc.Advance(time.Minute + env.m.cfg.Tick) // the GUID is due for rotation
	env.m.Sweep(env.fc.Now())                    // which the sweep notes
	g2, err := env.m.Heartbeat(context.Background(), 1001, s.GUID, "")
	if err != nil || g2 == "" || g2 == s.GUID {
		t.Fatalf("heartbeat after the interval: GUID %q, %v; want a new one", g2, err)
	}
	env.emit(t, 1001, g2, ccgw.EvReady)
	pushtest.WaitFor(t, "the push after rotation", func() bool { return len(env.rcv.Accepted("1001")) == 4 })

	got := env.rcv.Of("1001")
	wants := []struct{ guid, token string }{{s.GUID, "token-1"}, {s.GUID, "token-2"}, {g2, "token-2"}}
	if len(got) != len(wants) {
		t.Fatalf("%d pushes, want %d", len(got), len(wants))
	}
	for i, w := range wants {
		h := got[i].Header
		if ct := h.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
			t.Errorf("push %d: Content-Type %q", i+1, ct)
		}
		if h.Get("Guid") != w.guid || h.Get("service_token") != w.token {
			t.Errorf("push %d: Guid %q service_token %q, want %q %q", i+1, h.Get("Guid"), h.Get("service_token"), w.guid, w.token)
		}
		if got[i].Path != pushtest.Path || got[i].WorkNo != "1001" {
			t.Errorf("push %d: path %q workNo %q", i+1, got[i].Path, got[i].WorkNo)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(badSig) != 0 {
		t.Fatalf("signatures that do not verify: %q", badSig)
	}
}

// psWantShutdown checks that ev is AgentOther_ShutdownService for a session that
// signed in at loginTime.
func psWantShutdown(tb testing.TB, ev ccgw.Event, loginTime int64) {
	tb.Helper()
	want := `{"loginTime":"` + strconv.FormatInt(loginTime, 10) + `"}`
	if ev.Type != ccgw.EvShutdownService || string(ev.Content) != want || ev.WorkNo != "1001" {
		tb.Fatalf("event %s %s (workNo %s), want %s %s", ev.Type, ev.Content, ev.WorkNo, ccgw.EvShutdownService, want)
	}
}

// TestPushSessionForcedSignOut: a supervisor's forced sign-out pushes the events
// still queued and then AgentOther_ShutdownService with {"loginTime":"..."},
// with the ended session's GUID and token.
func TestPushSessionForcedSignOut(t *testing.T) {
	env := psNew(t, Config{}, push.Config{}, nil)
	env.rcv.Hold("1001")
	s := env.signIn(t, 1001, env.rcv.URL(), "tok")
	pushtest.WaitFor(t, "the sign-in push to arrive", func() bool { return len(env.rcv.Of("1001")) == 1 })
	env.emit(t, 1001, s.GUID, ccgw.EvBusy)
	if err := env.m.Kick(context.Background(), 1001, ccgw.CauseSupervisor); err != nil {
		t.Fatal(err)
	}
	env.rcv.Release("1001")
	pushtest.WaitFor(t, "the shutdown push", func() bool { return len(env.rcv.Accepted("1001")) == 4 })
	got := env.rcv.Of("1001")
	if len(got) != 2 || !slices.Equal(got[1].Types(), []string{ccgw.EvBusy, ccgw.EvShutdownService}) {
		t.Fatalf("%d pushes, last %v; want 2, the last [Busy Shutdown]", len(got), got[len(got)-1].Types())
	}
	psCheckOrder(t, got, 4)
	psWantShutdown(t, got[1].Events[1], s.LoginTime)
	if h := got[1].Header; h.Get("Guid") != s.GUID || h.Get("service_token") != "tok" {
		t.Fatalf("shutdown push: Guid %q service_token %q", h.Get("Guid"), h.Get("service_token"))
	}
	if d := env.m.Stats(context.Background()).Drops; len(d) != 0 {
		t.Fatalf("drops %v", d)
	}
}

// TestPushSessionTimeoutPushesShutdown: a push-mode session that stops
// heartbeating is signed out by the sweep, and its callback told so.
func TestPushSessionTimeoutPushesShutdown(t *testing.T) {
	env := psNew(t, Config{SessionSettings: ccgw.SessionSettings{Timeout: 2 * time.Minute}}, push.Config{}, nil)
	s := env.signIn(t, 1001, env.rcv.URL(), "tok")
	pushtest.WaitFor(t, "the sign-in push", func() bool { return len(env.rcv.Accepted("1001")) == 2 })
	env.fc.Advance(2*time.Minute + time.Second)
	if n := env.m.Sweep(env.fc.Now()); n != 1 {
		t.Fatalf("Sweep signed out %d, want 1", n)
	}
	pushtest.WaitFor(t, "the shutdown push", func() bool { return len(env.rcv.Accepted("1001")) == 3 })
	psWantShutdown(t, env.rcv.Accepted("1001")[2], s.LoginTime)
}

// TestPushSessionLogoutPushesNothingMore: after a voluntary logout nothing more
// is pushed for the session, not even what was still queued (counted as
// session_ended).
func TestPushSessionLogoutPushesNothingMore(t *testing.T) {
	env := psNew(t, Config{}, push.Config{Workers: 1}, nil)
	s := env.signIn(t, 1001, env.rcv.URL(), "tok")
	pushtest.WaitFor(t, "the sign-in push", func() bool { return len(env.rcv.Accepted("1001")) == 2 })

	// Occupy the only worker, queue an event for 1001, and log 1001 out.
	env.rcv.Hold("1009")
	c := env.signIn(t, 1009, env.rcv.URL(), "t9")
	pushtest.WaitFor(t, "the held push to arrive", func() bool { return len(env.rcv.Of("1009")) == 1 })
	env.emit(t, 1001, s.GUID, ccgw.EvBusy)
	if err := env.m.SignOut(context.Background(), 1001, s.GUID, ccgw.CauseLogout); err != nil {
		t.Fatal(err)
	}
	env.rcv.Release("1009")
	// Barrier: with one worker, 1009's second push arriving means the worker
	// has handled 1001, notified before it.
	pushtest.WaitFor(t, "1009's first push", func() bool { return len(env.rcv.Accepted("1009")) == 2 })
	env.emit(t, 1009, c.GUID, ccgw.EvBusy)
	pushtest.WaitFor(t, "1009's second push", func() bool { return len(env.rcv.Accepted("1009")) == 3 })

	if got := env.rcv.Of("1001"); len(got) != 1 {
		t.Fatalf("%d pushes for 1001, want only the sign-in's", len(got))
	}
	if d := env.m.Stats(context.Background()).Drops; d[ccgw.DropSessionEnded] != 1 || len(d) != 1 {
		t.Fatalf("drops %v, want session_ended 1", d)
	}
}

// TestPushSessionReplacedGetsShutdown: a forced sign-in that replaces a
// push-mode session tells the old callback AgentOther_ShutdownService (with the
// old GUID) before the new session's events go to the new callback.
func TestPushSessionReplacedGetsShutdown(t *testing.T) {
	env := psNew(t, Config{}, push.Config{Workers: 1}, nil)
	old := env.signIn(t, 1001, env.rcv.URL()+"?old", "tok-old")
	pushtest.WaitFor(t, "the first session's push", func() bool { return len(env.rcv.Accepted("1001")) == 2 })

	// Keep the only worker busy so that the replacement completes before the
	// Pusher looks at agent 1001 again.
	env.rcv.Hold("1009")
	env.signIn(t, 1009, env.rcv.URL(), "t9")
	pushtest.WaitFor(t, "the held push to arrive", func() bool { return len(env.rcv.Of("1009")) == 1 })
	nw, err := env.m.SignIn(context.Background(), psReq(1001, env.rcv.URL()+"?new", "tok-new", true))
	if err != nil {
		t.Fatal(err)
	}
	env.rcv.Release("1009")
	pushtest.WaitFor(t, "the new session's events", func() bool {
		n := 0
		for _, p := range env.rcv.Of("1001") {
			if p.OK && p.Header.Get("Guid") == nw.GUID {
				n += len(p.Events)
			}
		}
		return n == 2
	})

	got := env.rcv.Of("1001")
	var sawShutdown bool
	for _, p := range got[1:] {
		guid := p.Header.Get("Guid")
		for _, ev := range p.Events {
			switch {
			case ev.Type == ccgw.EvShutdownService:
				if guid != old.GUID || p.Header.Get("service_token") != "tok-old" {
					t.Errorf("shutdown pushed with Guid %q token %q, want the old session's", guid, p.Header.Get("service_token"))
				}
				psWantShutdown(t, ev, old.LoginTime)
				sawShutdown = true
			case guid != nw.GUID:
				t.Errorf("new session's %s pushed with Guid %q", ev.Type, guid)
			case !sawShutdown:
				t.Errorf("new session's %s pushed before the old session's shutdown", ev.Type)
			}
		}
	}
	if !sawShutdown {
		t.Fatal("the replaced session's AgentOther_ShutdownService was never pushed")
	}
}

// TestPushSessionCloseWithRetryPending: Close returns while a retry waits on the
// clock, and the node goes on working (Notify after Close is a no-op).
func TestPushSessionCloseWithRetryPending(t *testing.T) {
	env := psNew(t, Config{}, push.Config{}, func(int, pushtest.Push) pushtest.Answer { return pushtest.Fail500 })
	s := env.signIn(t, 1001, env.rcv.URL(), "tok")
	pushtest.WaitFor(t, "the retry timer", func() bool { return env.fc.Pending() == 1 })
	psWithin(t, "Close", env.p.Close)
	if n := env.fc.Pending(); n != 0 {
		t.Fatalf("%d timers left after Close", n)
	}
	psWithin(t, "the node after Close", func() {
		if err := env.tryEmit(1001, s.GUID, ccgw.EvBusy); err != nil {
			t.Errorf("update: %v", err)
		}
		if err := env.m.SignOut(context.Background(), 1001, s.GUID, ccgw.CauseForceLogout); err != nil {
			t.Errorf("sign out: %v", err)
		}
	})
	env.fc.Advance(time.Hour)
	if n := len(env.rcv.Of("1001")); n != 1 {
		t.Fatalf("%d pushes, want the one before Close", n)
	}
}

// TestPushSessionFailingTooLongSignsOut: the vendor's push-failure rule end to
// end on one node. A receiver that keeps failing gets the same events every
// RetryInterval; when the failures add up to FailTotal the agent is signed out
// once (cause push_failed, its session gone from the store), and its
// AgentOther_ShutdownService is attempted once, after which nothing more is
// sent and what was never taken is counted as push_failed.
func TestPushSessionFailingTooLongSignsOut(t *testing.T) {
	const interval, total = 10 * time.Second, 30 * time.Second
	env := psNew(t, Config{SessionSettings: ccgw.SessionSettings{
		Timeout: 10 * time.Minute}},
		push.Config{RetryInterval: interval, FailTotal: total}, func(int, pushtest.Push) pushtest.Answer { return pushtest.Fail500 })
	s := env.signIn(t, 1001, env.rcv.URL(), "tok")
	pushtest.WaitFor(t, "the first attempt", func() bool { return env.rcv.AnsweredOf("1001", 1) })
	for n := 1; n <= int(total/interval); n++ {
		if _, ok := env.m.Lookup(context.Background(), 1001); !ok {
			t.Fatalf("signed out after %v of failing, want at %v", time.Duration(n-1)*interval, total)
		}
		pushtest.WaitFor(t, "the retry timer", func() bool { return env.fc.Pending() == 1 })
		env.fc.Advance(interval)
		pushtest.WaitFor(t, "the retry", func() bool { return env.rcv.AnsweredOf("1001", n+1) })
	}
	// The last retry failed at FailTotal: signed out, and the shutdown attempted.
	pushtest.WaitFor(t, "the shutdown attempt", func() bool { return env.rcv.AnsweredOf("1001", int(total/interval)+2) })
	if _, ok := env.m.Lookup(context.Background(), 1001); ok {
		t.Fatal("still signed in after the failures reached FailTotal")
	}
	got := env.rcv.Of("1001")
	last := got[len(got)-1]
	if !slices.Equal(last.Types(), []string{ccgw.EvShutdownService}) {
		t.Fatalf("last push %v, want only AgentOther_ShutdownService", last.Types())
	}
	psWantShutdown(t, last.Events[0], s.LoginTime)
	for _, p := range got[:len(got)-1] {
		if !slices.Equal(p.Types(), []string{ccgw.EvInService, ccgw.EvReady}) {
			t.Fatalf("attempt carried %v, want the same sign-in events every time", p.Types())
		}
	}
	env.fc.Advance(time.Minute)
	if n := len(env.rcv.Of("1001")); n != len(got) {
		t.Fatalf("%d pushes after the shutdown's one attempt, want none", n-len(got))
	}
	st := env.m.Stats(context.Background())
	if st.SignOuts[ccgw.CausePushFailed] != 1 || st.Live != 0 {
		t.Fatalf("stats %+v, want one push_failed sign-out", st)
	}
	pushtest.WaitFor(t, "the drops counted", func() bool { return env.m.Stats(context.Background()).Drops[ccgw.DropPushFailed] == 3 })
	n := 0
	env.st.LoadSessions(func(*ccgw.Session) error { n++; return nil })
	if n != 0 {
		t.Fatalf("%d sessions stored after the sign-out", n)
	}
}
