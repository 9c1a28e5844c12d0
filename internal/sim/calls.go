package sim

import (
	"math"
	"sort"
	"strconv"
	"strings"
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

// Device types and modes of a transfer (spec-voicecall V8).
const (
	DevSkill    = 1
	DevAgent    = 2
	DevIVR      = 3
	DevAccess   = 4
	DevExternal = 5

	ModeRelease    = 0
	ModeHangUp     = 1 // IVR: returns to the agent; external number: release
	ModeSuccess    = 2
	ModeTalk       = 3 // agent: specified transfer (treated as success)
	ModeThreeParty = 4
)

// TransferSpec is a transfer request (transfer body).
type TransferSpec struct {
	DeviceType int
	Address    string
	Mode       int
	HoldFlag   bool
}

// TransferAllowed reports whether mode is allowed for deviceType.
func TransferAllowed(deviceType, mode int) bool {
	switch deviceType {
	case DevSkill, DevAccess:
		return mode == ModeRelease || mode == ModeSuccess
	case DevAgent:
		return mode == ModeRelease || mode == ModeSuccess || mode == ModeTalk
	case DevIVR:
		return mode == ModeRelease || mode == ModeHangUp
	case DevExternal:
		return mode == ModeHangUp || mode == ModeSuccess || mode == ModeTalk || mode == ModeThreeParty
	}
	return false
}

// Transfer hands agent id's talking call on. It fails with RetTransferNoCall
// without a talking call and RetBadParam for a target that cannot take it.
func (e *Engine) Transfer(id ccgw.AgentID, t TransferSpec) error {
	if !TransferAllowed(t.DeviceType, t.Mode) {
		return ccgw.Fail(ccgw.RetBadParam)
	}
	e.lock()
	defer e.unlock()
	l := e.legs[id]
	if l == nil || l.active == nil || l.active.State != Talking || l.active.leg != nil {
		return ccgw.Fail(RetTransferNoCall)
	}
	c := l.active
	n, err := strconv.Atoi(t.Address)
	if t.DeviceType != DevExternal && err != nil {
		return ccgw.Fail(ccgw.RetBadParam)
	}
	switch t.DeviceType {
	case DevSkill:
		if _, ok := e.cfg.Directory.Skill(n); !ok {
			return ccgw.Fail(ccgw.RetBadParam)
		}
		e.statsOf(c.Skill).Transferred++
		if t.Mode == ModeSuccess {
			to, ok := e.longestIdle(n, id)
			if !ok {
				e.succResult(id, c, 1)
				return nil
			}
			e.startLeg(c, id, to, n)
			return nil
		}
		e.leaveReleased(c, id)
		c.Skill, c.Transfer = n, id
		e.calls[c.ID] = c
		e.enqueue(c, false)
		e.dispatch()
	case DevAgent:
		to := ccgw.AgentID(n)
		s, ok := e.cfg.Sessions.Lookup(to)
		if !ok || to == id {
			return ccgw.Fail(ccgw.RetBadParam)
		}
		free := s.State == ccgw.StateIdle && !e.busy(to)
		if !free && t.Mode != ModeRelease { // success: the target cannot take it now
			e.succResult(id, c, 1)
			return nil
		}
		if !free {
			return ccgw.Fail(ccgw.RetBadParam)
		}
		e.statsOf(c.Skill).Transferred++
		if t.Mode != ModeRelease {
			e.startLeg(c, id, to, c.Skill)
			return nil
		}
		e.leaveReleased(c, id)
		c.Transfer = id
		e.offer(c, to)
	case DevIVR, DevAccess:
		e.statsOf(c.Skill).Transferred++
		if t.Mode == ModeSuccess {
			e.succResult(id, c, 0)
		}
		e.leaveReleased(c, id)
		if t.DeviceType == DevIVR && t.Mode == ModeHangUp {
			c.timer = e.after(e.cfg.IVRReturn, func() { e.returnFromIVR(c, id) })
			return nil
		}
		e.end(c)
	case DevExternal:
		if !validExternal(t.Address) || (t.Mode == ModeHangUp && c.Dir == Outbound) {
			return ccgw.Fail(ccgw.RetBadParam)
		}
		e.statsOf(c.Skill).Transferred++
		e.transferOut(c, id, t)
	}
	return nil
}

// validExternal accepts 1–24 characters of 0-9 A-E a-e * #.
func validExternal(a string) bool {
	if a == "" || len(a) > 24 {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if (c < '0' || c > '9') && (c < 'A' || c > 'E') && (c < 'a' || c > 'e') && c != '*' && c != '#' {
			return false
		}
	}
	return true
}

// leaveReleased takes the transferring agent out of c (release transfer).
func (e *Engine) leaveReleased(c *Call, id ccgw.AgentID) {
	e.leave(c, 3, []session.Emit{{Type: ccgw.EvCallRelease, Content: content(c.ID)}})
}

func (e *Engine) succResult(id ccgw.AgentID, c *Call, result int) {
	e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
		return []session.Emit{{Type: ccgw.EvSuccTransResult, Content: content(map[string]any{"result": result, "callId": c.ID})}}
	})
}

