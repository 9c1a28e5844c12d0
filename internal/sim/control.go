package sim

import (
	"strconv"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/session"
)

// Voice-call retcodes (retcodes.md §200, docs/spec-voicecall.md §5.1); their
// messages are in ccgw's one table.
const (
	RetBadNumber      = ccgw.RetCallBadNumber // outbound number wrong
	RetAnswerNoCall   = ccgw.RetAnswerNoCall
	RetTransferNoCall = ccgw.RetTransferNoCall
	RetHoldNoCall     = ccgw.RetHoldNoCall
	RetHoldState      = ccgw.RetHoldState
	RetNoHeldCall     = ccgw.RetGetHoldNoHeld
	RetGetHoldState   = ccgw.RetGetHoldState
	RetReleaseNoCall  = ccgw.RetReleaseNoCall
	RetDropNoCall     = ccgw.RetDropNoCall
	RetNoHoldList     = ccgw.RetHoldListEmpty
)

// CallSpec describes an inbound call to inject.
type CallSpec struct {
	Skill        int
	Caller       string
	CallData     string
	TalkFor      time.Duration // 0: until an agent releases it
	AbandonAfter time.Duration // 0: never abandons
}

// Inject places an inbound call in its skill's queue and routes it. It fails
// with RetBadParam for an unknown skill or a duration outside [0, MaxSpan], and
// with ErrTooManyCalls (RetBadParam) while Config.MaxCalls calls are live.
func (e *Engine) Inject(spec CallSpec) (string, error) {
	if _, ok := e.cfg.Directory.Skill(spec.Skill); !ok || !spec.valid() {
		return "", ccgw.Fail(ccgw.RetBadParam)
	}
	e.lock()
	defer e.unlock()
	if !e.room() {
		return "", ErrTooManyCalls
	}
	return e.inject(spec), nil
}

// room reports whether another call may be made, counting the refusal if not
// and logging the first of a run of them; e.mu must be held.
func (e *Engine) room() bool {
	if len(e.calls) < e.cfg.MaxCalls {
		e.full = false
		return true
	}
	e.refused++
	if !e.full {
		e.full = true
		e.cfg.Log.Warn("simulator: live call limit reached; calls refused until some end",
			"max_calls", e.cfg.MaxCalls, "refused_total", e.refused)
	}
	return false
}

// Refused returns how many calls were not made because Config.MaxCalls calls
// were live.
func (e *Engine) Refused() uint64 {
	e.lock()
	defer e.unlock()
	return e.refused
}

func (e *Engine) inject(spec CallSpec) string {
	caller := spec.Caller
	if caller == "" {
		caller = "138" + strconv.FormatUint(10000000+e.n, 10)
	}
	c := &Call{
		ID: e.newCallID(), Dir: Inbound, Caller: caller, Called: e.cfg.AccessCode, Skill: spec.Skill,
		Created: e.now(), TalkFor: spec.TalkFor, AbandonAfter: spec.AbandonAfter, CallData: spec.CallData,
	}
	e.calls[c.ID] = c
	e.enqueue(c, false)
	e.dispatch()
	return c.ID
}

// Answer answers the call ringing at agent id; with callid, only that call.
// It fails with RetAnswerNoCall.
func (e *Engine) Answer(id ccgw.AgentID, callid string) error {
	if r, ok := e.remote(request{Op: opAnswer, Agent: id, CallID: callid}); ok {
		return r.err()
	}
	e.lock()
	defer e.unlock()
	return e.answerLocked(id, callid)
}

func (e *Engine) answerLocked(id ccgw.AgentID, callid string) error {
	l := e.legs[id]
	if l == nil || l.active == nil || l.active.State != Ringing || (callid != "" && callid != l.active.ID) {
		return ccgw.Fail(RetAnswerNoCall)
	}
	c := l.active
	if err := e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
		return []session.Emit{{Type: ccgw.EvTalking, Content: talkingContent(c)}}
	}); err != nil {
		return err
	}
	e.connected(c)
	return nil
}

// Release hangs up agent id's active call (RetReleaseNoCall if none).
func (e *Engine) Release(id ccgw.AgentID) error {
	if r, ok := e.remote(request{Op: opRelease, Agent: id}); ok {
		return r.err()
	}
	e.lock()
	defer e.unlock()
	l := e.legs[id]
	if l == nil || l.active == nil {
		return ccgw.Fail(RetReleaseNoCall)
	}
	e.hangUp(id, l.active)
	return nil
}

