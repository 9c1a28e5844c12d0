package sim

import (
	"strconv"
	"strings"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/session"
)

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
	if r, ok := e.remote(request{Op: opTransfer, Agent: id, Transfer: &t}); ok {
		return r.err()
	}
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
