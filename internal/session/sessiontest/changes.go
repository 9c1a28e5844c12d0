package sessiontest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/push"
)

// testUpdateConcurrent: 50 Updates of one session at once, each adding a skill,
// counting StateReason up and queueing an event; none is lost.
func testUpdateConcurrent(t *testing.T, e *env) {
	const id, n = 1030, 50
	s := e.signIn(id)
	e.drain(id, s.GUID)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := e.svc.Update(context.Background(), id, s.GUID, func(x *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
				x.Skills = append(x.Skills, 100+i)
				x.StateReason++
				return []ccgw.Emit{{Type: ccgw.EvWork, Content: json.RawMessage(strconv.Itoa(i))}}, nil
			})
			if err != nil {
				t.Errorf("update %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got, err := e.svc.Session(context.Background(), id, s.GUID)
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
		if l := e.svc.BySkill(context.Background(), 100+i); len(l) != 1 || l[0].Agent != id {
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
	_, err := e.svc.Update(context.Background(), id, s.GUID, func(x *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
		x.State = ccgw.StateBusy
		x.Skills = nil
		return []ccgw.Emit{{Type: ccgw.EvWork}}, refuse
	})
	if !errors.Is(err, refuse) {
		t.Fatalf("refused update returned %v, want fn's error", err)
	}
	got, _ := e.svc.Session(context.Background(), id, s.GUID)
	if got.State != ccgw.StateIdle || !slices.Equal(got.Skills, []int{1, 2}) {
		t.Fatalf("a refused update changed the session: %+v", got)
	}
	if len(e.svc.BySkill(context.Background(), 1)) != 1 {
		t.Fatal("a refused update changed the skill index")
	}
	e.expectEvents(id, s.GUID)
}

func testUpdateAuth(t *testing.T, e *env) {
	const id = 1032
	fn := func(x *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
		x.StateReason = 7
		if !now.Equal(e.fc.Now()) {
			return nil, fmt.Errorf("fn got now %v, the clock says %v", now, e.fc.Now())
		}
		return nil, nil
	}
	_, err := e.svc.UpdateAny(context.Background(), id, fn)
	wantCode(t, "update, not signed in", err, ccgw.RetNotSignedIn)
	s := e.signIn(id)
	_, err = e.svc.Update(context.Background(), id, "wrong-guid", fn)
	wantCode(t, "update, wrong GUID", err, ccgw.RetNoPermission)
	// A GUID of "*" (once the wildcard of the gateway's own changes) is a
	// wrong GUID like any other: a client sending it acts for nobody.
	for _, g := range []string{"*", ""} {
		_, err = e.svc.Update(context.Background(), id, g, fn)
		wantCode(t, fmt.Sprintf("update, GUID %q", g), err, ccgw.RetNoPermission)
	}
	if l, _ := e.svc.Lookup(context.Background(), id); l.StateReason == 7 {
		t.Fatal("an update with a wrong GUID applied")
	}
	got, err := e.svc.UpdateAny(context.Background(), id, fn)
	if err != nil || got.StateReason != 7 || got.GUID != s.GUID {
		t.Fatalf("update of any GUID: %+v, %v", got, err)
	}
	if l, _ := e.svc.Lookup(context.Background(), id); l.StateReason != 7 {
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
	if got := agents(e.svc.BySkill(context.Background(), 1)); !slices.Equal(got, []ccgw.AgentID{1041, 1042, 1043}) {
		t.Fatalf("BySkill(1) = %v, want work-number order", got)
	}
	if got := e.svc.BySkill(context.Background(), 99); len(got) != 0 {
		t.Fatalf("BySkill(99) = %v, want none", agents(got))
	}
	if _, err := e.svc.Update(context.Background(), 1042, g[1042], func(x *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
		x.Skills = []int{2, 7}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := agents(e.svc.BySkill(context.Background(), 1)); !slices.Equal(got, []ccgw.AgentID{1041, 1043}) {
		t.Fatalf("BySkill(1) after 1042 left it = %v", got)
	}
	if got := agents(e.svc.BySkill(context.Background(), 7)); !slices.Equal(got, []ccgw.AgentID{1042}) {
		t.Fatalf("BySkill(7) = %v", got)
	}
	if err := e.svc.SignOut(context.Background(), 1041, g[1041], ccgw.CauseLogout); err != nil {
		t.Fatal(err)
	}
	if got := agents(e.svc.BySkill(context.Background(), 2)); !slices.Equal(got, []ccgw.AgentID{1042, 1043}) {
		t.Fatalf("BySkill(2) after 1041 signed out = %v", got)
	}
	e.advance(Timeout + Tick)
	if got := e.svc.BySkill(context.Background(), 2); len(got) != 0 {
		t.Fatalf("BySkill(2) after every session expired = %v", agents(got))
	}
}

func testLookup(t *testing.T, e *env) {
	const id = 1050
	if _, ok := e.svc.Lookup(context.Background(), id); ok {
		t.Fatal("Lookup found an agent that never signed in")
	}
	_, err := e.svc.Session(context.Background(), id, "nobody")
	wantCode(t, "Session, not signed in", err, ccgw.RetNotSignedIn)
	s := e.signIn(id)
	l, ok := e.svc.Lookup(context.Background(), id)
	if !ok || l.GUID != s.GUID || l.Agent != id || l.Phone != "70001" || l.MediaType != "TTF" {
		t.Fatalf("Lookup: %+v, %v", l, ok)
	}
	got, err := e.svc.Session(context.Background(), id, s.GUID)
	if err != nil || got.GUID != s.GUID || got.LoginTime != s.LoginTime {
		t.Fatalf("Session: %+v, %v", got, err)
	}
	_, err = e.svc.Session(context.Background(), id, "wrong-guid")
	wantCode(t, "Session, wrong GUID", err, ccgw.RetNoPermission)
	if err := e.svc.SignOut(context.Background(), id, s.GUID, ccgw.CauseLogout); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.svc.Lookup(context.Background(), id); ok {
		t.Fatal("Lookup found a signed-out agent")
	}
}

func testUpdateGUID(t *testing.T, e *env) {
	const id = 1060
	_, err := e.svc.UpdateGUID(context.Background(), id, "nobody")
	wantCode(t, "updateGuid, not signed in", err, ccgw.RetNotSignedIn)
	s := e.signIn(id)
	_, err = e.svc.UpdateGUID(context.Background(), id, "wrong-guid")
	wantCode(t, "updateGuid, wrong GUID", err, ccgw.RetNoPermission)
	g2, err := e.svc.UpdateGUID(context.Background(), id, s.GUID)
	if err != nil || g2 == "" || g2 == s.GUID {
		t.Fatalf("UpdateGUID: %q, %v", g2, err)
	}
	if g, err := e.svc.Heartbeat(context.Background(), id, g2, ""); err != nil || g != "" {
		t.Fatalf("heartbeat with the new GUID: %q, %v", g, err)
	}
	// The old GUID works for GUIDTimeout (3s), and is told the new one.
	e.advance(2 * time.Second)
	if g, err := e.svc.Heartbeat(context.Background(), id, s.GUID, ""); err != nil || g != g2 {
		t.Fatalf("heartbeat with the old GUID in its grace: %q, %v; want %q", g, err, g2)
	}
	if _, err := e.svc.Session(context.Background(), id, s.GUID); err != nil {
		t.Fatalf("Session with the old GUID in its grace: %v", err)
	}
	e.advance(time.Second + Tick)
	_, err = e.svc.Heartbeat(context.Background(), id, s.GUID, "")
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
	if g, err := e.svc.Heartbeat(context.Background(), id, s.GUID, ""); err != nil || g != "" {
		t.Fatalf("heartbeat before the interval: %q, %v", g, err)
	}
	e.advance(time.Second + Tick)
	g2, err := e.svc.Heartbeat(context.Background(), id, s.GUID, "")
	if err != nil || g2 == "" || g2 == s.GUID {
		t.Fatalf("heartbeat after the interval: %q, %v; want a new GUID", g2, err)
	}
	if g, err := e.svc.Heartbeat(context.Background(), id, g2, ""); err != nil || g != "" {
		t.Fatalf("heartbeat with the rotated GUID: %q, %v", g, err)
	}
	if g, err := e.svc.Heartbeat(context.Background(), id, s.GUID, ""); err != nil || g != g2 {
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
	g1, err := e.svc.Heartbeat(context.Background(), id, s.GUID, "")
	if err != nil || g1 == "" || g1 == s.GUID {
		t.Fatalf("heartbeat after the interval: %q, %v; want a new GUID", g1, err)
	}
	// Supersede happened now; heartbeat with the old GUID each second until the
	// last tick of its grace, past several more intervals.
	for waited := time.Duration(0); waited+time.Second < e.cfg.GUIDTimeout; {
		e.advance(time.Second)
		waited += time.Second
		if g, err := e.svc.Heartbeat(context.Background(), id, s.GUID, ""); err != nil || g != g1 {
			t.Fatalf("heartbeat with the superseded GUID %v after it was superseded: %q, %v; want %q", waited, g, err, g1)
		}
		if _, setGUID, err := e.svc.Poll(context.Background(), id, s.GUID, 0); err != nil || setGUID != g1 {
			t.Fatalf("poll with the superseded GUID %v after it was superseded: Set-GUID %q, %v; want %q", waited, setGUID, err, g1)
		}
	}
	e.advance(time.Second - Tick)
	if g, err := e.svc.Heartbeat(context.Background(), id, s.GUID, ""); err != nil || g != g1 {
		t.Fatalf("heartbeat with the superseded GUID a tick before its grace ends: %q, %v; want %q", g, err, g1)
	}
	e.advance(Tick)
	_, err = e.svc.Heartbeat(context.Background(), id, s.GUID, "")
	wantCode(t, "heartbeat with the superseded GUID at the end of its grace", err, ccgw.RetNoPermission)
	// The client that takes the new GUID rotates on as usual.
	if g, err := e.svc.Heartbeat(context.Background(), id, g1, ""); err != nil || g == "" || g == g1 {
		t.Fatalf("heartbeat with the current GUID, interval passed: %q, %v; want a new GUID", g, err)
	}
}

func testStats(t *testing.T, e *env) {
	var gs []string
	for i := range 3 {
		gs = append(gs, e.signIn(ccgw.AgentID(1070+i)).GUID)
	}
	if err := e.svc.SignOut(context.Background(), 1070, gs[0], ccgw.CauseLogout); err != nil {
		t.Fatal(err)
	}
	st := e.svc.Stats(context.Background())
	if st.Live != 2 || st.SignIns != 3 || st.SignOuts[ccgw.CauseLogout] != 1 {
		t.Fatalf("stats %+v, want 2 live, 3 sign-ins, 1 logout", st)
	}
}

// testRestTimeout: a rest's time running out tells the agent
// AgentState_Rest_Timeout once, at the right time, and it stays in rest; a rest
// cancelled before is never reminded.
func testRestTimeout(t *testing.T, e *env) {
	const id = 1031
	s := e.signIn(id)
	e.drain(id, s.GUID)
	rest := func(d time.Duration) {
		t.Helper()
		if _, err := e.svc.Update(context.Background(), id, s.GUID, func(x *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
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
	if got, _ := e.svc.Lookup(context.Background(), id); got.State != ccgw.StateRest {
		t.Fatalf("state %d after the reminder, want rest", got.State)
	}
	e.advance(3 * time.Second)
	e.expectEvents(id, s.GUID)

	rest(2 * time.Second) // a new rest, cancelled before its time
	if _, err := e.svc.Update(context.Background(), id, s.GUID, func(x *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
		return agent.Apply(x, agent.Request{Op: agent.CancelRest}, now)
	}); err != nil {
		t.Fatal(err)
	}
	e.expectEvents(id, s.GUID, ccgw.EvCancelRestSuccess)
	e.advance(3 * time.Second)
	e.expectEvents(id, s.GUID)
}

// PushSignInReq is a push-mode sign-in of agent id.
func PushSignInReq(id ccgw.AgentID) ccgw.SignIn {
	req := SignInReq(id)
	req.Session.Mode, req.Session.CallbackURI, req.Session.ServiceToken = ccgw.ModePush, "http://127.0.0.1:9/cb", "tok"
	return req
}

// testTimeoutPerMode: a poll-mode session expires after PollTimeout, a
// push-mode one after PushTimeout (MAXTIME, EVENT_PUSH_HANDSHAKE_MAXTIME).
func testTimeoutPerMode(t *testing.T, e *env) {
	const poll, push = 1041, 1042
	e.signIn(poll)
	if _, err := e.svc.SignIn(context.Background(), PushSignInReq(push)); err != nil {
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
	if _, err := e.svc.SignIn(context.Background(), PushSignInReq(id+1)); err != nil {
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
	if err := e.svc.SignOut(context.Background(), id, s.GUID, ccgw.CauseForceLogout); err != nil {
		t.Fatal(err)
	}
	e.expectLast(id, s.GUID, ccgw.RetNotSignedIn)
	err := e.svc.SignOut(context.Background(), id, s.GUID, ccgw.CauseForceLogout)
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
	s, err := e.svc.SignIn(context.Background(), PushSignInReq(id))
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
	if d := e.svc.Stats(context.Background()).Drops[ccgw.DropPushFailed]; d != 2 {
		t.Fatalf("%d events dropped as push_failed, want the sign-in's 2", d)
	}
	_, err = e.svc.Heartbeat(context.Background(), id, s.GUID, "")
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
	if _, err := e.svc.Session(context.Background(), id, s.GUID); err != nil { // a status query
		t.Fatal(err)
	}
	e.advance(step)
	if _, err := e.svc.Update(context.Background(), id, s.GUID, func(x *ccgw.Session, _ time.Time) ([]ccgw.Emit, error) {
		x.AutoAnswer = !x.AutoAnswer // a setting change
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	e.advance(step)
	_, err := e.svc.Session(context.Background(), id, "wrong-guid")
	wantCode(t, "status query with a wrong GUID", err, ccgw.RetNoPermission)
	if !e.live(id) {
		t.Fatalf("signed out %v after its last request (timeout %v)", step, e.cfg.Timeout)
	}
	e.advance(3 * e.cfg.Tick) // the refused request renewed nothing
	if e.live(id) {
		t.Fatal("live a timeout after its last accepted request")
	}
}

// testQueueFull: a client's queue keeps its last QueueSize events; the
// oldest go, counted as queue_full, and the gap shows in the sequence
// numbers of what is left, in order.
func testQueueFull(t *testing.T, e *env) {
	const id = 1151
	s := e.signIn(id)
	e.drain(id, s.GUID)
	before := e.svc.Stats(context.Background()).Drops[ccgw.DropQueueFull]
	for i := range 7 {
		st, typ := ccgw.StateBusy, ccgw.EvSetNotReadySuccess
		if i%2 == 1 {
			st, typ = ccgw.StateIdle, ccgw.EvReady
		}
		if _, err := e.svc.Update(context.Background(), id, s.GUID, setState(st, typ)); err != nil {
			t.Fatal(err)
		}
	}
	evs := e.drain(id, s.GUID)
	if len(evs) != e.cfg.QueueSize {
		t.Fatalf("polled %d events, want the last %d", len(evs), e.cfg.QueueSize)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Seq != evs[i-1].Seq+1 {
			t.Fatalf("polled seqs %v: want the last ones, in order", eventKeys(evs))
		}
	}
	if evs[0].Type != ccgw.EvReady || evs[len(evs)-1].Type != ccgw.EvSetNotReadySuccess { // changes 4 to 7
		t.Fatalf("polled %q, want the last %d of the 7 changes", types(evs), e.cfg.QueueSize)
	}
	if got := e.svc.Stats(context.Background()).Drops[ccgw.DropQueueFull] - before; got != uint64(7-e.cfg.QueueSize) {
		t.Fatalf("%d events counted dropped as queue_full, want %d", got, 7-e.cfg.QueueSize)
	}
}

// testDynamicByPoll: a polling client in dynamic mode gets its rotations from
// its polls as a heartbeat would: the poll after GUIDInterval answers the new
// GUID (with its event, if any), the old one stays accepted within
// GUIDTimeout and is told the new one, and is refused after it.
func testDynamicByPoll(t *testing.T, e *env) {
	const id = 1063
	s := e.signIn(id)
	e.drain(id, s.GUID)
	e.advance(e.cfg.GUIDInterval + Tick)
	if _, err := e.svc.Update(context.Background(), id, s.GUID, setState(ccgw.StateBusy, ccgw.EvSetNotReadySuccess)); err != nil {
		t.Fatal(err)
	}
	ev, g2, err := e.svc.Poll(context.Background(), id, s.GUID, 0)
	if err != nil || g2 == "" || g2 == s.GUID || ev == nil || ev.Type != ccgw.EvSetNotReadySuccess {
		t.Fatalf("poll after the interval: %v, %q, %v; want the event and a new GUID", ev, g2, err)
	}
	if ev, g, err := e.svc.Poll(context.Background(), id, s.GUID, 0); err != nil || g != g2 || ev != nil {
		t.Fatalf("poll with the superseded GUID in its grace: %v, %q, %v; want no event and %q", ev, g, err, g2)
	}
	if _, g, err := e.svc.Poll(context.Background(), id, g2, 0); err != nil || g != "" {
		t.Fatalf("poll with the new GUID: %q, %v", g, err)
	}
	e.advance(e.cfg.GUIDTimeout + Tick)
	if _, g, err := e.svc.Poll(context.Background(), id, g2, 0); err != nil {
		t.Fatalf("poll with the current GUID later: %q, %v", g, err)
	}
	_, _, err = e.svc.Poll(context.Background(), id, s.GUID, 0)
	wantCode(t, "poll with the superseded GUID after its grace", err, ccgw.RetNoPermission)
}

// testWrongPollRenews: a poll of a push-mode session is answered 000-001
// (the wrong way to get events) and is still a request that authenticates:
// it renews the session, as any other does.
func testWrongPollRenews(t *testing.T, e *env) {
	const id = 1047
	s, err := e.svc.SignIn(context.Background(), PushSignInReq(id))
	if err != nil {
		t.Fatal(err)
	}
	step := e.cfg.Timeout - 2*e.cfg.Tick
	e.advance(step)
	_, _, err = e.svc.Poll(context.Background(), id, s.GUID, 0)
	wantCode(t, "poll of a push-mode session", err, ccgw.RetWrongEventMethod)
	e.advance(step)
	if !e.live(id) {
		t.Fatalf("signed out %v after its poll (timeout %v)", step, e.cfg.Timeout)
	}
}
