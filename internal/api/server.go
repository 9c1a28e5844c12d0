// Package api serves the CC-Gateway HTTP interface: it routes each request to the
// spec method it names, decodes and validates it, calls the domain, and writes the
// retcode envelope, logging one line per request (at DEBUG; internal errors at
// ERROR) and counting it by method and retcode (Server.TakeRequestCounts). Two
// handlers share one Server: the vendor's interfaces (Server.ServeHTTP) and
// ccgw's admin API with metrics (Server.AdminHandler), for two listeners.
package api

import (
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/faults"
	"github.com/ccgw/ccgw/internal/netlimit"
	"github.com/ccgw/ccgw/internal/report"
	"github.com/ccgw/ccgw/internal/session"
	"github.com/ccgw/ccgw/internal/sim"
)

// Prefix is the vendor's base path.
const Prefix = "/agentgateway/resource/"

// Config configures a Server. Zero values mean the defaults given.
type Config struct {
	Sessions  session.Service  // required
	Directory *agent.Directory // required
	PollWait  time.Duration    // how long an empty poll is held; 10s
	// PollAtOnce answers an empty poll at once, whatever PollWait says (the
	// vendor's AGENT_POLL_WAIT_FLAG=OFF).
	PollAtOnce bool
	Log        *slog.Logger // discards
	// Clock is the sessions' clock (for durations in query results); real if nil.
	Clock ccgw.Clock
	// Ready reports whether the gateway can serve (GET /readyz); nil means always.
	Ready func() bool
	// Calls, if set, serves the voice-call, call-data and queue-device interfaces
	// and the admin API's call and queue endpoints.
	Calls *sim.Engine
	// Admin, if set, serves the admin API's clock and event journal.
	Admin *Admin
	// Metrics, if set, is served at GET /metrics by AdminHandler (never by the
	// vendor handler).
	Metrics http.Handler
	// AdminToken, if set, is the bearer token every request to AdminHandler must
	// carry ("Authorization: Bearer <AdminToken>"), or the web console's
	// sign-in cookie, which it answers for the token (console.go).
	AdminToken string
	// AdminLocalOnly, without AdminToken, makes AdminHandler answer only
	// requests whose Host is a loopback address or localhost (HTTP 403 and
	// 000-003 otherwise): a web page whose name was made to resolve to the
	// loopback address (DNS rebinding) cannot use the admin API. Set it for
	// an admin listener on loopback without a token.
	AdminLocalOnly bool
	// CheckCallback, if set, judges a sign-in's callback URL (callBackUri or
	// pushUrl): push.CallbackPolicy.Check, with the vendor's trustlist
	// EVENT_PUST_WHILTELIST_CALLBACKURI. One it refuses (any error) fails the
	// sign-in with 100-001.
	CheckCallback func(url string) error
	// Lockout, if set, counts modifyAccountPwdEx's wrong old passwords toward
	// the agent's lockout and refuses a locked agent's change (110-016), as
	// sign-in does (the session service's own Guard, on the same store).
	Lockout *session.Guard
	// Observe, if set, is told each interface request's method name, retcode and
	// duration.
	Observe func(method string, code ccgw.Retcode, took time.Duration)
	// Report, if set, is told of every request on the vendor's interfaces that
	// names an agent (its conformance findings and request journal), and serves
	// GET /ccgw/v1/clients... (workbench.go).
	Report *report.Report
	// Faults, if set, may change the answer to any request on the vendor's
	// interfaces, and serves /ccgw/v1/faults (workbench.go).
	Faults *faults.Set
	// WallClock times requests (the request log, metrics, Report) and a slow
	// fault's delay; real if nil. It is real time even under a virtual Clock:
	// a client's pacing, and its waiting, are.
	WallClock ccgw.Clock
	// MaxPollsPerIP caps the polls one client IP (the connection's, never a
	// header's) may have held at once; a poll over it is answered at once with
	// HTTP 429, Retry-After: 1 and retcode 000-007. 0: no limit.
	MaxPollsPerIP int
	// WriteTimeout is the http.Server's WriteTimeout: a poll extends its
	// connection's read and write deadlines to PollWait plus this from its start,
	// so that a held poll outlives the server's timeouts. 0: no extension.
	WriteTimeout time.Duration
}

// Refused counts the requests the server refused for its limits.
type Refused struct {
	Polls   uint64 // polls over Config.MaxPollsPerIP
	Bodies  uint64 // bodies over 64 KiB: by Content-Length, or on reading
	Streams uint64 // event streams over Admin.MaxStreams
}

