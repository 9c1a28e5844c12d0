package api

import (
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"math"
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
// It is served by AdminHandler only, never by the vendor handler (ServeHTTP).
const AdminPrefix = "/ccgw/v1/"

// Limits of the admin API's inputs. Every number is parsed, checked finite and
// within its range before it becomes a duration or a count; a value outside
// them is 000-002. The simulator's own limits (sim.MaxPerHour, sim.MinPerHour,
// sim.MaxSpan, sim.DefaultMaxCalls) apply beneath these.
const (
	// MaxAdvance caps one POST /ccgw/v1/clock/advance.
	MaxAdvance = 24 * time.Hour
	// MaxEventsLimit caps the limit of GET /ccgw/v1/events; DefaultEventsLimit
	// is the limit when none is given.
	MaxEventsLimit     = 10000
	DefaultEventsLimit = 1000
	// maxSkillID caps a skill ID in a path or body.
	maxSkillID = 1<<31 - 1
)

// Admin configures the admin API. Zero values mean the defaults given.
type Admin struct {
	Journal *sim.Journal   // GET /ccgw/v1/events and /ccgw/v1/stream; nil: not served
	Virtual *clock.Virtual // the virtual clock that POST /ccgw/v1/clock/advance moves; nil: real time
	Now     func() time.Time
	// MaxStreams caps the event streams (GET /ccgw/v1/stream) open at once;
	// DefaultMaxStreams.
	MaxStreams int
	// StreamPing is how often an idle stream sends a comment line (on
	// Config.WallClock); DefaultStreamPing.
	StreamPing time.Duration

	mu sync.Mutex // serialises clock advances
}

// adminPath is AdminPrefix as a route pattern's start.
const adminPath = "/ccgw/v1"

// openAPI is the OpenAPI 3.1 document of the vendor's interfaces and the admin
// API, served as is at GET /ccgw/v1/openapi.json (openapi_test.go holds it to
// the route tables and to real answers).
//
//go:embed openapi.json
var openAPI []byte

// adminTable returns the admin API's routes: the OpenAPI document, the clock and journal with
// Config.Admin, the queue, call, rate and agent endpoints with Config.Calls.
// Their names, "admin.<endpoint>", are what the request log and metrics show.
func (s *Server) adminTable() []*route {
	rs := []*route{
		r(http.MethodGet, "admin.openapi", adminPath+"/openapi.json", func(*call) reply {
			return reply{code: ccgw.RetOK, raw: openAPI, rawType: "application/json"}
		}),
	}
	if a := s.cfg.Admin; a != nil {
		rs = append(rs,
			r(http.MethodGet, "admin.clock", adminPath+"/clock", func(*call) reply {
				return ok(map[string]any{"now": ccgw.Millis(a.Now()), "virtual": a.Virtual != nil})
			}),
			r(http.MethodPost, "admin.advance", adminPath+"/clock/advance", func(c *call) reply { return s.advance(c, a) }))
		if a.Journal != nil {
			rs = append(rs, r(http.MethodGet, "admin.events", adminPath+"/events", func(c *call) reply { return s.events(c, a.Journal) }))
		}
	}
	if e := s.cfg.Calls; e != nil {
		rs = append(rs,
			r(http.MethodGet, "admin.queues", adminPath+"/queues", func(*call) reply { return ok(e.Queues()) }),
			r(http.MethodGet, "admin.queue", adminPath+"/queues/{skill}", func(c *call) reply {
				skill, okS := intIn(c.vars[0], 0, maxSkillID)
				if !okS {
					return fail(ccgw.RetBadParam)
				}
				return ok(e.Queue(skill))
			}),
			r(http.MethodPost, "admin.injectCall", adminPath+"/calls", func(c *call) reply { return s.injectCall(c, e) }),
			r(http.MethodGet, "admin.call", adminPath+"/calls/{callid}", func(c *call) reply {
				st, found := e.Call(c.vars[0])
				if !found {
					return reply{code: ccgw.RetBadParam, status: http.StatusNotFound}
				}
				return ok(st)
			}),
			r(http.MethodDelete, "admin.hangup", adminPath+"/calls/{callid}", func(c *call) reply {
				if !e.Hangup(c.vars[0]) {
					return reply{code: ccgw.RetBadParam, status: http.StatusNotFound}
				}
				return ok(emptyResult)
			}),
			r(http.MethodGet, "admin.rates", adminPath+"/rates", func(*call) reply {
				out := map[string]any{}
				for sk, r := range e.Rates() {
					out[strconv.Itoa(sk)] = rateJSON(r)
				}
				return ok(out)
			}),
			r(http.MethodPut, "admin.setRate", adminPath+"/rates/{skill}", func(c *call) reply { return s.setRate(c, e) }),
			r(http.MethodPost, "admin.addAgent", adminPath+"/agents", func(c *call) reply { return s.addSimAgent(c, e) }))
	}
	return rs
}

// AdminHandler returns the handler of the admin listener: the admin API under
// AdminPrefix, the web console at "/" and /console/ (console.go), GET
// /metrics (Config.Metrics), /healthz and /readyz. Any other path is 404 and a
// known path with another method 405 with Allow, as on the vendor handler.
// With Config.AdminToken set, every request, health checks and metrics
// included, must carry "Authorization: Bearer <token>" or the console's
// sign-in cookie; any other gets HTTP 401, retcode 000-003 and
// "WWW-Authenticate: Bearer" (the console's page answers its sign-in page).
// A cross-origin browser request that could change something, and with
// Config.AdminLocalOnly a request naming a Host that is not local, get HTTP
// 403 and 000-003. Every answer carries the headers setAdminHeaders sets.
// Safe for concurrent use.
func (s *Server) AdminHandler() http.Handler { return adminHandler{s} }

type adminHandler struct{ s *Server }

func (h adminHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := h.s
	setAdminHeaders(w.Header())
	if r.URL.Path == "/metrics" && s.cfg.Metrics != nil && s.localEnough(r) && s.authorized(r) {
		s.cfg.Metrics.ServeHTTP(w, r)
		return
	}
	s.serve(w, r, s.dispatchAdmin)
}

func (s *Server) dispatchAdmin(c *call) reply {
	if rep, refused := s.guardAdmin(c); refused {
		return rep
	}
	path := cleanPath(c)
	if rep, ok := s.console(c, path); ok {
		return rep
	}
	if !s.authorized(c.r) {
		c.name = "unauthorized"
		return reply{code: ccgw.RetNoPermission, status: http.StatusUnauthorized, authenticate: `Bearer realm="ccgw admin"`}
	}
	if rep, ok := s.health(path); ok {
		return rep
	}
	if !strings.HasPrefix(path, AdminPrefix) {
		return notRouted(c, "")
	}
	rt, allow := s.adminRoutes.match(c.r.Method, path, c)
	if rt == nil {
		return notRouted(c, allow)
	}
	c.name = rt.name
	if c.r.ContentLength > maxBody {
		return s.tooLarge(ccgw.RetBadParam) // unread, as on the vendor handler
	}
	return rt.h(c)
}

// authorized reports whether r may use the admin handler: always without a
// token, else if it carries the token as a bearer credential, or the
// console's sign-in cookie (console.go). The comparison is of SHA-256 digests
// in constant time, so that neither the token's bytes nor its length show in
// the time taken.
func (s *Server) authorized(r *http.Request) bool {
	if s.adminToken == nil {
		return true
	}
	scheme, cred, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return s.cookieSignedIn(r)
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(cred)))
	return subtle.ConstantTimeCompare(got[:], s.adminToken) == 1
}

