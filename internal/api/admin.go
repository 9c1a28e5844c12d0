package api

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/sim"
)

// AdminPrefix is the prefix of ccgw's own admin API, apart from the vendor's.
const AdminPrefix = "/ccgw/v1/"

// Admin configures the admin API.
type Admin struct {
	Journal *sim.Journal // GET /ccgw/v1/events; nil: not served
	Virtual *clock.Fake  // the virtual clock that POST /ccgw/v1/clock/advance moves; nil: real time
	Now     func() time.Time

	mu sync.Mutex // serialises clock advances
}

// adminCall serves one admin request; the reply uses the vendor envelope.
func (s *Server) admin(c *call) reply {
	c.name = "admin"
	rest := strings.TrimPrefix(c.r.URL.Path, AdminPrefix)
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	m := c.r.Method
	e := s.cfg.Calls
	a := s.cfg.Admin
	switch {
	case parts[0] == "clock" && len(parts) == 1 && m == http.MethodGet && a != nil:
		return ok(map[string]any{"now": ccgw.Millis(a.Now()), "virtual": a.Virtual != nil})
	case parts[0] == "clock" && len(parts) == 2 && parts[1] == "advance" && m == http.MethodPost && a != nil:
		return s.advance(c, a)
	case parts[0] == "events" && len(parts) == 1 && m == http.MethodGet && a != nil && a.Journal != nil:
		q := c.r.URL.Query()
		after, _ := strconv.ParseUint(q.Get("after"), 10, 64)
		limit, err := strconv.Atoi(q.Get("limit"))
		if err != nil || limit <= 0 || limit > 10000 {
			limit = 1000
		}
		evs, last := a.Journal.Since(after, limit)
		if evs == nil {
			evs = []ccgw.Event{}
		}
		return ok(map[string]any{"events": evs, "last": last})
	case e == nil:
		return reply{code: ccgw.RetBadParam, status: http.StatusNotFound}
	case parts[0] == "queues" && len(parts) == 1 && m == http.MethodGet:
		return ok(e.Queues())
	case parts[0] == "queues" && len(parts) == 2 && m == http.MethodGet:
		skill, okS := intIn(parts[1], 0, 1<<31-1)
		if !okS {
			return fail(ccgw.RetBadParam)
		}
		return ok(e.Queue(skill))
	case parts[0] == "calls" && len(parts) == 1 && m == http.MethodPost:
		return s.injectCall(c, e)
	case parts[0] == "calls" && len(parts) == 2 && m == http.MethodGet:
		st, found := e.Call(parts[1])
		if !found {
			return reply{code: ccgw.RetBadParam, status: http.StatusNotFound}
		}
		return ok(st)
	case parts[0] == "calls" && len(parts) == 2 && m == http.MethodDelete:
		if !e.Hangup(parts[1]) {
			return reply{code: ccgw.RetBadParam, status: http.StatusNotFound}
		}
		return ok(emptyResult)
	case parts[0] == "rates" && len(parts) == 1 && m == http.MethodGet:
		out := map[string]any{}
		for sk, r := range e.Rates() {
			out[strconv.Itoa(sk)] = rateJSON(r)
		}
		return ok(out)
	case parts[0] == "rates" && len(parts) == 2 && m == http.MethodPut:
		return s.setRate(c, e, parts[1])
	case parts[0] == "agents" && len(parts) == 1 && m == http.MethodPost:
		return s.addSimAgent(c, e)
	}
	return reply{code: ccgw.RetBadParam, status: http.StatusNotFound}
}

// seconds is a duration given in (possibly fractional) seconds.
func seconds(f flexFloat) time.Duration { return time.Duration(f.v * float64(time.Second)) }

