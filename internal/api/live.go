package api

import (
	"context"
	"net/http"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/sim"
)

// The live view of the admin API, which the web console (console.go) shows:
// the agents signed in, forcing one out, the live calls, and the event journal
// as a stream (stream.go). Shapes are in README.md, "Admin API".

// Limits of GET /ccgw/v1/agents and GET /ccgw/v1/calls.
const (
	MaxLiveLimit     = 500
	DefaultLiveLimit = 100
)

// agentLister is the listing of live sessions, where the session service has
// one (internal/session's Service does): the live sessions (client and
// simulated) with work numbers above after, in work-number order, up to limit
// of them, and whether more follow.
type agentLister interface {
	Agents(ctx context.Context, after ccgw.AgentID, limit int) ([]ccgw.LiveSession, bool)
}

// liveTable returns the live view's admin routes.
func (s *Server) liveTable() []*route {
	rs := []*route{
		r(http.MethodDelete, "admin.forceOut", adminPath+"/agents/{agentid}", s.forceOut),
	}
	if l, ok := s.cfg.Sessions.(agentLister); ok {
		rs = append(rs, r(http.MethodGet, "admin.agents", adminPath+"/agents", func(c *call) reply { return s.agents(c, l) }))
	}
	if e := s.cfg.Calls; e != nil {
		rs = append(rs, r(http.MethodGet, "admin.calls", adminPath+"/calls", func(c *call) reply { return liveCalls(c, e) }))
	}
	if a := s.cfg.Admin; a != nil && a.Journal != nil {
		rs = append(rs, r(http.MethodGet, "admin.stream", adminPath+"/stream", func(c *call) reply { return s.stream(c, a) }))
	}
	return rs
}

// liveLimit reads ?limit= (1–MaxLiveLimit; DefaultLiveLimit when left out).
func liveLimit(c *call) (int, bool) {
	v := c.r.URL.Query().Get("limit")
	if v == "" {
		return DefaultLiveLimit, true
	}
	return intIn(v, 1, MaxLiveLimit)
}

// agentJSON is a live session on the admin API: never a GUID.
type agentJSON struct {
	Agent      string `json:"agent"`
	State      int    `json:"state"` // agentState, as getAgentStatus answers it
	Mode       string `json:"mode"`  // "poll" or "push"
	Simulated  bool   `json:"simulated"`
	LoginTime  int64  `json:"loginTime"`  // ms since the epoch, on the gateway's clock
	StateSince int64  `json:"stateSince"` // ms
	LastSeen   int64  `json:"lastSeen"`   // ms: its last heartbeat, poll or other authenticated request
	GUIDAge    int64  `json:"guidAgeMillis"`
	Queued     int    `json:"queued"`   // events waiting for delivery
	Findings   int    `json:"findings"` // finding codes its client raised (GET /ccgw/v1/clients/{agentid})
	CallID     string `json:"callId"`   // the call it is in, "" if none
	Skills     []int  `json:"skills"`
}

// agents pages the live sessions: after is a work number (none: from the
// first), limit 1–MaxLiveLimit; next is the last agent returned when more
// follow, else "". now is the gateway's clock when the page was made.
func (s *Server) agents(c *call, l agentLister) reply {
	var after ccgw.AgentID
	if v := c.r.URL.Query().Get("after"); v != "" {
		id, err := ccgw.ParseAgentID(v)
		if err != nil {
			return fail(ccgw.RetBadParam)
		}
		after = id
	}
	limit, okL := liveLimit(c)
	if !okL {
		return fail(ccgw.RetBadParam)
	}
	page, more := l.Agents(c.r.Context(), after, limit)
	now := s.cfg.Clock.Now()
	out := make([]agentJSON, len(page))
	for i, a := range page {
		x := &a.Session
		out[i] = agentJSON{Agent: x.Agent.String(), State: int(x.State), Mode: x.Mode.String(), Simulated: x.Simulated,
			LoginTime: x.LoginTime, StateSince: x.StateSince, LastSeen: ccgw.Millis(a.LastSeen),
			GUIDAge: max(ccgw.Millis(now)-x.GUIDIssued, 0), Queued: a.Queued, CallID: x.CallID, Skills: x.Skills}
		if out[i].Skills == nil {
			out[i].Skills = []int{}
		}
		if s.cfg.Report != nil {
			out[i].Findings = s.cfg.Report.Findings(x.Agent)
		}
	}
	next := ""
	if more && len(page) > 0 {
		next = page[len(page)-1].Session.Agent.String()
	}
	return ok(map[string]any{"agents": out, "next": next, "now": ccgw.Millis(now)})
}

// forceOut signs agent {agentid} out as a supervisor would (cause supervisor:
// its client gets AgentOther_ShutdownService), whatever its GUID, exactly once:
// HTTP 404 and 100-006 if it is not signed in, the loser of a race included.
func (s *Server) forceOut(c *call) reply {
	id, err := ccgw.ParseAgentID(c.agentRaw)
	if err != nil {
		return fail(ccgw.RetBadParam)
	}
	if err := s.cfg.Sessions.Kick(c.r.Context(), id, ccgw.CauseSupervisor); err != nil {
		rep := failed(err)
		if rep.code == ccgw.RetNotSignedIn {
			rep.status = http.StatusNotFound
		}
		return rep
	}
	return ok(emptyResult)
}

// liveCalls pages the live calls in the order they were made: after is a call
// ID (none: from the first), limit 1–MaxLiveLimit; next is the last call
// returned when more follow, else "".
func liveCalls(c *call, e *sim.Engine) reply {
	var after uint64
	if v := c.r.URL.Query().Get("after"); v != "" {
		n, okA := sim.CallSeq(v)
		if !okA {
			return fail(ccgw.RetBadParam)
		}
		after = n
	}
	limit, okL := liveLimit(c)
	if !okL {
		return fail(ccgw.RetBadParam)
	}
	page, more := e.Calls(after, limit)
	next := ""
	if more && len(page) > 0 {
		next = page[len(page)-1].CallID
	}
	if page == nil {
		page = []sim.CallStatus{}
	}
	return ok(map[string]any{"calls": page, "next": next})
}

// streamWriteTimeout bounds one write of a stream when Config.WriteTimeout
// does not: a client that takes nothing for this long is cut off.
const streamWriteTimeout = 30 * time.Second
