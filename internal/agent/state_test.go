package agent

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
)

// allStates is every agent state code of events.md §4.1 that a session can hold,
// including those no operation accepts.
var allStates = []ccgw.AgentState{
	ccgw.StateUnknown, ccgw.StateSignedIn, ccgw.StateSignedOut, ccgw.StateBusy, ccgw.StateIdle,
	ccgw.StateWork, ccgw.StateTalking, ccgw.StateRest, ccgw.StatePreRest,
}

// allOps is every state operation.
var allOps = []Op{SayBusy, SayFree, CancelBusy, Rest, CancelRest, SayWork, CancelWork, ForceBusy, ForceRest, ForceReady}

var opNames = map[Op]string{
	SayBusy: "sayBusy", SayFree: "sayFree", CancelBusy: "cancelBusy", Rest: "rest", CancelRest: "cancelRest",
	SayWork: "sayWork", CancelWork: "cancelWork", ForceBusy: "forceBusy", ForceRest: "forceRest", ForceReady: "forceIdle",
}

var stateNames = map[ccgw.AgentState]string{
	ccgw.StateUnknown: "unknown", ccgw.StateSignedIn: "signedIn", ccgw.StateSignedOut: "signedOut",
	ccgw.StateBusy: "busy", ccgw.StateIdle: "idle", ccgw.StateWork: "work", ccgw.StateTalking: "talking",
	ccgw.StateRest: "rest", ccgw.StatePreRest: "preRest",
}

// ev is an expected event: its type and its content as JSON text ("" for null).
type ev struct {
	typ     string
	content string
}

// reason is the content of the two events that carry a reason.
func reason(code string) string { return `{"reason":"` + code + `"}` }

// outcome is what an operation does from a state, as the spec (interfaces.md
// §10–16, events.md §3.1 and §6) and docs/decisions.md "Agent states" say.
type outcome struct {
	to        ccgw.AgentState // the new state (the old one when unchanged)
	events    []ev            // in order
	afterCall bool            // accepted during a call: AfterCall = to, no event
	again     bool            // the same state again: needs Prolong
}

// The request every row sends: busy reason 201, rest cause 7, rest time 90s.
const (
	tBusyReason = 201
	tRestCause  = 7
	tRestTime   = 90 * time.Second
)

