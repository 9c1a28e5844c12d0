package sim

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/session"
)

// Voice-call retcodes (retcodes.md §200).
const (
	RetBadNumber      ccgw.Retcode = "200-001" // outbound number wrong
	RetAnswerNoCall   ccgw.Retcode = "200-002"
	RetTransferNoCall ccgw.Retcode = "200-012"
	RetHoldNoCall     ccgw.Retcode = "200-013"
	RetHoldState      ccgw.Retcode = "200-014"
	RetNoHeldCall     ccgw.Retcode = "200-015"
	RetReleaseNoCall  ccgw.Retcode = "200-017"
)

// CallSpec describes an inbound call to inject.
type CallSpec struct {
	Skill        int           `json:"skillId"`
	Caller       string        `json:"caller"`
	TalkFor      time.Duration `json:"-"`
	AbandonAfter time.Duration `json:"-"`
}

// Inject places an inbound call in its skill's queue and routes it. It fails
// with RetBadParam for an unknown skill.
func (e *Engine) Inject(spec CallSpec) (string, error) {
	if _, ok := e.cfg.Directory.Skill(spec.Skill); !ok {
		return "", ccgw.Fail(ccgw.RetBadParam)
	}
	e.lock()
	defer e.unlock()
	return e.inject(spec), nil
}

func (e *Engine) inject(spec CallSpec) string {
	caller := spec.Caller
	if caller == "" {
		caller = "138" + strconv.FormatUint(10000000+e.n, 10)
	}
	c := &Call{
		ID: e.newCallID(), Dir: Inbound, Caller: caller, Called: e.cfg.AccessCode, Skill: spec.Skill,
		Created: e.now(), TalkFor: spec.TalkFor, AbandonAfter: spec.AbandonAfter,
	}
	e.calls[c.ID] = c
	e.enqueue(c, false)
	e.dispatch()
	return c.ID
}

// Answer answers the call ringing at agent id (200-002 if none).
func (e *Engine) Answer(id ccgw.AgentID) error {
	e.lock()
	defer e.unlock()
	return e.answerLocked(id)
}

func (e *Engine) answerLocked(id ccgw.AgentID) error {
	c := e.byAgent[id]
	if c == nil || c.State != Ringing {
		return ccgw.Fail(RetAnswerNoCall)
	}
	err := e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
		return []session.Emit{
			{Type: ccgw.EvPhoneOffhook, Content: content(map[string]string{"type": "main"})},
			{Type: ccgw.EvTalking, Content: talkingContent(c)},
		}
	})
	if err != nil {
		return err
	}
	e.connected(c)
	return nil
}

// Release hangs up agent id's call (200-017 if none): the agent leaves it and
// moves to its after-call state.
func (e *Engine) Release(id ccgw.AgentID) error {
	e.lock()
	defer e.unlock()
	c := e.byAgent[id]
	if c == nil {
		return ccgw.Fail(RetReleaseNoCall)
	}
	if c.State == Ringing { // rejecting a ringing call: it goes back to the queue
		delete(e.byAgent, id)
		e.stopTimer(c)
		e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
			return append([]session.Emit{
				{Type: ccgw.EvCallRelease, Content: content(c.ID)},
				{Type: ccgw.EvPhoneRelease, Content: content(map[string]int{"phoneState": 2})},
			}, agent.EndCall(s, now)...)
		})
		e.requeue(c, id)
		return nil
	}
	e.release(c, []session.Emit{
		{Type: ccgw.EvCallRelease, Content: content(c.ID)},
		{Type: ccgw.EvPhoneRelease, Content: content(map[string]int{"phoneState": 2})},
	})
	return nil
}

// Hold puts agent id's call on hold (200-013 no call, 200-014 not talking).
func (e *Engine) Hold(id ccgw.AgentID) error {
	e.lock()
	defer e.unlock()
	c := e.byAgent[id]
	switch {
	case c == nil:
		return ccgw.Fail(RetHoldNoCall)
	case c.State != Talking:
		return ccgw.Fail(RetHoldState)
	}
	c.State = Held
	return e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
		return []session.Emit{{Type: ccgw.EvHold, Content: content(c.ID)}}
	})
}

