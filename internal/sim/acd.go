package sim

import (
	"errors"
	"sort"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/session"
)

// enqueue puts c at the back of its skill queue (front when requeued).
func (e *Engine) enqueue(c *Call, front bool) {
	q := e.queues[c.Skill]
	if q == nil {
		q = &queue{}
		e.queues[c.Skill] = q
	}
	c.State, c.Agent = Queued, 0
	if front {
		q.calls = append([]*Call{c}, q.calls...)
	} else {
		c.Enqueued = e.now()
		q.calls = append(q.calls, c)
	}
	if c.AbandonAfter > 0 && c.abandonT == nil && c.Answered.IsZero() {
		left := c.AbandonAfter - e.now().Sub(c.Enqueued)
		c.abandonT = e.after(left, func() {
			c.abandonT = nil
			e.abandon(c)
		})
	}
}

// dequeue removes c from its queue.
func (e *Engine) dequeue(c *Call) {
	q := e.queues[c.Skill]
	if q == nil {
		return
	}
	for i, x := range q.calls {
		if x == c {
			q.calls = append(q.calls[:i], q.calls[i+1:]...)
			return
		}
	}
}

// dispatch offers waiting calls, skill by skill in ID order and oldest first,
// to the longest-idle agents with the skill.
func (e *Engine) dispatch() {
	skills := make([]int, 0, len(e.queues))
	for sk, q := range e.queues {
		if len(q.calls) > 0 {
			skills = append(skills, sk)
		}
	}
	sort.Ints(skills)
	for _, sk := range skills {
		q := e.queues[sk]
		refused := 0
		for len(q.calls) > 0 {
			c := q.calls[0]
			id, ok := e.longestIdle(sk, c.Transfer)
			if !ok {
				break
			}
			q.calls = q.calls[1:]
			if !e.offer(c, id) {
				// Back at the head; the next pick looks the agent up afresh. A
				// few refusals in a row end the round: a report routes again.
				if refused++; refused == maxRefusals {
					break
				}
			}
		}
	}
}

// longestIdle returns the agent signed in to skill who has been idle longest,
// takes inbound calls and has no call, other than exclude (the agent who
// transferred the call, 0 for none); ties go to the lower work number.
func (e *Engine) longestIdle(skill int, exclude ccgw.AgentID) (ccgw.AgentID, bool) {
	if e.syncIdle() {
		return e.longestIdleIndexed(skill, exclude)
	}
	var best ccgw.Session
	found := false
	for _, s := range e.cfg.Sessions.BySkill(skill) {
		if s.State != ccgw.StateIdle || !s.TalkRight || e.busy(s.Agent) || s.Agent == exclude {
			continue
		}
		if !found || s.StateSince < best.StateSince || (s.StateSince == best.StateSince && s.Agent < best.Agent) {
			best, found = s, true
		}
	}
	return best.Agent, found
}

// maxRefusals is how many offers of one skill's calls dispatch tries in a row
// that agents refuse because their state changed since they were picked.
const maxRefusals = 8

// errNotIdle refuses to offer a call to an agent who is not idle.
var errNotIdle = errors.New("sim: the agent is not idle")

