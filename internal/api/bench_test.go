package api

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/faults"
	"github.com/ccgw/ccgw/internal/report"
	"github.com/ccgw/ccgw/internal/session"
	"github.com/ccgw/ccgw/internal/store/mem"
	"github.com/ccgw/ccgw/internal/wait"
)

// Benchmarks of the heartbeat through the real handler, in process (STYLE.md §4).
// Every benchmark builds its sessions itself, after the testing package has
// decided to run it, so plain `go test` never pays for them.
//
//	go test -run '^$' -bench HandShake -benchmem ./internal/api/

// benchSizes are the numbers of live sessions the benchmarks run with.
var benchSizes = []int{1000, 100000, 1000000}

// benchBody is the handShake reply when the GUID does not change.
const benchBody = `{"message":"success","retcode":"0"}`

// benchDirectory knows every work number, including those above ccgw.MaxAgentID
// that a million sessions from 101 need; any non-empty password works.
type benchDirectory struct{}

var _ ccgw.Directory = benchDirectory{}

func (benchDirectory) Agent(id ccgw.AgentID) (ccgw.Agent, bool) {
	return ccgw.Agent{ID: id, Skills: agent.DefaultSkills}, true
}

func (benchDirectory) CheckPassword(_ ccgw.AgentID, password string) bool { return password != "" }

func (benchDirectory) SetPassword(ccgw.AgentID, string) error { return nil }

// benchRequests are handShake requests, one per agent, in a pseudo-random order.
// Each path and GUID is a fresh copy made in that order, so that reading them is
// sequential and cache-friendly, as a request just parsed off the wire is; only
// the gateway's own data is visited at random.
type benchRequests struct {
	paths []string
	guids []string
}

func newBenchRequests(ids []ccgw.AgentID, guids []string) *benchRequests {
	rng := rand.New(rand.NewPCG(1, 2))
	rq := &benchRequests{paths: make([]string, len(ids)), guids: make([]string, len(ids))}
	for i, j := range rng.Perm(len(ids)) {
		rq.paths[i] = Prefix + "onlineagent/" + ids[j].String() + "/handshake"
		rq.guids[i] = strings.Clone(guids[j])
	}
	return rq
}

// benchGateway signs n agents in (IDs 101 up) on a session manager with an
// in-memory store and returns the real handler and a handShake request for each
// agent the HTTP API can name. At n = 1M the agents above ccgw.MaxAgentID (the
// last 101) are live but get no requests: a path cannot name them.
func benchGateway(tb testing.TB, n int) (http.Handler, *session.Service, *benchRequests) {
	tb.Helper()
	return benchGatewayWith(tb, n, true)
}

// benchGatewayWith is benchGateway, with the workbench (report, journal and
// faults, as cmd/ccgw wires them by default) or without.
func benchGatewayWith(tb testing.TB, n int, workbench bool) (http.Handler, *session.Service, *benchRequests) {
	tb.Helper()
	m, err := session.New(session.Config{SessionSettings: ccgw.SessionSettings{Directory: benchDirectory{}}, Store: mem.NewShared(), Local: true})
	if err != nil {
		tb.Fatal(err)
	}
	// Run as cmd/ccgw runs it (its auth cache on by the time the sign-ins are
	// done, its ticks writing the renewals).
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
	wait.For(tb, 30*time.Second, time.Millisecond, func() error {
		if !m.Cached() {
			return errors.New("the auth cache is not on")
		}
		return nil
	})
	ids := make([]ccgw.AgentID, 0, n)
	guids := make([]string, 0, n)
	for i := range n {
		id := ccgw.MinAgentID + ccgw.AgentID(i)
		s, err := m.SignIn(context.Background(), ccgw.SignIn{
			Op:       "login",
			Password: "secret",
			Status:   ccgw.StateIdle,
			Session:  ccgw.Session{Agent: id, Phone: "70001", IP: "127.0.0.1", MediaType: "TTF"},
		})
		if err != nil {
			tb.Fatalf("sign in %d: %v", id, err)
		}
		if id <= ccgw.MaxAgentID {
			ids = append(ids, id)
			guids = append(guids, s.GUID)
		}
	}
	cfg := Config{Sessions: m, Directory: agent.Default()}
	if workbench {
		// As cmd/ccgw wires it by default: the workbench's report and journal
		// watching every request, and faults (none held).
		cfg.Report = report.New(report.Config{})
		cfg.Faults = faults.New(faults.Config{Interfaces: Interfaces()})
	}
	return New(cfg), m, newBenchRequests(ids, guids)
}

// benchBare is the baseline: a bare handler that writes the same reply, headers
// and body, without looking at the request.
func benchBare() http.Handler {
	body := []byte(benchBody)
	size := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("Content-Length", size)
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	})
}

// benchWriter is a reusable http.ResponseWriter that keeps the status and counts
// the body bytes; body, if not nil, collects them.
type benchWriter struct {
	h      http.Header
	status int
	n      int
	body   []byte
}

func (w *benchWriter) Header() http.Header { return w.h }

func (w *benchWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *benchWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(p)
	if w.body != nil {
		w.body = append(w.body, p...)
	}
	return len(p), nil
}