// DropCall hangs up agent id's call callid, active or held (RetDropNoCall).
func (e *Engine) DropCall(id ccgw.AgentID, callid string) error {
	if r, ok := e.remote(request{Op: opDropCall, Agent: id, CallID: callid}); ok {
		return r.err()
	}
	e.lock()
	defer e.unlock()
	l := e.legs[id]
	if l == nil {
		return ccgw.Fail(RetDropNoCall)
	}
	if l.active != nil && l.active.ID == callid {
		e.hangUp(id, l.active)
		return nil
	}
	for _, c := range l.held {
		if c.ID == callid {
			e.hangUp(id, c)
			return nil
		}
	}
	return ccgw.Fail(RetDropNoCall)
}

// hangUp is the agent hanging up c.
func (e *Engine) hangUp(id ccgw.AgentID, c *Call) {
	if c.State == Ringing { // rejecting a call that rings
		e.stopTimer(c)
		e.leave(c, 2, []session.Emit{{Type: ccgw.EvCallRelease, Content: content(c.ID)}})
		if c.parent != nil {
			e.transferFailed(c)
		} else {
			e.requeue(c, id)
		}
		return
	}
	e.leave(c, 2, []session.Emit{
		{Type: ccgw.EvCallRelease, Content: content(c.ID)},
		{Type: ccgw.EvCustomerRelease, Content: content(map[string]string{"callid": c.ID, "number": c.customer()})},
	})
	e.end(c)
}

// Hold puts agent id's talking call on hold (RetHoldNoCall, RetHoldState).
func (e *Engine) Hold(id ccgw.AgentID) error {
	if r, ok := e.remote(request{Op: opHold, Agent: id}); ok {
		return r.err()
	}
	e.lock()
	defer e.unlock()
	l := e.legs[id]
	switch {
	case l == nil || l.active == nil:
		return ccgw.Fail(RetHoldNoCall)
	case l.active.State != Talking:
		return ccgw.Fail(RetHoldState)
	}
	c := l.active
	l.active = nil
	l.held = append(l.held, c)
	c.State = Held
	return e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
		return []session.Emit{{Type: ccgw.EvHold, Content: content(c.ID)}}
	})
}

// GetHold takes a held call of agent id back (callid, or the most recently
// held). It fails with RetNoHeldCall, and RetGetHoldState while another call is
// active.
func (e *Engine) GetHold(id ccgw.AgentID, callid string) error {
	if r, ok := e.remote(request{Op: opGetHold, Agent: id, CallID: callid}); ok {
		return r.err()
	}
	e.lock()
	defer e.unlock()
	l := e.legs[id]
	if l == nil || len(l.held) == 0 {
		return ccgw.Fail(RetNoHeldCall)
	}
	var c *Call
	if callid == "" {
		c = l.held[len(l.held)-1]
	} else {
		for _, x := range l.held {
			if x.ID == callid {
				c = x
			}
		}
		if c == nil {
			return ccgw.Fail(RetNoHeldCall)
		}
	}
	if l.active != nil {
		return ccgw.Fail(RetGetHoldState)
	}
	l.unhold(c)
	l.active = c
	c.State = Talking
	return e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
		s.CallID = c.ID
		return []session.Emit{{Type: ccgw.EvTalking, Content: talkingContent(c)}}
	})
}

// Hangup makes the customer of call id hang up, wherever the call is. It
// reports whether the call existed.
func (e *Engine) Hangup(callID string) bool {
	e.lock()
	defer e.unlock()
	c := e.calls[callID]
	if c == nil {
		return false
	}
	switch c.State {
	case Queued, Ringing:
		e.abandon(c)
	case Dialing:
		id := c.Agent
		l := e.legsOf(id)
		l.active, l.last = nil, c
		e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
			evs := append(phoneDown(s, 3), session.Emit{Type: ccgw.EvCallOutFail, Content: content(c.ID)},
				session.Emit{Type: ccgw.EvConnectFail, Content: content(c.ID)})
			return append(evs, e.afterCall(id, s, now)...)
		})
		e.end(c)
	default:
		e.customerHangup(c)
	}
	return true
}
