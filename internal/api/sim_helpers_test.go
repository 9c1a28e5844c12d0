package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/api"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/faults"
	"github.com/ccgw/ccgw/internal/report"
	"github.com/ccgw/ccgw/internal/session"
	"github.com/ccgw/ccgw/internal/sim"
	"github.com/ccgw/ccgw/internal/store/bolt"
	"github.com/ccgw/ccgw/internal/store/mem"
)

// The gateway with the simulated call centre behind it, wired as cmd/ccgw
// wires it, for the call and admin tests (calls_helpers_test.go) and the live
// view's and the web console's tests (live_helpers_test.go).

// clStart is where every fake clock starts: 2026-01-05 09:00:00 UTC.
var clStart = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// clRing is the simulator's ring timeout in these tests (its default).
const clRing = 20 * time.Second

// simConfig configures a gateway with the simulator; zero values mean the
// defaults given.
type simConfig struct {
	journal   int  // the event journal's size (sim.NewJournal); 0: 100000
	noVirtual bool // Admin.Virtual nil: the admin API cannot move the clock
	noCalls   bool // no call engine: the call interfaces and admin call endpoints are absent
	// workbench wires the report (told of sign-outs; an hour's poll and push
	// timeouts) and the faults (able to sign agents out) into the api.
	workbench bool
	// adminToken is api.Config.AdminToken: the bearer token the admin server requires.
	adminToken string
	localOnly  bool           // api.Config.AdminLocalOnly
	maxStreams int            // api.Admin.MaxStreams
	ping       time.Duration  // api.Admin.StreamPing
	wall       *clock.Virtual // api.Config.WallClock; nil: real (the streams' timers run on it)
	metrics    http.Handler   // api.Config.Metrics; nil: none
}

// simServer is a tServer with the simulated call centre behind it: one fake
// clock shared by the session manager and the engine, the event journal as the
// sessions' tap, and the admin API on a second loopback server (admin), as
// cmd/ccgw serves it on its own listener.
type simServer struct {
	*tServer
	admin   *tServer // the same api.Server's AdminHandler
	clock   *clock.Virtual
	journal *sim.Journal
	engine  *sim.Engine    // nil with noCalls
	rep     *report.Report // nil without workbench
}

// newSimServer starts a gateway with the simulator on cfg, its bolt store in
// tb.TempDir(), its clock at clStart; cleanup closes it.
func newSimServer(tb testing.TB, cfg simConfig) *simServer {
	tb.Helper()
	if cfg.journal == 0 {
		cfg.journal = 100000
	}
	dir := agent.Default()
	st, err := bolt.Open(tb.TempDir())
	if err != nil {
		tb.Fatalf("bolt.Open: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	fc := clock.NewVirtual(clStart)
	j := sim.NewJournal(cfg.journal)
	var rep *report.Report
	var onSignOut func(ccgw.AgentID, ccgw.SignOutCause)
	if cfg.workbench {
		rep = report.New(report.Config{PollTimeout: time.Hour, PushTimeout: time.Hour})
		onSignOut = rep.SignedOut
	}
	var eng *sim.Engine
	sm, err := session.New(session.Config{
		SessionSettings: ccgw.SessionSettings{
			Directory: dir,
			Clock:     fc,
			WaitClock: clock.Real{},
			Timeout:   24 * time.Hour, // the tests move the clock; sessions must outlive them
			Tap:       j.Add,
			OnSignOut: onSignOut,
			OnChange: func(s ccgw.Session) {
				if eng != nil {
					eng.AgentChanged(s)
				}
			},
		},
		Store: mem.NewShared(), Local: true,
	})
	if err != nil {
		tb.Fatalf("session.New: %v", err)
	}
	if !cfg.noCalls {
		eng = sim.New(sim.Config{Sessions: sm, Directory: dir, Clock: fc, RingTimeout: clRing})
	}
	var fs *faults.Set
	if cfg.workbench {
		fs = faults.New(faults.Config{Clock: fc, Interfaces: api.Interfaces(), Clients: func() []ccgw.AgentID { return sm.Clients(context.Background()) },
			Kick: func(id ccgw.AgentID) error { return sm.Kick(context.Background(), id, ccgw.CauseSupervisor) }})
	}
	adm := &api.Admin{Journal: j, Virtual: fc, Now: fc.Now, MaxStreams: cfg.maxStreams, StreamPing: cfg.ping}
	if cfg.noVirtual {
		adm.Virtual = nil
	}
	acfg := api.Config{
		Sessions:  sm,
		Directory: dir,
		PollWait:  5 * time.Millisecond,
		Clock:     fc,
		Calls:     eng,
		Admin:     adm,
		Report:    rep,
		Faults:    fs,

		AdminToken:     cfg.adminToken,
		AdminLocalOnly: cfg.localOnly,
		Metrics:        cfg.metrics,
	}
	if cfg.wall != nil { // a nil *clock.Virtual would be a non-nil ccgw.Clock
		acfg.WallClock = cfg.wall
	}
	h := api.New(acfg)
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	asrv := httptest.NewServer(h.AdminHandler())
	tb.Cleanup(asrv.Close)
	return &simServer{
		tServer: &tServer{URL: srv.URL, handler: h, sessions: sm, store: st, srv: srv},
		admin:   &tServer{URL: asrv.URL, handler: h, sessions: sm, store: st, srv: asrv},
		clock:   fc, journal: j, engine: eng, rep: rep,
	}
}
