package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/sim"
)

const (
	vc = "/agentgateway/resource/voicecall/{agentid}"
	cd = "/agentgateway/resource/calldata/{agentid}"
	qd = "/agentgateway/resource/queuedevice/{agentid}"
)

// callTable lists the voice-call, call-data and queue-device interfaces
// (docs/spec-voicecall.md); they need a call engine.
func (s *Server) callTable() []*route {
	if s.cfg.Calls == nil {
		return nil
	}
	return []*route{
		r(http.MethodPut, "answer", vc+"/answer", s.answer),
		r(http.MethodDelete, "release", vc+"/release", s.release),
		r(http.MethodDelete, "releaseEx", vc, s.release),
		r(http.MethodPost, "dropCall", vc+"/dropcall/{callid}", s.dropCall),
		r(http.MethodPost, "hold", vc+"/hold", s.hold),
		r(http.MethodPost, "getHold", vc+"/gethold", s.getHold),
		r(http.MethodPut, "callout", vc+"/callout", s.callout),
		r(http.MethodPost, "transfer", vc+"/transfer", s.transfer),
		r(http.MethodGet, "queryCallInfo", cd+"/callinfo", s.queryCallInfo),
		r(http.MethodGet, "queryCallInfoByCallId", cd+"/callinfobycallid/{callid}", s.queryCallInfoByCallId),
		r(http.MethodGet, "queryCallInfoBeforeAnswer", cd+"/callinfobeforeanswer", s.queryCallInfoBeforeAnswer),
		r(http.MethodGet, "queryHoldListInfo", cd+"/holdlist", s.queryHoldListInfo),
		r(http.MethodGet, "queryWaitCallInfoBySkillId", cd+"/waitcallinfo/{skillid}", s.queryWaitCallInfoBySkillId),
		r(http.MethodGet, "queryQueueLengthOnAgent", qd+"/waitnum", s.waitNum(false)),
		r(http.MethodGet, "queryQueueLengthOnAgentSkills", qd+"/waitnumbyagent", s.waitNum(true)),
		r(http.MethodGet, "queryQueueLengthBySkillId", qd+"/skillwaitnum/{skillid}", s.skillWaitNum),
		r(http.MethodPost, "queryStatInfoOfAcd", qd+"/queryacdstat", s.queryAcdStat),
	}
}

// signedIn authenticates the caller; it returns the failure reply, if any.
func (s *Server) signedIn(c *call) (ccgw.Session, *reply) {
	sess, err := s.cfg.Sessions.Session(c.r.Context(), c.agent, c.guid())
	if err != nil {
		rep := failed(err)
		return sess, &rep
	}
	return sess, nil
}

// done turns an engine result into a reply with the reserved result.
func done(err error) reply {
	if err != nil {
		return failed(err)
	}
	return ok(emptyResult)
}

func (s *Server) answer(c *call) reply {
	if _, rep := s.signedIn(c); rep != nil {
		return *rep
	}
	return done(s.cfg.Calls.Answer(c.agent, c.r.URL.Query().Get("callid")))
}

func (s *Server) release(c *call) reply {
	if _, rep := s.signedIn(c); rep != nil {
		return *rep
	}
	return done(s.cfg.Calls.Release(c.agent))
}

func (s *Server) dropCall(c *call) reply {
	if _, rep := s.signedIn(c); rep != nil {
		return *rep
	}
	return done(s.cfg.Calls.DropCall(c.agent, c.vars[0]))
}

func (s *Server) hold(c *call) reply {
	if _, rep := s.signedIn(c); rep != nil {
		return *rep
	}
	return done(s.cfg.Calls.Hold(c.agent))
}

func (s *Server) getHold(c *call) reply {
	if _, rep := s.signedIn(c); rep != nil {
		return *rep
	}
	return done(s.cfg.Calls.GetHold(c.agent, c.r.URL.Query().Get("callid")))
}