// want lists every accepted (op, from) pair; every pair missing here must be
// refused with 100-009.
var want = map[Op]map[ccgw.AgentState]outcome{
	SayBusy: {
		ccgw.StateIdle:    {to: ccgw.StateBusy, events: []ev{{ccgw.EvSetNotReadySuccess, reason("201")}}},
		ccgw.StateWork:    {to: ccgw.StateBusy, events: []ev{{ccgw.EvSetNotReadySuccess, reason("201")}}},
		ccgw.StateBusy:    {to: ccgw.StateBusy, again: true, events: []ev{{ccgw.EvSetNotReadySuccess, reason("201")}}},
		ccgw.StateTalking: {to: ccgw.StateBusy, afterCall: true},
	},
	SayFree: {
		ccgw.StateIdle:    {to: ccgw.StateIdle, events: []ev{{ccgw.EvReady, ""}}}, // §11 "then/otherwise AgentState_Ready"
		ccgw.StateBusy:    {to: ccgw.StateIdle, events: []ev{{ccgw.EvCancelNotReadySuccess, ""}, {ccgw.EvReady, ""}}},
		ccgw.StateWork:    {to: ccgw.StateIdle, events: []ev{{ccgw.EvCancelWorkSuccess, ""}, {ccgw.EvReady, ""}}},
		ccgw.StateRest:    {to: ccgw.StateIdle, events: []ev{{ccgw.EvCancelRestSuccess, ""}, {ccgw.EvReady, ""}}},
		ccgw.StateTalking: {to: ccgw.StateIdle, afterCall: true},
	},
	CancelBusy: {
		ccgw.StateBusy: {to: ccgw.StateIdle, events: []ev{{ccgw.EvCancelNotReadySuccess, ""}, {ccgw.EvReady, ""}}},
	},
	Rest: {
		ccgw.StateIdle:    {to: ccgw.StateRest, events: []ev{{ccgw.EvSetRestSuccess, reason("7")}}},
		ccgw.StateBusy:    {to: ccgw.StateRest, events: []ev{{ccgw.EvSetRestSuccess, reason("7")}}},
		ccgw.StateWork:    {to: ccgw.StateRest, events: []ev{{ccgw.EvSetRestSuccess, reason("7")}}},
		ccgw.StateRest:    {to: ccgw.StateRest, again: true, events: []ev{{ccgw.EvSetRestSuccess, reason("7")}}},
		ccgw.StateTalking: {to: ccgw.StateRest, afterCall: true},
	},
	CancelRest: {
		ccgw.StateRest: {to: ccgw.StateIdle, events: []ev{{ccgw.EvCancelRestSuccess, ""}}},
	},
	SayWork: {
		ccgw.StateIdle:    {to: ccgw.StateWork, events: []ev{{ccgw.EvSetWorkSuccess, ""}}},
		ccgw.StateBusy:    {to: ccgw.StateWork, events: []ev{{ccgw.EvSetWorkSuccess, ""}}},
		ccgw.StateTalking: {to: ccgw.StateWork, afterCall: true},
	},
	CancelWork: {
		ccgw.StateWork: {to: ccgw.StateIdle, events: []ev{{ccgw.EvCancelWorkSuccess, ""}}},
	},
	ForceBusy: { // AgentState_Force_SetNotReady (README §7), then reason 3: forced by inspector (events.md §4.4)
		ccgw.StateIdle:    {to: ccgw.StateBusy, events: []ev{{ccgw.EvForceSetNotReady, ""}, {ccgw.EvSetNotReadySuccess, reason("3")}}},
		ccgw.StateWork:    {to: ccgw.StateBusy, events: []ev{{ccgw.EvForceSetNotReady, ""}, {ccgw.EvSetNotReadySuccess, reason("3")}}},
		ccgw.StateRest:    {to: ccgw.StateBusy, events: []ev{{ccgw.EvForceSetNotReady, ""}, {ccgw.EvSetNotReadySuccess, reason("3")}}},
		ccgw.StateTalking: {to: ccgw.StateBusy, afterCall: true},
	},
	ForceRest: {
		ccgw.StateIdle:    {to: ccgw.StateRest, events: []ev{{ccgw.EvSetRestSuccess, reason("7")}}},
		ccgw.StateBusy:    {to: ccgw.StateRest, events: []ev{{ccgw.EvSetRestSuccess, reason("7")}}},
		ccgw.StateWork:    {to: ccgw.StateRest, events: []ev{{ccgw.EvSetRestSuccess, reason("7")}}},
		ccgw.StateTalking: {to: ccgw.StateRest, afterCall: true},
	},
	ForceReady: {
		ccgw.StateBusy: {to: ccgw.StateIdle, events: []ev{{ccgw.EvForceReady, ""}, {ccgw.EvReady, ""}}},
		ccgw.StateWork: {to: ccgw.StateIdle, events: []ev{{ccgw.EvForceReady, ""}, {ccgw.EvReady, ""}}},
		ccgw.StateRest: {to: ccgw.StateIdle, events: []ev{{ccgw.EvForceReady, ""}, {ccgw.EvReady, ""}}},
	},
}

// tNow is the time of every Apply in these tests; tSince is when the session
// entered its current state.
var (
	tNow   = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	tSince = tNow.Add(-10 * time.Minute)
)

// tSession returns a signed-in session in state from. A session in rest has a
// running rest (RestUntil in the future, RestSeq 4); the state's reason is 205.
func tSession(from ccgw.AgentState) *ccgw.Session {
	s := &ccgw.Session{
		Agent: 1001, Gen: 9, GUID: "g", State: from, StateReason: 205, StateSince: ccgw.Millis(tSince),
		RestSeq: 4, Skills: []int{1, 2}, TalkRight: true,
	}
	if from == ccgw.StateRest {
		s.RestUntil = ccgw.Millis(tNow.Add(time.Minute))
	}
	return s
}

func tRequest(op Op, prolong bool) Request {
	r := Request{Op: op, Prolong: prolong}
	switch op {
	case SayBusy:
		r.Reason = tBusyReason
	case Rest, ForceRest:
		r.Reason, r.RestTime = tRestCause, tRestTime
	}
	return r
}

// tEvents renders emitted events as (type, content) pairs.
func tEvents(evs []ccgw.Emit) []ev {
	out := []ev{}
	for _, e := range evs {
		out = append(out, ev{e.Type, string(e.Content)})
	}
	return out
}

