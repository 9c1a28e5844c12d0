package agent

import (
	"strconv"
	"time"

	"github.com/ccgw/ccgw"
)

// Op is a request to change an agent's state.
type Op int

// State operations: the agent's own (interfaces.md §10–16) and an inspector's.
const (
	SayBusy    Op = iota + 1 // sayBusy
	SayFree                  // sayFree
	CancelBusy               // cancelBusy
	Rest                     // rest
	CancelRest               // cancelRest
	SayWork                  // sayWork
	CancelWork               // cancelWork
	ForceBusy                // an inspector's forceBusy
	ForceRest                // an inspector's forceRest
	ForceReady               // an inspector forces the agent idle
)

// Request is a state operation with its parameters.
type Request struct {
	Op       Op
	Reason   int           // busy reason (0, 200–250) or rest cause (0–255)
	Prolong  bool          // reset the reason (and rest time) of the current busy or rest
	RestTime time.Duration // length of a rest
}

// Busy reasons the platform itself uses (events.md §4.4).
const (
	ReasonNone      = 0
	ReasonInspector = 3
)

// rule is one row of the transition table: what op does from a state.
type rule struct {
	to     ccgw.AgentState // the new state; 0 keeps the current one
	events []string        // in order; content is filled in by contentFor
	// afterCall: the request is accepted during a call and takes effect after it.
	afterCall bool
}

// table says, for each operation and current state, what happens. A missing row
// is a refused transition: RetSetStateFailed (100-009).
var table = map[Op]map[ccgw.AgentState]rule{
	SayBusy: {
		ccgw.StateIdle:    {to: ccgw.StateBusy, events: []string{ccgw.EvSetNotReadySuccess}},
		ccgw.StateWork:    {to: ccgw.StateBusy, events: []string{ccgw.EvSetNotReadySuccess}},
		ccgw.StateBusy:    {to: ccgw.StateBusy, events: []string{ccgw.EvSetNotReadySuccess}}, // prolong only
		ccgw.StateTalking: {to: ccgw.StateBusy, afterCall: true},
	},
	SayFree: {
		ccgw.StateIdle:    {events: []string{ccgw.EvReady}}, // "then/otherwise AgentState_Ready" (§11)
		ccgw.StateBusy:    {to: ccgw.StateIdle, events: []string{ccgw.EvCancelNotReadySuccess, ccgw.EvReady}},
		ccgw.StateWork:    {to: ccgw.StateIdle, events: []string{ccgw.EvCancelWorkSuccess, ccgw.EvReady}},
		ccgw.StateRest:    {to: ccgw.StateIdle, events: []string{ccgw.EvCancelRestSuccess, ccgw.EvReady}},
		ccgw.StateTalking: {to: ccgw.StateIdle, afterCall: true},
	},
	CancelBusy: {
		ccgw.StateBusy: {to: ccgw.StateIdle, events: []string{ccgw.EvCancelNotReadySuccess, ccgw.EvReady}},
	},
	Rest: {
		ccgw.StateIdle:    {to: ccgw.StateRest, events: []string{ccgw.EvSetRestSuccess}},
		ccgw.StateBusy:    {to: ccgw.StateRest, events: []string{ccgw.EvSetRestSuccess}},
		ccgw.StateWork:    {to: ccgw.StateRest, events: []string{ccgw.EvSetRestSuccess}},
		ccgw.StateRest:    {to: ccgw.StateRest, events: []string{ccgw.EvSetRestSuccess}}, // prolong only
		ccgw.StateTalking: {to: ccgw.StateRest, afterCall: true},
	},
	CancelRest: {
		ccgw.StateRest: {to: ccgw.StateIdle, events: []string{ccgw.EvCancelRestSuccess}},
	},
	SayWork: {
		ccgw.StateIdle:    {to: ccgw.StateWork, events: []string{ccgw.EvSetWorkSuccess}},
		ccgw.StateBusy:    {to: ccgw.StateWork, events: []string{ccgw.EvSetWorkSuccess}},
		ccgw.StateTalking: {to: ccgw.StateWork, afterCall: true},
	},
	CancelWork: {
		ccgw.StateWork: {to: ccgw.StateIdle, events: []string{ccgw.EvCancelWorkSuccess}},
	},
	ForceBusy: {
		ccgw.StateIdle:    {to: ccgw.StateBusy, events: []string{ccgw.EvForceSetNotReady, ccgw.EvSetNotReadySuccess}},
		ccgw.StateWork:    {to: ccgw.StateBusy, events: []string{ccgw.EvForceSetNotReady, ccgw.EvSetNotReadySuccess}},
		ccgw.StateRest:    {to: ccgw.StateBusy, events: []string{ccgw.EvForceSetNotReady, ccgw.EvSetNotReadySuccess}},
		ccgw.StateTalking: {to: ccgw.StateBusy, afterCall: true},
	},
	ForceRest: {
		ccgw.StateIdle:    {to: ccgw.StateRest, events: []string{ccgw.EvSetRestSuccess}},
		ccgw.StateBusy:    {to: ccgw.StateRest, events: []string{ccgw.EvSetRestSuccess}},
		ccgw.StateWork:    {to: ccgw.StateRest, events: []string{ccgw.EvSetRestSuccess}},
		ccgw.StateTalking: {to: ccgw.StateRest, afterCall: true},
	},
	ForceReady: {
		ccgw.StateBusy: {to: ccgw.StateIdle, events: []string{ccgw.EvForceReady, ccgw.EvReady}},
		ccgw.StateWork: {to: ccgw.StateIdle, events: []string{ccgw.EvForceReady, ccgw.EvReady}},
		ccgw.StateRest: {to: ccgw.StateIdle, events: []string{ccgw.EvForceReady, ccgw.EvReady}},
	},
}

