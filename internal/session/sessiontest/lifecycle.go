package sessiontest

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
)

func testSignInRetcodes(t *testing.T, e *env) {
	const id = 1001
	bad := SignInReq(id)
	bad.Password = "wrong"
	_, err := e.svc.SignIn(context.Background(), bad)
	wantCode(t, "wrong password", err, ccgw.RetBadPassword)
	_, err = e.svc.SignIn(context.Background(), SignInReq(MaxAgent+1))
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
	_, err = e.svc.SignIn(context.Background(), SignInReq(id))
	wantCode(t, "second sign-in", err, ccgw.RetAlreadySignedIn)
	got, ok := e.svc.Lookup(context.Background(), id)
	if !ok || got.GUID != s.GUID {
		t.Fatalf("after a refused second sign-in: %+v %v, want GUID %s", got, ok, s.GUID)
	}
	evs := e.expectEvents(id, s.GUID, ccgw.EvInService, ccgw.EvReady)
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) || ev.WorkNo != "1001" || ev.GenTime != ccgw.Millis(Start) {
			t.Fatalf("event %d: %+v", i, ev)
		}
	}
	if st := e.svc.Stats(context.Background()); st.SignIns != 1 || st.Live != 1 {
		t.Fatalf("stats: %d sign-ins, %d live; want 1, 1", st.SignIns, st.Live)
	}
}

