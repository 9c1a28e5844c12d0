package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/faults"
	"github.com/ccgw/ccgw/internal/report"
	"github.com/ccgw/ccgw/internal/sim"
)

// Hooks of the request path for the integrator's workbench: the conformance
// report and request journal (Config.Report), and faults (Config.Faults).

// observe tells Config.Report of c, answered rep: nothing that identifies the
// session (the GUIDs go only to be fingerprinted), the path without its query.
// A request of no known interface is told under the agent its path names, if
// any. In the common case (a heartbeat) it allocates nothing.
func (s *Server) observe(c *call, rep *reply, start time.Time, took time.Duration) {
	// The path: "" for a routed request with no variable but the agent (the
	// journal's reader fills in its route's pattern), else a copy.
	id, copyPath := c.agent, c.vars[0] != ""
	if id == 0 {
		var ok bool
		if id, ok = agentOfPath(c.r.URL.Path); !ok {
			return
		}
		copyPath = true
	}
	path := ""
	if copyPath {
		// The path proper, copied: c.r's strings share memory with its query.
		p := c.r.URL.Path
		if len(p) > maxJournalPath {
			p = p[:maxJournalPath] + "…"
		}
		path = strings.Clone(p)
	}
	status := rep.status
	if status == 0 {
		status = http.StatusOK
	}
	q := report.Request{Agent: id, Method: c.name, HTTP: c.r.Method, Path: path, Code: rep.code, Status: status,
		Start: start, Took: took, SetGUID: rep.setGUID, Push: c.flags&flagPush != 0, PushURL: c.flags&flagPushURL != 0,
		EmptyPoll: rep.poll && rep.code == ccgw.RetOK && rep.event == nil}
	if rep.setGUID != "" || rep.code == ccgw.RetNoPermission {
		q.GUID = c.guid()
	}
	if c.r.ContentLength != 0 {
		q.Body = true
		if v := c.r.Header["Content-Type"]; len(v) > 0 {
			q.ContentType = v[0]
			q.JSON = containsFold(v[0], "application/json")
		}
	}
	s.cfg.Report.Observe(&q)
}

// maxJournalPath bounds a path the journal copies (the longest route's is
// under 100 bytes).
const maxJournalPath = 256

// agentOfPath returns the agent a vendor path names where its interfaces have
// {agentid} (the fourth segment: /agentgateway/resource/<kind>/<agentid>/…).
func agentOfPath(path string) (ccgw.AgentID, bool) {
	rest, ok := strings.CutPrefix(path, Prefix)
	if !ok {
		return 0, false
	}
	_, rest, ok = strings.Cut(rest, "/")
	if !ok {
		return 0, false
	}
	seg, _, _ := strings.Cut(rest, "/")
	id, err := ccgw.ParseAgentID(seg)
	return id, err == nil
}

// containsFold reports whether s contains sub (lower case ASCII), ignoring
// ASCII case, without allocating.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for ; j < len(sub); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

// fault applies the faults on at c, a routed request of a known agent: it
// returns the answer instead of the handler's when one refuses c, and sets
// c.delay for a slow one.
func (s *Server) fault(c *call, f *faults.Set) (reply, bool) {
	e := f.Check(c.agent, c.name)
	c.delayMS = uint16(min(e.Delay, faults.MaxDelay).Milliseconds())
	if e.Code != "" {
		return fail(e.Code), true
	}
	if !e.SignedInBefore.IsZero() && !signInMethod(c.name) {
		if sess, ok := s.cfg.Sessions.Lookup(c.r.Context(), c.agent); ok && sess.LoginTime < ccgw.Millis(e.SignedInBefore) {
			return fail(ccgw.RetNoPermission), true
		}
	}
	return reply{}, false
}

func signInMethod(name string) bool {
	return name == "login" || name == "forceLogin" || name == "loginEx"
}

// delayAnswer waits d on Config.WallClock, or until ctx ends (the client went
// away). It is called with no lock held.
func (s *Server) delayAnswer(ctx context.Context, d time.Duration) {
	t := s.cfg.WallClock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
	case <-ctx.Done():
	}
}

// Interfaces returns the spec method names of the vendor's interfaces a
// Server serves with Config.Calls set (every one), sorted: the names a fault's
// scope may use.
func Interfaces() []string {
	s := &Server{cfg: Config{Calls: &sim.Engine{}}}
	var names []string
	for _, group := range [][]*route{s.table(), s.stateTable(), s.callTable()} {
		for _, rt := range group {
			names = append(names, rt.name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
