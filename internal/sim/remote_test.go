package sim

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/session"
)

// relay is a working Remote: it hands requests to another engine's Serve, as
// the Redis relay does across nodes, or says nobody serves, or fails.
type relay struct {
	to   *Engine // nil: no node serves
	fail bool    // the serving node does not answer
	n    int     // requests carried
}

func (r *relay) AskCentre(req []byte) ([]byte, bool, error) {
	switch {
	case r.to == nil:
		return nil, false, nil
	case r.fail:
		return nil, true, errors.New("no reply in time")
	}
	r.n++
	return r.to.Serve(req), true, nil
}

// TestRemoteCallControl: an engine with a Remote (a node that does not run the
// call centre) answers call control and queries from the serving engine, with
// its retcodes; with nobody serving it answers for itself; with the serving
// node silent a command fails with RetInternal and a query finds no call.
func TestRemoteCallControl(t *testing.T) {
	r := newTestRig(t)
	g := r.signIn(t, 1001, false)
	rel := &relay{to: r.eng}
	other := New(Config{Sessions: r.sm, Directory: r.eng.cfg.Directory, Clock: r.clock, Remote: rel})

	id, err := r.eng.Inject(CallSpec{Skill: 1})
	if err != nil {
		t.Fatal(err)
	}
	if ci, ok := other.Ringing(1001); !ok || ci.CallID != id {
		t.Fatalf("Ringing via the remote: %+v, %v; want call %s", ci, ok, id)
	}
	for _, step := range []struct {
		name string
		err  error
		want ccgw.Retcode
	}{
		{"answer", other.Answer(1001, ""), ccgw.RetOK},
		{"second answer", other.Answer(1001, ""), RetAnswerNoCall},
		{"hold", other.Hold(1001), ccgw.RetOK},
		{"hold with none active", other.Hold(1001), RetHoldNoCall},
		{"transfer to nobody", other.Transfer(1001, TransferSpec{DeviceType: DevAgent, Address: "1001", Mode: ModeRelease}), RetTransferNoCall},
		{"get hold", other.GetHold(1001, id), ccgw.RetOK},
		{"release", other.Release(1001), ccgw.RetOK},
		{"second release", other.Release(1001), RetReleaseNoCall},
	} {
		if got := ccgw.CodeOf(step.err); got != step.want {
			t.Fatalf("%s via the remote: %s, want %s", step.name, got, step.want)
		}
	}
	if ci, ok := other.CurrentCall(1001, true); !ok || ci.CallID != id {
		t.Fatalf("CurrentCall (last) via the remote: %+v, %v", ci, ok)
	}
	if got := other.HeldCalls(1001); got == nil || len(got) != 0 {
		t.Fatalf("HeldCalls via the remote: %#v, want empty", got)
	}
	want := []string{ccgw.EvInService, ccgw.EvReady, ccgw.EvIncomingCallInfo, ccgw.EvBusy, ccgw.EvPhoneAlerting,
		ccgw.EvPhoneOffhook, ccgw.EvRinging, ccgw.EvCustomerAlerting, ccgw.EvTalking, ccgw.EvHold, ccgw.EvTalking}
	if got := r.types(t, 1001, g.GUID); len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		t.Fatalf("agent 1001's events %q, want them to start %q", got, want)
	}

	n := rel.n
	rel.to = nil // nobody serves: the engine's own, empty, call centre answers
	if err := other.Release(1001); ccgw.CodeOf(err) != RetReleaseNoCall || rel.n != n {
		t.Fatalf("release with nobody serving: %v (%d requests carried)", err, rel.n-n)
	}
	rel.to, rel.fail = r.eng, true
	if err := other.Answer(1001, ""); ccgw.CodeOf(err) != ccgw.RetInternal {
		t.Fatalf("answer with the serving node silent: %v, want 100-007", err)
	}
	if _, ok := other.CurrentCall(1001, true); ok {
		t.Fatal("a query with the serving node silent found a call")
	}
	if got, _ := other.Waiting(1, 10); got == nil {
		t.Fatal("Waiting with the serving node silent: nil, want empty")
	}
}

// staleView shows every session idle, as a node does whose report of an
// agent's change made elsewhere has not arrived yet.
type staleView struct{ session.Service }

func (v staleView) Lookup(id ccgw.AgentID) (ccgw.Session, bool) {
	s, ok := v.Service.Lookup(id)
	s.State = ccgw.StateIdle
	return s, ok
}

func (v staleView) BySkill(skill int) []ccgw.Session {
	out := v.Service.BySkill(skill)
	for i := range out {
		out[i].State = ccgw.StateIdle
	}
	return out
}

// TestOfferRefusesBusyAgent: an agent the engine takes for idle but who is
// busy is not offered the call (it waits, and routing does not spin); once
// the agent is idle the call is offered to it, once.
func TestOfferRefusesBusyAgent(t *testing.T) {
	r := newTestRig(t, func(c *Config) { c.Sessions = staleView{c.Sessions} })
	g := r.signIn(t, 1001, false)
	busy := func(st ccgw.AgentState) {
		t.Helper()
		_, err := r.sm.Update(1001, g.GUID, func(s *ccgw.Session, now time.Time) ([]session.Emit, error) {
			s.State, s.StateSince = st, ccgw.Millis(now)
			return nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	busy(ccgw.StateBusy)
	id, err := r.eng.Inject(CallSpec{Skill: 1})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := r.eng.Call(id); st.State != "queued" {
		t.Fatalf("call %s is %s while its only agent is busy, want queued", id, st.State)
	}
	busy(ccgw.StateIdle)
	if st, _ := r.eng.Call(id); st.State != "ringing" || st.WorkNo != "1001" {
		t.Fatalf("call %s is %s at %q once the agent is idle, want ringing at 1001", id, st.State, st.WorkNo)
	}
	n := 0
	for _, typ := range r.types(t, 1001, g.GUID) {
		if typ == ccgw.EvRinging {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("the call rang %d times, want once", n)
	}
}
