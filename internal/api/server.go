// Package api serves the CC-Gateway HTTP interface: it routes each request to the
// spec method it names, decodes and validates it, calls the domain, and writes the
// retcode envelope, logging one line per request.
package api

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/clock"
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
	// Metrics, if set, is served at GET /metrics.
	Metrics http.Handler
	// CheckCallback, if set, judges a sign-in's callback URL (callBackUri or
	// pushUrl): event.CallbackPolicy.Check, with the vendor's trustlist
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
}

// Server is the gateway's http.Handler.
type Server struct {
	cfg    Config
	routes map[routeKey][]*route
	bodies sync.Map // bareKey → []byte, never written to (reply.go)
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
	s := &Server{cfg: cfg}
	s.routes = buildRoutes(append(append(s.table(), s.stateTable()...), s.callTable()...))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/metrics" && s.cfg.Metrics != nil {
		s.cfg.Metrics.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	c := &call{r: r, w: w}
	var rep reply
	func() {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.cfg.Log.Error("panic", "method", c.name, "path", r.URL.Path, "panic", p)
				rep = fail(ccgw.RetInternal)
			}
		}()
		rep = s.dispatch(c)
	}()
	s.write(w, rep)
	if c.name == "" {
		return // health checks are not logged
	}
	took := time.Since(start)
	if s.cfg.Observe != nil {
		s.cfg.Observe(c.name, rep.code, took)
	}
	attrs := []slog.Attr{
		slog.String("method", c.name),
		slog.String("agent", c.agentRaw),
		slog.String("retcode", string(rep.code)),
		slog.Duration("took", took),
	}
	// An error is logged only when the client was told it is ours: a client's
	// malformed body (RetLoginParam carrying errBody) is not an internal error.
	if rep.err != nil && rep.code == ccgw.RetInternal {
		attrs = append(attrs, slog.String("err", rep.err.Error()))
		s.cfg.Log.LogAttrs(r.Context(), slog.LevelError, "request", attrs...)
		return
	}
	s.cfg.Log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

func (s *Server) dispatch(c *call) reply {
	path := c.r.URL.Path
	if strings.Contains(path, "//") {
		// Clients that join a base URL ending in "/" to paths starting with one
		// (the vendor's generated JavaScript SDK) send "resource//onlineagent/...";
		// the vendor's gateway serves them as single slashes.
		path = collapseSlashes(path)
		c.r.URL.Path = path
	}
	switch path {
	case "/healthz":
		return reply{code: ccgw.RetOK, result: map[string]string{"status": "alive"}}
	case "/readyz":
		if !s.cfg.Ready() {
			return reply{code: ccgw.RetInternal, status: http.StatusServiceUnavailable}
		}
		return reply{code: ccgw.RetOK, result: map[string]string{"status": "ready"}}
	}
	if strings.HasPrefix(path, AdminPrefix) {
		return s.admin(c)
	}
	if !strings.HasPrefix(path, Prefix) {
		c.name = "unknown"
		return reply{code: ccgw.RetBadParam, status: http.StatusNotFound}
	}
	rt, allow := s.match(c.r.Method, path, c)
	if rt == nil {
		if allow != "" {
			if c.name == "" {
				c.name = "unknown"
			}
			return reply{code: ccgw.RetBadParam, status: http.StatusMethodNotAllowed, allow: allow}
		}
		c.name = "unknown"
		return reply{code: ccgw.RetBadParam, status: http.StatusNotFound}
	}
	c.name = rt.name
	id, err := ccgw.ParseAgentID(c.agentRaw)
	if err != nil {
		return failed(err)
	}
	c.agent = id
	return rt.h(c)
}

// call is one request on its way through a handler.
type call struct {
	r        *http.Request
	w        http.ResponseWriter
	name     string       // the spec method name
	agentRaw string       // {agentid} as sent
	agent    ccgw.AgentID // {agentid} parsed
	vars     [3]string    // the route's other path variables, in order
}

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
