package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
)

const (
	ag = "/agentgateway/resource/agentgroup/{agentid}"
	qc = "/agentgateway/resource/qualitycontrol/{agentid}"
)

// stateTable lists the state, skill, query and quality-control interfaces.
func (s *Server) stateTable() []*route {
	return []*route{
		r(http.MethodPost, "sayBusy", on+"/saybusy", s.sayBusy),
		r(http.MethodPost, "sayFree", on+"/sayfree", s.simple(agent.SayFree)),
		r(http.MethodPost, "cancelBusy", on+"/cancelbusy", s.simple(agent.CancelBusy)),
		r(http.MethodPost, "rest", on+"/rest/{time}/{restcause}", s.rest),
		r(http.MethodPost, "cancelRest", on+"/cancelrest", s.simple(agent.CancelRest)),
		r(http.MethodPost, "sayWork", on+"/work", s.simple(agent.SayWork)),
		r(http.MethodPost, "cancelWork", on+"/cancelwork", s.simple(agent.CancelWork)),
		r(http.MethodPost, "resetSkill", on+"/resetskill/{autoflag}", s.resetSkill),
		r(http.MethodGet, "queryAgentSkills", on+"/agentskills", s.queryAgentSkills),
		r(http.MethodGet, "queryAgentSkillsByWorkNo", on+"/agentskillsbyworkno/{workno}", s.queryAgentSkillsByWorkNo),
		r(http.MethodGet, "queryAgentInfoByWorkNo", ag+"/agentbyworkno/{workno}", s.queryAgentInfoByWorkNo),
		r(http.MethodGet, "queryAgentInfoBySkillId", ag+"/agentbyskill/{skillid}", s.queryAgentInfoBySkillId),
		r(http.MethodGet, "queryAllOnlineAgents", ag+"/allonlineagents", s.queryAllOnlineAgents),
		r(http.MethodPost, "setAgentAutoAnswer", on+"/autoanswer/{isautoanswer}", s.setAgentAutoAnswer),
		r(http.MethodPost, "setAgentAutoEnterIdle", on+"/autoenteridle/{flag}", s.setAgentAutoEnterIdle),
		r(http.MethodPost, "setTalkRight", on+"/settalkright", s.setTalkRight),
		r(http.MethodPost, "modifyAccountPwdEx", on+"/modifyaccountpwdex", s.modifyAccountPwdEx),
		r(http.MethodGet, "queryCustomState", on+"/querycustomstate", s.queryCustomState),
		r(http.MethodPost, "forceLogOutAgent", qc+"/forcelogout/{workno}", s.forceLogOutAgent),
		r(http.MethodPost, "forceBusy", qc+"/forcebusy/{workno}", s.forceBusy),
		r(http.MethodPost, "forceRest", qc+"/forcerest/{workno}/{time}/{reason}", s.forceRest),
		r(http.MethodPost, "forceIdle", qc+"/forceidle/{workno}", s.forceIdle),
	}
}

// change applies a state request to the caller's own session.
func (s *Server) change(c *call, req agent.Request) reply {
	_, err := s.cfg.Sessions.Update(c.r.Context(), c.agent, c.guid(), func(sess *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
		return agent.Apply(sess, req, now)
	})
	if err != nil {
		return failed(err)
	}
	return ok(emptyResult)
}

// simple returns the handler of a state interface that takes no parameters.
func (s *Server) simple(op agent.Op) func(*call) reply {
	return func(c *call) reply { return s.change(c, agent.Request{Op: op}) }
}

// queryBool parses an optional boolean query parameter ("" is false).
func queryBool(c *call, name string) (bool, bool) {
	v := c.r.URL.Query().Get(name)
	if v == "" {
		return false, true
	}
	return parseBool(v)
}

// intIn parses s as an integer in [lo, hi].
func intIn(s string, lo, hi int) (int, bool) {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, false
	}
	return n, true
}