// startLeg offers a success-mode transfer of c from agent from to agent to.
func (e *Engine) startLeg(c *Call, from, to ccgw.AgentID, skill int) {
	leg := &Call{ID: c.ID, Dir: Inbound, Caller: c.Caller, Called: c.Called, Skill: skill, Created: c.Created,
		Transfer: from, Feature: c.Feature, CallData: c.CallData, parent: c}
	if c.Dir == Outbound {
		leg.Caller, leg.Called = c.Called, c.Caller
	}
	c.leg = leg
	e.offer(leg, to)
}

// transferSucceeded hands c's parent call to the agent who answered the leg.
func (e *Engine) transferSucceeded(leg *Call) {
	p := leg.parent
	to := leg.Agent
	from := p.Agent
	p.leg = nil
	if from != 0 {
		lf := e.legsOf(from)
		lf.active, lf.last = nil, p
		e.update(from, func(s *ccgw.Session, now time.Time) []session.Emit {
			evs := []session.Emit{
				{Type: ccgw.EvSuccTransResult, Content: content(map[string]any{"result": 0, "callId": p.ID})},
				{Type: ccgw.EvCallRelease, Content: content(p.ID)},
			}
			evs = append(evs, phoneDown(s, 3)...)
			return append(evs, e.afterCall(from, s, now)...)
		})
	}
	p.Agent, p.State, p.Transfer, p.Skill = to, Talking, from, leg.Skill
	e.legsOf(to).active = p
}

// transferFailed tells the transferring agent its success transfer failed.
func (e *Engine) transferFailed(leg *Call) {
	p := leg.parent
	if p.leg == leg {
		p.leg = nil
	}
	if p.Agent != 0 {
		e.succResult(p.Agent, p, 1)
	}
}

// dropLeg takes a pending success-transfer leg away from its target agent.
func (e *Engine) dropLeg(leg *Call) {
	to := leg.Agent
	e.stopTimer(leg)
	if to == 0 {
		return
	}
	l := e.legsOf(to)
	if l.active == leg {
		l.active = nil
	}
	e.update(to, func(s *ccgw.Session, now time.Time) []session.Emit {
		evs := []session.Emit{{Type: ccgw.EvCustomerRelease, Content: content(map[string]string{"callid": leg.ID, "number": leg.Caller})}}
		evs = append(evs, phoneDown(s, 3)...)
		return append(evs, e.afterCall(to, s, now)...)
	})
}

// returnFromIVR brings a hang-up transfer back to agent id.
func (e *Engine) returnFromIVR(c *Call, id ccgw.AgentID) {
	c.timer = nil
	s, ok := e.cfg.Sessions.Lookup(id)
	if !ok || s.State != ccgw.StateIdle || e.busy(id) {
		c.Transfer = 0
		e.enqueue(c, true)
		e.dispatch()
		return
	}
	e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
		return []session.Emit{{Type: ccgw.EvReturnFromIVR, Content: content(c.ID)}}
	})
	e.offer(c, id)
}

