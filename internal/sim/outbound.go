package sim

import (
	"strings"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/session"
)

// ValidNumber accepts 1–24 characters of 0-9 * #.
func ValidNumber(n string) bool {
	if n == "" || len(n) > 24 {
		return false
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; (c < '0' || c > '9') && c != '*' && c != '#' {
			return false
		}
	}
	return true
}

// FailingPrefix marks simulated numbers that do not answer: a call out, or a
// transfer, to a number that starts with it fails.
const FailingPrefix = "999"

// CalloutSpec is an outbound call request (callout body).
type CalloutSpec struct {
	Caller   string
	Called   string
	Skill    int
	CallData string
	TalkFor  time.Duration // simulated callee hangs up after this; 0: never
}

// Callout makes an outbound call from agent id and returns its call ID. It
// fails with RetBadNumber for an invalid number, RetNotSignedIn, and
// RetSetStateFailed while the agent has an active call.
func (e *Engine) Callout(id ccgw.AgentID, spec CalloutSpec) (string, error) {
	if r, ok := e.remote(request{Op: opCallout, Agent: id, Callout: &spec}); ok {
		return r.ID, r.err()
	}
	if !ValidNumber(spec.Called) {
		return "", ccgw.Fail(RetBadNumber)
	}
	e.lock()
	defer e.unlock()
	if l := e.legs[id]; l != nil && l.active != nil {
		return "", ccgw.Fail(ccgw.RetSetStateFailed)
	}
	c := &Call{ID: e.newCallID(), Dir: Outbound, Called: spec.Called, Caller: spec.Caller, Skill: spec.Skill,
		Created: e.now(), TalkFor: spec.TalkFor, CallData: spec.CallData, Feature: 7}
	_, err := e.updateSession(id, func(s *ccgw.Session, now time.Time) ([]session.Emit, error) {
		if c.Caller == "" {
			c.Caller = s.Phone
		}
		s.State, s.StateSince, s.StateReason, s.CallID = ccgw.StateTalking, ccgw.Millis(now), 0, c.ID
		evs := append(phoneUp(s), session.Emit{Type: ccgw.EvBusy},
			session.Emit{Type: ccgw.EvCustomerAlerting, Content: content(map[string]string{
				"callid": c.ID, "otherPhoneWorkno": "", "otherPhone": c.Called, "type": "main"})})
		return evs, nil
	})
	if err != nil {
		return "", err
	}
	c.Agent, c.State = id, Dialing
	e.calls[c.ID] = c
	e.legsOf(id).active = c
	c.timer = e.after(e.cfg.CalleeAnswer, func() { e.calleeAnswers(c) })
	return c.ID, nil
}

// calleeAnswers connects an outbound call, or fails it for a FailingPrefix number.
func (e *Engine) calleeAnswers(c *Call) {
	c.timer = nil
	if c.State != Dialing {
		return
	}
	if strings.HasPrefix(c.Called, FailingPrefix) {
		id := c.Agent
		l := e.legsOf(id)
		l.active, l.last = nil, c
		e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
			evs := append(phoneDown(s, 3),
				session.Emit{Type: ccgw.EvCallOutFail, Content: content(c.ID)},
				session.Emit{Type: ccgw.EvConnectFail, Content: content(c.ID)})
			return append(evs, e.afterCall(id, s, now)...)
		})
		e.end(c)
		return
	}
	e.update(c.Agent, func(s *ccgw.Session, now time.Time) []session.Emit {
		return []session.Emit{{Type: ccgw.EvTalking, Content: talkingContent(c)}}
	})
	e.connected(c)
}