// Unhold takes agent id's call off hold (200-015 if none is held).
func (e *Engine) Unhold(id ccgw.AgentID) error {
	e.lock()
	defer e.unlock()
	c := e.byAgent[id]
	if c == nil || c.State != Held {
		return ccgw.Fail(RetNoHeldCall)
	}
	c.State = Talking
	return e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
		return []session.Emit{{Type: ccgw.EvTalking, Content: talkingContent(c)}}
	})
}

// validNumber accepts 1–24 digits (with * # and a leading +).
func validNumber(n string) bool {
	if n == "" || len(n) > 24 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if (c < '0' || c > '9') && c != '*' && c != '#' && !(c == '+' && i == 0) {
			return false
		}
	}
	return true
}

// FailingPrefix marks simulated numbers that do not answer: a call out to a
// number that starts with it fails (AgentEvent_Call_Out_Fail).
const FailingPrefix = "999"

// Callout makes an outbound call from agent id to called. It fails with
// RetBadNumber for an invalid number, RetNotSignedIn, and RetSetStateFailed
// while the agent is in a call or resting.
func (e *Engine) Callout(id ccgw.AgentID, caller, called string, talkFor time.Duration) (string, error) {
	if !validNumber(called) || (caller != "" && !validNumber(caller)) {
		return "", ccgw.Fail(RetBadNumber)
	}
	e.lock()
	defer e.unlock()
	if e.byAgent[id] != nil {
		return "", ccgw.Fail(ccgw.RetSetStateFailed)
	}
	c := &Call{ID: e.newCallID(), Dir: Outbound, Called: called, Caller: caller, Created: e.now(), TalkFor: talkFor}
	_, err := e.cfg.Sessions.Update(id, "*", func(s *ccgw.Session, now time.Time) ([]session.Emit, error) {
		switch s.State {
		case ccgw.StateTalking, ccgw.StateRest:
			return nil, ccgw.Fail(ccgw.RetSetStateFailed)
		}
		if c.Caller == "" {
			c.Caller = s.Phone
		}
		s.State, s.StateSince, s.StateReason, s.CallID = ccgw.StateTalking, ccgw.Millis(now), 0, c.ID
		return []session.Emit{
			{Type: ccgw.EvBusy},
			{Type: ccgw.EvCustomerAlerting, Content: content(map[string]string{
				"callid": c.ID, "otherPhone": called, "otherPhoneWorkno": "", "type": "main"})},
		}, nil
	})
	if err != nil {
		return "", err
	}
	c.Agent, c.State = id, Dialing
	e.calls[c.ID] = c
	e.byAgent[id] = c
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
		e.release(c, []session.Emit{
			{Type: ccgw.EvCallOutFail, Content: content(c.ID)},
			{Type: ccgw.EvPhoneRelease, Content: content(map[string]int{"phoneState": 3})},
		})
		return
	}
	e.update(c.Agent, func(s *ccgw.Session, now time.Time) []session.Emit {
		return []session.Emit{{Type: ccgw.EvTalking, Content: talkingContent(c)}}
	})
	e.connected(c)
}

// TransferMode says where a transfer sends the call.
type TransferMode int

// Transfer targets.
const (
	ToSkill TransferMode = iota // back into a skill queue
	ToAgent                     // ringing another agent
)

// Transfer hands agent id's connected call to a skill queue or another agent;
// the agent leaves the call. It fails with RetTransferNoCall without a connected
// call, RetBadParam for an unknown skill or an agent who cannot take it.
func (e *Engine) Transfer(id ccgw.AgentID, mode TransferMode, target int) error {
	e.lock()
	defer e.unlock()
	c := e.byAgent[id]
	if c == nil || (c.State != Talking && c.State != Held) {
		return ccgw.Fail(RetTransferNoCall)
	}
	var to ccgw.AgentID
	switch mode {
	case ToSkill:
		if _, ok := e.cfg.Directory.Skill(target); !ok {
			return ccgw.Fail(ccgw.RetBadParam)
		}
	case ToAgent:
		to = ccgw.AgentID(target)
		s, ok := e.cfg.Sessions.Lookup(to)
		if !ok || to == id || s.State != ccgw.StateIdle || e.byAgent[to] != nil {
			return ccgw.Fail(ccgw.RetBadParam)
		}
	}
	e.statsOf(c.Skill).Transferred++
	delete(e.byAgent, id)
	e.stopTimer(c)
	e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
		return append([]session.Emit{
			{Type: ccgw.EvCallRelease, Content: content(c.ID)},
			{Type: ccgw.EvPhoneRelease, Content: content(map[string]int{"phoneState": 2})},
		}, agent.EndCall(s, now)...)
	})
	c.Transfer, c.Dir = id, Inbound
	if mode == ToAgent {
		e.offer(c, to)
		return nil
	}
	c.Skill = target
	e.enqueue(c, false)
	e.dispatch()
	return nil
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
		e.release(c, []session.Emit{
			{Type: ccgw.EvConnectFail, Content: content(c.ID)},
			{Type: ccgw.EvPhoneRelease, Content: content(map[string]int{"phoneState": 3})},
		})
	default:
		e.customerHangup(c)
	}
	return true
}

