package sim

import (
	"math"
	"sort"
	"time"

	"github.com/ccgw/ccgw"
)

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
	if r, ok := e.remote(request{Op: opCurrentCall, Agent: id, WithLast: withLast}); ok {
		return r.Info, r.Found
	}
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
	if r, ok := e.remote(request{Op: opAgentCallByID, Agent: id, CallID: callid}); ok {
		return r.Info, r.Found
	}
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
	if r, ok := e.remote(request{Op: opRinging, Agent: id}); ok {
		return r.Info, r.Found
	}
	e.lock()
	defer e.unlock()
	if l := e.legs[id]; l != nil && l.active != nil && l.active.State == Ringing {
		return e.info(l.active), true
	}
	return CallInfo{}, false
}

// HeldCalls returns agent id's held calls, oldest first.
func (e *Engine) HeldCalls(id ccgw.AgentID) []CallInfo {
	if r, ok := e.remote(request{Op: opHeldCalls, Agent: id}); ok {
		return r.infos()
	}
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
	if r, ok := e.remote(request{Op: opWaiting, Skill: skill, Max: max}); ok {
		return r.infos(), r.More
	}
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
	if r, ok := e.remote(request{Op: opWaitNum, Skills: skills}); ok {
		return r.N
	}
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
	if r, ok := e.remote(request{Op: opAcdStats, Skills: skills}); ok {
		return r.acd()
	}
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
