package api

import (
	"context"

	"github.com/ccgw/ccgw"
)

// Answers that list agents or calls are capped, so that one request costs at
// most a page however many agents are signed in (docs/security.md, "Bounded
// answers"). The vendor pages an agent list only by agentbyskill's agentLimit
// (1–500, cec_07_1025); where it is silent ccgw caps at the same 500.
const (
	// maxListAgents caps a queryAgentInfoBySkillId answer without agentLimit, and
	// each skill's agents in a queryAllOnlineAgents answer.
	maxListAgents = 500
	// maxAllOnlineAgents caps all agents of a queryAllOnlineAgents answer, over
	// all the caller's skills.
	maxAllOnlineAgents = 2000
	// maxWaitingCalls caps a queryWaitCallInfoBySkillId answer (oldest first).
	maxWaitingCalls = 500
)

// TruncatedHeader is "true" on an answer whose list was cut at its cap.
const TruncatedHeader = "X-CCGW-Truncated"

// NextHeader, on a cut queryAgentInfoBySkillId answer, is the work number of
// its last agent: pass it as ?after= to get the next page (a ccgw extension).
const NextHeader = "X-CCGW-Next"

// bySkillBody is the optional filter of queryAgentInfoBySkillId.
type bySkillBody struct {
	AgentLimit  flexInt   `json:"agentLimit"`
	AgentStatus []flexInt `json:"agentStatus"`
}

// queryAgentInfoBySkillId lists the agents signed in to a skill who take
// inbound calls, in work-number order: at most agentLimit of them in the states
// agentStatus names when the body has both (the vendor's filter), else at most
// maxListAgents. ?after=N (a ccgw extension) starts after work number N. A cut
// answer carries TruncatedHeader and NextHeader. It walks the skill's index and
// stops at the first agent past the page.
func (s *Server) queryAgentInfoBySkillId(c *call) reply {
	skill, okS := intIn(c.vars[0], 0, 1<<31-1)
	after, okA := afterParam(c)
	if !okS || !okA {
		return fail(ccgw.RetBadParam)
	}
	var b bySkillBody
	if err := decodeBody(c.w, c.r, &b, true); err != nil {
		return fail(ccgw.RetBadParam)
	}
	if _, err := s.cfg.Sessions.Session(c.r.Context(), c.agent, c.guid()); err != nil {
		return failed(err)
	}
	limit, states := maxListAgents, map[int]bool(nil)
	if b.AgentLimit.set && b.AgentStatus != nil { // both must be present to take effect
		if b.AgentLimit.v < 1 || b.AgentLimit.v > 500 {
			return fail(ccgw.RetBadParam)
		}
		limit, states = int(b.AgentLimit.v), map[int]bool{}
		for _, st := range b.AgentStatus {
			states[int(st.v)] = true
		}
	}
	out, more := s.agentPage(c.r.Context(), skill, after, limit, func(sess *ccgw.Session) bool {
		return sess.TalkRight && (states == nil || states[int(sess.State)])
	})
	rep := quietOK(out)
	if more {
		rep.truncated, rep.next = true, out[len(out)-1].WorkNo
	}
	return rep
}

// afterParam parses the optional ?after= work number (0 when absent).
func afterParam(c *call) (ccgw.AgentID, bool) {
	v := c.r.URL.Query().Get("after")
	if v == "" {
		return 0, true
	}
	n, ok := intIn(v, 0, int(ccgw.MaxAgentID))
	return ccgw.AgentID(n), ok
}

// agentPage returns the details of the first limit agents signed in to skill
// above work number after that keep (nil: all) accepts, and whether another
// follows. It stops at that one: the cost is the page's, not the skill's.
func (s *Server) agentPage(ctx context.Context, skill int, after ccgw.AgentID, limit int, keep func(*ccgw.Session) bool) ([]agentInfo, bool) {
	out := make([]agentInfo, 0, min(limit, 64))
	more := false
	s.cfg.Sessions.EachInSkill(ctx, skill, after, func(sess ccgw.Session) bool {
		if keep != nil && !keep(&sess) {
			return true
		}
		if len(out) == limit {
			more = true
			return false
		}
		a, _ := s.cfg.Directory.Agent(sess.Agent)
		out = append(out, s.info(a, sess, true, false)) // lists leave skills out, as the vendor's examples do
		return true
	})
	return out, more
}

// skillAgents is one element of queryAllOnlineAgents' result.
type skillAgents struct {
	SkillMediaType int         `json:"skillMediaType"`
	SkillID        int         `json:"skillId"`
	Agent          []agentInfo `json:"agent"`
}

// queryAllOnlineAgents lists, for each skill the caller is signed in to, the
// agents signed in to it: at most maxListAgents a skill and maxAllOnlineAgents
// in all, in work-number order. A cut answer carries TruncatedHeader; a client
// that needs a skill's agents in full pages queryAgentInfoBySkillId.
func (s *Server) queryAllOnlineAgents(c *call) reply {
	me, err := s.cfg.Sessions.Session(c.r.Context(), c.agent, c.guid())
	if err != nil {
		return failed(err)
	}
	out := []skillAgents{}
	budget, truncated := maxAllOnlineAgents, false
	for _, id := range me.Skills {
		sk, _ := s.cfg.Directory.Skill(id)
		agents, more := s.agentPage(c.r.Context(), id, 0, min(maxListAgents, budget), nil)
		budget -= len(agents)
		truncated = truncated || more
		out = append(out, skillAgents{SkillMediaType: sk.MediaType, SkillID: id, Agent: agents})
	}
	return reply{code: ccgw.RetOK, result: out, truncated: truncated}
}