// Server is the gateway's http.Handler for the vendor's interfaces; its
// AdminHandler serves the admin API.
type Server struct {
	cfg         Config
	routes      routeTable // the vendor's interfaces
	adminRoutes routeTable // the admin API
	adminToken  []byte     // SHA-256 of Config.AdminToken; nil: none required
	bodies      sync.Map   // bareKey → []byte, never written to (reply.go)
	polls       *netlimit.Counter
	bigBodies   atomic.Uint64
	crossOrigin *http.CrossOriginProtection // the admin handler's CSRF check (console.go)
	streams     atomic.Int64                // event streams open (stream.go)
	// refusedStreams counts the streams refused over Admin.MaxStreams.
	refusedStreams atomic.Uint64
	tally          *tally // requests by method and retcode, for the summary log line
	realWall       bool   // Config.WallClock is the real clock: now calls time.Now itself
	// patterns maps each vendor interface's name to its route pattern: the
	// request journal's path of a request with no other path variable.
	patterns map[string]string
}

// now reads Config.WallClock; the real one without an interface call.
func (s *Server) now() time.Time {
	if s.realWall {
		return time.Now()
	}
	return s.cfg.WallClock.Now()
}

// since is the time from start to now on Config.WallClock; on the real one a
// monotonic reading only, as time.Since.
func (s *Server) since(start time.Time) time.Duration {
	if s.realWall {
		return time.Since(start)
	}
	return s.cfg.WallClock.Now().Sub(start)
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	switch {
	case cfg.PollAtOnce:
		cfg.PollWait = 0
	case cfg.PollWait <= 0:
		cfg.PollWait = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Ready == nil {
		cfg.Ready = func() bool { return true }
	}
	if cfg.WallClock == nil {
		cfg.WallClock = clock.Real{}
	}
	s := &Server{cfg: cfg, polls: netlimit.NewCounter(cfg.MaxPollsPerIP), crossOrigin: http.NewCrossOriginProtection()}
	_, s.realWall = cfg.WallClock.(clock.Real)
	vendor, state, calls, admin, wb, live := s.table(), s.stateTable(), s.callTable(), s.adminTable(), s.workbenchTable(), s.liveTable()
	s.routes = buildRoutes(4, vendor, state, calls)
	s.patterns = make(map[string]string)
	for _, group := range [][]*route{vendor, state, calls} {
		for _, rt := range group {
			s.patterns[rt.name] = rt.pattern
		}
	}
	s.adminRoutes = buildRoutes(3, admin, wb, live)
	s.tally = newTally(append(routeNames(vendor, state, calls, admin, wb, live), "unknown", "unauthorized", "forbidden",
		"console.page", "console.asset", "console.login", "console.logout"))
	if cfg.AdminToken != "" {
		sum := sha256.Sum256([]byte(cfg.AdminToken))
		s.adminToken = sum[:]
	}
	return s
}

// Refused returns what the server has refused for its limits so far.
func (s *Server) Refused() Refused {
	return Refused{Polls: s.polls.Refused(), Bodies: s.bigBodies.Load(), Streams: s.refusedStreams.Load()}
}

// ServeHTTP implements http.Handler for the vendor's listener: the interfaces
// under Prefix, /healthz and /readyz. Every other path, the admin API's and
// /metrics included, is 404 with the 000-002 envelope.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, s.dispatch)
}

// serve runs dispatch on r, recovering a panic as 000-000, writes its reply,
// counts the request (Observe, the tally) and logs it: at DEBUG, or at ERROR
// when it ended in an internal error. At INFO and above a request that went
// well costs no log work and allocates nothing here.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, dispatch func(*call) reply) {
	start := s.now()
	// Only a body of unknown length (chunked) can run over the cap unseen: a
	// Content-Length over it is refused before dispatch, and one within it
	// cannot grow. The heartbeat has none, and so allocates no counter.
	var body *countingBody
	if r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody {
		body = &countingBody{ReadCloser: r.Body}
		r.Body = body
	}
	c := &call{r: r, w: w}
	var rep reply
	func() {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.cfg.Log.Error("panic", "method", c.name, "path", clip(r.URL.Path), "panic", p)
				rep = fail(ccgw.RetInternal)
			}
		}()
		rep = dispatch(c)
	}()
	if body != nil && body.n > maxBody && rep.code != ccgw.RetOK && rep.status == 0 {
		// A body without a Content-Length that ran over the cap while read: the
		// handler answered its retcode, the status says why.
		rep = s.tooLarge(rep.code)
	}
	if c.delayMS > 0 {
		s.delayAnswer(r.Context(), time.Duration(c.delayMS)*time.Millisecond) // a slow fault
	}
	s.write(w, rep)
	if c.name == "" {
		return // health checks are not logged
	}
	took := s.since(start)
	if s.cfg.Observe != nil {
		s.cfg.Observe(c.name, rep.code, took)
	}
	if c.flags&flagVendor != 0 && s.cfg.Report != nil {
		s.observe(c, &rep, start, took)
	}
	s.tally.add(c.name, rep.code)
	// An error is logged only when the client was told it is ours: a client's
	// malformed body (RetLoginParam carrying errBody) is not an internal error.
	internal := rep.err != nil && rep.code == ccgw.RetInternal
	level := slog.LevelDebug
	if internal {
		level = slog.LevelError
	}
	if !s.cfg.Log.Enabled(r.Context(), level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", c.name),
		slog.String("agent", clip(c.agentRaw)),
		slog.String("retcode", string(rep.code)),
		slog.Duration("took", took),
	}
	if internal {
		attrs = append(attrs, slog.String("err", rep.err.Error()))
	}
	s.cfg.Log.LogAttrs(r.Context(), level, "request", attrs...)
}