func (s *Server) sayBusy(c *call) reply {
	reason := 0
	if v := c.r.URL.Query().Get("reason"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || (n != 0 && (n < 200 || n > 250)) {
			return fail(ccgw.RetBadParam)
		}
		reason = n
	}
	prolong, okP := queryBool(c, "prolong")
	if !okP {
		return fail(ccgw.RetBadParam)
	}
	return s.change(c, agent.Request{Op: agent.SayBusy, Reason: reason, Prolong: prolong})
}

// restParams parses a rest's {time} (1–86399 s) and cause (0–255).
func restParams(timeStr, causeStr string) (time.Duration, int, bool) {
	secs, ok1 := intIn(timeStr, 1, 86399)
	cause, ok2 := intIn(causeStr, 0, 255)
	return time.Duration(secs) * time.Second, cause, ok1 && ok2
}

func (s *Server) rest(c *call) reply {
	d, cause, okR := restParams(c.vars[0], c.vars[1])
	prolong, okP := queryBool(c, "prolong")
	if !okR || !okP {
		return fail(ccgw.RetBadParam)
	}
	return s.change(c, agent.Request{Op: agent.Rest, Reason: cause, Prolong: prolong, RestTime: d})
}

func (s *Server) resetSkill(c *call) reply {
	auto := strings.EqualFold(c.vars[0], "true")
	q := c.r.URL.Query()
	if pl := q.Get("phonelinkage"); pl != "" && pl != "0" && pl != "1" {
		return fail(ccgw.RetBadParam)
	}
	list, okL := rawQueryValue(c.r, "skillid")
	if !okL || len(list) > 4000 {
		return fail(ccgw.RetBadParam)
	}
	want := map[int]bool{}
	for _, f := range strings.Split(list, ";") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return fail(ccgw.RetBadParam)
		}
		want[n] = true
	}
	a, found := s.cfg.Directory.Agent(c.agent)
	if !found {
		return fail(ccgw.RetNotSignedIn)
	}
	var skills []int
	for _, sk := range a.Skills {
		if auto || want[sk.ID] {
			skills = append(skills, sk.ID)
		}
	}
	_, err := s.cfg.Sessions.Update(c.r.Context(), c.agent, c.guid(), func(sess *ccgw.Session, _ time.Time) ([]ccgw.Emit, error) {
		sess.Skills = skills
		return nil, nil
	})
	if err != nil {
		return failed(err)
	}
	return ok(emptyResult)
}

// rawQueryValue returns the first value of query parameter name, splitting the
// raw query on '&' only: net/url drops a pair that contains ';', and skillid is a
// ';'-separated list (interfaces.md §17: skillid=1;2;3). ok is false for a value
// that is not validly %-escaped.
func rawQueryValue(r *http.Request, name string) (string, bool) {
	for _, kv := range strings.Split(r.URL.RawQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if k, err := url.QueryUnescape(k); err != nil || k != name {
			continue
		}
		v, err := url.QueryUnescape(v)
		return v, err == nil
	}
	return "", true
}

// skillsOf returns agent id's configured skills, never nil.
func (s *Server) skillsOf(id ccgw.AgentID) ([]ccgw.Skill, bool) {
	a, found := s.cfg.Directory.Agent(id)
	if !found {
		return nil, false
	}
	return append([]ccgw.Skill{}, a.Skills...), true
}

func (s *Server) queryAgentSkills(c *call) reply {
	if _, err := s.cfg.Sessions.Session(c.r.Context(), c.agent, c.guid()); err != nil {
		return failed(err)
	}
	skills, found := s.skillsOf(c.agent)
	if !found || len(skills) == 0 {
		return fail(ccgw.RetNoSkills)
	}
	return ok(skills)
}

func (s *Server) queryAgentSkillsByWorkNo(c *call) reply {
	other, err := ccgw.ParseAgentID(c.vars[0])
	if err != nil {
		return failed(err)
	}
	if _, err := s.cfg.Sessions.Session(c.r.Context(), c.agent, c.guid()); err != nil {
		return failed(err)
	}
	skills, found := s.skillsOf(other)
	if !found || len(skills) == 0 {
		return fail(ccgw.RetNoSkills)
	}
	return ok(skills)
}