// benchClient sends the requests of rq, in order and round again, through h with
// one reused request and writer.
type benchClient struct {
	rq   *benchRequests
	i    int
	r    *http.Request
	guid []string // r.Header["Guid"]
	w    benchWriter
}

func newBenchClient(rq *benchRequests, start int) *benchClient {
	r := httptest.NewRequest(http.MethodPost, rq.paths[0], nil)
	guid := []string{""}
	r.Header["Guid"] = guid
	return &benchClient{rq: rq, i: start % len(rq.paths), r: r, guid: guid, w: benchWriter{h: make(http.Header)}}
}

// do sends the next request and reports whether it got status 200.
func (c *benchClient) do(h http.Handler) bool {
	c.r.URL.Path = c.rq.paths[c.i]
	c.guid[0] = c.rq.guids[c.i]
	if c.i++; c.i == len(c.rq.paths) {
		c.i = 0
	}
	clear(c.w.h)
	c.w.status = 0
	h.ServeHTTP(&c.w, c.r)
	return c.w.status == http.StatusOK
}

// benchCheck sends up to 100 requests of rq through h and fails unless each
// gets the plain success reply.
func benchCheck(tb testing.TB, h http.Handler, rq *benchRequests) {
	tb.Helper()
	c := newBenchClient(rq, 0)
	c.w.body = make([]byte, 0, 64)
	for range min(100, len(rq.paths)) {
		c.w.body = c.w.body[:0]
		if !c.do(h) || string(c.w.body) != benchBody {
			tb.Fatalf("%s: status %d, body %s; want 200, %s", c.r.URL.Path, c.w.status, c.w.body, benchBody)
		}
	}
}

// benchServe runs h over rq, one request per op.
func benchServe(b *testing.B, h http.Handler, rq *benchRequests) {
	benchCheck(b, h, rq)
	c := newBenchClient(rq, 0)
	runtime.GC()
	b.ReportAllocs()
	bad := 0
	for b.Loop() {
		if !c.do(h) {
			bad++
		}
	}
	if bad > 0 || c.w.n != b.N*len(benchBody) {
		b.Fatalf("%d of %d requests failed; %d body bytes, want %d", bad, b.N, c.w.n, b.N*len(benchBody))
	}
}

// benchServeParallel runs h over rq from GOMAXPROCS goroutines, each with its
// own request and writer, starting at different places in rq.
func benchServeParallel(b *testing.B, h http.Handler, rq *benchRequests) {
	var g atomic.Int64
	var bad atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := newBenchClient(rq, int(g.Add(1))*104729)
		for pb.Next() {
			if !c.do(h) {
				bad.Add(1)
			}
		}
	})
	if bad.Load() > 0 {
		b.Fatalf("%d of %d requests failed", bad.Load(), b.N)
	}
}

// BenchmarkHandShake measures POST .../onlineagent/{id}/handshake through the
// real handler with n live sessions, the agents visited in a pseudo-random order
// so that at 1M the session table is out of cache; the gateway has the
// workbench (report, journal, faults) as cmd/ccgw wires it, and
// no-workbench/sessions=1000 is the same without it. bare/agents=n sends the same
// requests through the same harness to a handler that only writes the reply, for
// the cost of the harness and the reply; parallel/... are the same from
// GOMAXPROCS goroutines.
func BenchmarkHandShake(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			h, m, rq := benchGateway(b, n)
			before := m.Stats(context.Background()).Heartbeats
			benchServe(b, h, rq)
			if got := m.Stats(context.Background()).Heartbeats - before; got < uint64(b.N) {
				b.Fatalf("%d heartbeats for %d requests", got, b.N)
			}
		})
	}
	// The workbench's cost on the heartbeat, from one run: the same gateway
	// without its report, journal and faults.
	b.Run(fmt.Sprintf("no-workbench/sessions=%d", benchSizes[0]), func(b *testing.B) {
		h, _, rq := benchGatewayWith(b, benchSizes[0], false)
		benchServe(b, h, rq)
	})
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("bare/agents=%d", n), func(b *testing.B) {
			benchServe(b, benchBare(), benchFakeRequests(n))
		})
	}
	for _, n := range benchSizes {
		// RunParallel calls this function once per trial b.N: build the
		// sessions once.
		var h http.Handler
		var rq *benchRequests
		b.Run(fmt.Sprintf("parallel/sessions=%d", n), func(b *testing.B) {
			if h == nil {
				h, _, rq = benchGateway(b, n)
				benchCheck(b, h, rq)
				runtime.GC()
			}
			benchServeParallel(b, h, rq)
		})
		h, rq = nil, nil
	}
}

// benchFakeRequests returns requests for n agents (at most those a path can
// name) with made-up GUIDs of the real length, for the bare handler.
func benchFakeRequests(n int) *benchRequests {
	n = min(n, int(ccgw.MaxAgentID-ccgw.MinAgentID+1))
	ids := make([]ccgw.AgentID, n)
	guids := make([]string, n)
	for i := range n {
		ids[i] = ccgw.MinAgentID + ccgw.AgentID(i)
		guids[i] = fmt.Sprintf("%08x-0000-0000-0000-000000000000.AgentGateway0", i)
	}
	return newBenchRequests(ids, guids)
}