// transferOut transfers c to an external number.
func (e *Engine) transferOut(c *Call, id ccgw.AgentID, t TransferSpec) {
	fails := strings.HasPrefix(t.Address, FailingPrefix)
	switch t.Mode {
	case ModeHangUp: // release: the customer is connected to the number
		e.leaveReleased(c, id)
		e.end(c)
	case ModeSuccess:
		e.stopTimer(c)
		c.timer = e.after(e.cfg.CalleeAnswer, func() {
			c.timer = nil
			if c.Agent != id {
				return
			}
			if fails {
				e.succResult(id, c, 1)
				return
			}
			e.succResult(id, c, 0)
			e.leaveReleased(c, id)
			e.end(c)
		})
	default: // talk or three-party: a second leg to the number, then a conference
		held := t.Mode == ModeTalk || t.HoldFlag
		e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
			var evs []session.Emit
			if held {
				evs = append(evs, session.Emit{Type: ccgw.EvHold, Content: content(c.ID)})
			}
			return append(evs, session.Emit{Type: ccgw.EvCustomerAlerting, Content: content(map[string]string{
				"callid": c.ID, "otherPhoneWorkno": "", "otherPhone": t.Address, "type": "assistant"})})
		})
		e.stopTimer(c)
		c.timer = e.after(e.cfg.CalleeAnswer, func() {
			c.timer = nil
			if c.Agent != id {
				return
			}
			if fails {
				e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
					return []session.Emit{
						{Type: ccgw.EvConnectFail, Content: content(c.ID)},
						{Type: ccgw.EvTalking, Content: talkingContent(c)},
					}
				})
				return
			}
			c.Conference, c.Third = true, t.Address
			e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
				return []session.Emit{
					{Type: ccgw.EvTalking, Content: content(map[string]string{
						"caller": c.Caller, "called": t.Address, "callid": c.ID, "type": "assistant",
						"feature": c.feature(), "mediaAbility": "1"})},
					{Type: ccgw.EvConference},
				}
			})
		})
	}
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

// CallInfo is a call as the call-data queries show it (spec-voicecall §3.0).
type CallInfo struct {
	CallFeature   int    `json:"callfeature"`
	CallID        string `json:"callid"`
	Caller        string `json:"caller"`
	Called        string `json:"called"`
	CallSkill     string `json:"callskill"`
	CallSkillID   int    `json:"callskillid"`
	OrgiCalledNum string `json:"orgicallednum"`
	CallData      string `json:"calldata"`
	BeginTime     *int64 `json:"begintime"`
	EndTime       *int64 `json:"endtime"`
	UserPriority  int    `json:"userPriority"`
	TrunkNo       int    `json:"trunkNo"`
	LogonTimes    int64  `json:"logontimes"`
	MediaType     int    `json:"mediaType"`
	MediaAbility  int    `json:"mediaAbility"`
	WaitTime      int64  `json:"waitTime"`
}

func (e *Engine) info(c *Call) CallInfo {
	sk, _ := e.cfg.Directory.Skill(c.Skill)
	now := e.now()
	ci := CallInfo{CallFeature: c.Feature, CallID: c.ID, Caller: c.Caller, Called: c.Called, CallSkill: sk.Name,
		CallSkillID: c.Skill, CallData: c.CallData, TrunkNo: 65535, MediaType: 5, MediaAbility: 1,
		LogonTimes: int64(now.Sub(c.Created) / time.Second)}
	if !c.Answered.IsZero() {
		b := ccgw.Millis(c.Answered)
		ci.BeginTime = &b
		ci.WaitTime = int64(c.Answered.Sub(c.Created) / time.Second)
	} else {
		ci.WaitTime = int64(now.Sub(c.Created) / time.Second)
	}
	if !c.Ended.IsZero() {
		end := ccgw.Millis(c.Ended)
		ci.EndTime = &end
		ci.LogonTimes = int64(c.Ended.Sub(c.Created) / time.Second)
	}
	return ci
}