// agentInfo is an agent's details (interfaces.md §21).
type agentInfo struct {
	WorkNo             string       `json:"workno"`
	Name               string       `json:"name"`
	Status             string       `json:"status"`    // a number in a string, as the vendor's examples
	CTIStatus          string       `json:"ctiStatus"` // likewise
	GroupID            int          `json:"groupid"`
	GroupName          *string      `json:"groupname"` // null: ccgw's directory has no group names
	SkillList          []ccgw.Skill `json:"skilllist"`
	CallIDs            []string     `json:"callids"`
	MediaType          string       `json:"mediatype"`
	VDNID              int          `json:"vdnid"`
	PhoneNumber        string       `json:"phonenumber"`
	CurrentStateTime   int64        `json:"currentstatetime"`
	LoginDate          int64        `json:"logindate"`
	InMultimediaConf   int          `json:"inMultimediaConf"`
	CurrentStateReason int          `json:"currentStateReason"`
}

// info describes agent a with its live session sess (signed out when !live),
// with the skills it is signed in to if skills (the lists of many agents leave
// them out, as the vendor's examples do).
func (s *Server) info(a ccgw.Agent, sess ccgw.Session, live, skills bool) agentInfo {
	inf := agentInfo{
		WorkNo: a.ID.String(), Name: a.Name, GroupID: a.GroupID, SkillList: []ccgw.Skill{},
		CallIDs: []string{}, VDNID: 1, PhoneNumber: a.Phone,
		Status:    strconv.Itoa(int(ccgw.StateSignedOut)),
		CTIStatus: strconv.Itoa(ccgw.StateSignedOut.CTI()), MediaType: "FFF",
	}
	if !live {
		return inf
	}
	now := s.cfg.Clock.Now()
	inf.Status, inf.CTIStatus = strconv.Itoa(int(sess.State)), strconv.Itoa(sess.State.CTI())
	inf.MediaType, inf.PhoneNumber = sess.MediaType, sess.Phone
	inf.CurrentStateTime = int64(now.Sub(time.UnixMilli(sess.StateSince)) / time.Second)
	inf.LoginDate, inf.CurrentStateReason = sess.LoginTime, sess.StateReason
	if !skills {
		return inf
	}
	for _, id := range sess.Skills {
		for _, sk := range a.Skills {
			if sk.ID == id {
				inf.SkillList = append(inf.SkillList, sk)
			}
		}
	}
	return inf
}

func (s *Server) queryAgentInfoByWorkNo(c *call) reply {
	other, err := ccgw.ParseAgentID(c.vars[0])
	if err != nil {
		return failed(err)
	}
	if _, err := s.cfg.Sessions.Session(c.r.Context(), c.agent, c.guid()); err != nil {
		return failed(err)
	}
	a, found := s.cfg.Directory.Agent(other)
	if !found {
		return fail(ccgw.RetQueryNoAgent)
	}
	sess, live := s.cfg.Sessions.Lookup(c.r.Context(), other)
	return quietOK(s.info(a, sess, live, true))
}

// setFlag changes one of the caller's session settings.
func (s *Server) setFlag(c *call, set func(*ccgw.Session)) reply {
	_, err := s.cfg.Sessions.Update(c.r.Context(), c.agent, c.guid(), func(sess *ccgw.Session, _ time.Time) ([]ccgw.Emit, error) {
		set(sess)
		return nil, nil
	})
	if err != nil {
		return failed(err)
	}
	return ok(emptyResult)
}

func (s *Server) setAgentAutoAnswer(c *call) reply {
	v := c.vars[0]
	if len(v) > 5 {
		return fail(ccgw.RetBadParam)
	}
	on := strings.EqualFold(v, "true") // C# clients format a bool as "True"
	return s.setFlag(c, func(sess *ccgw.Session) { sess.AutoAnswer = on })
}

func (s *Server) setAgentAutoEnterIdle(c *call) reply {
	v := c.vars[0]
	if len(v) > 5 {
		return fail(ccgw.RetBadParam)
	}
	on := strings.EqualFold(v, "true") // C# clients format a bool as "True"
	return s.setFlag(c, func(sess *ccgw.Session) { sess.AutoEnterIdle = on })
}

