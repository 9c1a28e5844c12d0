package session

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/guard"
	"github.com/ccgw/ccgw/internal/session/sessiontest"
	"github.com/ccgw/ccgw/internal/store/mem"
)

// TestRestartFromLog: a node whose store is kept in a log (as --store bolt
// runs) restarts with its clients' sessions, their GUIDs (a rotated one
// too), states and undelivered events, and a full timeout from the restart;
// a simulated agent's session and an ended one are not restored.
func TestRestartFromLog(t *testing.T) {
	ctx := context.Background()
	log := mem.New()
	cfg := sessiontest.DefaultConfig(sessiontest.NewLogs())
	cfg.AuthMode, cfg.GUIDInterval = ccgw.AuthDynamic, time.Second
	local := func(c *Config) { c.Local = true }
	db, _ := openLogged(t, log, cfg)
	st := openOn(t, db, guard.NewMemLockouts(), cfg, local)

	a, err := st.SignIn(ctx, sessiontest.SignInReq(1201))
	wantOK(t, "sign-in a", err)
	b, err := st.SignIn(ctx, sessiontest.PushSignInReq(1202))
	wantOK(t, "sign-in b", err)
	_, err = st.SignIn(ctx, sessiontest.SimulatedReq(1203))
	wantOK(t, "sign-in simulated", err)
	c, err := st.SignIn(ctx, sessiontest.SignInReq(1204))
	wantOK(t, "sign-in c", err)
	wantOK(t, "logout c", st.SignOut(ctx, c.Agent, c.GUID, ccgw.CauseLogout))
	for _, typ := range []string{"AgentState_SetNotReady_Success", "AgentState_Busy"} {
		_, err = st.Update(ctx, a.Agent, a.GUID, func(s *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
			s.State = ccgw.StateBusy
			return []ccgw.Emit{{Type: typ}}, nil
		})
		wantOK(t, "update", err)
	}
	// Deliver the sign-in's events and the first state event: one is left.
	var last *ccgw.Event
	for {
		ev, _, err := st.Poll(ctx, a.Agent, a.GUID, 0)
		wantOK(t, "poll", err)
		last = ev
		if ev == nil || ev.Type == "AgentState_SetNotReady_Success" {
			break
		}
	}
	if last == nil {
		t.Fatal("the first state event was never polled")
	}
	// A rotation after the last write of a's record: the log never sees it.
	cfg.Clock.Advance(2 * time.Second)
	rotated, err := st.Heartbeat(ctx, a.Agent, a.GUID, "")
	wantOK(t, "heartbeat", err)
	if rotated == a.GUID {
		t.Fatal("the heartbeat did not rotate the GUID")
	}
	st.Close()
	if err := db.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}

	cfg.Clock.Advance(time.Minute) // down for longer than the timeout
	db2, n := openLogged(t, log, cfg)
	if n != 2 {
		t.Fatalf("restored %d sessions, want 2 (a and b)", n)
	}
	st2 := openOn(t, db2, guard.NewMemLockouts(), cfg, local)
	if st2.Sweep(cfg.Clock.Now()) != 0 {
		t.Fatal("a restored session expired at once")
	}
	if _, err := st2.Heartbeat(ctx, a.Agent, rotated, ""); err != nil {
		t.Fatalf("heartbeat with the rotated GUID after the restart: %v", err)
	}
	got, err := st2.Session(ctx, a.Agent, rotated)
	wantOK(t, "session", err)
	if got.State != ccgw.StateBusy || got.Gen != a.Gen {
		t.Fatalf("restored a: state %v gen %d, want busy, gen %d", got.State, got.Gen, a.Gen)
	}
	ev, _, err := st2.Poll(ctx, a.Agent, rotated, 0)
	wantOK(t, "poll after restart", err)
	if ev == nil || ev.Type != "AgentState_Busy" || ev.Seq != last.Seq+1 {
		t.Fatalf("first event after the restart = %+v, want AgentState_Busy, seq %d", ev, last.Seq+1)
	}
	if _, err := st2.Heartbeat(ctx, b.Agent, b.GUID, ""); err != nil {
		t.Fatalf("heartbeat of push-mode b: %v", err)
	}
	for _, id := range []ccgw.AgentID{1203, 1204} {
		if _, ok := st2.Lookup(ctx, id); ok {
			t.Errorf("agent %v restored", id)
		}
	}
	// Events queued after the restart number on from the restored ones.
	_, err = st2.Update(ctx, a.Agent, rotated, setStateTo(ccgw.StateIdle, "AgentState_Ready"))
	wantOK(t, "update after restart", err)
	ev, _, err = st2.Poll(ctx, a.Agent, rotated, 0)
	wantOK(t, "poll", err)
	if ev == nil || ev.Seq != last.Seq+2 {
		t.Fatalf("event after the restart = %+v, want seq %d", ev, last.Seq+2)
	}
	// A sign-out reaches the log: a second restart has b alone.
	wantOK(t, "logout a", st2.SignOut(ctx, a.Agent, rotated, ccgw.CauseLogout))
	st2.Close()
	if _, n := openLogged(t, log, cfg); n != 1 {
		t.Fatalf("second restart restored %d sessions, want 1", n)
	}
}

func setStateTo(state ccgw.AgentState, typ string) func(*ccgw.Session, time.Time) ([]ccgw.Emit, error) {
	return func(s *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
		s.State = state
		return []ccgw.Emit{{Type: typ}}, nil
	}
}

// failingLog is a SharedLog whose commits fail while fail is set.
type failingLog struct {
	*mem.Store
	fail bool
}

func (l *failingLog) Commit(ops []ccgw.LogOp) error {
	if l.fail {
		return errors.New("disk full")
	}
	return l.Store.Commit(ops)
}

// TestSignInNotCommitted: a sign-in the log cannot commit fails with 100-007
// and leaves the agent signed out; once commits succeed again it signs in.
func TestSignInNotCommitted(t *testing.T) {
	ctx := context.Background()
	log := &failingLog{Store: mem.New(), fail: true}
	cfg := sessiontest.DefaultConfig(sessiontest.NewLogs())
	db, _ := openLogged(t, log, cfg)
	st := openOn(t, db, guard.NewMemLockouts(), cfg, func(c *Config) { c.Local = true })
	_, err := st.SignIn(ctx, sessiontest.SignInReq(1301))
	if ccgw.CodeOf(err) != ccgw.RetInternal {
		t.Fatalf("sign-in on a failing log: %v, want %s", err, ccgw.RetInternal)
	}
	if _, ok := st.Lookup(ctx, 1301); ok {
		t.Fatal("the failed sign-in is live")
	}
	if n := st.Stats(ctx).Live; n != 0 {
		t.Fatalf("Live = %d after a failed sign-in, want 0", n)
	}
	log.fail = false
	if _, err := st.SignIn(ctx, sessiontest.SignInReq(1301)); err != nil {
		t.Fatalf("sign-in once commits succeed: %v", err)
	}
	if log.Len() != 1 {
		t.Fatalf("log holds %d sessions, want 1", log.Len())
	}
}
