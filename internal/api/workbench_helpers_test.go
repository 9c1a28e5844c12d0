package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/api"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/faults"
	"github.com/ccgw/ccgw/internal/report"
	"github.com/ccgw/ccgw/internal/session"
	"github.com/ccgw/ccgw/internal/store/bolt"
	"github.com/ccgw/ccgw/internal/store/mem"
)

// wbServer is the real api, sessions and bolt store with the workbench wired
// as cmd/ccgw wires it: the report told of sign-outs, the sessions asking the
// faults about events. Two fake clocks: the gateway's (sessions, GUIDs,
// faults) and the wall clock (request times, a slow fault's delay).
type wbServer struct {
	*tServer
	admin  *tServer
	clock  *clock.Virtual
	wall   *clock.Virtual
	rep    *report.Report
	faults *faults.Set
}

// wbNewServer starts a workbench test server in dynamic GUID mode (rotation
// every 60s, a superseded GUID accepted 120s) with a 10-minute timeout (the
// tests move the clock) and a journal of 5 requests per agent.
func wbNewServer(tb testing.TB) *wbServer {
	tb.Helper()
	st, err := bolt.Open(tb.TempDir())
	if err != nil {
		tb.Fatalf("bolt.Open: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	fc, wall := clock.NewVirtual(clStart), clock.NewVirtual(clStart)
	ws := &wbServer{clock: fc, wall: wall}
	ws.rep = report.New(report.Config{PollTimeout: 10 * time.Minute, PushTimeout: 10 * time.Minute, Clock: wall, Journal: 5})
	var fs *faults.Set
	sm, err := session.New(session.Config{
		SessionSettings: ccgw.SessionSettings{
			Directory:    agent.Default(),
			Clock:        fc,
			WaitClock:    clock.Real{},
			Timeout:      10 * time.Minute,
			AuthMode:     ccgw.AuthDynamic,
			GUIDInterval: time.Minute,
			GUIDTimeout:  2 * time.Minute,
			OnSignOut:    ws.rep.SignedOut,
			DropEvent:    func(id ccgw.AgentID, ev ccgw.Event) bool { return fs.DropEvent(id, ev) },
		},
		Store: mem.NewShared(), Local: true,
	})
	if err != nil {
		tb.Fatalf("session.New: %v", err)
	}
	fs = faults.New(faults.Config{Clock: fc, Interfaces: api.Interfaces(), DropEvents: true, Clients: func() []ccgw.AgentID { return sm.Clients(context.Background()) },
		Kick: func(id ccgw.AgentID) error { return sm.Kick(context.Background(), id, ccgw.CauseSupervisor) }})
	ws.faults = fs
	h := api.New(api.Config{
		Sessions: sm, Directory: agent.Default(), PollWait: 5 * time.Millisecond, Clock: fc,
		Admin:  &api.Admin{Virtual: fc, Now: fc.Now},
		Report: ws.rep, Faults: fs, WallClock: wall,
	})
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	asrv := httptest.NewServer(h.AdminHandler())
	tb.Cleanup(asrv.Close)
	ws.tServer = &tServer{URL: srv.URL, handler: h, sessions: sm, store: st, srv: srv}
	ws.admin = &tServer{URL: asrv.URL, handler: h, sessions: sm, store: st, srv: asrv}
	return ws
}

// wbAdmin sends an admin request, requires retcode 0, and decodes its result
// into out (if not nil).
func (ws *wbServer) wbAdmin(tb testing.TB, method, path, body string, out any) *tResp {
	tb.Helper()
	r := ws.admin.do(tb, method, api.AdminPrefix+path, nil, body)
	if r.status != http.StatusOK || r.retcode() != "0" {
		tb.Fatalf("%s %s %s: HTTP %d %s", method, path, body, r.status, r.body)
	}
	if out != nil {
		if err := json.Unmarshal(r.env["result"], out); err != nil {
			tb.Fatalf("%s %s: result %s: %v", method, path, r.env["result"], err)
		}
	}
	return r
}

// wbAdminErr fails tb unless the admin request answers HTTP status and 000-002.
func (ws *wbServer) wbAdminErr(tb testing.TB, method, path, body string, status int) {
	tb.Helper()
	code, env := ws.admin.clRaw(tb, method, api.AdminPrefix+path, body)
	if code != status || string(env["retcode"]) != `"000-002"` {
		tb.Fatalf("%s %s %s: HTTP %d %s, want %d 000-002", method, path, body, code, env["retcode"], status)
	}
}

// hs sends agent id's handShake with GUID g and returns the answer.
func (ws *wbServer) hs(tb testing.TB, id, g string) *tResp {
	tb.Helper()
	return ws.do(tb, http.MethodPost, pathHandShake(id), guidHdr(g), "")
}

// setGUID returns the GUID an answer hands out in Set-GUID, "" if none.
func setGUID(r *tResp) string { return strings.TrimPrefix(r.header.Get("Set-GUID"), "JSESSIONID=") }

// advance moves the gateway's clock on by d and sweeps the sessions there (due
// GUID rotations and expiries), as the gateway's sweeper would.
func (ws *wbServer) advance(d time.Duration) {
	ws.clock.Advance(d)
	ws.sessions.Sweep(ws.clock.Now())
}