// offer rings agent id with call c (inbound, transferred, or a success-transfer
// leg), or connects it at once if the agent auto-answers. It reports whether
// it did: if the agent left or is no longer idle, an inbound call goes back to
// the head of its queue and a success-transfer leg fails.
func (e *Engine) offer(c *Call, id ccgw.AgentID) bool {
	sk, _ := e.cfg.Directory.Skill(c.Skill)
	last := int64(65535)
	if c.LastAgent != 0 {
		last = int64(c.LastAgent)
	}
	requeued := 0
	if c.Requeued > 0 {
		requeued = 1
	}
	auto, simulated := false, false
	_, err := e.updateSession(id, func(s *ccgw.Session, now time.Time) ([]session.Emit, error) {
		// Every caller chose an idle agent, but the agent may have changed state
		// since, on another node too: a busy agent is never offered a call.
		if s.State != ccgw.StateIdle {
			return nil, errNotIdle
		}
		auto, simulated = s.AutoAnswer, s.Simulated
		s.State, s.StateSince, s.StateReason, s.CallID = ccgw.StateTalking, ccgw.Millis(now), 0, c.ID
		evs := []session.Emit{
			{Type: ccgw.EvIncomingCallInfo, Content: content(map[string]any{
				"callId": c.ID, "skillName": sk.Name, "skillId": c.Skill, "caller": c.Caller, "called": c.Called,
				"lastReleaseAgentId": last, "mediaType": 5, "releaseAndReQueueCount": c.Requeued,
				"releaseAndReQueueCallFlag": requeued,
			})},
			{Type: ccgw.EvBusy},
		}
		evs = append(evs, phoneUp(s)...)
		if auto {
			return append(evs,
				session.Emit{Type: ccgw.EvAutoAnswer, Content: callContent(c)},
				session.Emit{Type: ccgw.EvTalking, Content: talkingContent(c)}), nil
		}
		return append(evs,
			session.Emit{Type: ccgw.EvRinging, Content: callContent(c)},
			session.Emit{Type: ccgw.EvCustomerAlerting, Content: content(map[string]string{
				"callid": c.ID, "otherPhoneWorkno": "", "otherPhone": c.customer(), "type": "main"})}), nil
	})
	if err != nil { // the agent left, or is no longer idle
		if c.parent != nil {
			e.transferFailed(c)
		} else {
			e.enqueue(c, true)
		}
		return false
	}
	e.stopTimer(c)
	c.Agent = id
	e.legsOf(id).active = c
	if c.parent == nil {
		e.statsOf(c.Skill).Offered++
	}
	if auto {
		e.connected(c)
		return true
	}
	c.State = Ringing
	// Only a session the simulator signed in answers by itself: a client may hold
	// the work number of a simulated agent that left.
	if sa, ok := e.simAgent[id]; ok && simulated && sa.AnswerAfter > 0 && sa.AnswerAfter < e.cfg.RingTimeout {
		c.timer = e.after(sa.AnswerAfter, func() { e.answerLocked(id, "") })
		return true
	}
	c.timer = e.after(e.cfg.RingTimeout, func() { e.noAnswer(c, id) })
	return true
}

// connected starts the talk of an answered call; a success-transfer leg takes
// the call over from the transferring agent.
func (e *Engine) connected(c *Call) {
	e.stopTimer(c)
	if p := c.parent; p != nil {
		e.transferSucceeded(c)
		return
	}
	if c.abandonT != nil {
		c.abandonT.Stop()
		c.abandonT = nil
	}
	c.State, c.Answered = Talking, e.now()
	if c.Dir == Inbound && c.Transfer == 0 {
		e.statsOf(c.Skill).Answered++
	}
	if c.TalkFor > 0 {
		c.timer = e.after(c.TalkFor, func() { e.customerHangup(c) })
	}
}

// noAnswer handles a call the agent let ring out: AgentEvent_No_Answer, the
// agent set busy (reason 2, no answer too long), the call back at the head of
// its queue.
func (e *Engine) noAnswer(c *Call, id ccgw.AgentID) {
	if c.State != Ringing || c.Agent != id {
		return
	}
	c.timer = nil
	e.legsOf(id).active = nil
	if c.parent == nil {
		e.statsOf(c.Skill).NoAnswer++
	}
	e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
		s.State, s.StateSince, s.StateReason, s.CallID = ccgw.StateBusy, ccgw.Millis(now), 2, ""
		s.AfterCall, s.AfterCallRest = 0, 0
		return append(append([]session.Emit{{Type: ccgw.EvNoAnswer, Content: content(c.ID)}}, phoneDown(s, 3)...),
			session.Emit{Type: ccgw.EvSetNotReadySuccess, Content: content(map[string]string{"reason": "2"})})
	})
	if c.parent != nil {
		e.transferFailed(c)
		return
	}
	e.requeue(c, id)
}

