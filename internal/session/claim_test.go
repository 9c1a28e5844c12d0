package session

import (
	"context"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/session/sessiontest"
)

// TestLapsedClaimTakenOver: node A claims the due sessions and dies before it
// ends them (or loses the tick's answer). Until the claim lapses nobody ends
// them and they still count as live; then node B's sweep signs each out once,
// announced and with AgentOther_ShutdownService for its client, and A's late
// end finds them gone.
func TestLapsedClaimTakenOver(t *testing.T) {
	p := newPair(t, nil)
	ctx := context.Background()
	const n, first = 5, 4000
	guids := map[ccgw.AgentID]string{}
	for i := range n {
		s, err := p.a.SignIn(ctx, sessiontest.SignInReq(first+ccgw.AgentID(i)))
		wantOK(t, "sign in", err)
		guids[s.Agent] = s.GUID
		p.a.Poll(ctx, s.Agent, s.GUID, 0) // its sign-in events
		p.a.Poll(ctx, s.Agent, s.GUID, 0)
	}
	step := func() {
		p.fc.Advance(p.cfg.Tick)
		if got := p.b.Sweep(p.fc.Now()); got != 0 {
			t.Fatalf("B signed out %d sessions A holds a claim on", got)
		}
	}
	// A sweeps every tick until the sessions are due, claims them and dies.
	var claimed []ccgw.SharedClaim
	for range int(sessiontest.Timeout/p.cfg.Tick) + 2 {
		p.fc.Advance(p.cfg.Tick)
		r, err := p.a.tickOnce(ctx, p.fc.Now(), expiryBatch, true)
		wantOK(t, "A's tick", err)
		claimed = append(claimed, r.Claimed...)
	}
	if len(claimed) != n {
		t.Fatalf("A claimed %d sessions, want %d", len(claimed), n)
	}
	for range int(expiryLease/p.cfg.Tick) - 2 {
		step()
	}
	if st := p.b.Stats(ctx); st.Live != n {
		t.Fatalf("while A's claim holds: %d live, want %d", st.Live, n)
	}
	swept := 0
	for range 4 {
		p.fc.Advance(p.cfg.Tick)
		swept += p.b.Sweep(p.fc.Now())
	}
	if swept != n {
		t.Fatalf("B signed out %d sessions after A's claim lapsed, want %d", swept, n)
	}
	if k, _, err := p.a.expire(ctx, p.fc.Now(), claimed); err != nil || k != 0 {
		t.Fatalf("A's late end signed out %d (%v), want 0", k, err)
	}
	st := p.b.Stats(ctx)
	if st.Live != 0 || st.SignOuts[ccgw.CauseTimeout] != n || st.Expiries != n {
		t.Fatalf("Stats: %d live, sign-outs %v, expiries %d; want 0, %d timeouts", st.Live, st.SignOuts, st.Expiries, n)
	}
	lines := p.signedOut(ccgw.CauseTimeout)
	for id, g := range guids {
		if c := lines[id.String()]; c != 1 {
			t.Errorf("agent %d: %d \"signed out\" lines, want 1", id, c)
		}
		ev, _, err := p.b.Poll(ctx, id, g, 0)
		if err != nil || ev == nil || ev.Type != ccgw.EvShutdownService {
			t.Errorf("agent %d's old GUID polled %v, %v; want AgentOther_ShutdownService", id, ev, err)
		}
	}
}

// TestSignOutDecidedAgain: the rules of a sign-out are checked in Go on the
// session as read; if it changes before the end is written (the agent is
// put through to a call), the end is refused and the rules are checked
// again: a logout is then RetLogoutStateError, and the session stays.
func TestSignOutDecidedAgain(t *testing.T) {
	p := newPair(t, nil)
	ctx := context.Background()
	s, err := p.a.SignIn(ctx, sessiontest.SignInReq(4101))
	wantOK(t, "sign in", err)
	calls := 0
	p.a.beforeCAS = func(op string) {
		if calls++; calls == 1 {
			_, err := p.b.UpdateAny(ctx, s.Agent, func(x *ccgw.Session, _ time.Time) ([]ccgw.Emit, error) {
				x.State = ccgw.StateTalking
				return nil, nil
			})
			wantOK(t, "B's update", err)
		}
	}
	err = p.a.SignOut(ctx, s.Agent, s.GUID, ccgw.CauseLogout)
	wantCodeT(t, "logout after the agent was put through", err, ccgw.RetLogoutStateError)
	if x, ok := p.b.Lookup(ctx, s.Agent); !ok || x.State != ccgw.StateTalking {
		t.Fatalf("after the refused logout: %+v, %v; want the talking session", x, ok)
	}
	// The 100-010 can only come from a second check: the first read the
	// agent idle.
}

// TestForcedSignInDecidedAgain: a forced sign-in ends the session it read;
// if another sign-in took the agent over meanwhile, it decides again and ends
// that one: one session is left, and each earlier one ended once.
func TestForcedSignInDecidedAgain(t *testing.T) {
	p := newPair(t, nil)
	ctx := context.Background()
	first, err := p.a.SignIn(ctx, sessiontest.SignInReq(4201))
	wantOK(t, "sign in", err)
	req := sessiontest.SignInReq(4201)
	req.Op, req.Force = "forceLogin", true
	var middle ccgw.Session
	calls := 0
	p.a.beforeCAS = func(op string) {
		if calls++; calls == 1 {
			middle, err = p.b.SignIn(ctx, req)
			wantOK(t, "B's forced sign-in", err)
		}
	}
	last, err := p.a.SignIn(ctx, req)
	wantOK(t, "A's forced sign-in", err)
	if calls != 2 {
		t.Fatalf("the sign-in read the agent's session %d times, want 2", calls)
	}
	if x, ok := p.b.Lookup(ctx, 4201); !ok || x.Gen != last.Gen {
		t.Fatalf("left: %+v, %v; want A's last sign-in", x, ok)
	}
	if got := p.signedOut(ccgw.CauseReplaced)["4201"]; got != 2 {
		t.Fatalf("%d \"replaced\" sign-outs, want 2 (the first and B's)", got)
	}
	for _, g := range []string{first.GUID, middle.GUID} {
		ev, _, err := p.a.Poll(ctx, 4201, g, 0)
		for err == nil && ev != nil && ev.Type != ccgw.EvShutdownService {
			ev, _, err = p.a.Poll(ctx, 4201, g, 0)
		}
		if g == middle.GUID && (err != nil || ev == nil) {
			t.Fatalf("B's session's GUID polled %v, %v; want AgentOther_ShutdownService", ev, err)
		}
	}
}