// secondsIn returns f, a number of seconds, as a duration if it is finite and
// in [0, limit]; ok is false otherwise (NaN, ±Inf, negative, 1e308…), before any
// conversion can overflow.
func secondsIn(f flexFloat, limit time.Duration) (d time.Duration, ok bool) {
	if math.IsNaN(f.v) || f.v < 0 || f.v > limit.Seconds() {
		return 0, false
	}
	return time.Duration(f.v * float64(time.Second)), true
}

// advance moves the virtual clock on by a body's "seconds" or "duration", in
// (0, MaxAdvance]; 409 on a real clock.
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
	d, valid := secondsIn(b.Seconds, MaxAdvance)
	if b.Duration.v != "" {
		pd, err := time.ParseDuration(b.Duration.v)
		d, valid = pd, err == nil
	}
	if !valid || d <= 0 || d > MaxAdvance {
		return fail(ccgw.RetBadParam)
	}
	a.mu.Lock()
	a.Virtual.Advance(d)
	now := a.Virtual.Now()
	a.mu.Unlock()
	return ok(map[string]any{"now": ccgw.Millis(now), "virtual": true})
}

// events pages through the journal: after is any uint64 (0 when left out),
// limit 1–MaxEventsLimit (DefaultEventsLimit when left out).
func (s *Server) events(c *call, j *sim.Journal) reply {
	q := c.r.URL.Query()
	var after uint64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fail(ccgw.RetBadParam)
		}
		after = n
	}
	limit := DefaultEventsLimit
	if v := q.Get("limit"); v != "" {
		n, okL := intIn(v, 1, MaxEventsLimit)
		if !okL {
			return fail(ccgw.RetBadParam)
		}
		limit = n
	}
	evs, last := j.Since(after, limit)
	if evs == nil {
		evs = []ccgw.Event{}
	}
	return ok(map[string]any{"events": evs, "last": last})
}