func (s *Server) dispatch(c *call) reply {
	path := cleanPath(c)
	if rep, ok := s.health(path); ok {
		return rep
	}
	if !strings.HasPrefix(path, Prefix) {
		return notRouted(c, "")
	}
	c.flags |= flagVendor
	rt, allow := s.routes.match(c.r.Method, path, c)
	if rt == nil {
		return notRouted(c, allow)
	}
	c.name = rt.name
	if c.r.ContentLength > maxBody {
		// Refused before the body is read: the client is told at once, and the
		// connection closed rather than drained.
		code := ccgw.RetBadParam
		if isSignIn(rt.name) {
			code = ccgw.RetLoginParam // what a sign-in's malformed body gets (decode.go)
		}
		return s.tooLarge(code)
	}
	id, err := ccgw.ParseAgentID(c.agentRaw)
	if err != nil {
		return failed(err)
	}
	c.agent = id
	if f := s.cfg.Faults; f != nil && f.Held() { // with no fault held, this one atomic load
		if rep, answered := s.fault(c, f); answered {
			return rep
		}
	}
	return rt.h(c)
}

// cleanPath returns c's path with doubled slashes collapsed, and stores it back.
func cleanPath(c *call) string {
	path := c.r.URL.Path
	if strings.Contains(path, "//") {
		// Clients that join a base URL ending in "/" to paths starting with one
		// (the vendor's generated JavaScript SDK) send "resource//onlineagent/...";
		// the vendor's gateway serves them as single slashes.
		path = collapseSlashes(path)
		c.r.URL.Path = path
	}
	return path
}

// health answers /healthz and /readyz (any method; not logged); ok is false for
// any other path.
func (s *Server) health(path string) (rep reply, ok bool) {
	switch path {
	case "/healthz":
		return reply{code: ccgw.RetOK, result: map[string]string{"status": "alive"}}, true
	case "/readyz":
		if !s.cfg.Ready() {
			return reply{code: ccgw.RetInternal, status: http.StatusServiceUnavailable}, true
		}
		return reply{code: ccgw.RetOK, result: map[string]string{"status": "ready"}}, true
	}
	return reply{}, false
}

// notRouted is the reply for a path no route matched: 405 with allow when the
// path exists for other methods, else 404; both 000-002.
func notRouted(c *call, allow string) reply {
	if allow != "" {
		if c.name == "" {
			c.name = "unknown"
		}
		return reply{code: ccgw.RetBadParam, status: http.StatusMethodNotAllowed, allow: allow}
	}
	c.name = "unknown"
	return reply{code: ccgw.RetBadParam, status: http.StatusNotFound}
}

// tooLarge is the reply to a body over maxBody: HTTP 413 with code, and the
// connection closed after it.
func (s *Server) tooLarge(code ccgw.Retcode) reply {
	s.bigBodies.Add(1)
	return reply{code: code, status: http.StatusRequestEntityTooLarge, close: true}
}

// isSignIn reports whether the spec method name is a sign-in's.
func isSignIn(name string) bool {
	return name == "login" || name == "forceLogin" || name == "loginEx"
}

// countingBody counts the bytes read from a request body.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// call is one request on its way through a handler.
type call struct {
	r        *http.Request
	w        http.ResponseWriter
	name     string       // the spec method name
	agentRaw string       // {agentid} as sent
	agent    ccgw.AgentID // {agentid} parsed
	// For the workbench (watch.go), packed beside agent so that a call stays
	// in its size class (112 bytes): one is allocated per request.
	delayMS uint16    // hold the answer this many ms (a slow fault; faults.MaxDelay fits)
	flags   callFlags // what the workbench learns on the way
	vars    [3]string // the route's other path variables, in order
}

// callFlags are a call's facts for the workbench.
type callFlags uint8

const (
	flagVendor  callFlags = 1 << iota // a request under Prefix: watched by Config.Report
	flagPush                          // a sign-in in push mode
	flagPushURL                       // a sign-in with pushUrl
)

// guid returns the request's Guid header; a value copied from Set-GUID
// ("JSESSIONID=<guid>") is accepted too.
func (c *call) guid() string {
	g := strings.TrimSpace(c.r.Header.Get("Guid"))
	return strings.TrimPrefix(g, "JSESSIONID=")
}

// collapseSlashes returns p with every run of slashes written as one.
func collapseSlashes(p string) string {
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && i > 0 && p[i-1] == '/' {
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// maxEcho bounds a value a client sent that a log line repeats.
const maxEcho = 64

// clip returns s, cut to maxEcho bytes (and marked so) if longer: a request
// log repeats what a client sent, and a client may send megabytes.
func clip(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	return s[:maxEcho] + "…"
}