// Allowed reports whether op is accepted from state (prolong aside).
func Allowed(op Op, from ccgw.AgentState) bool {
	_, ok := table[op][from]
	return ok
}

// Apply changes s as req asks and returns the events to queue, in order. A
// transition the table refuses returns RetSetStateFailed; so does setting busy
// again, or rest again, without Prolong. Apply does no I/O; it is meant to run
// inside the session service's Update.
func Apply(s *ccgw.Session, req Request, now time.Time) ([]ccgw.Emit, error) {
	r, ok := table[req.Op][s.State]
	if !ok {
		return nil, ccgw.Fail(ccgw.RetSetStateFailed)
	}
	again := s.State == r.to && r.to != 0 && (req.Op == SayBusy || req.Op == Rest)
	if again && !req.Prolong {
		return nil, ccgw.Fail(ccgw.RetSetStateFailed)
	}
	reason := req.Reason
	if req.Op == ForceBusy {
		reason = ReasonInspector
	}
	if r.afterCall {
		s.AfterCall = r.to
		s.AfterCallReason = reason
		s.AfterCallRest = int64(req.RestTime / time.Millisecond)
		return nil, nil
	}
	if s.State == ccgw.StateRest && r.to != ccgw.StateRest {
		s.RestUntil = 0
	}
	if r.to != 0 {
		if r.to != s.State {
			s.StateSince = ccgw.Millis(now)
		}
		s.State = r.to
	}
	switch r.to {
	case ccgw.StateBusy, ccgw.StateRest:
		s.StateReason = reason
	default:
		s.StateReason = 0
	}
	if r.to == ccgw.StateRest {
		s.RestSeq++
		s.RestUntil = ccgw.Millis(now.Add(req.RestTime))
	}
	evs := make([]ccgw.Emit, 0, len(r.events))
	for _, typ := range r.events {
		evs = append(evs, ccgw.Emit{Type: typ, Content: contentFor(typ, reason)})
	}
	return evs, nil
}

// contentFor returns an event's content: {"reason":"<code>"} for the two events
// that carry a reason, null for the others.
func contentFor(typ string, reason int) []byte {
	switch typ {
	case ccgw.EvSetNotReadySuccess, ccgw.EvSetRestSuccess:
		return ccgw.Content(map[string]string{"reason": itoa(reason)})
	}
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }

// EndCall moves an agent whose call just ended to its next state: the one
// requested during the call if any, else idle (auto-enter-idle) or work
// (wrap-up), and returns the events of that move.
func EndCall(s *ccgw.Session, now time.Time) []ccgw.Emit {
	next, reason := s.AfterCall, s.AfterCallReason
	rest := time.Duration(s.AfterCallRest) * time.Millisecond
	s.AfterCall, s.AfterCallRest, s.AfterCallReason, s.CallID = 0, 0, 0, ""
	if next == 0 {
		next = ccgw.StateWork
		if s.AutoEnterIdle {
			next = ccgw.StateIdle
		}
	}
	s.State, s.StateSince, s.StateReason = next, ccgw.Millis(now), 0
	switch next {
	case ccgw.StateBusy:
		s.StateReason = reason
		return []ccgw.Emit{{Type: ccgw.EvSetNotReadySuccess, Content: contentFor(ccgw.EvSetNotReadySuccess, reason)}}
	case ccgw.StateRest:
		s.StateReason = reason
		s.RestSeq++
		s.RestUntil = ccgw.Millis(now.Add(rest))
		return []ccgw.Emit{{Type: ccgw.EvSetRestSuccess, Content: contentFor(ccgw.EvSetRestSuccess, reason)}}
	case ccgw.StateWork:
		return []ccgw.Emit{{Type: ccgw.EvWork}}
	default:
		s.State = ccgw.StateIdle
		return []ccgw.Emit{{Type: ccgw.EvReady}}
	}
}