func (s *Server) injectCall(c *call, e *sim.Engine) reply {
	var b struct {
		SkillID  flexInt    `json:"skillId"`
		Caller   flexString `json:"caller"`
		CallData flexString `json:"callData"`
		Talk     flexFloat  `json:"talkSeconds"`
		Abandon  flexFloat  `json:"abandonSeconds"`
	}
	if err := decodeBody(c.w, c.r, &b, false); err != nil || !b.SkillID.set || b.SkillID.v < 0 || b.SkillID.v > maxSkillID ||
		len(b.CallData.v) > maxCallData {
		return fail(ccgw.RetBadParam)
	}
	if b.Caller.v != "" && !sim.ValidNumber(b.Caller.v) {
		return fail(ccgw.RetBadParam)
	}
	talk, okT := secondsIn(b.Talk, sim.MaxSpan)
	abandon, okA := secondsIn(b.Abandon, sim.MaxSpan)
	if !okT || !okA {
		return fail(ccgw.RetBadParam)
	}
	id, err := e.Inject(sim.CallSpec{Skill: int(b.SkillID.v), Caller: b.Caller.v, CallData: b.CallData.v,
		TalkFor: talk, AbandonAfter: abandon})
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

// setRate takes perHour 0 (stop) or in [sim.MinPerHour, sim.MaxPerHour], and
// durations in [0, sim.MaxSpan]; talkMaxSeconds below talkMinSeconds is raised
// to it.
func (s *Server) setRate(c *call, e *sim.Engine) reply {
	skill, okS := intIn(c.vars[0], 0, maxSkillID)
	var b struct {
		PerHour flexFloat `json:"perHour"`
		TalkMin flexFloat `json:"talkMinSeconds"`
		TalkMax flexFloat `json:"talkMaxSeconds"`
		Abandon flexFloat `json:"abandonSeconds"`
	}
	if err := decodeBody(c.w, c.r, &b, false); err != nil || !okS || !sim.ValidPerHour(b.PerHour.v) {
		return fail(ccgw.RetBadParam)
	}
	talkMin, ok1 := secondsIn(b.TalkMin, sim.MaxSpan)
	talkMax, ok2 := secondsIn(b.TalkMax, sim.MaxSpan)
	abandon, ok3 := secondsIn(b.Abandon, sim.MaxSpan)
	if !ok1 || !ok2 || !ok3 {
		return fail(ccgw.RetBadParam)
	}
	r := sim.Rate{PerHour: b.PerHour.v, TalkMin: talkMin, TalkMax: max(talkMax, talkMin), AbandonAfter: abandon}
	if err := e.SetRate(skill, r); err != nil {
		return failed(err)
	}
	return ok(rateJSON(r))
}

// addSimAgent signs in a simulated agent; 100-002 if the work number is signed
// in already (by a client or the simulator), whose session is left alone.
func (s *Server) addSimAgent(c *call, e *sim.Engine) reply {
	var b struct {
		WorkNo      flexString `json:"workNo"`
		Skills      []flexInt  `json:"skills"`
		AnswerAfter flexFloat  `json:"answerAfterSeconds"`
		WrapUp      flexFloat  `json:"wrapUpSeconds"`
	}
	if err := decodeBody(c.w, c.r, &b, false); err != nil {
		return fail(ccgw.RetBadParam)
	}
	answer, okA := secondsIn(b.AnswerAfter, sim.MaxSpan)
	wrap, okW := secondsIn(b.WrapUp, sim.MaxSpan)
	if !okA || !okW {
		return fail(ccgw.RetBadParam)
	}
	id, err := ccgw.ParseAgentID(b.WorkNo.v)
	if err != nil {
		return failed(err)
	}
	var skills []int
	for _, sk := range b.Skills {
		if sk.v < 0 || sk.v > maxSkillID {
			return fail(ccgw.RetBadParam)
		}
		skills = append(skills, int(sk.v))
	}
	if err := e.AddSimAgent(id, sim.SimAgent{AnswerAfter: answer, WrapUp: wrap}, skills); err != nil {
		return failed(err)
	}
	return ok(emptyResult)
}
