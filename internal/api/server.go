// Package api serves the CC-Gateway HTTP interface: it routes each request to the
// spec method it names, decodes and validates it, calls the domain, and writes the
// retcode envelope, logging one line per request.
package api

import (
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
	"github.com/ccgw/ccgw/internal/netlimit"
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
	// TrustCallback, if set, tells whether a sign-in's callback URL is allowed
	// (the vendor's EVENT_PUST_WHILTELIST_CALLBACKURI); one it refuses fails the
	// sign-in with 100-001.
	TrustCallback func(url string) bool
	// Observe, if set, is told each interface request's method name, retcode and
	// duration.
	Observe func(method string, code ccgw.Retcode, took time.Duration)
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
	Polls  uint64 // polls over Config.MaxPollsPerIP
	Bodies uint64 // bodies over 64 KiB: by Content-Length, or on reading
}

// Server is the gateway's http.Handler.
type Server struct {
	cfg       Config
	routes    map[routeKey][]*route
	bodies    sync.Map // bareKey → []byte, never written to (reply.go)
	polls     *netlimit.Counter
	bigBodies atomic.Uint64
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
	s := &Server{cfg: cfg, polls: netlimit.NewCounter(cfg.MaxPollsPerIP)}
	s.routes = buildRoutes(append(append(s.table(), s.stateTable()...), s.callTable()...))
	return s
}

// Refused returns what the server has refused for its limits so far.
func (s *Server) Refused() Refused {
	return Refused{Polls: s.polls.Refused(), Bodies: s.bigBodies.Load()}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/metrics" && s.cfg.Metrics != nil {
		s.cfg.Metrics.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	body := &countingBody{ReadCloser: r.Body}
	if r.Body != nil {
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
				s.cfg.Log.Error("panic", "method", c.name, "path", r.URL.Path, "panic", p)
				rep = fail(ccgw.RetInternal)
			}
		}()
		rep = s.dispatch(c)
	}()
	if body.n > maxBody && rep.code != ccgw.RetOK && rep.status == 0 {
		// A body without a Content-Length that ran over the cap while read: the
		// handler answered its retcode, the status says why.
		rep = s.tooLarge(rep.code)
	}
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
		if c.r.ContentLength > maxBody {
			c.name = "admin"
			return s.tooLarge(ccgw.RetBadParam)
		}
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
	return rt.h(c)
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