func tCopy(s *ccgw.Session) ccgw.Session {
	c := *s
	c.Skills = append([]int(nil), s.Skills...)
	return c
}

// TestApplyEveryPair runs every operation from every state, with and without
// Prolong, and checks the new state, the exact events in order, and the
// session fields that change with them; a refused pair must return 100-009 and
// leave the session exactly as it was.
func TestApplyEveryPair(t *testing.T) {
	for _, op := range allOps {
		for _, from := range allStates {
			for _, prolong := range []bool{false, true} {
				name := fmt.Sprintf("%s/from=%s/prolong=%v", opNames[op], stateNames[from], prolong)
				t.Run(name, func(t *testing.T) {
					s := tSession(from)
					before := tCopy(s)
					evs, err := Apply(s, tRequest(op, prolong), tNow)

					o, accepted := want[op][from]
					if accepted && o.again && !prolong {
						accepted = false // busy again or rest again needs prolong
					}
					if got := Allowed(op, from); got != (want[op][from].to != 0) {
						t.Errorf("Allowed = %v, want %v", got, !got)
					}
					if !accepted {
						if ccgw.CodeOf(err) != ccgw.RetSetStateFailed {
							t.Fatalf("err = %v, want %s", err, ccgw.RetSetStateFailed)
						}
						var e *ccgw.Error
						if !errors.As(err, &e) {
							t.Fatalf("err %T is not a *ccgw.Error", err)
						}
						if evs != nil {
							t.Errorf("refused, yet events %v", tEvents(evs))
						}
						if !reflect.DeepEqual(*s, before) {
							t.Errorf("refused, yet session changed:\n got %+v\nwant %+v", *s, before)
						}
						return
					}
					if err != nil {
						t.Fatalf("err = %v, want accepted", err)
					}
					tCheckAccepted(t, op, from, o, before, s, evs)
				})
			}
		}
	}
}

// tCheckAccepted checks an accepted Apply field by field.
func tCheckAccepted(t *testing.T, op Op, from ccgw.AgentState, o outcome, before ccgw.Session, s *ccgw.Session, evs []ccgw.Emit) {
	t.Helper()
	if o.afterCall {
		if len(evs) != 0 {
			t.Errorf("during a call: events %v, want none", tEvents(evs))
		}
		if s.State != ccgw.StateTalking || s.AfterCall != o.to {
			t.Errorf("during a call: State %d AfterCall %d, want %d and %d", s.State, s.AfterCall, ccgw.StateTalking, o.to)
		}
		if s.StateSince != before.StateSince || s.RestSeq != before.RestSeq || s.RestUntil != before.RestUntil {
			t.Errorf("during a call: StateSince/RestSeq/RestUntil changed: %+v", *s)
		}
		// A rest asked for during a call keeps its length for when the call ends.
		wantRest := int64(0)
		if o.to == ccgw.StateRest {
			wantRest = tRestTime.Milliseconds()
		}
		if s.AfterCallRest != wantRest {
			t.Errorf("during a call: AfterCallRest = %d, want %d", s.AfterCallRest, wantRest)
		}
		return
	}
	wantEvs := o.events
	if wantEvs == nil {
		wantEvs = []ev{}
	}
	if got := tEvents(evs); !reflect.DeepEqual(got, wantEvs) {
		t.Errorf("events\n got %v\nwant %v", got, wantEvs)
	}
	if s.State != o.to {
		t.Errorf("State = %d, want %d", s.State, o.to)
	}
	if s.AfterCall != 0 {
		t.Errorf("AfterCall = %d, want 0", s.AfterCall)
	}
	// StateSince moves only when the state does.
	wantSince := before.StateSince
	if o.to != from {
		wantSince = ccgw.Millis(tNow)
	}
	if s.StateSince != wantSince {
		t.Errorf("StateSince = %d, want %d", s.StateSince, wantSince)
	}
	// The reason is the request's in busy and rest, 0 elsewhere.
	wantReason := 0
	switch {
	case op == ForceBusy:
		wantReason = ReasonInspector
	case op == SayBusy:
		wantReason = tBusyReason
	case o.to == ccgw.StateRest:
		wantReason = tRestCause
	}
	if s.StateReason != wantReason {
		t.Errorf("StateReason = %d, want %d", s.StateReason, wantReason)
	}
	// A rest (new or prolonged) runs RestTime from now under a new number; leaving
	// rest clears the timer; anything else leaves both alone.
	switch {
	case o.to == ccgw.StateRest:
		if s.RestUntil != ccgw.Millis(tNow.Add(tRestTime)) {
			t.Errorf("RestUntil = %d, want now+%v = %d", s.RestUntil, tRestTime, ccgw.Millis(tNow.Add(tRestTime)))
		}
		if s.RestSeq != before.RestSeq+1 {
			t.Errorf("RestSeq = %d, want %d", s.RestSeq, before.RestSeq+1)
		}
	case from == ccgw.StateRest:
		if s.RestUntil != 0 || s.RestSeq != before.RestSeq {
			t.Errorf("left rest: RestUntil %d RestSeq %d, want 0 and %d", s.RestUntil, s.RestSeq, before.RestSeq)
		}
	default:
		if s.RestUntil != before.RestUntil || s.RestSeq != before.RestSeq {
			t.Errorf("RestUntil/RestSeq changed: %d/%d", s.RestUntil, s.RestSeq)
		}
	}
	// Nothing else about the session changes.
	rest := tCopy(s)
	rest.State, rest.StateSince, rest.StateReason, rest.RestUntil, rest.RestSeq, rest.AfterCall =
		before.State, before.StateSince, before.StateReason, before.RestUntil, before.RestSeq, before.AfterCall
	if !reflect.DeepEqual(rest, before) {
		t.Errorf("other fields changed:\n got %+v\nwant %+v", rest, before)
	}
}