func (s *Server) advance(c *call, a *Admin) reply {
	if a.Virtual == nil {
		return reply{code: ccgw.RetBadParam, status: http.StatusConflict}
	}
	var b struct {
		Seconds  flexFloat  `json:"seconds"`
		Duration flexString `json:"duration"`
	}
	if err := decodeBody(c.w, c.r, &b, false); err != nil {
		return fail(ccgw.RetBadParam)
	}
	d := seconds(b.Seconds)
	if b.Duration.v != "" {
		pd, err := time.ParseDuration(b.Duration.v)
		if err != nil {
			return fail(ccgw.RetBadParam)
		}
		d = pd
	}
	if d <= 0 || d > 31*24*time.Hour {
		return fail(ccgw.RetBadParam)
	}
	a.mu.Lock()
	a.Virtual.Advance(d)
	now := a.Virtual.Now()
	a.mu.Unlock()
	return ok(map[string]any{"now": ccgw.Millis(now), "virtual": true})
}

func (s *Server) injectCall(c *call, e *sim.Engine) reply {
	var b struct {
		SkillID  flexInt    `json:"skillId"`
		Caller   flexString `json:"caller"`
		CallData flexString `json:"callData"`
		Talk     flexFloat  `json:"talkSeconds"`
		Abandon  flexFloat  `json:"abandonSeconds"`
	}
	if err := decodeBody(c.w, c.r, &b, false); err != nil || !b.SkillID.set || b.Talk.v < 0 || b.Abandon.v < 0 {
		return fail(ccgw.RetBadParam)
	}
	if b.Caller.v != "" && !sim.ValidNumber(b.Caller.v) {
		return fail(ccgw.RetBadParam)
	}
	id, err := e.Inject(sim.CallSpec{Skill: int(b.SkillID.v), Caller: b.Caller.v, CallData: b.CallData.v,
		TalkFor: seconds(b.Talk), AbandonAfter: seconds(b.Abandon)})
	if err != nil {
		return failed(err)
	}
	return ok(map[string]string{"callid": id})
}

// rateJSON is a Rate on the wire, in seconds.
func rateJSON(r sim.Rate) map[string]float64 {
	return map[string]float64{"perHour": r.PerHour, "talkMinSeconds": r.TalkMin.Seconds(),
		"talkMaxSeconds": r.TalkMax.Seconds(), "abandonSeconds": r.AbandonAfter.Seconds()}
}

func (s *Server) setRate(c *call, e *sim.Engine, skillStr string) reply {
	skill, okS := intIn(skillStr, 0, 1<<31-1)
	var b struct {
		PerHour flexFloat `json:"perHour"`
		TalkMin flexFloat `json:"talkMinSeconds"`
		TalkMax flexFloat `json:"talkMaxSeconds"`
		Abandon flexFloat `json:"abandonSeconds"`
	}
	if err := decodeBody(c.w, c.r, &b, false); err != nil || !okS {
		return fail(ccgw.RetBadParam)
	}
	r := sim.Rate{PerHour: b.PerHour.v, TalkMin: seconds(b.TalkMin), TalkMax: seconds(b.TalkMax), AbandonAfter: seconds(b.Abandon)}
	if r.TalkMax < r.TalkMin {
		r.TalkMax = r.TalkMin
	}
	if r.TalkMin < 0 || r.AbandonAfter < 0 {
		return fail(ccgw.RetBadParam)
	}
	if err := e.SetRate(skill, r); err != nil {
		return failed(err)
	}
	return ok(rateJSON(r))
}

func (s *Server) addSimAgent(c *call, e *sim.Engine) reply {
	var b struct {
		WorkNo      flexString `json:"workNo"`
		Skills      []flexInt  `json:"skills"`
		AnswerAfter flexFloat  `json:"answerAfterSeconds"`
		WrapUp      flexFloat  `json:"wrapUpSeconds"`
	}
	if err := decodeBody(c.w, c.r, &b, false); err != nil || b.AnswerAfter.v < 0 || b.WrapUp.v < 0 {
		return fail(ccgw.RetBadParam)
	}
	id, err := ccgw.ParseAgentID(b.WorkNo.v)
	if err != nil {
		return failed(err)
	}
	var skills []int
	for _, sk := range b.Skills {
		skills = append(skills, int(sk.v))
	}
	if err := e.AddSimAgent(id, sim.SimAgent{AnswerAfter: seconds(b.AnswerAfter), WrapUp: seconds(b.WrapUp)}, skills); err != nil {
		return failed(err)
	}
	return ok(emptyResult)
}