// CallStatus is the admin view of a call: its call information, where it is and
// which agent has it.
type CallStatus struct {
	CallInfo
	State  string `json:"state"`
	WorkNo string `json:"workno"`
}

// Call returns a live call's status.
func (e *Engine) Call(id string) (CallStatus, bool) {
	e.lock()
	defer e.unlock()
	c := e.calls[id]
	if c == nil {
		return CallStatus{}, false
	}
	st := CallStatus{CallInfo: e.info(c), State: c.State.String()}
	if c.Agent != 0 {
		st.WorkNo = c.Agent.String()
	}
	return st, true
}

// CurrentCall returns agent id's active call, else its most recently held one,
// else (withLast) the last call that ended for it.
func (e *Engine) CurrentCall(id ccgw.AgentID, withLast bool) (CallInfo, bool) {
	e.lock()
	defer e.unlock()
	l := e.legs[id]
	switch {
	case l == nil:
		return CallInfo{}, false
	case l.active != nil:
		return e.info(l.active), true
	case len(l.held) > 0:
		return e.info(l.held[len(l.held)-1]), true
	case withLast && l.last != nil:
		return e.info(l.last), true
	}
	return CallInfo{}, false
}

// AgentCallByID returns agent id's call callid: active, held or last.
func (e *Engine) AgentCallByID(id ccgw.AgentID, callid string) (CallInfo, bool) {
	e.lock()
	defer e.unlock()
	l := e.legs[id]
	if l == nil {
		return CallInfo{}, false
	}
	for _, c := range append(append([]*Call{l.active}, l.held...), l.last) {
		if c != nil && c.ID == callid {
			return e.info(c), true
		}
	}
	return CallInfo{}, false
}

// Ringing returns the call ringing at agent id, if any.
func (e *Engine) Ringing(id ccgw.AgentID) (CallInfo, bool) {
	e.lock()
	defer e.unlock()
	if l := e.legs[id]; l != nil && l.active != nil && l.active.State == Ringing {
		return e.info(l.active), true
	}
	return CallInfo{}, false
}

// HeldCalls returns agent id's held calls, oldest first.
func (e *Engine) HeldCalls(id ccgw.AgentID) []CallInfo {
	e.lock()
	defer e.unlock()
	out := []CallInfo{}
	if l := e.legs[id]; l != nil {
		for _, c := range l.held {
			out = append(out, e.info(c))
		}
	}
	return out
}

// Waiting returns the oldest max calls waiting in skill's queue, oldest first,
// and whether more are waiting.
func (e *Engine) Waiting(skill, max int) ([]CallInfo, bool) {
	e.lock()
	defer e.unlock()
	out := []CallInfo{}
	q := e.queues[skill]
	if q == nil {
		return out, false
	}
	for _, c := range q.calls[:min(max, len(q.calls))] {
		out = append(out, e.info(c))
	}
	return out, len(q.calls) > max
}

// WaitNum returns how many calls wait in the given skills' queues.
func (e *Engine) WaitNum(skills []int) int {
	e.lock()
	defer e.unlock()
	n := 0
	for _, sk := range skills {
		if q := e.queues[sk]; q != nil {
			n += len(q.calls)
		}
	}
	return n
}

// Queue returns skill's queue figures.
func (e *Engine) Queue(skill int) QueueStats {
	e.lock()
	defer e.unlock()
	return e.queueStats(skill)
}

func (e *Engine) queueStats(skill int) QueueStats {
	st := *e.statsOf(skill)
	if q := e.queues[skill]; q != nil {
		st.Waiting = len(q.calls)
		now := e.now()
		for _, c := range q.calls {
			if w := now.Sub(c.Enqueued).Seconds(); w > st.LongestWait {
				st.LongestWait = math.Round(w*1000) / 1000
			}
		}
	}
	return st
}