// TestTableMatchesSpec checks that the transition table has no row the spec
// table above lacks (TestApplyEveryPair covers the other direction).
func TestTableMatchesSpec(t *testing.T) {
	for op, rows := range table {
		for from := range rows {
			if _, ok := want[op][from]; !ok {
				t.Errorf("table accepts %s from %s; the spec table does not", opNames[op], stateNames[from])
			}
		}
	}
	for _, op := range allOps {
		if _, ok := table[op]; !ok {
			t.Errorf("table has no rows for %s", opNames[op])
		}
	}
}

// TestApplyReasonContent checks the content of the reason-carrying events over
// the reason range: saybusy 0 and 200–250 as given, a rest cause 0–255 as
// given, and forceBusy always "3".
func TestApplyReasonContent(t *testing.T) {
	tests := []struct {
		name string
		from ccgw.AgentState
		req  Request
		want string
	}{
		{"sayBusy no reason", ccgw.StateIdle, Request{Op: SayBusy}, reason("0")},
		{"sayBusy 200", ccgw.StateIdle, Request{Op: SayBusy, Reason: 200}, reason("200")},
		{"sayBusy 250", ccgw.StateWork, Request{Op: SayBusy, Reason: 250}, reason("250")},
		{"sayBusy prolong new reason", ccgw.StateBusy, Request{Op: SayBusy, Reason: 222, Prolong: true}, reason("222")},
		{"rest cause 0", ccgw.StateIdle, Request{Op: Rest, RestTime: time.Second}, reason("0")},
		{"rest cause 255", ccgw.StateBusy, Request{Op: Rest, Reason: 255, RestTime: time.Second}, reason("255")},
		{"rest prolong new cause", ccgw.StateRest, Request{Op: Rest, Reason: 9, Prolong: true, RestTime: time.Second}, reason("9")},
		{"forceBusy ignores request reason", ccgw.StateIdle, Request{Op: ForceBusy, Reason: 230}, reason("3")},
		{"forceRest cause", ccgw.StateWork, Request{Op: ForceRest, Reason: 12, RestTime: time.Second}, reason("12")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tSession(tc.from)
			evs, err := Apply(s, tc.req, tNow)
			if err != nil {
				t.Fatal(err)
			}
			if tc.req.Op == ForceBusy && len(evs) == 2 && evs[0].Type == ccgw.EvForceSetNotReady {
				evs = evs[1:]
			}
			if len(evs) != 1 || string(evs[0].Content) != tc.want {
				t.Fatalf("events %v, want one with content %s", tEvents(evs), tc.want)
			}
		})
	}
}

