package sim

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
)

// TestSetRateLimits: a rate that is not finite, negative, above MaxPerHour or
// a positive one below MinPerHour is refused with 000-002 and starts no
// arrivals (1e308 an hour was a flood: every gap rounded to 0); the bounds
// themselves are taken.
func TestSetRateLimits(t *testing.T) {
	r := newTestRig(t)
	talk := 5 * time.Second
	for _, tc := range []struct {
		name string
		rate Rate
	}{
		{"NaN", Rate{PerHour: math.NaN()}},
		{"+Inf", Rate{PerHour: math.Inf(1)}},
		{"-Inf", Rate{PerHour: math.Inf(-1)}},
		{"1e308", Rate{PerHour: 1e308}},
		{"above the cap", Rate{PerHour: MaxPerHour + 1}},
		{"negative", Rate{PerHour: -1}},
		{"below the least", Rate{PerHour: MinPerHour / 2}},
		{"smallest positive", Rate{PerHour: math.SmallestNonzeroFloat64}},
		{"talk too long", Rate{PerHour: 60, TalkMin: MaxSpan + time.Second, TalkMax: MaxSpan + time.Second}},
		{"talk max below min", Rate{PerHour: 60, TalkMin: talk, TalkMax: talk - time.Second}},
		{"negative talk", Rate{PerHour: 60, TalkMin: -time.Second}},
		{"abandon too long", Rate{PerHour: 60, AbandonAfter: MaxSpan + 1}},
		{"negative abandon", Rate{PerHour: 60, AbandonAfter: -1}},
	} {
		if err := r.eng.SetRate(1, tc.rate); ccgw.CodeOf(err) != ccgw.RetBadParam {
			t.Errorf("%s: SetRate(%+v) = %v, want %s", tc.name, tc.rate, err, ccgw.RetBadParam)
		}
	}
	if n := len(r.eng.Rates()); n != 0 {
		t.Fatalf("%d rates running after refusals", n)
	}
	r.clock.Advance(time.Hour)
	if n := r.eng.live(); n != 0 {
		t.Fatalf("%d calls made by refused rates", n)
	}

	for _, v := range []float64{MinPerHour, MaxPerHour} {
		if err := r.eng.SetRate(1, Rate{PerHour: v, TalkMin: MaxSpan, TalkMax: MaxSpan, AbandonAfter: MaxSpan}); err != nil {
			t.Fatalf("SetRate(%v an hour, MaxSpan times): %v", v, err)
		}
	}
	r.clock.Advance(time.Second) // about 100 arrivals at MaxPerHour
	if n := r.eng.live(); n < 50 || n > 170 {
		t.Fatalf("%d calls in a second at %d an hour", n, MaxPerHour)
	}
	if err := r.eng.SetRate(1, Rate{}); err != nil {
		t.Fatal(err)
	}
}