// Queues returns every known skill queue's figures, by skill ID.
func (e *Engine) Queues() []QueueStats {
	e.lock()
	defer e.unlock()
	seen := map[int]bool{}
	for _, s := range e.cfg.Directory.Skills() {
		seen[s.ID] = true
	}
	for sk := range e.stats {
		seen[sk] = true
	}
	ids := make([]int, 0, len(seen))
	for sk := range seen {
		ids = append(ids, sk)
	}
	sort.Ints(ids)
	out := make([]QueueStats, 0, len(ids))
	for _, sk := range ids {
		out = append(out, e.queueStats(sk))
	}
	return out
}

// AcdStat is one skill's statistics (queryacdstat, spec-voicecall Q4).
type AcdStat struct {
	PilotNbr           string `json:"pilotNbr"`
	DeviceNo           int    `json:"deviceNo"`
	QueueSize          int    `json:"queueSize"`
	QueueTime          int64  `json:"queueTime"`
	LoadFactor         int    `json:"loadFactor"`
	EstWaitTime        int64  `json:"estWaitTime"`
	LoggedOnAgents     int    `json:"loggedOnAgents"`
	AvailAgents        int    `json:"availAgents"`
	TransferFlg        int    `json:"transferFlg"`
	TransferDeviceType int    `json:"transferDeviceType"`
	TransferDeviceNo   int    `json:"transferDeviceNo"`
	SkillDescrip       string `json:"skillDescrip"`
	ResourceIdleRate   int    `json:"resourceIdleRate"` // idle agents among those signed in, percent
	ServiceLevel       int    `json:"serviceLevel"`
	OldCallIDEx        CallID `json:"oldCallIdEx"`
	MaxQueueSize       int    `json:"maxQueueSize"`
}

// CallID is the CTI's call identifier object; the zero call is the vendor's
// "none" (all fields at their maximum), as its queue statistics show it.
type CallID struct {
	DateTime int64 `json:"dateTime"`
	DSN      int   `json:"dsn"`
	Server   int   `json:"server"`
	Handle   int   `json:"handle"`
}

// noCall is the CallID of no call.
var noCall = CallID{DateTime: 4294967295000, DSN: 65535, Server: 255, Handle: 255}

// AcdStats returns the statistics of the known skills among skills, in order.
func (e *Engine) AcdStats(skills []int) []AcdStat {
	e.lock()
	defer e.unlock()
	out := []AcdStat{}
	for _, id := range skills {
		sk, ok := e.cfg.Directory.Skill(id)
		if !ok {
			continue
		}
		qs := e.queueStats(id)
		// The fields the vendor's example shows unused carry its "none" values.
		st := AcdStat{PilotNbr: e.cfg.AccessCode, DeviceNo: id, QueueSize: qs.Waiting,
			QueueTime: int64(qs.LongestWait), SkillDescrip: sk.Name, LoadFactor: 65535,
			TransferDeviceType: 255, TransferDeviceNo: 65535, ServiceLevel: 100, OldCallIDEx: noCall}
		// Counted on the walk, not on a copy of every session of the skill.
		e.cfg.Sessions.EachInSkill(id, 0, func(s ccgw.Session) bool {
			st.LoggedOnAgents++
			if s.State == ccgw.StateIdle && s.TalkRight && !e.busy(s.Agent) {
				st.AvailAgents++
			}
			return true
		})
		st.ResourceIdleRate = 100
		if st.LoggedOnAgents > 0 {
			st.ResourceIdleRate = 100 * st.AvailAgents / st.LoggedOnAgents
		}
		out = append(out, st)
	}
	return out
}