// TestApplyProlong follows one agent through busy-again and rest-again: refused
// without prolong, accepted with it (reason and, for a rest, time and number
// renewed), while the state's start time stays.
func TestApplyProlong(t *testing.T) {
	s := tSession(ccgw.StateIdle)
	if _, err := Apply(s, Request{Op: SayBusy, Reason: 201}, tNow); err != nil {
		t.Fatal(err)
	}
	busySince := s.StateSince
	later := tNow.Add(time.Minute)
	if _, err := Apply(s, Request{Op: SayBusy, Reason: 202}, later); ccgw.CodeOf(err) != ccgw.RetSetStateFailed {
		t.Fatalf("busy again without prolong: %v, want 100-009", err)
	}
	if s.StateReason != 201 {
		t.Fatalf("refused busy-again changed the reason to %d", s.StateReason)
	}
	evs, err := Apply(s, Request{Op: SayBusy, Reason: 202, Prolong: true}, later)
	if err != nil || len(evs) != 1 || string(evs[0].Content) != reason("202") {
		t.Fatalf("busy again with prolong: %v %v", tEvents(evs), err)
	}
	if s.State != ccgw.StateBusy || s.StateReason != 202 || s.StateSince != busySince {
		t.Fatalf("after prolong: state %d reason %d since %d, want 3, 202, %d", s.State, s.StateReason, s.StateSince, busySince)
	}

	if _, err := Apply(s, Request{Op: Rest, Reason: 5, RestTime: 5 * time.Second}, later); err != nil {
		t.Fatal(err)
	}
	seq, restSince := s.RestSeq, s.StateSince
	if s.RestUntil != ccgw.Millis(later.Add(5*time.Second)) {
		t.Fatalf("RestUntil %d, want %d", s.RestUntil, ccgw.Millis(later.Add(5*time.Second)))
	}
	evenLater := later.Add(3 * time.Second)
	if _, err := Apply(s, Request{Op: Rest, Reason: 6, RestTime: 10 * time.Second}, evenLater); ccgw.CodeOf(err) != ccgw.RetSetStateFailed {
		t.Fatalf("rest again without prolong: %v, want 100-009", err)
	}
	if s.RestSeq != seq || s.StateReason != 5 {
		t.Fatalf("refused rest-again changed RestSeq %d→%d or reason to %d", seq, s.RestSeq, s.StateReason)
	}
	if _, err := Apply(s, Request{Op: Rest, Reason: 6, RestTime: 10 * time.Second, Prolong: true}, evenLater); err != nil {
		t.Fatal(err)
	}
	if s.RestSeq != seq+1 || s.RestUntil != ccgw.Millis(evenLater.Add(10*time.Second)) || s.StateReason != 6 || s.StateSince != restSince {
		t.Fatalf("after rest prolong: seq %d until %d reason %d since %d", s.RestSeq, s.RestUntil, s.StateReason, s.StateSince)
	}
}

// TestApplyDuringCall checks that a request during a call is remembered for
// after it, emits nothing, and is replaced by a later one.
func TestApplyDuringCall(t *testing.T) {
	s := tSession(ccgw.StateTalking)
	for _, tc := range []struct {
		req  Request
		want ccgw.AgentState
	}{
		{Request{Op: SayBusy, Reason: 210}, ccgw.StateBusy},
		{Request{Op: SayWork}, ccgw.StateWork},
		{Request{Op: Rest, Reason: 4, RestTime: time.Minute}, ccgw.StateRest},
		{Request{Op: SayFree}, ccgw.StateIdle},
	} {
		evs, err := Apply(s, tc.req, tNow)
		if err != nil || len(evs) != 0 {
			t.Fatalf("%s during a call: %v %v, want accepted without events", opNames[tc.req.Op], tEvents(evs), err)
		}
		if s.State != ccgw.StateTalking || s.AfterCall != tc.want {
			t.Fatalf("%s during a call: State %d AfterCall %d, want 7 and %d", opNames[tc.req.Op], s.State, s.AfterCall, tc.want)
		}
	}
	for _, op := range []Op{CancelBusy, CancelRest, CancelWork, ForceReady} {
		if _, err := Apply(s, Request{Op: op}, tNow); ccgw.CodeOf(err) != ccgw.RetSetStateFailed {
			t.Errorf("%s during a call: %v, want 100-009", opNames[op], err)
		}
	}
}