func (s *Server) setTalkRight(c *call) reply {
	flag := c.r.URL.Query().Get("flag")
	if flag != "0" && flag != "1" {
		return fail(ccgw.RetBadParam)
	}
	return s.setFlag(c, func(sess *ccgw.Session) { sess.TalkRight = flag == "1" })
}

// pwdBody is the modifyAccountPwdEx body.
type pwdBody struct {
	OldPassword flexString `json:"oldPassword"`
	NewPassword flexString `json:"newPassword"`
}

func (s *Server) modifyAccountPwdEx(c *call) reply {
	var b pwdBody
	if err := decodeBody(c.w, c.r, &b, false); err != nil || !b.OldPassword.set || !b.NewPassword.set {
		return fail(ccgw.RetBadParam)
	}
	if len(b.OldPassword.v) > 32 {
		return fail(ccgw.RetBadParam)
	}
	if _, err := s.cfg.Sessions.Session(c.r.Context(), c.agent, c.guid()); err != nil {
		return failed(err)
	}
	change := func() error {
		return s.cfg.Directory.ChangePassword(c.r.Context(), c.agent, b.OldPassword.v, b.NewPassword.v)
	}
	var err error
	if s.cfg.Lockout != nil {
		err = s.cfg.Lockout.Change(context.Background(), c.name, c.agent, b.OldPassword.v, change)
	} else {
		err = change()
	}
	if err != nil {
		return failed(err)
	}
	return ok(emptyResult)
}

func (s *Server) queryCustomState(c *call) reply {
	if _, err := s.cfg.Sessions.Session(c.r.Context(), c.agent, c.guid()); err != nil {
		return failed(err)
	}
	return ok(map[string]string{"agentcustomstate": "65535"})
}

// inspect authenticates the inspector (the path's agent) and parses the
// inspected agent's work number.
func (s *Server) inspect(c *call) (ccgw.AgentID, *reply) {
	target, err := ccgw.ParseAgentID(c.vars[0])
	if err != nil {
		rep := failed(err)
		return 0, &rep
	}
	if _, err := s.cfg.Sessions.Session(c.r.Context(), c.agent, c.guid()); err != nil {
		rep := failed(err)
		return 0, &rep
	}
	if a, _ := s.cfg.Directory.Agent(c.agent); !a.Inspector {
		rep := fail(ccgw.RetQCNoRight)
		return 0, &rep
	}
	if target == c.agent {
		rep := fail(ccgw.RetInspectSelf)
		return 0, &rep
	}
	return target, nil
}

// force applies an inspector's state request to another agent.
func (s *Server) force(c *call, req agent.Request) reply {
	target, rep := s.inspect(c)
	if rep != nil {
		return *rep
	}
	_, err := s.cfg.Sessions.UpdateAny(c.r.Context(), target, func(sess *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
		return agent.Apply(sess, req, now)
	})
	switch ccgw.CodeOf(err) {
	case ccgw.RetOK:
		return quietOK(emptyResult) // message "", as the vendor's forcebusy example
	case ccgw.RetNotSignedIn:
		return fail(ccgw.RetQCNoAgent)
	case ccgw.RetSetStateFailed:
		return fail(ccgw.RetQCStateError)
	}
	return failed(err)
}

func (s *Server) forceLogOutAgent(c *call) reply {
	target, rep := s.inspect(c)
	if rep != nil {
		return *rep
	}
	if err := s.cfg.Sessions.Kick(c.r.Context(), target, ccgw.CauseSupervisor); err != nil {
		return fail(ccgw.RetQCNoAgent)
	}
	return ok(emptyResult)
}

func (s *Server) forceBusy(c *call) reply {
	return s.force(c, agent.Request{Op: agent.ForceBusy})
}

func (s *Server) forceIdle(c *call) reply {
	return s.force(c, agent.Request{Op: agent.ForceReady})
}

func (s *Server) forceRest(c *call) reply {
	d, cause, okR := restParams(c.vars[1], c.vars[2])
	if !okR {
		return fail(ccgw.RetBadParam)
	}
	return s.force(c, agent.Request{Op: agent.ForceRest, Reason: cause, RestTime: d})
}