// CallInfo is what a query shows of a call.
type CallInfo struct {
	CallID      string `json:"callid"`
	Caller      string `json:"caller"`
	Called      string `json:"called"`
	SkillID     int    `json:"skillId"`
	State       string `json:"state"`
	WorkNo      string `json:"workno"`
	Direction   string `json:"direction"`
	CreateTime  int64  `json:"createTime"`
	AnswerTime  int64  `json:"answerTime"`
	WaitSeconds int64  `json:"waitSeconds"`
}

func (e *Engine) info(c *Call) CallInfo {
	ci := CallInfo{CallID: c.ID, Caller: c.Caller, Called: c.Called, SkillID: c.Skill, State: c.State.String(),
		Direction: "inbound", CreateTime: ccgw.Millis(c.Created)}
	if c.Dir == Outbound {
		ci.Direction = "outbound"
	}
	if c.Agent != 0 {
		ci.WorkNo = c.Agent.String()
	}
	if !c.Answered.IsZero() {
		ci.AnswerTime = ccgw.Millis(c.Answered)
	}
	if c.State == Queued {
		ci.WaitSeconds = int64(e.now().Sub(c.Enqueued) / time.Second)
	}
	return ci
}

// Call returns call id's information.
func (e *Engine) Call(id string) (CallInfo, bool) {
	e.lock()
	defer e.unlock()
	c := e.calls[id]
	if c == nil {
		return CallInfo{}, false
	}
	return e.info(c), true
}

// AgentCall returns the information of agent id's current call.
func (e *Engine) AgentCall(id ccgw.AgentID) (CallInfo, bool) {
	e.lock()
	defer e.unlock()
	c := e.byAgent[id]
	if c == nil {
		return CallInfo{}, false
	}
	return e.info(c), true
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

// AddSimAgent signs in a simulated agent: it needs no client, never expires,
// and behaves as sa says. autoAnswer is overridden to false when sa.AnswerAfter
// is set.
func (e *Engine) AddSimAgent(id ccgw.AgentID, sa SimAgent) error {
	e.lock()
	e.simAgent[id] = sa
	e.unlock()
	_, err := e.cfg.Sessions.SignIn(session.SignIn{
		Op: "simulated", Force: true, SkipPassword: true, Status: ccgw.StateIdle,
		Session: ccgw.Session{
			Agent: id, Phone: "7" + id.String(), AutoAnswer: sa.AnswerAfter == 0, AutoEnterIdle: sa.WrapUp == 0,
			ReleasePhone: true, AgentType: 4, IP: "127.0.0.1", MediaType: "TTF", Simulated: true,
		},
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
	PerHour      float64       // mean arrivals per hour; 0 stops them
	TalkMin      time.Duration // talk time, uniform in [TalkMin, TalkMax]
	TalkMax      time.Duration
	AbandonAfter time.Duration // 0: callers never abandon
}

// SetRate starts, changes or (PerHour 0) stops skill's random arrivals.
func (e *Engine) SetRate(skill int, r Rate) error {
	if _, ok := e.cfg.Directory.Skill(skill); !ok || r.PerHour < 0 || r.TalkMax < r.TalkMin {
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
		e.inject(CallSpec{Skill: skill, TalkFor: talk, AbandonAfter: a.rate.AbandonAfter})
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