// AddSimAgent signs in a simulated agent: it needs no client, never expires,
// and behaves as sa says (auto-answer unless sa.AnswerAfter is set). With
// skills it serves those of its configured skills only. It never replaces a
// session: it fails with RetAlreadySignedIn if the agent is signed in (by a
// client, or already simulated), and with RetBadParam for a duration outside
// [0, MaxSpan].
func (e *Engine) AddSimAgent(id ccgw.AgentID, sa SimAgent, skills []int) error {
	if !sa.valid() {
		return ccgw.Fail(ccgw.RetBadParam)
	}
	if _, ok := e.cfg.Sessions.Lookup(id); ok {
		return &ccgw.Error{Code: ccgw.RetAlreadySignedIn, Op: "simulated"}
	}
	// Set before the sign-in, whose report may route a call to the agent at
	// once. Only sessions marked Simulated act on it (offer, scheduleWrapUp), so
	// a client that signs in meanwhile, and wins, is not answered for.
	e.lock()
	prev, had := e.simAgent[id]
	e.simAgent[id] = sa
	e.unlock()
	s, err := e.cfg.Sessions.SignIn(session.SignIn{
		Op: "simulated", SkipPassword: true, Status: ccgw.StateIdle,
		Session: ccgw.Session{
			Agent: id, Phone: "7" + id.String(), AutoAnswer: sa.AnswerAfter == 0, AutoEnterIdle: sa.WrapUp == 0,
			ReleasePhone: true, AgentType: 4, IP: "127.0.0.1", MediaType: "TTF", Simulated: true,
		},
	})
	if err != nil {
		e.lock()
		if had {
			e.simAgent[id] = prev
		} else {
			delete(e.simAgent, id)
		}
		e.unlock()
		return err
	}
	if skills == nil {
		return nil
	}
	keep := map[int]bool{}
	for _, sk := range skills {
		keep[sk] = true
	}
	_, err = e.cfg.Sessions.Update(id, s.GUID, func(s *ccgw.Session, _ time.Time) ([]session.Emit, error) {
		var on []int
		for _, sk := range s.Skills {
			if keep[sk] {
				on = append(on, sk)
			}
		}
		s.Skills = on
		return nil, nil
	})
	return err
}

// arrival is a skill's random call arrivals.
type arrival struct {
	rate  Rate
	timer ccgw.Timer
}

// Rate is a Poisson arrival process of calls to a skill.
type Rate struct {
	PerHour      float64       `json:"perHour"`
	TalkMin      time.Duration `json:"-"` // talk time, uniform in [TalkMin, TalkMax] whole seconds
	TalkMax      time.Duration `json:"-"`
	AbandonAfter time.Duration `json:"-"` // 0: callers never abandon
}

// SetRate starts, changes or (PerHour 0) stops skill's random arrivals. It fails
// with RetBadParam for an unknown skill, a PerHour that ValidPerHour refuses
// (NaN, infinite, negative, above MaxPerHour), a duration outside [0, MaxSpan]
// or TalkMax below TalkMin. An arrival while Config.MaxCalls calls are live is
// dropped.
func (e *Engine) SetRate(skill int, r Rate) error {
	if _, ok := e.cfg.Directory.Skill(skill); !ok || !r.valid() {
		return ccgw.Fail(ccgw.RetBadParam)
	}
	e.lock()
	defer e.unlock()
	if a := e.rates[skill]; a != nil && a.timer != nil {
		a.timer.Stop()
	}
	if r.PerHour == 0 {
		delete(e.rates, skill)
		return nil
	}
	a := &arrival{rate: r}
	e.rates[skill] = a
	e.scheduleArrival(skill, a)
	return nil
}

func (e *Engine) scheduleArrival(skill int, a *arrival) {
	gap := time.Duration(e.rnd.ExpFloat64() / a.rate.PerHour * float64(time.Hour))
	a.timer = e.after(gap, func() {
		if e.rates[skill] != a {
			return
		}
		talk := a.rate.TalkMin
		if span := a.rate.TalkMax - a.rate.TalkMin; span > 0 {
			talk += time.Duration(e.rnd.Int64N(int64(span)/int64(time.Second)+1)) * time.Second
		}
		if e.room() {
			e.inject(CallSpec{Skill: skill, TalkFor: talk, AbandonAfter: a.rate.AbandonAfter})
		}
		e.scheduleArrival(skill, a)
	})
}

// Rates returns the arrival processes running, by skill.
func (e *Engine) Rates() map[int]Rate {
	e.lock()
	defer e.unlock()
	out := make(map[int]Rate, len(e.rates))
	for sk, a := range e.rates {
		out[sk] = a.rate
	}
	return out
}