// requeue puts a call that left agent id back at the head of its queue.
func (e *Engine) requeue(c *Call, id ccgw.AgentID) {
	if c.Dir == Outbound {
		e.end(c)
		return
	}
	c.Requeued++
	c.LastAgent = id
	e.enqueue(c, true)
	e.dispatch()
}

// abandon ends a call whose caller gave up while it waited or rang.
func (e *Engine) abandon(c *Call) {
	switch c.State {
	case Queued:
		e.dequeue(c)
		e.statsOf(c.Skill).Abandoned++
		e.end(c)
	case Ringing:
		e.stopTimer(c) // the ring timeout
		id := c.Agent
		e.legsOf(id).active = nil
		e.statsOf(c.Skill).Abandoned++
		e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
			evs := []session.Emit{{Type: ccgw.EvCustomerRelease, Content: content(map[string]string{"callid": c.ID, "number": c.Caller})}}
			evs = append(evs, phoneDown(s, 3)...)
			return append(evs, e.afterCall(id, s, now)...)
		})
		e.end(c)
	}
}

// afterCall moves agent id to its after-call state if it has no call left.
func (e *Engine) afterCall(id ccgw.AgentID, s *ccgw.Session, now time.Time) []session.Emit {
	if e.busy(id) {
		return nil
	}
	return agent.EndCall(s, now)
}

// customerHangup ends a connected call from the customer's side.
func (e *Engine) customerHangup(c *Call) {
	c.timer = nil
	if c.State != Talking && c.State != Held {
		return
	}
	e.leave(c, 3, []session.Emit{
		{Type: ccgw.EvCustomerRelease, Content: content(map[string]string{"callid": c.ID, "number": c.customer()})},
		{Type: ccgw.EvCallRelease, Content: content(c.ID)},
	})
	e.end(c)
}

// leave takes c's agent out of c with evs, the phone release (phoneState) and
// its after-call state. It does not end c.
func (e *Engine) leave(c *Call, phoneState int, evs []session.Emit) {
	id := c.Agent
	l := e.legsOf(id)
	if l.active == c {
		l.active = nil
	}
	l.unhold(c)
	l.last = c
	e.stopTimer(c)
	if c.leg != nil { // a pending success transfer dies with the call
		leg := c.leg
		c.leg = nil
		e.dropLeg(leg)
	}
	e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
		out := append(evs, phoneDown(s, phoneState)...)
		if !e.busy(id) {
			out = append(out, agent.EndCall(s, now)...)
		} else {
			s.CallID = ""
		}
		return out
	})
	c.Agent = 0
}

// end forgets a call.
func (e *Engine) end(c *Call) {
	e.stopTimer(c)
	if c.abandonT != nil {
		c.abandonT.Stop()
		c.abandonT = nil
	}
	c.State, c.Ended = Ended, e.now()
	delete(e.calls, c.ID)
}

// scheduleWrapUp ends a simulated agent's wrap-up after its wrap-up time; the
// caller checks that the session is simulated.
func (e *Engine) scheduleWrapUp(id ccgw.AgentID) {
	sa, ok := e.simAgent[id]
	if !ok {
		return
	}
	if t := e.wrapUp[id]; t != nil {
		t.Stop()
	}
	e.wrapUp[id] = e.after(sa.WrapUp, func() {
		delete(e.wrapUp, id)
		e.updateSession(id, func(s *ccgw.Session, now time.Time) ([]session.Emit, error) {
			if s.State != ccgw.StateWork || !s.Simulated {
				return nil, nil
			}
			s.State, s.StateSince = ccgw.StateIdle, ccgw.Millis(now)
			return []session.Emit{{Type: ccgw.EvReady}}, nil
		})
	})
}