// TestInjectLimits: an injected call's durations are bounded by MaxSpan, and
// with MaxCalls calls live an injection fails with ErrTooManyCalls and random
// arrivals are dropped and counted, until a call ends.
func TestInjectLimits(t *testing.T) {
	r := newTestRig(t, func(c *Config) { c.MaxCalls = 3 })
	for _, spec := range []CallSpec{
		{Skill: 1, TalkFor: MaxSpan + time.Nanosecond},
		{Skill: 1, TalkFor: -time.Second},
		{Skill: 1, AbandonAfter: MaxSpan + time.Nanosecond},
		{Skill: 1, AbandonAfter: -time.Second},
	} {
		if _, err := r.eng.Inject(spec); ccgw.CodeOf(err) != ccgw.RetBadParam {
			t.Errorf("Inject(%+v) = %v, want %s", spec, err, ccgw.RetBadParam)
		}
	}
	var ids []string
	for range 3 {
		id, err := r.eng.Inject(CallSpec{Skill: 1, TalkFor: MaxSpan, AbandonAfter: MaxSpan})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if _, err := r.eng.Inject(CallSpec{Skill: 1}); !errors.Is(err, ErrTooManyCalls) || ccgw.CodeOf(err) != ccgw.RetBadParam {
		t.Fatalf("fourth call with MaxCalls 3: %v, want ErrTooManyCalls", err)
	}
	if err := r.eng.SetRate(2, Rate{PerHour: 3600}); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(10 * time.Minute)
	if n, refused := r.eng.live(), r.eng.Refused(); n != 3 || refused < 100 {
		t.Fatalf("at the limit: %d calls live, %d refused; want 3 and about 600", n, refused)
	}
	if !r.eng.Hangup(ids[0]) {
		t.Fatal("hang-up of a queued call")
	}
	if err := r.eng.SetRate(2, Rate{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.eng.Inject(CallSpec{Skill: 1}); err != nil {
		t.Fatalf("after a call ended: %v", err)
	}
}

// TestAddSimAgentNeverReplacesASession: adding a simulated agent whose work
// number a client has signed in fails with 100-002 and leaves the client's
// session, GUID and events alone; the simulator does not answer or end
// wrap-up for it, not even for a client that replaced a simulated agent.
func TestAddSimAgentNeverReplacesASession(t *testing.T) {
	r := newTestRig(t)
	// Manual answer and after-call work: what a simulated agent with sa would
	// change for it.
	client, err := r.sm.SignIn(context.Background(), ccgw.SignIn{Op: "login", Password: "p", Status: ccgw.StateIdle,
		Session: ccgw.Session{Agent: 1002, Phone: "70002", ReleasePhone: true}})
	if err != nil {
		t.Fatal(err)
	}
	r.types(t, 1002, client.GUID)
	sa := SimAgent{AnswerAfter: 2 * time.Second, WrapUp: time.Second}
	if err := r.eng.AddSimAgent(1002, sa, nil); ccgw.CodeOf(err) != ccgw.RetAlreadySignedIn {
		t.Fatalf("AddSimAgent over a client's session: %v, want %s", err, ccgw.RetAlreadySignedIn)
	}
	s, ok := r.sm.Lookup(context.Background(), 1002)
	if !ok || s.GUID != client.GUID || s.Simulated || s.Gen != client.Gen {
		t.Fatalf("client's session after the refusal: %+v (ok %v), want GUID %s", s, ok, client.GUID)
	}
	if got := r.types(t, 1002, client.GUID); len(got) != 0 {
		t.Fatalf("client got %v, want nothing (no ShutdownService)", got)
	}
	r.mustNotAnswerFor(t, 1002, client.GUID)

	// An agent already simulated is not replaced either, and keeps its settings.
	if err := r.eng.AddSimAgent(2001, SimAgent{WrapUp: time.Minute}, []int{2}); err != nil {
		t.Fatal(err)
	}
	first, _ := r.sm.Lookup(context.Background(), 2001)
	if err := r.eng.AddSimAgent(2001, SimAgent{}, nil); ccgw.CodeOf(err) != ccgw.RetAlreadySignedIn {
		t.Fatalf("AddSimAgent twice: %v, want %s", err, ccgw.RetAlreadySignedIn)
	}
	if s, _ := r.sm.Lookup(context.Background(), 2001); s.GUID != first.GUID {
		t.Fatal("the simulated agent's session was replaced")
	}

	// A client that force-signs-in over simulated agent 2003 is not answered
	// for by the simulated agent's settings.
	if err := r.eng.AddSimAgent(2003, sa, []int{1}); err != nil {
		t.Fatal(err)
	}
	forced, err := r.sm.SignIn(context.Background(), ccgw.SignIn{Op: "forceLogin", Force: true, Password: "p", Status: ccgw.StateIdle,
		Session: ccgw.Session{Agent: 2003, Phone: "70003", ReleasePhone: true}})
	if err != nil {
		t.Fatal(err)
	}
	r.types(t, 2003, forced.GUID)
	if err := r.sm.SignOut(context.Background(), 1002, client.GUID, ccgw.CauseLogout); err != nil {
		t.Fatal(err)
	}
	r.mustNotAnswerFor(t, 2003, forced.GUID)
}

// mustNotAnswerFor offers a call to client id (the only idle agent of skill 1)
// and checks that it still rings after a simulated agent would have answered,
// then that, answered and released by hand, wrap-up is not ended for it.
func (r *testRig) mustNotAnswerFor(t *testing.T, id ccgw.AgentID, guid string) {
	t.Helper()
	call, err := r.eng.Inject(CallSpec{Skill: 1})
	if err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(3 * time.Second) // past AnswerAfter (2s), within the ring timeout (10s)
	if ci, ok := r.eng.Call(call); !ok || ci.State != "ringing" || ci.WorkNo != id.String() {
		t.Fatalf("call to client %s after 3s: %+v (ok %v), want ringing there", id, ci, ok)
	}
	if err := r.eng.Answer(id, call); err != nil {
		t.Fatal(err)
	}
	if err := r.eng.Release(id); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(2 * time.Second) // past WrapUp (1s)
	if s, _ := r.sm.Lookup(context.Background(), id); s.State != ccgw.StateWork {
		t.Fatalf("client %s in state %d after release and 2s, want work (%d): the simulator ended its wrap-up",
			id, s.State, ccgw.StateWork)
	}
	r.types(t, id, guid)
}