// calloutBody is the callout body (spec-voicecall V7).
type calloutBody struct {
	Caller             flexString `json:"caller"`
	Called             flexString `json:"called"`
	SkillID            flexInt    `json:"skillid"`
	CallAppData        flexString `json:"callappdata"`
	MediaAbility       flexInt    `json:"mediaability"`
	UserVideoDirection flexInt    `json:"userVideoDirection"`
}

// digits reports whether s is at most max decimal digits.
func digits(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

const maxCallData = 16384

func (s *Server) callout(c *call) reply {
	var b calloutBody
	if err := decodeBody(c.w, c.r, &b, false); err != nil {
		return fail(ccgw.RetBadParam)
	}
	switch {
	case !sim.ValidNumber(b.Called.v):
		return fail(sim.RetBadNumber)
	case !digits(b.Caller.v, 24), len(b.CallAppData.v) > maxCallData,
		b.MediaAbility.set && (b.MediaAbility.v < 0 || b.MediaAbility.v > 2),
		b.UserVideoDirection.set && (b.UserVideoDirection.v < 1 || b.UserVideoDirection.v > 4):
		return fail(ccgw.RetBadParam)
	}
	if _, rep := s.signedIn(c); rep != nil {
		return *rep
	}
	id, err := s.cfg.Calls.Callout(c.agent, sim.CalloutSpec{
		Caller: b.Caller.v, Called: b.Called.v, Skill: int(b.SkillID.v), CallData: b.CallAppData.v,
	})
	if err != nil {
		return failed(err)
	}
	return reply{code: ccgw.RetOK, quiet: true, result: id}
}

// transferBody is the transfer body (spec-voicecall V8).
type transferBody struct {
	DeviceType   flexInt    `json:"devicetype"`
	Address      flexString `json:"address"`
	Mode         flexInt    `json:"mode"`
	CallAppData  flexString `json:"callappdata"`
	Caller       flexString `json:"caller"`
	MediaAbility flexInt    `json:"mediaability"`
	HoldFlag     flexBool   `json:"holdflag"`
	SkillID      flexInt    `json:"skillId"`
}

func (s *Server) transfer(c *call) reply {
	var b transferBody
	if err := decodeBody(c.w, c.r, &b, false); err != nil {
		return fail(ccgw.RetBadParam)
	}
	dt, mode := int(b.DeviceType.v), int(b.Mode.v)
	switch {
	case !b.DeviceType.set || !b.Mode.set || b.Address.v == "" || len(b.Address.v) > 24,
		!sim.TransferAllowed(dt, mode),
		dt != sim.DevExternal && !digits(b.Address.v, 24),
		!digits(b.Caller.v, 24), len(b.CallAppData.v) > maxCallData,
		b.MediaAbility.set && (b.MediaAbility.v < 0 || b.MediaAbility.v > 2):
		return fail(ccgw.RetBadParam)
	}
	if _, rep := s.signedIn(c); rep != nil {
		return *rep
	}
	hold := !b.HoldFlag.set || b.HoldFlag.v
	return done(s.cfg.Calls.Transfer(c.agent, sim.TransferSpec{DeviceType: dt, Address: b.Address.v, Mode: mode, HoldFlag: hold}))
}

func (s *Server) queryCallInfo(c *call) reply {
	noLast, okB := queryBool(c, "isNoContainLastCall")
	if !okB {
		return fail(ccgw.RetBadParam)
	}
	if _, rep := s.signedIn(c); rep != nil {
		return *rep
	}
	if ci, found := s.cfg.Calls.CurrentCall(c.agent, !noLast); found {
		return quietOK(ci)
	}
	return quietOK(emptyResult)
}

func (s *Server) queryCallInfoByCallId(c *call) reply {
	if _, rep := s.signedIn(c); rep != nil {
		return *rep
	}
	ci, found := s.cfg.Calls.AgentCallByID(c.agent, c.vars[0])
	if !found {
		return fail(ccgw.RetBadParam)
	}
	return ok(ci)
}

func (s *Server) queryCallInfoBeforeAnswer(c *call) reply {
	if _, rep := s.signedIn(c); rep != nil {
		return *rep
	}
	if ci, found := s.cfg.Calls.Ringing(c.agent); found {
		return ok(ci)
	}
	return ok(emptyResult)
}

func (s *Server) queryHoldListInfo(c *call) reply {
	if _, rep := s.signedIn(c); rep != nil {
		return *rep
	}
	held := s.cfg.Calls.HeldCalls(c.agent)
	if len(held) == 0 {
		return fail(sim.RetNoHoldList)
	}
	out := make([]heldCall, len(held))
	for i, ci := range held {
		out[i] = heldCall{ci.CallFeature, ci.CallID, ci.Caller, ci.Called, ci.CallSkill, ci.CallSkillID,
			ci.OrgiCalledNum, ci.CallData, ci.BeginTime, ci.EndTime}
	}
	return quietOK(out)
}

// heldCall is one element of queryHoldListInfo's result: the fields of the
// vendor's table (cec_07_1264), not a whole CallInfo.
type heldCall struct {
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
}

// waitingCall is one element of queryWaitCallInfoBySkillId's result: a
// CallInfo and the vendor's "trace", always null in its examples.
type waitingCall struct {
	sim.CallInfo
	Trace *struct{} `json:"trace"`
}

func (s *Server) queryWaitCallInfoBySkillId(c *call) reply {
	skill, okS := intIn(c.vars[0], 0, 1<<31-1)
	if !okS {
		return fail(ccgw.RetBadParam)
	}
	if _, rep := s.signedIn(c); rep != nil {
		return *rep
	}
	calls, more := s.cfg.Calls.Waiting(skill, maxWaitingCalls)
	out := make([]waitingCall, len(calls))
	for i, ci := range calls {
		out[i].CallInfo = ci
	}
	rep := quietOK(out)
	rep.truncated = more
	return rep
}

// waitNum counts queued calls in the caller's configured skills, or (signedIn)
// the skills it is signed in to.
func (s *Server) waitNum(signedIn bool) func(*call) reply {
	return func(c *call) reply {
		sess, rep := s.signedIn(c)
		if rep != nil {
			return *rep
		}
		skills := sess.Skills
		if !signedIn {
			skills = nil
			cfg, _ := s.skillsOf(c.agent)
			for _, sk := range cfg {
				skills = append(skills, sk.ID)
			}
		}
		return ok(s.cfg.Calls.WaitNum(skills))
	}
}

func (s *Server) skillWaitNum(c *call) reply {
	skill, okS := intIn(c.vars[0], 0, 1<<31-1)
	if !okS {
		return fail(ccgw.RetBadParam)
	}
	if _, rep := s.signedIn(c); rep != nil {
		return *rep
	}
	return ok(s.cfg.Calls.WaitNum([]int{skill}))
}

// acdBody is the queryacdstat body: skill IDs as numbers or numeric strings.
type acdBody struct {
	Skills *[]flexString `json:"skills"`
}

func (s *Server) queryAcdStat(c *call) reply {
	var b acdBody
	if err := decodeBody(c.w, c.r, &b, false); err != nil || b.Skills == nil || len(*b.Skills) == 0 || len(*b.Skills) > 100 {
		return fail(ccgw.RetBadParam)
	}
	ids := make([]int, 0, len(*b.Skills))
	for _, f := range *b.Skills {
		n, err := strconv.Atoi(strings.TrimSpace(f.v))
		if err != nil || n < 0 {
			return fail(ccgw.RetBadParam)
		}
		ids = append(ids, n)
	}
	if _, rep := s.signedIn(c); rep != nil {
		return *rep
	}
	return quietOK(s.cfg.Calls.AcdStats(ids))
}