func testSignInBusy(t *testing.T, e *env) {
	req := SignInReq(1002)
	req.Status = ccgw.StateBusy
	s, err := e.svc.SignIn(context.Background(), req)
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
	cur, err := e.svc.SignIn(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if cur.GUID == old.GUID || cur.GUID == "" {
		t.Fatalf("forced sign-in kept GUID %q", cur.GUID)
	}
	// The replaced sign-in's client is signed out (100-006), whatever it calls;
	// a GUID never issued is a wrong one (000-003).
	_, err = e.svc.Heartbeat(context.Background(), id, old.GUID, "")
	wantCode(t, "heartbeat with the replaced GUID", err, ccgw.RetNotSignedIn)
	_, err = e.svc.Heartbeat(context.Background(), id, "never-issued", "")
	wantCode(t, "heartbeat with a GUID never issued", err, ccgw.RetNoPermission)
	_, err = e.svc.Session(context.Background(), id, old.GUID)
	wantCode(t, "status with the replaced GUID", err, ccgw.RetNotSignedIn)
	_, err = e.svc.Update(context.Background(), id, old.GUID, setState(ccgw.StateBusy, ccgw.EvSetNotReadySuccess))
	wantCode(t, "state change with the replaced GUID", err, ccgw.RetNotSignedIn)
	_, err = e.svc.UpdateGUID(context.Background(), id, old.GUID)
	wantCode(t, "updateGuid with the replaced GUID", err, ccgw.RetNotSignedIn)
	err = e.svc.SignOut(context.Background(), id, old.GUID, ccgw.CauseLogout)
	wantCode(t, "logout with the replaced GUID", err, ccgw.RetNotSignedIn)
	if x, ok := e.svc.Lookup(context.Background(), id); !ok || x.GUID != cur.GUID || x.State != ccgw.StateIdle {
		t.Fatalf("after the replaced GUID's calls: %+v, %v; want the new sign-in, untouched", x, ok)
	}
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
	if st := e.svc.Stats(context.Background()); st.Live != 1 || st.SignIns != 2 {
		t.Fatalf("stats: %d live, %d sign-ins; want 1, 2", st.Live, st.SignIns)
	}
}

func testHeartbeat(t *testing.T, e *env) {
	const id = 1004
	_, err := e.svc.Heartbeat(context.Background(), id, "nobody", "")
	wantCode(t, "heartbeat, not signed in", err, ccgw.RetNotSignedIn)
	s := e.signIn(id)
	_, err = e.svc.Heartbeat(context.Background(), id, "wrong-guid", "")
	wantCode(t, "heartbeat, wrong GUID", err, ccgw.RetNoPermission)
	_, err = e.svc.Heartbeat(context.Background(), id, "", "")
	wantCode(t, "heartbeat, no GUID", err, ccgw.RetNoPermission)
	g, err := e.svc.Heartbeat(context.Background(), id, s.GUID, "")
	if err != nil || g != "" {
		t.Fatalf("heartbeat: %q, %v; want \"\", nil", g, err)
	}
	if n := e.svc.Stats(context.Background()).Heartbeats; n != 1 {
		t.Fatalf("Stats().Heartbeats = %d, want 1 (failed heartbeats do not count)", n)
	}
}

func testHeartbeatToken(t *testing.T, e *env) {
	const id = 1005
	s := e.signIn(id)
	g, err := e.svc.Heartbeat(context.Background(), id, s.GUID, "tok-1")
	if err != nil || g != "" {
		t.Fatalf("heartbeat with a token: %q, %v", g, err)
	}
	got, err := e.svc.Session(context.Background(), id, s.GUID)
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
		_, err := e.svc.Update(context.Background(), id, s.GUID, func(x *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
			return []ccgw.Emit{{Type: typ}}, nil
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
	if st := e.svc.Stats(context.Background()); st.Polled != 5 {
		t.Fatalf("Stats().Polled = %d, want 5", st.Polled)
	}
}

func testPollPushMode(t *testing.T, e *env) {
	const id = 1007
	req := SignInReq(id)
	req.Session.Mode, req.Session.CallbackURI = ccgw.ModePush, "http://127.0.0.1:9/events"
	s, err := e.svc.SignIn(context.Background(), req)
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
	_, err := e.svc.Heartbeat(context.Background(), silent, a.GUID, "")
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
	if st := e.svc.Stats(context.Background()); st.Expiries != 2 || st.Live != 0 {
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
	if n := e.svc.Stats(context.Background()).SignOuts[ccgw.CauseTimeout]; n != 0 {
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
				err = e.svc.SignOut(context.Background(), id, guids[i], ccgw.CauseLogout)
			} else {
				err = e.svc.Kick(context.Background(), id, ccgw.CauseForceLogout)
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
	st := e.svc.Stats(context.Background())
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
	err := e.svc.SignOut(context.Background(), id, "nobody", ccgw.CauseLogout)
	wantCode(t, "logout, not signed in", err, ccgw.RetNotSignedIn)
	s := e.signIn(id)
	err = e.svc.SignOut(context.Background(), id, "wrong-guid", ccgw.CauseLogout)
	wantCode(t, "logout, wrong GUID", err, ccgw.RetNoPermission)
	if err := e.svc.SignOut(context.Background(), id, s.GUID, ccgw.CauseLogout); err != nil {
		t.Fatal(err)
	}
	// An agent that signed out itself is not told AgentOther_ShutdownService.
	ev, err := e.poll(id, s.GUID)
	if ev != nil {
		t.Fatalf("poll after logout: %+v", ev)
	}
	wantCode(t, "poll after logout", err, ccgw.RetNotSignedIn)
	_, err = e.svc.Heartbeat(context.Background(), id, s.GUID, "")
	wantCode(t, "heartbeat after logout", err, ccgw.RetNotSignedIn)
	err = e.svc.SignOut(context.Background(), id, s.GUID, ccgw.CauseLogout)
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
	if _, err := e.svc.Update(context.Background(), id, s.GUID, func(x *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
		x.State = ccgw.StateTalking
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	err := e.svc.SignOut(context.Background(), id, s.GUID, ccgw.CauseLogout)
	wantCode(t, "logout while talking", err, ccgw.RetLogoutStateError)
	if !e.live(id) {
		t.Fatal("a refused logout ended the session")
	}
	if err := e.svc.SignOut(context.Background(), id, s.GUID, ccgw.CauseForceLogout); err != nil {
		t.Fatalf("forced sign-out while talking: %v", err)
	}
	e.wantSignOuts(ccgw.CauseForceLogout, 1, id, 1)
}

func testKick(t *testing.T, e *env) {
	const id = 1022
	err := e.svc.Kick(context.Background(), id, ccgw.CauseSupervisor)
	wantCode(t, "kick, not signed in", err, ccgw.RetNotSignedIn)
	s := e.signIn(id)
	e.drain(id, s.GUID)
	if err := e.svc.Kick(context.Background(), id, ccgw.CauseSupervisor); err != nil {
		t.Fatal(err)
	}
	e.expectLast(id, s.GUID, ccgw.RetNotSignedIn, ccgw.EvShutdownService)
	err = e.svc.Kick(context.Background(), id, ccgw.CauseSupervisor)
	wantCode(t, "second kick", err, ccgw.RetNotSignedIn)
	e.wantSignOuts(ccgw.CauseSupervisor, 1, id, 1)
}

// testChaos: many concurrent changes of every kind on a few agents (sign-ins,
// forced sign-ins, state changes, logouts, kicks, push failures, polls,
// heartbeats) with the clock moving and sweeps between, then every agent
// kicked: every sign-in ends exactly once, counted and logged once, and
// nothing is left live.
func testChaos(t *testing.T, e *env) {
	ctx := context.Background()
	const agents, workers, rounds = 12, 8, 150
	first := ccgw.AgentID(1201)
	var guids sync.Map // agent → its latest GUID
	var clockMu sync.Mutex
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 11))
			for range rounds {
				id := first + ccgw.AgentID(r.IntN(agents))
				g, _ := guids.Load(id)
				guid, _ := g.(string)
				switch r.IntN(9) {
				case 0, 1:
					req := SignInReq(id)
					req.Force = r.IntN(2) == 0
					if s, err := e.svc.SignIn(ctx, req); err == nil {
						guids.Store(id, s.GUID)
					}
				case 2:
					e.svc.SignOut(ctx, id, guid, ccgw.CauseLogout)
				case 3:
					e.svc.Kick(ctx, id, ccgw.CauseSupervisor)
				case 4:
					if s, ok := e.svc.Lookup(ctx, id); ok {
						e.svc.(pushSource).PushFailed(id, s.Gen)
					}
				case 5:
					e.svc.Update(ctx, id, guid, setState([]ccgw.AgentState{ccgw.StateIdle, ccgw.StateBusy}[r.IntN(2)], ccgw.EvReady))
				case 6:
					e.svc.Poll(ctx, id, guid, 0)
				case 7:
					e.svc.Heartbeat(ctx, id, guid, "")
				case 8:
					clockMu.Lock() // advance sweeps a tick at a time
					e.advance(e.cfg.Timeout / 4)
					clockMu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for i := range agents {
		e.svc.Kick(ctx, first+ccgw.AgentID(i), ccgw.CauseSupervisor)
	}
	st := e.svc.Stats(ctx)
	var ended uint64
	for _, n := range st.SignOuts {
		ended += n
	}
	lines := e.logs.Count("signed out")
	if st.SignIns == 0 || ended != st.SignIns || uint64(lines) != st.SignIns {
		t.Fatalf("%d sign-ins; %d sign-outs counted %v, %d logged: want each sign-in ended once", st.SignIns, ended, st.SignOuts, lines)
	}
	if st.Live != 0 {
		t.Fatalf("%d live after every agent was kicked", st.Live)
	}
}
